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
import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import redis.asyncio as aioredis

from processors.events import Event, InvalidEvent, decode_event
from store.identity import GapGuard
from store.keys import Keys, watermark_field
from store.plan import BatchResult, Plan, PlanRules, RawMessage, StateCache, build_plan, record_key
from store.scripts import PETITION, script

log = logging.getLogger(__name__)

SendDeadLetters = Callable[[list[dict]], Awaitable[None]]


class BatchApplier:
    def __init__(
        self, redis: aioredis.Redis, keys: Keys, send_dead_letters: SendDeadLetters,
        rules: PlanRules, now: Callable[[], datetime], gap_guard: GapGuard | None = None,
        cache_size: int = 2_048,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.send_dead_letters = send_dead_letters
        self.rules = rules
        self.now = now
        self.gap_guard = gap_guard  # store/identity.py: refuse a batch that starts past a hole
        self._script = redis.register_script(script("apply"))
        # Decoded states of the dossiers this worker wrote last (least recently
        # written first out): a dossier whose stored blob is still the one we
        # wrote needs no decoding (store/plan.py StateCache). A decoded state
        # takes ~30 KB of Python objects, so the cache stays small (~60 MB):
        # it serves a dossier's events that follow each other within minutes.
        self.states: StateCache = {}
        self.cache_size = cache_size

    async def apply(self, messages: Sequence[RawMessage]) -> BatchResult:
        if not self.keys.clustered:
            return await self._apply(messages)
        # Redis Cluster: each partition's keys share one hash slot
        # (store/keys.py), so each partition's share is one script call. The
        # shares touch disjoint keys (a dossier's events are on one partition),
        # so they go concurrently; all settle before an error is raised, so a
        # retry of the batch never races a share still in flight.
        by_partition: dict[int, list[RawMessage]] = {}
        for m in messages:
            by_partition.setdefault(m.partition, []).append(m)
        parts = await asyncio.gather(*(self._apply(share) for _, share in sorted(by_partition.items())),
                                     return_exceptions=True)
        for part in parts:
            if isinstance(part, BaseException):
                raise part
        total = BatchResult()
        for part in parts:
            total.accepted += part.accepted
            total.duplicates += part.duplicates
            total.invalid += part.invalid
            total.skipped += part.skipped
            total.retries += part.retries
            total.updates += part.updates
        return total

    def _keys_of(self, messages: Sequence[RawMessage]) -> Keys:
        """The keys a batch writes: on a cluster, its (one) partition's."""
        return self.keys.shard(messages[0].partition) if self.keys.clustered and messages else self.keys

    async def _apply(self, messages: Sequence[RawMessage]) -> BatchResult:
        keys = self._keys_of(messages)
        decoded = [(m, decode_event(m.value)) for m in messages]
        retries = 0
        dead_letters_sent = False
        while True:
            plan = await self._plan(decoded)
            if plan.dead_letters and not dead_letters_sent:
                await self.send_dead_letters(plan.dead_letters)
                dead_letters_sent = True
            plan.result.retries = retries
            if plan.args is None:
                return plan.result
            outcome = await self._script(keys=[keys.route], args=plan.args.argv(keys.prefix))
            if outcome == 1:
                self._remember(plan.states)
                return plan.result
            # Someone else moved a watermark or a dossier since we read them.
            retries += 1
            log.info("apply conflict (%s), re-reading (retry %d)", outcome, retries)
            await asyncio.sleep(min(0.05 * retries, 1.0))

    def _remember(self, written: StateCache) -> None:
        states = self.states
        for dossier_id, entry in written.items():
            states.pop(dossier_id, None)
            states[dossier_id] = entry
        excess = len(states) - self.cache_size
        if excess > 0:
            for dossier_id in list(itertools.islice(states, excess)):
                del states[dossier_id]

    async def _plan(self, decoded: list[tuple[RawMessage, Event | InvalidEvent]]) -> Plan:
        k = self._keys_of([m for m, _ in decoded])
        wm_fields = sorted({watermark_field(m.topic, m.partition) for m, _ in decoded})
        records = sorted({record_key(ev) for _, ev in decoded if isinstance(ev, Event)})
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(k.watermarks, wm_fields)
            for kind, record_id in records:
                pipe.get(k.petition(record_id) if kind == PETITION else k.dossier(record_id))
            replies = await pipe.execute()
        watermarks = {f: int(v) if v is not None else -1 for f, v in zip(wm_fields, replies[0])}
        if self.gap_guard is not None:
            self.gap_guard.check((m for m, _ in decoded), watermarks)
        blobs = dict(zip(records, replies[1:]))
        return build_plan(decoded, watermarks, blobs, self.rules, self.now(), datetime.now(UTC), self.states)
