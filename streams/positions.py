"""Where each partition is read from: Redis decides, not the group's offsets.

The group's committed offsets say what a worker *acknowledged*; the watermarks
in Redis say what is *applied*. They disagree when Redis is emptied or restored
from an older snapshot (Redis behind), or when the broker lost its data or the
topic was recreated (the log behind, or a different log). ``PositionKeeper``
compares them (store/identity.py) on assignment, every ``identity_check_s``
and whenever a batch would leave a hole (``LogGap``):

- Redis behind: seek the partition to watermark + 1 (its first available
  offset when nothing is applied) and apply again; idempotence makes it exact.
- a different log (its true end at or below the watermark, or another record
  at the watermark's offset): the rule ``on_log_reset`` — ``rebuild`` (flush
  chiso's keys, read every partition from its start), ``continue`` (keep what
  is applied, read the partition as a new log), or ``halt`` (stop applying and
  say why in /readyz). Never a silent skip.

It also keeps a heartbeat per owned partition in Redis, so /readyz can say
when no worker applies a partition.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import faust
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import OffsetOutOfRangeError
from faust.types import TP

from store.identity import GapGuard, LogGap, StateIdentity, edge_offsets, fingerprint
from store.keys import Keys, watermark_field
from store.plan import RawMessage
from store.writer import BatchApplier
from streams.config import WorkerConfig
from streams.lag import EndUnknown, LagProbe

log = logging.getLogger(__name__)

MISSING = "missing"  # no record at that offset any more


class Halted(RuntimeError):
    """The log was reset and the rule is ``halt``: the batch waits (never skipped)."""


@dataclass(frozen=True)
class _Comparison:
    """What one comparison of Redis with the broker found (PositionKeeper._compare)."""

    parts: list[int]                       # the partitions compared (those the broker knows)
    offsets: dict[int, tuple[int, int]]    # partition -> (log start, true end)
    reset: dict[int, str]                  # partition -> why its log is not the one Redis applied
    behind: dict[int, tuple[int, str]]     # partition -> (offset to read again from, why)


class PositionKeeper:
    def __init__(self, app: faust.App, config: WorkerConfig, keys: Keys,
                 redis_client: Callable[[], aioredis.Redis]) -> None:
        self.app = app
        self.config = config
        self.keys = keys
        self.topic = config.topics.events
        self.redis_client = redis_client
        self.guard = GapGuard()
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.halted: str | None = None
        self._identity: StateIdentity | None = None
        self._probe = LagProbe(config.kafka, self.topic, cache_s=0.5)
        self._reader: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._lock = asyncio.Lock()
        # the reader and admin clients are shared by a check under the lock and
        # one without it (precheck): one request sequence at a time
        self._broker_lock = asyncio.Lock()
        self._last_wm: dict[str, int | None] = {}
        self._owned: set[int] = set()
        self._verified: set[int] = set()  # partitions checked since their assignment
        self._applied: dict[str, int] = {}  # field -> highest offset this worker saw applied
        self._register()

    # -- wiring into Faust ---------------------------------------------------

    def _register(self) -> None:
        app = self.app

        @app.on_partitions_assigned.connect
        async def on_assigned(sender, assigned, **kwargs) -> None:  # noqa: ARG001 - signal signature
            self._verified.clear()  # nothing is applied to a partition before its identity is checked
            # Faust seeks to the committed offsets after this signal; check a
            # little later, and the gap guard covers anything in between.
            app.loop.call_later(3.0, lambda: asyncio.ensure_future(self.check_quietly()))

        @app.on_partitions_revoked.connect
        async def on_revoked(sender, revoked, **kwargs) -> None:  # noqa: ARG001 - signal signature
            gone = {tp.partition for tp in revoked if tp.topic == self.topic}
            self._owned -= gone
            for p in gone:
                self._applied.pop(watermark_field(self.topic, p), None)
            try:
                await self.identity().disown(self.worker_id, gone)
            except Exception:  # noqa: BLE001 - the heartbeat expires anyway
                log.warning("could not clear the ownership of partitions %s", sorted(gone))

        @app.timer(interval=self.config.identity_check_s, name="state-identity")
        async def periodic() -> None:
            await self.check_quietly()

        @app.timer(interval=max(0.5, min(2.0, self.config.owner_ttl_s / 4)), name="partition-owners")
        async def heartbeat() -> None:
            parts = self.assigned()
            self._owned = set(parts)
            try:
                await self.identity().own(self.worker_id, parts, self.config.owner_ttl_s)
            except Exception:  # noqa: BLE001 - Redis down: readiness says so on its own
                log.warning("partition heartbeat failed", exc_info=True)

    def identity(self) -> StateIdentity:
        if self._identity is None:
            self._identity = StateIdentity(self.redis_client(), self.keys)
        return self._identity

    def assigned(self) -> list[int]:
        try:
            assignment = self.app.consumer.assignment()
        except Exception:  # noqa: BLE001 - not started yet
            return []
        return sorted(tp.partition for tp in assignment if tp.topic == self.topic)

    async def stop(self) -> None:
        try:
            await self.identity().disown(self.worker_id, self._owned)
        except Exception:  # noqa: BLE001
            pass
        await self._probe.stop()
        if self._reader is not None:
            await self._reader.stop()
            self._reader = None
        if self._admin is not None:
            await self._admin.close()
            self._admin = None

    # -- applying ------------------------------------------------------------

    async def apply(self, applier: BatchApplier, messages: Sequence[RawMessage]) -> None:
        """Apply a batch; the partitions that would leave a hole are sought back
        (and their messages here dropped: they come again, in order).

        Under the same lock as the identity check, so that a check that flushes
        the state or seeks partitions (a rebuild, a reset log, Redis behind) never
        runs between this batch's reads and its write. When this batch's own check
        sought partitions, their messages here are dropped: the seek reads them
        again from where it put the partition."""
        async with self._lock:
            if self.halted:
                await self._recheck_halt()
            unverified = {m.partition for m in messages if m.topic == self.topic} - self._verified
            sought: set[int] = set()
            if unverified:
                # raises (and the batch waits) while the broker cannot tell
                sought = set(await self._check_locked(unverified))
            if self.halted:
                raise Halted(self.halted)
            batch = [m for m in messages if not (m.topic == self.topic and m.partition in sought)]
            while batch:
                try:
                    await applier.apply(batch)
                    for (topic, partition), offset in edge_offsets(batch).items():
                        f = watermark_field(topic, partition)
                        self._applied[f] = max(self._applied.get(f, -1), offset)
                    return
                except LogGap as gap:
                    dropped = await self._on_gap(gap)
                    batch = [m for m in batch if (m.topic, m.partition) not in dropped]

    async def _recheck_halt(self) -> None:
        """Read the halted flag again before refusing a batch: only a flush
        (`chiso rebuild`) clears it, and the worker then resumes at its next
        try, not at its next periodic check."""
        await self._read_halted()
        if self.halted:
            raise Halted(self.halted)

    async def _read_halted(self) -> None:
        """The halted flag, as Redis has it now. A flag seen cleared means the
        state was replaced by a flush: every partition is compared with the
        log again (as after an assignment) before a batch is applied, and what
        this worker remembers of the old state is forgotten."""
        was = self.halted
        self.halted = await self.identity().halted()
        if was and not self.halted:
            log.warning("the halt was cleared (the state was rebuilt); comparing with the log again and applying")
            self._verified.clear()
            self._forget_all()

    async def _on_gap(self, gap: LogGap) -> set[tuple[str, int]]:
        starts = await self._starts([p for _, p in gap.gaps])
        dropped = set()
        for (topic, partition), (applied, first) in gap.gaps.items():
            start = starts[partition]
            if first <= start:  # nothing before it exists any more (retention): not a hole
                self.guard.floors[watermark_field(topic, partition)] = start
                continue
            target = max(applied + 1, start)
            log.warning("partition %s:%d: Redis holds offsets up to %d but the batch starts at %d; "
                        "reading again from %d", topic, partition, applied, first, target)
            await self._seek(partition, target)
            dropped.add((topic, partition))
        return dropped

    async def _seek(self, partition: int, offset: int) -> None:
        await self.app.consumer.seek(TP(self.topic, partition), offset)

    # -- the check -----------------------------------------------------------

    async def check_quietly(self) -> None:
        """The periodic check (and the one soon after an assignment): compared
        without the lock first, so that batches keep being applied meanwhile;
        only when that finds something to act on is it done again under the
        lock, which decides and acts. Under the lock, the broker's answers (the
        log's ends, a fetch per partition for the fingerprints) held every batch
        for ~0.5-0.8 s each ``identity_check_s``: the p99 of event -> Redis at
        2,000 events/s was that stall (docs/performance.md)."""
        try:
            if await self.precheck():
                await self.check()
        except asyncio.CancelledError:
            raise
        except EndUnknown as exc:
            log.info("state identity not checked: %s", exc)
        except Exception:  # noqa: BLE001 - next round
            log.warning("state identity check failed", exc_info=True)

    async def precheck(self) -> bool:
        """Compare Redis with the broker for the assigned partitions without
        the lock; True when they disagree (a reset log, or Redis behind what was
        acknowledged), and ``check`` must look again under the lock. Marks
        nothing verified and acts on nothing: batches may be applied meanwhile,
        which the order of ``_compare``'s reads makes harmless."""
        identity = self.identity()
        await self._read_halted()
        parts = self.assigned()
        if not parts:
            return False
        seen = await self._compare(parts)
        if seen.reset or seen.behind:
            return True
        await identity.end_rebuild_if_done()
        return False

    async def check(self, also: set[int] | None = None) -> dict[int, str]:
        """Compare Redis with the broker for the assigned partitions (and
        ``also``: those of a batch at hand) and act; returns partition -> what was done."""
        async with self._lock:
            return await self._check_locked(also)

    async def _check_locked(self, also: set[int] | None = None) -> dict[int, str]:
        identity = self.identity()
        generation = await identity.generation()
        await self._read_halted()
        parts = sorted(set(self.assigned()) | (also or set()))
        if not parts:
            return {}
        seen = await self._compare(parts)
        self._verified |= set(seen.parts)
        if seen.reset:
            return await self._on_reset(seen.reset, seen.offsets, seen.parts, generation)
        done: dict[int, str] = {}
        for p, (next_needed, why) in seen.behind.items():
            log.warning("partition %s:%d: %s; reading again from %d", self.topic, p, why, next_needed)
            self._applied.pop(watermark_field(self.topic, p), None)
            await self._seek(p, next_needed)
            done[p] = f"behind: read again from {next_needed}"
        await identity.end_rebuild_if_done()
        return done

    async def _compare(self, parts: Sequence[int]) -> _Comparison:
        """What the broker and Redis say about ``parts``, read in this order:
        what was acknowledged (the offsets this worker applied, the group's
        committed offsets), then what Redis applied (watermarks, fingerprints),
        then the log's true ends, measured now (never a cached answer). On a
        healthy log each read can only be at or past the one before it, even
        while batches are applied, so applying never looks like a disagreement:
        ends read before the watermarks could be passed by a batch applied in
        between and look like a log that ends below what Redis applied (a reset,
        and with ``rebuild`` a flush). A record at an offset never changes, so
        its fingerprint needs no lock either."""
        applied_here = dict(self._applied)
        committed = await self._committed(parts)
        fields = {p: watermark_field(self.topic, p) for p in parts}
        applied = await self.identity().applied(list(fields.values()))
        offsets = await self._probe.offsets(max_age_s=0)
        parts = [p for p in parts if p in offsets]
        reset: dict[int, str] = {}
        for p in parts:
            start, end = offsets[p]
            wm, fp = applied[fields[p]]
            if wm is None or wm < 0:
                continue
            if end <= wm:
                reset[p] = f"the log ends at offset {end} but Redis applied up to {wm}"
            elif wm >= start and fp is not None:
                got = await self._fingerprint_at(p, wm)
                if got is None:
                    raise EndUnknown(f"no answer for the record at offset {wm} of partition {p}")
                if got != fp:
                    reset[p] = f"the record at offset {wm} is not the one Redis applied"
        behind: dict[int, tuple[int, str]] = {}
        for p in parts if not reset else ():
            f = fields[p]
            wm = applied[f][0]
            next_needed = max((wm if wm is not None else -1) + 1, offsets[p][0])
            c = committed.get(p)
            moving = self._last_wm.get(f, wm) != wm
            self._last_wm[f] = wm
            # Redis behind what the group committed, or behind what this worker applied itself
            if max(c if c is not None else -1, applied_here.get(f, -2) + 1) > next_needed and not moving:
                behind[p] = (next_needed, f"the group committed offset {c} and this worker applied up to "
                                          f"{applied_here.get(f)}, but Redis holds only up to {wm}")
        return _Comparison(parts, offsets, reset, behind)

    async def _on_reset(self, reset: dict[int, str], offsets: dict[int, tuple[int, int]],
                        parts: list[int], generation: str) -> dict[int, str]:
        """Act on a reset log by the rule; ``generation``: the state's, read
        before the comparison that found the reset."""
        rule = self.config.on_log_reset
        reason = "; ".join(f"partition {p}: {why}" for p, why in sorted(reset.items()))
        identity = self.identity()
        if rule == "halt":
            if not await identity.halt(reason, generation):
                return await self._stale(reset, reason)
            log.error("the event log was reset (%s); CHISO_ON_LOG_RESET=halt: not applying. "
                      "Run `chiso rebuild` to start again from the available log.", reason)
            self.halted = reason
            return {p: "halted" for p in reset}
        if rule == "continue":
            log.warning("the event log was reset (%s); CHISO_ON_LOG_RESET=continue: keeping the applied state, "
                        "reading these partitions as a new log", reason)
            await identity.forget_partitions([watermark_field(self.topic, p) for p in reset])
            self._forget(reset)
            for p in reset:
                await self._seek(p, offsets[p][0])
            return {p: "continued as a new log" for p in reset}
        targets = {watermark_field(self.topic, p): end - 1 for p, (_, end) in offsets.items() if end > 0}
        if await identity.flush(f"event log reset: {reason}", self.config.counting.fingerprint(), targets,
                                expect=generation) is None:
            return await self._stale(reset, reason)
        log.warning("the event log was reset (%s); CHISO_ON_LOG_RESET=rebuild: applying the available log again",
                    reason)
        self._forget_all()
        for p in parts:
            await self._seek(p, offsets[p][0])
        return {p: "rebuilt" for p in parts}

    async def _stale(self, reset: dict[int, str], reason: str) -> dict[int, str]:
        """The state was flushed (`chiso rebuild`, another worker's rebuild)
        since the comparison that saw the reset: what it saw is gone, and
        acting on it would halt or flush the state that replaced it. These
        partitions are compared again before their next batch, and what this
        worker remembers applying to them (offsets of the log it saw) is
        forgotten."""
        log.info("a reset log was seen (%s) but the state was rebuilt meanwhile; comparing again", reason)
        self._verified -= set(reset)
        self._forget(reset)
        await self._read_halted()
        return {}

    def _forget(self, partitions: Iterable[int]) -> None:
        """Drop what this worker remembers of these partitions' watermarks and
        applied offsets: they were of a log that is no longer the one read."""
        for p in partitions:
            self._last_wm.pop(watermark_field(self.topic, p), None)
            self._applied.pop(watermark_field(self.topic, p), None)

    def _forget_all(self) -> None:
        """``_forget`` for every partition: the whole state was flushed."""
        self._last_wm.clear()
        self._applied.clear()

    # -- the broker side -----------------------------------------------------

    async def _client(self) -> AIOKafkaConsumer:
        if self._reader is None:
            reader = AIOKafkaConsumer(
                bootstrap_servers=self.config.kafka, group_id=None, enable_auto_commit=False,
                auto_offset_reset="none", fetch_max_wait_ms=100, request_timeout_ms=10000,
            )
            await reader.start()
            self._reader = reader
        return self._reader

    async def _starts(self, partitions: Sequence[int]) -> dict[int, int]:
        async with self._broker_lock:
            reader = await self._client()
            tps = [TopicPartition(self.topic, p) for p in partitions]
            begins = await reader.beginning_offsets(tps)
            return {tp.partition: begins[tp] for tp in tps}

    async def _committed(self, partitions: Sequence[int]) -> dict[int, int]:
        """The group's committed offsets, asked of the broker (OffsetFetch)."""
        async with self._broker_lock:
            if self._admin is None:
                admin = AIOKafkaAdminClient(bootstrap_servers=self.config.kafka, client_id="chiso-positions")
                await admin.start()
                self._admin = admin
            try:
                answer = await self._admin.list_consumer_group_offsets(
                    self.config.group_id, partitions=[TopicPartition(self.topic, p) for p in partitions])
            except Exception:
                await self._admin.close()
                self._admin = None
                raise
        return {tp.partition: meta.offset for tp, meta in answer.items() if meta.offset is not None and meta.offset >= 0}

    async def _fingerprint_at(self, partition: int, offset: int, timeout_s: float = 5.0) -> str | None:
        """The fingerprint of the record at ``offset``, MISSING if there is none,
        None if the broker did not answer in time."""
        async with self._broker_lock:  # the reader is assigned one partition at a time
            reader = await self._client()
            tp = TopicPartition(self.topic, partition)
            reader.assign([tp])
            reader.seek(tp, offset)
            deadline = asyncio.get_running_loop().time() + timeout_s
            while asyncio.get_running_loop().time() < deadline:
                try:
                    records = await reader.getmany(tp, timeout_ms=200, max_records=1)
                except OffsetOutOfRangeError:
                    return MISSING
                for record in records.get(tp, []):
                    return fingerprint(record.value) if record.offset == offset else MISSING
            return None
