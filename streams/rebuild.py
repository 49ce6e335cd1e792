"""`chiso rebuild`: the Redis state again from the event log, in this process.

Design (docs/architecture.md, "State identity"): one step flushes every key
chiso derived from the events and stamps a new generation with a *rebuilding*
flag (store/identity.py, atomic, so no worker's batch lands half before it);
then this process reads every partition from its first available offset to its
true end as measured before the flush, and applies the records with the
workers' own ``BatchApplier``. Running workers need no instruction: their
watermarks are gone, so their next check or batch seeks them back
(streams/positions.py), and where they and the rebuild apply the same records,
the watermark compare-and-set lets one of them win and the other skip.
/readyz is 503 until every watermark reaches the measured end.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from processors.calendar import WorkingCalendar
from store.identity import GapGuard, StateIdentity
from store.keys import watermark_field
from store.layout import async_client, prepare
from store.plan import PlanRules, RawMessage
from store.writer import BatchApplier
from streams.config import WorkerConfig
from streams.lag import LagProbe


@dataclass(frozen=True)
class RebuildResult:
    events: int
    seconds: float
    generation: str

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


async def rebuild(config: WorkerConfig, reason: str = "chiso rebuild",
                  on_total: Callable[[int], None] = lambda n: None,
                  on_progress: Callable[[int], None] = lambda n: None) -> RebuildResult:
    topic = config.topics.events
    cluster, keys = prepare(config.redis_url, config.redis_cluster, config.redis_prefix, config.partitions)
    redis_client = async_client(config.redis_url, cluster)
    probe = LagProbe(config.kafka, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=config.kafka, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", fetch_max_wait_ms=100)
    producer = AIOKafkaProducer(bootstrap_servers=config.kafka, acks="all")
    try:
        offsets = await probe.offsets()  # true ends, before the flush
        ends = {TopicPartition(topic, p): end for p, (_, end) in offsets.items()}
        starts = {TopicPartition(topic, p): start for p, (start, _) in offsets.items()}
        targets = {watermark_field(topic, tp.partition): end - 1 for tp, end in ends.items() if end > starts[tp]}
        identity = StateIdentity(redis_client, keys)
        # what is counted from now on is counted with these rules (store/layout.py check_rules)
        generation = await identity.flush(reason, config.counting.fingerprint(), targets)
        on_total(sum(max(0, ends[tp] - starts[tp]) for tp in ends))
        started = time.monotonic()

        await producer.start()

        async def send_dead_letters(records: list[dict]) -> None:
            futures = [await producer.send(config.topics.dead_letters, value=orjson.dumps(r),
                                           key=f"{r['topic']}:{r['partition']}:{r['offset']}".encode())
                       for r in records]
            await asyncio.gather(*futures)

        guard = GapGuard({watermark_field(topic, tp.partition): start for tp, start in starts.items()})
        applier = BatchApplier(redis_client, keys, send_dead_letters,
                               PlanRules(WorkingCalendar(config.calendar), config.counting), config.clock,
                               gap_guard=guard)
        await consumer.start()
        remaining = {tp for tp in ends if ends[tp] > starts[tp]}
        consumer.assign(list(remaining))
        for tp in remaining:
            consumer.seek(tp, starts[tp])
        done = 0
        while remaining:
            fetched = await consumer.getmany(*remaining, timeout_ms=500, max_records=config.batch_max)
            batch = [RawMessage(tp.topic, tp.partition, r.offset, r.value)
                     for tp, records in fetched.items() for r in records if r.offset < ends[tp]]
            if batch:
                await applier.apply(batch)
                done += len(batch)
                on_progress(len(batch))
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        seconds = time.monotonic() - started
        await identity.end_rebuild_if_done()
        return RebuildResult(done, seconds, generation)
    finally:
        await consumer.stop()
        await producer.stop()
        await probe.stop()
        await redis_client.aclose()
