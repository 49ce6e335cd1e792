"""Bounded memory: the retention rule for closed dossiers and answered
petitions (docs/performance.md, "Memory budget").

A dossier's snapshot (``{p}d:{dossier}``: its events and last contribution) is
needed only while events may still change it. Once a dossier has ended (its
first resolved / withdrawn / rejected / stopped, processors/facts.py) and
``retention_days`` have passed since that end, the sweep replaces the snapshot
with a *tombstone*, ``0|``, which itself expires after ``tombstone_days`` (by
default another retention period; 0 keeps it forever). The counters are never
touched: every number stays exact. A snapshot accessed less than ``grace_s``
ago (one day by default) is left for a later run: a replay of history delivers a
dossier's events much faster than their dates pass, and its ``rated`` or
``synced`` must still find the snapshot.

``apply.lua`` keeps ``{p}closed`` (dossier -> end instant) up to date in the same
atomic write as the snapshot, so the sweep reads only that sorted set. A later
event for a tombstoned dossier is dead-lettered with reason ``expired``
(store/plan.py), never applied to an empty state, which would count its
reception twice. After the tombstone has expired too, such an event is treated
as the first of a new dossier (an orphan unless it is a ``received``).

Petitions follow the same rule with their first answer (``petition_resolved``)
as their end, in ``{p}closedp``: the snapshot ``{p}p:{petition}`` becomes a
tombstone; the record the petition placed in its unit's hash (``{p}pt:{unit}``)
stays, because the petition indicators are computed from those records at
read time. A later event (a rating, a reopening) is dead-lettered ``expired``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import redis.asyncio as aioredis

from store.keys import Keys
from store.scripts import script

log = logging.getLogger(__name__)

TOMBSTONE = b"0|"  # version 0, no body: readers see an empty state (store/codecs.py)
DEFAULT_RETENTION_DAYS = 180
DEFAULT_GRACE_S = 86_400


# what the sweep walks: (retention_sweep.lua's kind, what its closed set holds)
KINDS = (("d", "closed dossiers"), ("p", "answered petitions"))


def is_tombstone(blob: bytes | None) -> bool:
    """Whether a stored dossier (or petition) is the tombstone of an expired one."""
    return blob == TOMBSTONE


def expired_detail(record_id: str, kind: str = "dossier") -> str:
    ended = "was answered" if kind == "petition" else "ended"
    return (f"{kind} {record_id!r} {ended} more than the retention (CHISO_RETENTION_DAYS) ago; "
            "its state was dropped, so a later event can no longer be applied")


class RetentionSweeper:
    """Runs the sweep from a worker's timer: at most once every ``every_s``
    seconds (monotonic time), at most ``max_batches`` batches of ``batch``
    dossiers per run so that a backlog (retention just enabled) never holds the
    timer long. Any number of workers may run it: the script is idempotent."""

    def __init__(self, redis: aioredis.Redis, keys: Keys, now: Callable[[], datetime], retention_days: int,
                 tombstone_days: int | None = None, batch: int = 1000, every_s: float = 60.0,
                 max_batches: int = 20, grace_s: int = DEFAULT_GRACE_S) -> None:
        self.redis = redis
        self.keys = keys
        self.now = now
        self.retention = timedelta(days=retention_days)
        self.enabled = retention_days > 0
        days = retention_days if tombstone_days is None else tombstone_days
        self.tombstone_ms = int(timedelta(days=days).total_seconds() * 1000)
        self.batch = batch
        self.every_s = every_s
        self.max_batches = max_batches
        self.grace_s = grace_s
        self._last: float | None = None
        self._script = redis.register_script(script("retention_sweep"))

    def cutoff(self) -> float:
        """Dossiers that ended at or before this unix time are swept."""
        return (self.now() - self.retention).timestamp()

    async def sweep(self, max_batches: int | None = None) -> int:
        """Sweep every due dossier and petition (or at most ``max_batches``
        batches of each); returns how many."""
        if not self.enabled:
            return 0
        total = 0
        for kind, what in KINDS:
            swept = await self._sweep_kind(kind, max_batches)
            if swept:
                log.info("retention: %d %s older than %s replaced by tombstones", swept, what, self.retention)
            total += swept
        return total

    async def _sweep_kind(self, kind: str, max_batches: int | None) -> int:
        cutoff = f"{self.cutoff():.6f}"
        swept = skipped = 0
        batches = 0
        while max_batches is None or batches < max_batches:
            batches += 1
            n, scanned = await self._script(
                keys=[self.keys.route],
                args=[self.keys.prefix, cutoff, self.tombstone_ms, self.grace_s, skipped, self.batch, kind])
            swept += int(n)
            skipped += int(scanned) - int(n)  # still in the set: the next batch starts after them
            if int(scanned) < self.batch:
                break
        return swept

    async def run_once(self) -> int:
        """The timer's hook: sweep if ``every_s`` has passed since the last run."""
        if not self.enabled:
            return 0
        t = time.monotonic()
        if self._last is not None and t - self._last < self.every_s:
            return 0
        self._last = t
        return await self.sweep(self.max_batches)
