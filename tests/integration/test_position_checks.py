"""The state-identity check while batches are applied (streams/positions.py).

In process, against the real broker and redis-server: a PositionKeeper over the
real write path, its partitions assigned by hand (its Faust app is never started,
so nothing here seeks a partition). These hold whatever the timing:

- a check never compares Redis with log ends read before Redis's watermarks, so
  a batch applied in between never looks like a reset log (which, under the
  default rule, flushes the state);
- the periodic check compares without the lock the batches are applied under,
  and still sees Redis behind what this worker applied;
- a record at a partition's watermark other than the one Redis applied (its
  fingerprint differs) is a reset of exactly that partition.
- under the rule ``halt``, a reset seen before `chiso rebuild` flushed the
  state does not halt the rebuilt one; once a rebuild has cleared a halt, every
  partition is compared again before its next batch.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime

import faust
import orjson
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer

from processors.calendar import WorkingCalendar
from store.layout import prepare
from store.plan import PlanRules, RawMessage
from store.writer import BatchApplier
from streams.positions import Halted, PositionKeeper
from tests.gen import history
from tests.integration.test_pipeline import NOW as NOW_TEXT

pytestmark = pytest.mark.integration

NOW = datetime.fromisoformat(NOW_TEXT)


async def produce(bootstrap: str, topic: str, events: list[dict]) -> list[RawMessage]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        out = []
        for e in events:
            value = orjson.dumps(e)
            md = await producer.send_and_wait(topic, key=e["dossier_id"].encode(), value=value)
            out.append(RawMessage(topic, md.partition, md.offset, value))
        return out
    finally:
        await producer.stop()


class Keeper:
    """A PositionKeeper and a BatchApplier over one stack's topic and prefix."""

    def __init__(self, stack, **config_changes) -> None:
        self.config = config = dataclasses.replace(stack.settings.worker_config(), **config_changes)
        _, keys = prepare(config.redis_url, "no", config.redis_prefix, config.partitions,
                          rules=config.counting.fingerprint())
        self.redis = aioredis.from_url(config.redis_url)
        app = faust.App(f"positions-test-{config.group_id}", broker=f"kafka://{config.kafka}")
        self.keeper = PositionKeeper(app, config, keys, lambda: self.redis)
        self.keeper.assigned = lambda: list(range(config.partitions))  # what Faust would have assigned
        self.applier = BatchApplier(self.redis, keys, self._no_dead_letters,
                                    PlanRules(WorkingCalendar(config.calendar), config.counting),
                                    lambda: NOW, gap_guard=self.keeper.guard)
        self.keys = keys

    @staticmethod
    async def _no_dead_letters(records: list[dict]) -> None:
        raise AssertionError(f"every event here is valid, got {records}")

    async def feed(self, events: list[dict]) -> None:
        messages = await produce(self.config.kafka, self.config.topics.events, events)
        await self.keeper.apply(self.applier, messages)

    async def watermarks(self) -> dict[bytes, bytes]:
        return await self.redis.hgetall(self.keys.watermarks)

    async def close(self) -> None:
        await self.keeper.stop()
        await self.redis.aclose()


def test_a_batch_applied_between_two_checks_is_not_a_reset_log(make_stack) -> None:
    async def scenario() -> None:
        k = Keeper(make_stack())
        try:
            await k.feed(history(seed=71, dossiers=40))
            assert await k.keeper.check() == {}
            # Keep every answer about the log's ends: a check that used one read
            # before this batch (the probe's cache) would see Redis past the end.
            k.keeper._probe.cache_s = 3600.0
            await k.keeper._probe.offsets()
            await k.feed(history(seed=72, dossiers=40))
            applied = await k.watermarks()
            assert await k.keeper.check() == {}
            assert await k.keeper.precheck() is False
            assert await k.watermarks() == applied  # nothing flushed
        finally:
            await k.close()

    asyncio.run(scenario())


def test_the_periodic_check_compares_without_the_apply_lock(make_stack) -> None:
    async def scenario() -> None:
        k = Keeper(make_stack())
        try:
            await k.feed(history(seed=73, dossiers=40))
            async with k.keeper._lock:  # a batch being applied holds it
                # would wait for the lock forever (bounded here) if it took it
                assert await asyncio.wait_for(k.keeper.precheck(), 120) is False
                # one partition's watermark lost (as after a Redis restart):
                # Redis is behind what this worker applied
                field = next(iter(await k.watermarks()))
                await k.redis.hdel(k.keys.watermarks, field)
                await k.redis.hdel(k.keys.state("fingerprints"), field)
                # seen once the watermark stands still for a check (not when it just moved)
                assert await asyncio.wait_for(k.keeper.precheck(), 120) is False
                assert await asyncio.wait_for(k.keeper.precheck(), 120) is True
        finally:
            await k.close()

    asyncio.run(scenario())


def test_a_different_record_on_any_partition_is_a_reset_of_that_partition(make_stack) -> None:
    """Each partition's record at its watermark is compared with the
    fingerprint Redis keeps for that partition, and only a partition that
    differs is acted on."""
    async def scenario() -> None:
        k = Keeper(make_stack(), on_log_reset="halt")  # halt: acts on nothing but the halt flag
        try:
            await k.feed(history(seed=74, dossiers=60))
            applied = await k.watermarks()
            fingerprints = await k.redis.hgetall(k.keys.state("fingerprints"))
            assert len(fingerprints) == len(applied) >= 3, "the feed must reach most partitions"
            assert await k.keeper.precheck() is False
            # as if Redis had applied other records at two partitions' watermarks
            changed = sorted(fingerprints)[1:3]
            for field in changed:
                await k.redis.hset(k.keys.state("fingerprints"), field, "another record")
            assert await k.keeper.precheck() is True
            done = await k.keeper.check()
            partitions = {int(field.decode().rpartition(":")[2]) for field in changed}
            assert done == {p: "halted" for p in partitions}, done
            assert k.keeper.halted is not None and all(
                f"the record at offset {int(applied[field])} is not the one Redis applied" in k.keeper.halted
                for field in changed)
            assert await k.watermarks() == applied  # halted: nothing flushed
        finally:
            await k.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("rule", ["halt", "rebuild"])
def test_a_reset_seen_before_a_rebuild_is_not_acted_on(make_stack, rule: str) -> None:
    """`chiso rebuild` flushes the state while a check is between its
    comparison (which saw the reset) and acting on it: the rebuilt state is
    neither halted (it would stay halted until another rebuild: a failure seen
    in CI, /readyz 503 for good after `chiso rebuild`) nor flushed again."""
    async def scenario() -> None:
        k = Keeper(make_stack(), on_log_reset=rule)
        try:
            await k.feed(history(seed=75, dossiers=40))
            field = sorted(await k.redis.hgetall(k.keys.state("fingerprints")))[0]
            await k.redis.hset(k.keys.state("fingerprints"), field, "another record")  # a reset log
            assert field.decode() in k.keeper._applied
            compare = k.keeper._compare
            rebuilt = []

            async def compare_then_rebuild(parts):
                seen = await compare(parts)
                assert seen.reset, "the comparison must see the reset"
                rebuilt.append(await k.keeper.identity().flush("test: chiso rebuild",
                                                               k.config.counting.fingerprint()))
                return seen

            k.keeper._compare = compare_then_rebuild
            assert await k.keeper.check() == {}
            assert await k.redis.get(k.keys.state("halted")) is None
            assert k.keeper.halted is None
            assert (await k.redis.get(k.keys.state("generation"))).decode() == rebuilt[0]  # not flushed again
            assert b"test: chiso rebuild" in await k.redis.get(k.keys.state("rebuilding"))
            partition = int(field.decode().rpartition(":")[2])
            assert partition not in k.keeper._verified  # compared again before its next batch
            assert field.decode() not in k.keeper._applied  # offsets of the log it saw: forgotten
        finally:
            await k.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("seen_by", ["precheck", "batch"])
def test_a_halt_cleared_by_a_rebuild_makes_every_partition_compared_again(make_stack, seen_by: str) -> None:
    """Only a flush (`chiso rebuild`) clears the halted flag. Whichever read of
    the flag sees it cleared first (the periodic comparison, or a batch that
    would have been refused), the worker takes the state as replaced: no
    partition counts as verified, and the offsets it remembers applying are
    forgotten, so every partition is compared with the log before its next batch."""
    async def scenario() -> None:
        k = Keeper(make_stack(), on_log_reset="halt")
        try:
            await k.feed(history(seed=76, dossiers=40))
            field = sorted(await k.redis.hgetall(k.keys.state("fingerprints")))[0]
            await k.redis.hset(k.keys.state("fingerprints"), field, "another record")  # a reset log
            assert set((await k.keeper.check()).values()) == {"halted"}
            assert k.keeper._verified and k.keeper._applied
            with pytest.raises(Halted):  # a batch is refused while halted
                await k.keeper.apply(k.applier, [])
            await k.keeper.identity().flush("test: chiso rebuild", k.config.counting.fingerprint())
            if seen_by == "precheck":
                await k.keeper.precheck()
            else:
                await k.keeper.apply(k.applier, [])  # not refused any more
            assert k.keeper.halted is None
            assert k.keeper._verified == set() and k.keeper._applied == {}
        finally:
            await k.close()

    asyncio.run(scenario())
