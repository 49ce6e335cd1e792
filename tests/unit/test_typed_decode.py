"""The typed msgspec decode (``decode_event``) against the full path
(``checked_event``: orjson + the contract's fastjsonschema validator): for every
input, valid or not, the same outcome — the same event (fields, key, instants,
``data`` in the same order) or the same dead-letter reason and detail."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.events import (
    _KEPT_FIELDS,
    EVENT_TYPES,
    Event,
    InvalidEvent,
    _typed_event,
    checked_event,
    decode_event,
)
from processors.timeutil import local_date

pytestmark = pytest.mark.unit

AT = "2026-11-02T08:00:00+07:00"
RECEIVED = {"event_id": "e1", "dossier_id": "D1", "type": "received", "occurred_at": AT, "unit_id": "u",
            "procedure_id": "1.001193", "channel": "online", "online_service": "full",
            "due_at": "2026-11-20T17:00:00+07:00"}


def assert_same(raw: bytes | str | None) -> Event | InvalidEvent:
    fast, full = decode_event(raw), checked_event(raw)
    assert type(fast) is type(full), (raw, fast, full)
    assert fast == full, (raw, fast, full)
    if isinstance(full, Event):
        assert list(fast.data) == list(full.data)  # the stored form keeps the field order
        assert orjson.dumps(fast.data) == orjson.dumps(full.data)
        assert fast.occurred_at.isoformat() == full.occurred_at.isoformat()
        assert fast.occurred_at.utcoffset() == full.occurred_at.utcoffset()
        assert (fast.due_at and fast.due_at.isoformat()) == (full.due_at and full.due_at.isoformat())
    else:
        # never accepted by the typed step: the reason is the full path's
        assert _typed_event(raw) is None if raw is not None else True
    return fast


VALID = [
    RECEIVED,
    {**RECEIVED, "occurred_at": "2026-11-02T01:00:00Z", "due_at": "2026-11-20T10:00:00.123456Z"},
    {**RECEIVED, "occurred_at": "2026-11-02T08:00+07:00", "fee_required": True, "digitized": False,
     "reused_data": True, "personal_store": False, "citizen_data": True, "source": "", "extra": {"x": [1]}},
    {**RECEIVED, "occurred_at": "2026-11-02T08:00:00.5-03:30"},
    {"event_id": "e2", "dossier_id": "D1", "type": "paid", "occurred_at": AT, "method": "online", "amount_vnd": 0},
    {"event_id": "e3", "dossier_id": "D1", "type": "rated", "occurred_at": AT, "rating": "dissatisfied"},
    {"event_id": "p1", "petition_id": "P1", "type": "petition_received", "occurred_at": AT, "unit_id": "u",
     "category": "staff", "dossier_id": "D9", "reason": "Hồ sơ bị trễ hạn"},
    {"event_id": "x" * 128, "dossier_id": "D" * 64, "type": "stopped", "occurred_at": "1990-01-01T00:00:00Z"},
    {"event_id": "e4", "dossier_id": "D1", "type": "resolved", "occurred_at": "2099-12-31T23:59:59.999999Z",
     "result_electronic": True},
    {"event_id": "dup", "dossier_id": "D1", "type": "synced", "occurred_at": AT},
    # inside the supported range in UTC, outside it on the local clock
    {**RECEIVED, "occurred_at": "2100-01-01T06:59:59+07:00", "due_at": "1989-12-31T20:00:00-05:00"},
]
INVALID_VALUES = [
    None, b"", b"\xff\xfe", b"not json", b"[1, 2]", b'"text"', b"null", b"{}",
    b'{"event_id": "e", "dossier_id": "D", "type": "synced", "occurred_at": "2026-11-02T08:00:00+07:00",}',
    orjson.dumps({**RECEIVED, "due_at": None}),
    orjson.dumps({**RECEIVED, "type": "teleported"}),
    orjson.dumps({**RECEIVED, "event_id": ""}),
    orjson.dumps({**RECEIVED, "event_id": "x" * 129}),
    orjson.dumps({**RECEIVED, "channel": "fax"}),
    orjson.dumps({**RECEIVED, "fee_required": 1}),
    orjson.dumps({**RECEIVED, "citizen_data": "yes"}),
    orjson.dumps({k: v for k, v in RECEIVED.items() if k != "due_at"}),
    orjson.dumps({k: v for k, v in RECEIVED.items() if k != "dossier_id"}),
    orjson.dumps({**RECEIVED, "occurred_at": "2026-11-02T08:00:00"}),
    orjson.dumps({**RECEIVED, "occurred_at": "2026-11-02 08:00:00+07:00"}),
    orjson.dumps({**RECEIVED, "occurred_at": "2026-11-02T08:00:00+14:60"}),
    orjson.dumps({**RECEIVED, "occurred_at": "2026-11-02T08:00:00+24:00"}),
    orjson.dumps({**RECEIVED, "occurred_at": "2026-13-02T08:00:00+07:00"}),
    orjson.dumps({**RECEIVED, "occurred_at": "1989-12-31T23:59:59Z"}),
    orjson.dumps({**RECEIVED, "occurred_at": "2100-01-01T00:00:00Z"}),
    orjson.dumps({**RECEIVED, "occurred_at": "1990-01-01T06:59:59+07:00"}),  # 1989 in UTC
    orjson.dumps({**RECEIVED, "due_at": "2099-12-31T20:00:00-05:00"}),  # 2100 in UTC
    orjson.dumps({**RECEIVED, "occurred_at": "２０２６-11-02T08:00:00+07:00"}),  # fullwidth digits match \d
    orjson.dumps({**RECEIVED, "due_at": "0001-01-01T00:00:00+07:00"}),
    orjson.dumps({"event_id": "e2", "dossier_id": "D1", "type": "paid", "occurred_at": AT, "method": "online",
                  "amount_vnd": -1}),
    orjson.dumps({"event_id": "e2", "dossier_id": "D1", "type": "paid", "occurred_at": AT, "method": "online",
                  "amount_vnd": True}),
    b'{"event_id": "e2", "dossier_id": "D1", "type": "paid", "occurred_at": "2026-11-02T08:00:00Z", '
    b'"method": "online", "amount_vnd": 5.0}',  # an integral float: the schema's "integer" takes it
    b'{"event_id": "e2", "dossier_id": "D1", "type": "paid", "occurred_at": "2026-11-02T08:00:00Z", '
    b'"method": "online", "amount_vnd": 99999999999999999999999}',
    b'{"event_id": "e", "event_id": "f", "dossier_id": "D1", "type": "synced", "occurred_at": "2026-11-02T08:00:00Z"}',
    b'{"event_id": "e", "dossier_id": "D1", "type": "synced", "occurred_at": "2026-11-02T08:00:00Z", '
    b'"unit_id": "\\ud800"}',
]


@pytest.mark.parametrize("event", VALID)
def test_valid_events_are_accepted_by_the_typed_step_as_by_the_full_path(event: dict) -> None:
    raw = orjson.dumps(event)
    got = assert_same(raw)
    assert isinstance(got, Event)
    assert _typed_event(raw) == got  # the typed step itself accepted it (not the fall-back)
    assert assert_same(raw.decode()) == got  # a line of a file (str) decodes the same


@pytest.mark.parametrize("raw", INVALID_VALUES)
def test_other_inputs_get_the_full_paths_outcome(raw: bytes | None) -> None:
    assert_same(raw)


def test_instants_share_their_offsets_timezone_object() -> None:
    a = decode_event(orjson.dumps(RECEIVED))
    b = decode_event(orjson.dumps({**RECEIVED, "event_id": "e9", "occurred_at": "2026-11-03T09:00:00+07:00"}))
    assert isinstance(a, Event) and isinstance(b, Event)
    assert a.occurred_at.tzinfo is b.occurred_at.tzinfo is a.due_at.tzinfo  # type: ignore[union-attr]
    assert local_date(a.occurred_at).isoformat() == "2026-11-02"


# Values that are right for some fields and wrong for others, so that the
# generated events mix valid ones with every kind of rejection.
_STRINGS = st.one_of(st.sampled_from(["", "u", "D1", "online", "full", "staff", "satisfied", "x" * 65, "x" * 129]),
                     st.text(max_size=8))
_INSTANTS = st.one_of(
    st.sampled_from(["2026-11-02T08:00:00+07:00", "2026-11-02T01:00:00Z", "2026-11-02T08:00+07:00",
                     "2026-11-02T08:00:00.123+05:45", "2026-11-02T08:00:00", "2026-11-02T08:00:00+07:60",
                     "2026-02-30T08:00:00Z", "1989-12-31T23:59:59+07:00", "2100-01-01T06:59:59+07:00",
                     "2100-01-01T07:00:00+07:00", "2026-11-02T08:00:00.1234567890Z", "2026-11-02t08:00:00Z"]),
    st.datetimes().map(lambda d: d.isoformat() + "Z"))
_ANY = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2, max_value=2**63 - 1), st.floats(allow_nan=False),
                 _STRINGS, _INSTANTS, st.lists(st.integers(-5, 5), max_size=2))


@st.composite
def raw_events(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(EVENT_TYPES))
    base = {"event_id": draw(st.sampled_from(["e1", "e2", "e3", ""])), "type": kind,
            "occurred_at": draw(st.one_of(st.just(AT), _INSTANTS)), "dossier_id": "D1", "petition_id": "P1", "unit_id": "u",
            "procedure_id": "1.1", "channel": "online", "online_service": "none", "due_at": draw(st.one_of(st.just(AT), _INSTANTS)),
            "officer_id": "cb", "method": draw(st.sampled_from(["online", "offline", "online", "cash"])),
            "rating": draw(st.sampled_from(["satisfied", "dissatisfied", "very_satisfied", "meh"]))}
    # all of the type's usual fields (mostly valid) or any subset of them
    fields = _KEPT_FIELDS if draw(st.booleans()) else draw(st.lists(st.sampled_from(_KEPT_FIELDS), unique=True))
    event = {f: base[f] for f in fields if f in base}
    spoiled = draw(st.lists(st.sampled_from((*_KEPT_FIELDS, "unknown")), max_size=3)) if draw(st.booleans()) else []
    for f in spoiled:
        event[f] = draw(_ANY)
    for f in ("event_id", "type", "occurred_at"):
        if draw(st.integers(0, 9)):  # mostly present, sometimes missing
            event.setdefault(f, base[f])
    return orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS)


@settings(max_examples=600, deadline=None)
@given(raw_events())
def test_typed_and_full_paths_agree_on_generated_events(raw: bytes) -> None:
    assert_same(raw)
