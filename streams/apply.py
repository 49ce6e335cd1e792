"""Apply a batch of raw input messages to Redis, exactly once in effect.

Delivery is at-least-once, so a batch may arrive again after a crash between the
Redis write and the offset commit. Three things make that harmless:

1. Redis keeps, per input partition, the last offset whose effects are stored
   (the *watermark*). Messages at or below it are skipped on redelivery, so even
   the duplicate and invalid counters are never counted twice.
2. Every effect of a batch (new events, new dossier snapshots, counter deltas,
   watermarks) is written by ONE Lua script, which first checks that neither the
   watermarks nor the dossiers changed since they were read (compare-and-set).
   A worker that lost a race (e.g. during a rebalance) re-reads and retries.
3. Dead letters are sent and acknowledged *before* that script runs: a crash in
   between re-sends them (at-least-once, each carries its topic/partition/offset)
   but never loses one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Awaitable, Callable, Sequence

import redis.asyncio as aioredis

from chiso.redis_keys import Keys, watermark_field
from processors.calendar import WorkingCalendar
from processors.dossier_update import DossierState, DossierUpdate, apply_events
from processors.events import Event, InvalidEvent, decode_event, raw_text
from processors.measures import GLOBAL_UNIT
from processors.windows import bucket_levels
from streams.deadlines import open_args, split_blob
from streams.redis_scripts import APPLY

log = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class RawMessage:
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


SendDeadLetters = Callable[[list[dict]], Awaitable[None]]


class BatchApplier:
    def __init__(
        self, redis: aioredis.Redis, keys: Keys, send_dead_letters: SendDeadLetters,
        calendar: WorkingCalendar, now: Callable[[], datetime],
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.send_dead_letters = send_dead_letters
        self.calendar = calendar
        self.now = now
        self._script = redis.register_script(APPLY)

    async def apply(self, messages: Sequence[RawMessage]) -> BatchResult:
        decoded = [(m, decode_event(m.value)) for m in messages]
        retries = 0
        dead_letters_sent = False
        while True:
            plan = await self._plan(decoded)
            if plan.dead_letters and not dead_letters_sent:
                await self.send_dead_letters(plan.dead_letters)
                dead_letters_sent = True
            if not plan.args_ready:
                plan.result.retries = retries
                return plan.result
            outcome = await self._script(args=plan.args)
            if outcome == 1:
                plan.result.retries = retries
                return plan.result
            # Someone else moved a watermark or a dossier since we read them.
            retries += 1
            log.info("apply conflict (%s), re-reading (retry %d)", outcome, retries)
            await asyncio.sleep(min(0.05 * retries, 1.0))

    async def _plan(self, decoded: list[tuple[RawMessage, Event | InvalidEvent]]) -> _Plan:
        k = self.keys
        wm_fields = sorted({watermark_field(m.topic, m.partition) for m, _ in decoded})
        dossier_ids = sorted({ev.dossier_id for _, ev in decoded if isinstance(ev, Event)})
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(k.watermarks, wm_fields)
            for d in dossier_ids:
                pipe.get(k.dossier(d))
            replies = await pipe.execute()
        watermarks = {f: int(v) if v is not None else -1 for f, v in zip(wm_fields, replies[0])}
        blobs = dict(zip(dossier_ids, replies[1:]))
        return build_plan(k, decoded, watermarks, blobs, self.calendar, self.now())


@dataclass
class _Plan:
    result: BatchResult
    dead_letters: list[dict]
    args: list
    args_ready: bool


def build_plan(
    k: Keys,
    decoded: list[tuple[RawMessage, Event | InvalidEvent]],
    watermarks: dict[str, int],
    blobs: dict[str, bytes | None],
    calendar: WorkingCalendar,
    now: datetime,
) -> _Plan:
    result = BatchResult()
    new_wm: dict[str, int] = dict(watermarks)
    per_dossier: dict[str, list[Event]] = defaultdict(list)
    dead_letters: list[dict] = []
    now_iso = datetime.now(timezone.utc).isoformat()
    globals_delta: dict[str, int] = defaultdict(int)
    for m, ev in decoded:
        wf = watermark_field(m.topic, m.partition)
        if m.offset <= watermarks[wf]:
            result.skipped += 1
            continue
        new_wm[wf] = max(new_wm[wf], m.offset)
        if isinstance(ev, InvalidEvent):
            result.invalid += 1
            globals_delta[f"inv:{ev.reason}"] += 1
            dead_letters.append({
                "reason": ev.reason, "detail": ev.detail, "raw": raw_text(m.value),
                "topic": m.topic, "partition": m.partition, "offset": m.offset,
                "rejected_at": now_iso,
            })
        else:
            per_dossier[ev.dossier_id].append(ev)

    dossier_args: list = []
    open_updates: list = []
    cells: dict[tuple[str, str, str], int] = defaultdict(int)
    for dossier_id, events in per_dossier.items():
        state = DossierState.loads(split_blob(blobs.get(dossier_id))[1])
        update = apply_events(dossier_id, state, events)
        result.duplicates += update.duplicates
        if not update.changed:
            continue
        result.accepted += len(update.added)
        result.updates.append(update)
        for e in update.added:
            globals_delta[f"ev:{e.type}"] += 1
        dossier_args += [k.dossier(dossier_id), str(state.version),
                         f"{update.state.version}|".encode() + update.state.dumps()]
        assert update.facts is not None
        open_updates += open_args(dossier_id, update.facts, now, calendar)
        for cell, n in update.delta.items():
            cells[cell] += n
    # Sum the batch's cells first: many dossiers share a unit and a day, so each
    # distinct cell is expanded into its day, month and year buckets only once.
    counters: dict[tuple[str, str], int] = defaultdict(int)
    units: set[str] = set()
    years: set[str] = set()
    for (unit, day, name), n in cells.items():
        if not n:
            continue
        if unit == GLOBAL_UNIT:
            globals_delta[name] += n
            continue
        units.add(unit)
        years.add(day[:4])
        for bucket in bucket_levels(day):
            counters[(k.counters(unit, bucket), name)] += n
    if result.duplicates:
        globals_delta["dup"] += result.duplicates

    changed_wm = [f for f in sorted(new_wm) if new_wm[f] != watermarks[f]]
    if not changed_wm:
        return _Plan(result, dead_letters, [], False)
    args: list = [k.globals, k.watermarks, k.units, k.years, k.applied_at, f"{time.time():.3f}", k.prefix]
    args.append(len(changed_wm))
    for f in changed_wm:
        args += [f, str(watermarks[f]), str(new_wm[f])]
    args.append(len(dossier_args) // 3)
    args += dossier_args
    incr = [(key, name, n) for (key, name), n in counters.items() if n]
    incr += [(k.globals, name, n) for name, n in globals_delta.items() if n]
    args.append(len(incr))
    for key, name, n in incr:
        args += [key, name, n]
    args.append(len(units))
    args += sorted(units)
    args.append(len(years))
    args += sorted(years)
    args.append(len(open_updates) // 7)
    args += open_updates
    return _Plan(result, dead_letters, args, True)
