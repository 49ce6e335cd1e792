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

A large batch is written in chunks, each planned while Redis runs the previous
one's script (``_apply_pipelined``); the compare-and-set still guards each.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import ChainMap
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis.asyncio as aioredis

from processors.events import Event, InvalidEvent, decode_event
from store.identity import GapGuard
from store.keys import Keys, watermark_field
from store.layout import rules_changed
from store.plan import BatchResult, Plan, PlanRules, RawMessage, StateCache, StateLookup, build_plan, record_key
from store.scripts import OTHER_RULES, PETITION, script

log = logging.getLogger(__name__)

SendDeadLetters = Callable[[list[dict]], Awaitable[None]]

# A batch of more messages than this is applied in chunks of about this size,
# pipelined (BatchApplier._apply_pipelined); a worker catching up gets batches
# of ~10,000 records. Smaller chunks overlap more of the scripts' time, but each
# sums fewer cells (a time-ordered feed's dossiers share few cells within a
# chunk, so Redis does more HINCRBYs) and costs a script call: 500 was the best
# of 250 / 500 / 1,000 on both feeds (docs/performance.md).
PIPELINE_CHUNK = 500


class BatchApplier:
    def __init__(
        self, redis: aioredis.Redis, keys: Keys, send_dead_letters: SendDeadLetters,
        rules: PlanRules, now: Callable[[], datetime], gap_guard: GapGuard | None = None,
        cache_size: int = 2_048, pipeline_chunk: int = PIPELINE_CHUNK,
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
        self.pipeline_chunk = pipeline_chunk

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
            _add_into(total, part)
        return total

    def _keys_of(self, messages: Sequence[RawMessage]) -> Keys:
        """The keys a batch writes: on a cluster, its (one) partition's."""
        return self.keys.shard(messages[0].partition) if self.keys.clustered and messages else self.keys

    async def _apply(self, messages: Sequence[RawMessage]) -> BatchResult:
        keys = self._keys_of(messages)
        chunks = _chunks(messages, self.pipeline_chunk)
        if len(chunks) <= 1:
            return await self._apply_serial(_decode(messages), keys, set())
        return await self._apply_pipelined(chunks, keys)

    async def _apply_serial(self, decoded: Decoded, keys: Keys, sent: set[tuple], retries: int = 0) -> BatchResult:
        """Read, plan, write, and on a lost compare-and-set read again and
        retry. ``sent``: the dead letters (topic, partition, offset) already
        sent for these messages."""
        while True:
            plan = await self._plan(decoded)
            await self._send_dead_letters(plan, sent)
            plan.result.retries = retries
            if plan.args is None:
                return plan.result
            outcome = await self._run(plan, keys)
            if outcome == 1:
                self._remember(plan.states)
                return plan.result
            # Someone else moved a watermark or a dossier since we read them.
            retries += 1
            log.info("apply conflict (%s), re-reading (retry %d)", outcome, retries)
            await asyncio.sleep(min(0.05 * retries, 1.0))

    async def _apply_pipelined(self, chunks: list[Sequence[RawMessage]], keys: Keys) -> BatchResult:
        """Apply the chunks in order, each planned while Redis runs the script
        of the one before: the worker's work and Redis's overlap instead of
        adding up (docs/performance.md).

        While chunk k-1's script runs, chunk k is planned and chunk k+1 is
        decoded and its read sent (Redis answers it after k-1's script, before
        k's). Chunk k+1 is then planned as if the chunks before it had been
        written: their new watermarks and records stand in for what was read
        (and their decoded states for the cache), whether or not the read came
        after their scripts. Its script is sent only once k's has returned 1,
        so every write is still compare-and-set against the state it was
        planned from. When k lost a race, k is applied again the serial way
        (read, plan, write), and what the next chunks need is read again."""
        total = BatchResult()
        sent: set[tuple] = set()
        decoded = _decode(chunks[0])
        read = await self._read(decoded)
        ahead = _Ahead()
        flight: _InFlight | None = None
        reading: asyncio.Future | None = None  # the next chunk's read
        try:
            for i in range(len(chunks)):
                plan = self._build(decoded, read, ahead)
                following = _decode(chunks[i + 1]) if i + 1 < len(chunks) else None
                if following is not None:
                    reading = asyncio.ensure_future(self._read(following))
                if flight is not None:
                    landed = await self._land(flight, keys, sent, total)
                    flight = None
                    if not landed:
                        ahead = _Ahead()
                        plan = self._build(decoded, await self._read(decoded), ahead)
                        if reading is not None and following is not None:
                            await asyncio.gather(reading, return_exceptions=True)
                            reading = asyncio.ensure_future(self._read(following))
                await self._send_dead_letters(plan, sent)
                if plan.args is None:
                    _add_into(total, plan.result)
                else:
                    ahead.add(plan)
                    flight = _InFlight(decoded, plan, asyncio.ensure_future(self._run(plan, keys)))
                    await _let_it_send()
                if following is not None and reading is not None:
                    decoded, read = following, await reading
                    reading = None
            if flight is not None:
                await self._land(flight, keys, sent, total)
                flight = None
        finally:
            if reading is not None:  # an error before the next chunk's read was awaited
                await asyncio.gather(reading, return_exceptions=True)
            if flight is not None:
                # an error while a script was in flight: let it settle first, so
                # that a retry of the batch never races it (and keep what it wrote)
                done = await asyncio.gather(flight.task, return_exceptions=True)
                if done[0] == 1:
                    self._remember(flight.plan.states)
        return total

    async def _land(self, flight: _InFlight, keys: Keys, sent: set[tuple], total: BatchResult) -> bool:
        """Wait for a chunk's script; True when it wrote what was planned."""
        outcome = await flight.task
        if outcome == 1:
            self._remember(flight.plan.states)
            _add_into(total, flight.plan.result)
            return True
        log.info("apply conflict (%s), re-reading (retry 1)", outcome)
        _add_into(total, await self._apply_serial(flight.decoded, keys, sent, retries=1))
        return False

    async def _run(self, plan: Plan, keys: Keys) -> int:
        """The apply script's outcome: 1 written, -1 / -2 a lost race; raises
        ``RulesMismatch`` when the state is counted with other rules (a
        rebuild recorded new ones while this worker ran): no retry can help."""
        assert plan.args is not None
        outcome = await self._script(keys=[keys.route], args=plan.args.argv(keys.prefix))
        if outcome == OTHER_RULES:
            raise await rules_changed(self.redis, keys, plan.args.rules)
        return outcome

    async def _send_dead_letters(self, plan: Plan, sent: set[tuple]) -> None:
        """Sent and acknowledged before the script that moves their watermark
        runs; each once per apply, even when a retry's plan finds it again."""
        new = [d for d in plan.dead_letters if (d["topic"], d["partition"], d["offset"]) not in sent]
        if new:
            await self.send_dead_letters(new)
            sent.update((d["topic"], d["partition"], d["offset"]) for d in new)

    def _remember(self, written: StateCache) -> None:
        states = self.states
        for dossier_id, entry in written.items():
            states.pop(dossier_id, None)
            states[dossier_id] = entry
        excess = len(states) - self.cache_size
        if excess > 0:
            for dossier_id in list(itertools.islice(states, excess)):
                del states[dossier_id]

    async def _plan(self, decoded: Decoded) -> Plan:
        """Read what the batch needs from Redis and plan it."""
        return self._build(decoded, await self._read(decoded), None)

    async def _read(self, decoded: Decoded) -> _Read:
        """The watermarks of the batch's partitions and the stored records of
        its dossiers and petitions, in one round trip."""
        k = self._keys_of([m for m, _ in decoded[:1]])  # one partition's on a cluster
        wm_fields = sorted({watermark_field(*tp) for tp in {(m.topic, m.partition) for m, _ in decoded}})
        records = sorted({record_key(ev) for _, ev in decoded if isinstance(ev, Event)})
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(k.watermarks, wm_fields)
            if records:
                # one MGET, not a GET per record: a command costs redis-py and
                # Redis more than a key does. On a cluster every key is in the
                # slot of the batch's partition, so Redis allows it; redis-py's
                # cluster pipeline refuses its mget() method (keys could span
                # slots), not the command.
                pipe.execute_command("MGET", *[k.petition(record_id) if kind == PETITION else k.dossier(record_id)
                                               for kind, record_id in records])
            replies = await pipe.execute()
        watermarks = {f: int(v) if v is not None else -1 for f, v in zip(wm_fields, replies[0])}
        return _Read(watermarks, dict(zip(records, replies[1] if records else ())))

    def _build(self, decoded: Decoded, read: _Read, ahead: _Ahead | None) -> Plan:
        """The plan of ``decoded`` against what was read, overlaid by what the
        chunks planned before it (``ahead``) write. ``read`` may hold more than
        ``decoded`` needs (a pipelined batch's other chunks): the plan looks up
        only its own partitions and records."""
        watermarks: dict[str, int] = read.watermarks
        blobs: Mapping[tuple[str, str], bytes | None] = read.blobs
        states: StateLookup = self.states
        if ahead is not None:
            watermarks = {f: ahead.watermarks.get(f, w) for f, w in read.watermarks.items()}
            blobs = ChainMap(ahead.blobs, read.blobs)
            states = ChainMap(ahead.states, self.states)
        if self.gap_guard is not None:
            self.gap_guard.check((m for m, _ in decoded), watermarks)
        return build_plan(decoded, watermarks, blobs, self.rules, self.now(), datetime.now(UTC), states)


@dataclass(frozen=True, slots=True)
class _Read:
    watermarks: dict[str, int]
    blobs: dict[tuple[str, str], bytes | None]


@dataclass
class _Ahead:
    """What the chunks planned so far write (their scripts may still run)."""

    watermarks: dict[str, int] = field(default_factory=dict)
    blobs: dict[tuple[str, str], bytes | None] = field(default_factory=dict)
    states: StateCache = field(default_factory=dict)

    def add(self, plan: Plan) -> None:
        assert plan.args is not None
        self.watermarks.update((f, new) for f, _, new in plan.args.watermarks)
        self.blobs.update(((kind, record_id), blob) for kind, record_id, _, blob in plan.args.records)
        self.states.update(plan.states)


Decoded = list[tuple[RawMessage, Event | InvalidEvent]]


# Turns of the event loop a new task needs to put its command on the wire:
# redis-py 8 sends on the task's second step (a 20 ms script beside 20 ms of
# planning took 41 ms of wall after 0 or 1 yields, 21 ms after 2; own_work.py
# --chunks shows the overlap). Only the speed depends on it: a script sent
# later still runs, and is awaited, before the next chunk's script is sent.
SEND_TURNS = 3


async def _let_it_send() -> None:
    """Yield so that the script just launched is sent before the next chunk's
    planning holds the event loop."""
    for _ in range(SEND_TURNS):
        await asyncio.sleep(0)


def _decode(messages: Sequence[RawMessage]) -> Decoded:
    return [(m, decode_event(m.value)) for m in messages]


def _chunks(messages: Sequence[RawMessage], size: int) -> list[Sequence[RawMessage]]:
    """In order, as few chunks of at most ``size`` as can be, of equal sizes."""
    if not messages:
        return []
    n = -(-len(messages) // max(1, size))
    step = -(-len(messages) // n)
    return [messages[i:i + step] for i in range(0, len(messages), step)]


def _add_into(total: BatchResult, part: BatchResult) -> None:
    total.accepted += part.accepted
    total.duplicates += part.duplicates
    total.invalid += part.invalid
    total.skipped += part.skipped
    total.retries += part.retries
    total.updates.extend(part.updates)


@dataclass
class _InFlight:
    """A chunk whose apply script has been sent, and what it was planned from."""

    decoded: Decoded
    plan: Plan
    task: asyncio.Future
