"""The batch plan: what one batch of raw messages writes, as a pure function of
the messages, the state read from Redis and the clock (``now``).

Messages at or below their partition's watermark were applied before (a
redelivery after a crash) and are skipped; invalid ones become dead letters;
valid ones are added to their dossiers, whose change in contribution is summed
into counter deltas. ``store/writer.py`` reads the state, calls ``build_plan``
and runs ``apply.lua`` with the result.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import orjson

from processors.calendar import WorkingCalendar
from processors.dossier_update import DossierState, DossierUpdate, apply_events
from processors.events import Event, InvalidEvent, raw_text
from processors.facts import DossierFacts
from processors.measures import GLOBAL_UNIT
from processors.open_state import ALERT_STATES, open_state
from processors.petition_update import apply_petition_events
from processors.petitions import PETITION_ORPHANS, PetitionRules, petition_instants
from processors.rules import CountingRules
from processors.stake import open_info
from processors.timeutil import iso_instant
from store.codecs import (
    decode_dossier,
    decode_petition,
    encode_dossier,
    encode_petition,
    encode_petition_record,
    split_dossier,
)
from store.identity import batch_fingerprints
from store.keys import watermark_field
from store.retention import expired_detail, is_tombstone
from store.scripts import DOSSIER, PETITION, ApplyArgs, OpenUpdate

log = logging.getLogger(__name__)


class RawMessage(NamedTuple):
    """One Kafka record as the write path sees it (a tuple: one is built for
    every record fetched, and a frozen dataclass costs ~4x more to build)."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


@dataclass
class BatchResult:
    accepted: int = 0
    duplicates: int = 0
    invalid: int = 0
    skipped: int = 0      # redelivered messages already applied
    retries: int = 0
    updates: list[DossierUpdate] = field(default_factory=list)


# dossier id -> (its stored blob, that blob decoded): decoded states a worker
# keeps between batches. An entry is used only when Redis still holds exactly
# that blob (bytes compared), so it can never stand for another state.
StateCache = dict[str, tuple[bytes, DossierState]]
# what a plan reads such states from: a StateCache, or several stacked (ChainMap)
StateLookup = Mapping[str, tuple[bytes, DossierState]]


@dataclass
class Plan:
    result: BatchResult
    dead_letters: list[dict]
    args: ApplyArgs | None  # None: nothing new (every message was applied before)
    # the dossiers this plan writes: id -> (new blob, new state), for the cache
    # once the write succeeded
    states: StateCache = field(default_factory=dict)


def open_update(dossier_id: str, facts: DossierFacts, now: datetime, calendar: WorkingCalendar,
                rules: CountingRules = CountingRules()) -> OpenUpdate:
    """The dossier's open state at ``now``, as ``set_open`` stores it."""
    s = open_state(facts, now, calendar)
    next_at = s.next_change_at.timestamp() if s.next_change_at is not None else None
    if s.state is None:
        return OpenUpdate(dossier_id, "", "", False, 0.0, next_at, b"")
    assert s.effective_due is not None and facts.unit is not None
    alert = orjson.dumps({
        "dossier_id": dossier_id, "unit_id": facts.unit, "state": s.state,
        "due_at": iso_instant(s.effective_due), "at": iso_instant(now),
        "procedure_id": facts.procedure_id, "officer_id": facts.officer,
    }) if s.state in ALERT_STATES else b""
    return OpenUpdate(dossier_id, facts.unit, s.state, s.no_apology, s.effective_due.timestamp(), next_at, alert,
                      open_info(facts, rules).encode())


@dataclass(frozen=True, slots=True)
class PlanRules:
    """What the plan needs besides the messages: the calendar (open states,
    petition limits) and the counting rules (what an event set contributes)."""

    calendar: WorkingCalendar
    counting: CountingRules = CountingRules()


def build_plan(
    decoded: list[tuple[RawMessage, Event | InvalidEvent]],
    watermarks: dict[str, int],
    blobs: Mapping[tuple[str, str], bytes | None],
    rules: PlanRules,
    now: datetime,
    processed_at: datetime,
    states: StateLookup | None = None,
) -> Plan:
    """``watermarks``: field -> last applied offset (-1: none) for every
    partition in the batch; ``blobs``: the stored record of every dossier and
    petition in it, by (kind, id) (``record_key``).
    Two clocks, both passed in: ``now`` is the domain's (open states and alerts
    are as of it; CHISO_NOW fixes it), ``processed_at`` the pipeline's own time
    (``applied_at``, ``rejected_at``), which keeps running even when ``now`` is fixed.
    ``states``: decoded dossier states kept from earlier batches (``StateCache``)."""
    result = BatchResult()
    written: StateCache = {}
    new_wm: dict[str, int] = dict(watermarks)
    per_record: dict[tuple[str, str], list[tuple[RawMessage, Event]]] = defaultdict(list)
    dead_letters: list[dict] = []
    args = ApplyArgs(applied_at=processed_at.timestamp(), rules=rules.counting.fingerprint())
    globals_delta: dict[str, int] = defaultdict(int)
    fields_of: dict[tuple[str, int], str] = {}  # (topic, partition) -> watermark field
    for m, ev in decoded:
        wf = fields_of.get((m.topic, m.partition))
        if wf is None:
            wf = fields_of[(m.topic, m.partition)] = watermark_field(m.topic, m.partition)
        if m.offset <= watermarks[wf]:
            result.skipped += 1
            continue
        if m.offset > new_wm[wf]:
            new_wm[wf] = m.offset
        if isinstance(ev, InvalidEvent):
            result.invalid += 1
            globals_delta[f"inv:{ev.reason}"] += 1
            dead_letters.append(dead_letter(m, ev.reason, ev.detail, processed_at))
        else:
            per_record[record_key(ev)].append((m, ev))

    cells: dict[tuple[str, str, str], int] = defaultdict(int)
    event_types: dict[str, int] = defaultdict(int)
    for (kind, record_id), pairs in per_record.items():
        blob = blobs.get((kind, record_id))
        if is_tombstone(blob):  # dropped by the retention: never applied to an empty state
            result.invalid += len(pairs)
            globals_delta["inv:expired"] += len(pairs)
            detail = expired_detail(record_id, "petition" if kind == PETITION else "dossier")
            dead_letters.extend(dead_letter(m, "expired", detail, processed_at) for m, _ in pairs)
            continue
        events = [ev for _, ev in pairs]
        # A record that cannot be applied (any exception of the domain) costs
        # only its own new messages, dead-lettered, never the batch: everything
        # that may raise runs before anything is added to the batch's plan.
        try:
            if kind == PETITION:
                part, part_globals = ApplyArgs(applied_at=0.0), defaultdict(int)
                added, duplicates = _plan_petition(record_id, blob, events, rules, part, part_globals)
            else:
                update, planned = _plan_dossier(record_id, blob, events, rules, now, states)
        except Exception as exc:  # noqa: BLE001 - isolate the record, keep the pipeline moving
            log.warning("%s %s cannot be applied (%d new messages dead-lettered): %r", kind, record_id, len(pairs), exc)
            result.invalid += len(pairs)
            globals_delta["inv:unprocessable"] += len(pairs)
            dead_letters.extend(dead_letter(m, "unprocessable", f"{type(exc).__name__}: {exc}", processed_at)
                                for m, _ in pairs)
            continue
        if kind == PETITION:
            args.merge(part)
            for name, n in part_globals.items():
                globals_delta[name] += n
        else:
            added, duplicates = update.added, update.duplicates
            if planned is not None:
                _add_dossier(args, written, record_id, update, planned)
                result.updates.append(update)
                for cell, n in update.delta.items():  # summed straight into the batch's cells
                    cells[cell] += n
        result.duplicates += duplicates
        result.accepted += len(added)
        for e in added:
            event_types[e.type] += 1
    for event_type, n in event_types.items():
        globals_delta[f"ev:{event_type}"] += n
    # Sum the batch's cells first (many dossiers share a unit, a day and a
    # field), then group them by (unit, day): apply.lua counts each in its day
    # and month buckets (renaming as-of fields as processors/windows.py
    # bucket_field does), so each cell is sent once, not once per bucket.
    groups: dict[tuple[str, str], dict[str, int]] = {}
    for (unit, day, name), n in cells.items():
        if not n:
            continue
        if unit == GLOBAL_UNIT:
            globals_delta[name] += n
            continue
        fields = groups.get((unit, day))
        if fields is None:
            fields = groups[(unit, day)] = {}
            args.units.add(unit)
            args.years.add(day[:4])
        fields[name] = n
    if result.duplicates:
        globals_delta["dup"] += result.duplicates
    args.cells = groups
    args.globals = dict(globals_delta)

    args.watermarks = [(f, watermarks[f], new_wm[f]) for f in sorted(new_wm) if new_wm[f] != watermarks[f]]
    if not args.watermarks:
        return Plan(result, dead_letters, None)
    # written with the watermarks: what identifies the log Redis reflects
    args.fingerprints = batch_fingerprints((m for m, _ in reversed(decoded)), args.watermarks)
    return Plan(result, dead_letters, args, written)


# A dead letter keeps the original value as text, cut to this many characters
# (with its length and a hash), so that it always fits a Kafka record.
MAX_DEAD_LETTER_RAW = 64_000
MAX_DEAD_LETTER_DETAIL = 2_000


def dead_letter(m: RawMessage, reason: str, detail: str, processed_at: datetime) -> dict:
    """The DLQ record of outputs.md, bounded in size whatever the input."""
    raw = raw_text(m.value)
    record = {"reason": reason, "detail": detail[:MAX_DEAD_LETTER_DETAIL], "raw": raw,
              "topic": m.topic, "partition": m.partition, "offset": m.offset,
              "rejected_at": processed_at.isoformat()}
    if len(raw) > MAX_DEAD_LETTER_RAW:
        record["raw"] = raw[:MAX_DEAD_LETTER_RAW]
        record["raw_truncated"] = True
        record["raw_length"] = len(m.value or b"")
        record["raw_sha256"] = hashlib.sha256(m.value or b"").hexdigest()
    return record


def record_key(ev: Event) -> tuple[str, str]:
    """Where an event's subject is stored: (kind, id)."""
    return (PETITION if ev.is_petition else DOSSIER, ev.key)


class _DossierWrite(NamedTuple):
    """What one changed dossier adds to the batch's plan, all computed before
    any of it is added (so a failure leaves the plan untouched)."""

    old_version: int
    blob: bytes
    open: OpenUpdate
    end: float | None


def _plan_dossier(dossier_id: str, blob: bytes | None, events: list[Event], rules: PlanRules, now: datetime,
                  states: StateLookup | None = None) -> tuple[DossierUpdate, _DossierWrite | None]:
    """The dossier's update and, if it changed, what it writes."""
    cached = states.get(dossier_id) if states is not None and blob else None
    state = cached[1] if cached is not None and cached[0] == blob else decode_dossier(blob)
    update = apply_events(dossier_id, state, events, rules.counting)
    if not update.changed:
        return update, None
    facts = update.facts
    assert facts is not None
    return update, _DossierWrite(split_dossier(blob)[0], encode_dossier(update.state),
                                 open_update(dossier_id, facts, now, rules.calendar, rules.counting),
                                 facts.end_at.timestamp() if facts.end_at is not None else None)


def _add_dossier(args: ApplyArgs, written: StateCache, dossier_id: str, update: DossierUpdate,
                 planned: _DossierWrite) -> None:
    args.records.append((DOSSIER, dossier_id, planned.old_version, planned.blob))
    written[dossier_id] = (planned.blob, update.state)
    args.open.append(planned.open)
    args.closed.append((dossier_id, planned.end))
    assert update.facts is not None
    if update.facts.procedure_id is not None:
        args.procedures.add(update.facts.procedure_id)
    args.asof_removed.extend(update.instants_removed)
    args.asof_added.extend(update.instants_added)


def _plan_petition(petition_id: str, blob: bytes | None, events: list[Event], rules: PlanRules,
                   args: ApplyArgs, globals_delta: dict[str, int]) -> tuple[tuple[Event, ...], int]:
    state = decode_petition(blob)
    update = apply_petition_events(petition_id, state, events, rules.calendar,
                                   PetitionRules(rules.counting.petition_working_days))
    if not update.changed:
        return (), update.duplicates
    args.records.append((PETITION, petition_id, split_dossier(blob)[0], encode_petition(update.state)))
    answered = update.facts.answered_at if update.facts is not None else None
    args.closed_petitions.append((petition_id, answered.timestamp() if answered is not None else None))
    if update.removed is not None:
        args.petitions_removed.append((update.removed[0], petition_id))
    if update.state.placed is not None:
        unit, record = update.state.placed
        args.petitions_placed.append((unit, petition_id, encode_petition_record(record)))
        args.units.add(unit)
    old, new = petition_instants(state.placed), petition_instants(update.state.placed)
    args.asof_removed.extend(m for m in old if m not in new)
    args.asof_added.extend((m, t) for m, t in new.items() if old.get(m) != t)
    if update.orphans_delta:
        globals_delta[PETITION_ORPHANS] += update.orphans_delta
    return update.added, update.duplicates
