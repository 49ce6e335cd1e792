"""Deadlines: open-dossier states kept current in Redis, the timer that moves
them as time passes, and the exactly-once publisher of `dossier-alerts`.

The timer wakes once a second, takes the dossiers whose next transition instant
(``{p}timer``) has come, recomputes their state from their stored events and
moves them atomically (streams/redis_scripts.py TRANSITION). It never scans the
open dossiers. Any number of workers may run it: a transition is idempotent and
an alert is queued only once per dossier and state.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Callable

import orjson
import redis.asyncio as aioredis

from chiso.redis_keys import Keys
from processors.calendar import WorkingCalendar
from processors.dossier_update import DossierState
from processors.facts import DossierFacts, dossier_facts
from processors.open_state import open_state
from processors.timeutil import iso_instant
from streams.redis_scripts import TRANSITION

log = logging.getLogger(__name__)


def open_args(dossier_id: str, facts: DossierFacts, now: datetime, calendar: WorkingCalendar) -> list:
    """The 7 arguments of ``set_open`` for one dossier at ``now``."""
    s = open_state(facts, now, calendar)
    next_at = f"{s.next_change_at.timestamp():.6f}" if s.next_change_at is not None else ""
    if s.state is None:
        return [dossier_id, "", "", "0", "0", next_at, ""]
    assert s.effective_due is not None
    alert = orjson.dumps({
        "dossier_id": dossier_id, "unit_id": facts.unit, "state": s.state,
        "due_at": iso_instant(s.effective_due), "at": iso_instant(now),
        "procedure_id": facts.procedure_id, "officer_id": facts.officer,
    }) if s.state in ("nearing_due", "overdue") else b""
    return [dossier_id, facts.unit, s.state, "1" if s.no_apology else "0",
            f"{s.effective_due.timestamp():.6f}", next_at, alert]


class DeadlineTimer:
    def __init__(self, redis: aioredis.Redis, keys: Keys, calendar: WorkingCalendar,
                 now: Callable[[], datetime], batch: int = 500) -> None:
        self.redis = redis
        self.keys = keys
        self.calendar = calendar
        self.now = now
        self.batch = batch
        self._script = redis.register_script(TRANSITION)

    async def tick(self, max_batches: int | None = None) -> int:
        """Move the dossiers whose transition time has come (all of them, or at
        most ``max_batches`` batches); returns how many."""
        moved = 0
        batches = 0
        while max_batches is None or batches < max_batches:
            batches += 1
            now = self.now()
            ids = await self.redis.zrangebyscore(self.keys.timer, "-inf", now.timestamp(), start=0, num=self.batch)
            if not ids:
                return moved
            dossier_ids = [i.decode() for i in ids]
            blobs = await self.redis.mget([self.keys.dossier(d) for d in dossier_ids])
            args: list = [self.keys.prefix, len(dossier_ids)]
            for dossier_id, blob in zip(dossier_ids, blobs):
                version, body = split_blob(blob)
                state = DossierState.loads(body)
                facts = dossier_facts(dossier_id, state.events.values())
                args += [self.keys.dossier(dossier_id), str(version), *open_args(dossier_id, facts, now, self.calendar)]
            moved += await self._script(args=args)
            if len(ids) < self.batch:
                return moved
        return moved


def split_blob(blob: bytes | None) -> tuple[int, bytes | None]:
    """A stored dossier is "{version}|{json}"."""
    if not blob:
        return 0, None
    head, body = blob.split(b"|", 1)
    return int(head), body
