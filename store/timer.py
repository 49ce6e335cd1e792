"""The deadline timer's Redis side: move the open dossiers whose next
transition instant (``{p}timer``) has come.

It recomputes their state from their stored events and moves them atomically
(``transition.lua``); it never scans the open dossiers. Like the apply, it
writes nothing when the state is counted with other rules than its own
(``RulesMismatch``: the worker stops, streams/agents.py). Any number of workers
may run it: a transition is idempotent and an alert is queued only once per
dossier and state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import redis.asyncio as aioredis

from processors.calendar import WorkingCalendar
from processors.facts import dossier_facts
from processors.rules import CountingRules
from processors.timeutil import epoch_us
from store.codecs import decode_dossier, split_dossier
from store.keys import Keys
from store.layout import rules_changed
from store.plan import open_update
from store.scripts import OTHER_RULES, Transition, script, transition_argv

log = logging.getLogger(__name__)

# Instants are read for today only; two days more is room for clocks that disagree.
ASOF_KEEP = timedelta(days=3)


class DeadlineTimer:
    def __init__(self, redis: aioredis.Redis, keys: Keys, calendar: WorkingCalendar,
                 now: Callable[[], datetime], batch: int = 500, asof_keep: timedelta = ASOF_KEEP,
                 rules: CountingRules = CountingRules()) -> None:
        self.redis = redis
        self.keys = keys
        self.calendar = calendar
        self.rules = rules
        self.fingerprint = rules.fingerprint()
        self.now = now
        self.batch = batch
        self.asof_keep = asof_keep
        self._script = redis.register_script(script("transition"))

    async def prune_asof(self) -> int:
        """Drop as-of instants older than ``asof_keep`` before now: readers only
        look at today's (processors/asof.py); the counters keep the rest."""
        return await self.redis.zremrangebyscore(self.keys.asof, "-inf", f"({epoch_us(self.now() - self.asof_keep)}")

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
            transitions, broken = [], []
            for dossier_id, blob in zip(dossier_ids, blobs):
                try:
                    facts = dossier_facts(dossier_id, decode_dossier(blob).events.values())
                    update = open_update(dossier_id, facts, now, self.calendar, self.rules)
                except Exception:  # noqa: BLE001 - one dossier must not stop every deadline
                    log.exception("deadline timer: dossier %s cannot be evaluated; its timer entry is dropped",
                                  dossier_id)
                    broken.append(dossier_id)
                    continue
                transitions.append(Transition(split_dossier(blob)[0], update))
            if broken:
                await self.redis.zrem(self.keys.timer, *broken)
            done = await self._script(keys=[self.keys.route],
                                      args=transition_argv(self.keys.prefix, self.fingerprint, transitions))
            if done == OTHER_RULES:
                # `chiso rebuild` recorded other rules while this worker ran: its
                # states would mix two sets of rules (raises RulesMismatch)
                raise await rules_changed(self.redis, self.keys, self.fingerprint)
            moved += done
            if len(ids) < self.batch:
                return moved
        return moved
