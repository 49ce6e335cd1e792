"""The dossier event: validation against the contract and a typed, immutable form.

The contract's JSON Schema (``schema/dossier-event.schema.json``, a copy of
``shared/spec``) is compiled once by fastjsonschema; on top of it we check what a
schema cannot: that every date-time is a real instant (the schema only has a
pattern). Every failure maps to a short, bounded *reason code* (a metric label)
plus a human-readable detail (the dead-letter message).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import fastjsonschema
import msgspec
import orjson

from processors.event_struct import event_struct
from processors.timeutil import shared_offset

DOSSIER_TYPES = (
    "received", "assigned", "supplement_requested", "supplement_received", "paused",
    "resumed", "due_changed", "paid", "resolved", "returned", "withdrawn", "rejected",
    "stopped", "rated", "synced", "apology_issued", "complaint",
)
PETITION_TYPES = ("petition_received", "petition_resolved", "petition_rated", "petition_reopened")
EVENT_TYPES = DOSSIER_TYPES + PETITION_TYPES
END_TYPES = frozenset({"resolved", "withdrawn", "rejected", "stopped"})

# The bounded set of reasons an event can be invalid for (label of
# dvc_events_invalid_total): a reason per failure *kind*, never per value.
INVALID_REASONS = (
    "not_utf8", "not_json", "not_object", "missing_field", "wrong_type",
    "unknown_type", "bad_value", "bad_length", "bad_datetime", "out_of_range",
    "unprocessable",  # valid, but applying it failed: the worker dead-letters it and goes on
    "expired",        # valid, but its dossier's state was dropped by the retention rule (store/retention.py)
)

# The instants chiso supports (docs/architecture.md): every date it computes, due
# dates 15 working days on included, stays inside the calendar's holiday data
# (1901-2100) and far from datetime's limits. Outside: invalid, "out_of_range".
SUPPORTED_FROM = datetime(1990, 1, 1, tzinfo=UTC)
SUPPORTED_UNTIL = datetime(2100, 1, 1, tzinfo=UTC)
_OFFSET = re.compile(r"(?:Z|[+-](\d{2}):(\d{2}))$")

# Fields the project keeps; anything else is allowed by the contract and ignored.
_KEPT_FIELDS = (
    "event_id", "dossier_id", "petition_id", "type", "occurred_at", "unit_id", "source",
    "procedure_id", "channel", "online_service", "due_at", "fee_required", "digitized",
    "reused_data", "personal_store", "citizen_data", "category",
    "officer_id", "reason", "method", "amount_vnd", "result_electronic", "rating",
)
_INSTANT_FIELDS = ("occurred_at", "due_at")

_SCHEMA = json.loads(
    resources.files("processors").joinpath("schema/dossier-event.schema.json").read_text("utf-8")
)


def _required_by_type(schema: dict) -> dict[str, tuple[str, ...]]:
    """The schema's ``allOf: [{if: type == X / type ~ pattern, then: required
    [...], else: required [...]}]`` as a table: type -> required fields.

    fastjsonschema evaluates each ``if`` by raising and catching an exception, ~4
    per event and most of the validation time; checking the table after a schema
    pass without ``allOf`` is the same rule, read from the same file, 5x faster.
    """
    table: dict[str, list[str]] = {kind: [] for kind in schema["properties"]["type"]["enum"]}
    for rule in schema.get("allOf", []):
        test = rule["if"]["properties"]["type"]
        for kind, required in table.items():
            matches = kind == test["const"] if "const" in test else re.search(test["pattern"], kind) is not None
            required += (rule["then"] if matches else rule.get("else", {})).get("required", [])
    return {kind: tuple(required) for kind, required in table.items()}


_REQUIRED_BY_TYPE = _required_by_type(_SCHEMA)
assert set(_REQUIRED_BY_TYPE) == set(EVENT_TYPES), "processors.events and the schema disagree on the types"
_validate = fastjsonschema.compile({k: v for k, v in _SCHEMA.items() if k != "allOf"})

_RULE_REASONS = {
    "required": "missing_field",
    "type": "wrong_type",
    "enum": "bad_value",
    "const": "bad_value",
    "minimum": "bad_value",
    "pattern": "bad_datetime",  # the only patterns in the schema are the instants
    "minLength": "bad_length",
    "maxLength": "bad_length",
}


@dataclass(frozen=True, slots=True)
class InvalidEvent:
    """Why a message is not an accepted event."""

    reason: str  # one of INVALID_REASONS
    detail: str


def is_petition_type(kind: str) -> bool:
    """events.md: a petition event is one whose type starts with ``petition_``."""
    return kind.startswith("petition_")


class Event(msgspec.Struct, frozen=True):
    """One accepted event. ``key`` is what it is about: its ``dossier_id``, or its
    ``petition_id`` for a petition event (the Kafka key either way). ``data``
    holds the kept JSON fields verbatim, which is also the form stored and
    replayed; instants are parsed once here, on the shared timezone object of
    their offset (``timeutil.shared_offset``). A frozen msgspec Struct rather
    than a frozen dataclass: one is built per event and per stored event read
    back, ~0.3 µs against ~2 µs."""

    event_id: str
    key: str
    type: str
    occurred_at: datetime
    data: dict[str, Any]
    due_at: datetime | None = None

    def get(self, field: str, default: Any = None) -> Any:
        return self.data.get(field, default)

    @property
    def is_petition(self) -> bool:
        return is_petition_type(self.type)

    @property
    def sort_key(self) -> tuple[datetime, str]:
        """kpis.md §1: events are ordered by (occurred_at instant, event_id)."""
        return (self.occurred_at, self.event_id)


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant with offset; raises ValueError otherwise (including
    an offset whose hours or minutes RFC 3339 does not allow: +14:60 is not
    +15:00)."""
    offset = _OFFSET.search(text)
    if offset is None:
        raise ValueError(f"date-time without offset: {text!r}")
    if offset.group(1) is not None and (int(offset.group(1)) > 23 or int(offset.group(2)) > 59):
        raise ValueError(f"offset out of range in {text!r}")
    value = datetime.fromisoformat(text)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"date-time without offset: {text!r}")
    return shared_offset(value)


class OutOfRange(ValueError):
    pass


def supported_instant(text: str) -> datetime:
    """``parse_instant``, and within the supported range (``OutOfRange`` if not)."""
    value = parse_instant(text)
    if not SUPPORTED_FROM <= value < SUPPORTED_UNTIL:
        raise OutOfRange(f"{text!r} is outside the supported range "
                         f"{SUPPORTED_FROM:%Y-%m-%d} to {SUPPORTED_UNTIL:%Y-%m-%d} (UTC)")
    return value


def event_from_dict(obj: Any) -> Event | InvalidEvent:
    """Validate one decoded JSON value against the contract."""
    if not isinstance(obj, dict):
        return InvalidEvent("not_object", f"expected a JSON object, got {type(obj).__name__}")
    try:
        _validate(obj)
    except fastjsonschema.JsonSchemaValueException as exc:
        reason = _RULE_REASONS.get(exc.rule or "", "bad_value")
        if exc.rule == "enum" and exc.path == ["data", "type"]:
            reason = "unknown_type"
        return InvalidEvent(reason, exc.message)
    missing = [f for f in _REQUIRED_BY_TYPE.get(obj["type"], ()) if f not in obj]
    if missing:
        return InvalidEvent("missing_field", f"data must contain {missing} properties for type {obj['type']!r}")
    instants: dict[str, datetime] = {}
    for field in _INSTANT_FIELDS:
        text = obj.get(field)
        if text is None:
            continue
        try:
            instants[field] = supported_instant(text)
        except OutOfRange as exc:
            return InvalidEvent("out_of_range", f"data.{field}: {exc}")
        except ValueError as exc:
            return InvalidEvent("bad_datetime", f"data.{field}: {exc}")
    data = {k: obj[k] for k in _KEPT_FIELDS if k in obj}
    return Event(
        event_id=obj["event_id"],
        key=obj["petition_id"] if is_petition_type(obj["type"]) else obj["dossier_id"],
        type=obj["type"],
        occurred_at=instants["occurred_at"],
        data=data,
        due_at=instants.get("due_at"),
    )


_WireEvent = event_struct(_SCHEMA, _KEPT_FIELDS)
_wire_decoder = msgspec.json.Decoder(_WireEvent)
_to_builtins = msgspec.to_builtins


def _typed_event(raw: bytes | str) -> Event | None:
    """The accepted event, decoded and validated in one typed msgspec step; None
    when any check fails, and then the full path (``event_from_dict``) decides,
    so a rejection keeps its reason and detail. What is accepted here is what
    that path accepts, with the same ``data``, key and instants
    (tests/unit/test_typed_decode.py checks both ways)."""
    try:
        wire = _wire_decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    data = _to_builtins(wire)  # the kept fields present, in _KEPT_FIELDS order, UNSET ones left out
    kind = data["type"]
    for f in _REQUIRED_BY_TYPE[kind]:
        if f not in data:
            return None
    occurred = _fast_instant(data["occurred_at"])
    due_text = data.get("due_at")
    due = _fast_instant(due_text) if due_text is not None else None
    if occurred is None or (due is None and due_text is not None):
        return None
    return Event(
        event_id=data["event_id"],
        key=data["petition_id"] if kind.startswith("petition_") else data["dossier_id"],
        type=kind, occurred_at=occurred, data=data, due_at=due,
    )


def _fast_instant(text: str) -> datetime | None:
    """``supported_instant`` for a text the schema's pattern already matched
    (date, time, then ``Z`` or ``+hh:mm``): None where that would raise. ASCII
    only, so that the digit comparisons below mean what they say (the pattern's
    ``\\d`` also matches other scripts' digits: those go the full path).

    The local time is parsed without its suffix and given the suffix's shared
    timezone object (``shared_offset``) directly, and the range is checked on
    the UTC wall clock: the same value as parsing the whole text and sharing its
    offset after, at ~half the cost (two aware comparisons and an offset lookup
    by ``timedelta`` per instant were ~40% of the decode)."""
    if not text.isascii():
        return None
    if text[-1] == "Z":
        local, tz = text[:-1], UTC
    else:
        suffix = text[-6:]
        tz = _SUFFIX_ZONES.get(suffix)
        if tz is None:
            if text[-5:-3] > "23" or text[-2:] > "59":
                return None
            try:
                tz = shared_offset(datetime.fromisoformat("2000-01-01T00:00" + suffix)).tzinfo
            except ValueError:
                return None
            if tz is None:  # not an offset after all: the full path decides
                return None
            _SUFFIX_ZONES[suffix] = tz
        local = text[:-6]
    try:
        naive = datetime.fromisoformat(local)
        utc_wall = naive - tz.utcoffset(None)
    except (ValueError, OverflowError):
        return None
    if naive.tzinfo is not None or not _SUPPORTED_FROM_WALL <= utc_wall < _SUPPORTED_UNTIL_WALL:
        return None
    return naive.replace(tzinfo=tz)


# '+hh:mm' -> its shared timezone object (processors/timeutil.py shared_offset)
_SUFFIX_ZONES: dict[str, Any] = {}
_SUPPORTED_FROM_WALL = SUPPORTED_FROM.replace(tzinfo=None)
_SUPPORTED_UNTIL_WALL = SUPPORTED_UNTIL.replace(tzinfo=None)


def trusted_event(data: dict[str, Any]) -> Event:
    """Rebuild an event that was validated before it was stored (no schema pass)."""
    due = data.get("due_at")
    return Event(
        event_id=data["event_id"],
        key=data["petition_id"] if is_petition_type(data["type"]) else data["dossier_id"],
        type=data["type"],
        occurred_at=shared_offset(datetime.fromisoformat(data["occurred_at"])),
        data=data,
        due_at=shared_offset(datetime.fromisoformat(due)) if due is not None else None,
    )


def decode_event(raw: bytes | str | None) -> Event | InvalidEvent:
    """Validate one raw message value (bytes from Kafka, a line of a file): the
    typed msgspec step accepts nearly every valid event; anything it does not
    accept goes through ``checked_event``, which gives the reason."""
    if raw is not None:
        typed = _typed_event(raw)
        if typed is not None:
            return typed
    return checked_event(raw)


def checked_event(raw: bytes | str | None) -> Event | InvalidEvent:
    """The full path: orjson, then the contract's fastjsonschema validator and
    the checks it cannot make (``event_from_dict``)."""
    if raw is None:
        return InvalidEvent("not_json", "empty message value")
    if isinstance(raw, (bytes, bytearray, memoryview)):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            return InvalidEvent("not_utf8", f"value is not UTF-8: {exc}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return InvalidEvent("not_json", f"value is not JSON: {exc}")
    return event_from_dict(obj)


def raw_text(raw: bytes | str | None) -> str:
    """The original value as text for the dead-letter record (never raises)."""
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw
    return bytes(raw).decode("utf-8", errors="replace")


def merge_events(known: Mapping[str, Event], new: Iterable[Event]) -> tuple[dict[str, Event], list[Event], int]:
    """A dossier's or petition's event set after ``new``: (all events by id,
    the events that were not known, how many were duplicates). Identity is the
    event_id: a redelivered event changes nothing."""
    events = dict(known)
    added: list[Event] = []
    duplicates = 0
    for e in new:
        if e.event_id in events:
            duplicates += 1
            continue
        events[e.event_id] = e
        added.append(e)
    return events, added, duplicates


def event_to_json(event: Event) -> bytes:
    """The canonical stored form: the kept fields only, compact."""
    return orjson.dumps(event.data)
