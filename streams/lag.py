"""Consumer lag measured against what the workers have *applied*, not committed.

lag(partition) = true end offset - (applied watermark + 1)

The watermark comes from Redis (store/writer.py), so "no lag" means every
message's effects are in Redis. The end offset is not trusted as the broker
reports it: the embedded broker (Tansu) answers ListOffsets(latest) with the
start of the last record batch, which would hide up to one batch of unapplied
events. So we seek to the reported end and fetch: the position reached by
fetching is the true end on any broker (on a real Kafka the fetch is empty).
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from store.keys import watermark_field

log = logging.getLogger(__name__)


class LagProbe:
    def __init__(self, bootstrap: str, topic: str, cache_s: float = 1.0) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.cache_s = cache_s
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()
        self._cached: tuple[float, dict[int, tuple[int, int]]] | None = None

    async def _client(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False,
                fetch_max_wait_ms=50, request_timeout_ms=5000, connections_max_idle_ms=60000,
            )
            await consumer.start()
            self._consumer = consumer
        return self._consumer

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def offsets(self) -> dict[int, tuple[int, int]]:
        """partition -> (log start offset, true end offset), cached briefly."""
        async with self._lock:
            now = time.monotonic()
            if self._cached and now - self._cached[0] < self.cache_s:
                return self._cached[1]
            try:
                result = await self._measure()
            except Exception:
                await self.stop()  # reconnect next time
                raise
            self._cached = (time.monotonic(), result)
            return result

    async def _measure(self) -> dict[int, tuple[int, int]]:
        consumer = await self._client()
        partitions = consumer.partitions_for_topic(self.topic)
        if not partitions:
            await consumer.topics()  # refresh metadata
            partitions = consumer.partitions_for_topic(self.topic) or set()
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        if not tps:
            return {}
        consumer.assign(tps)
        begins = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        true_end = dict(ends)
        for tp in tps:
            consumer.seek(tp, ends[tp])
        # Read on from the reported end; bounded, so a busy producer cannot keep us here.
        for _ in range(20):
            got = await consumer.getmany(timeout_ms=100, max_records=10000)
            if not got:
                break
            for tp, records in got.items():
                if records:
                    true_end[tp] = max(true_end[tp], records[-1].offset + 1)
        return {tp.partition: (begins[tp], true_end[tp]) for tp in tps}


def lag_by_partition(
    topic: str, offsets: dict[int, tuple[int, int]], watermarks: dict[str, int]
) -> dict[int, int]:
    lag = {}
    for partition, (begin, end) in offsets.items():
        applied = watermarks.get(watermark_field(topic, partition))
        next_needed = applied + 1 if applied is not None else begin
        lag[partition] = max(0, end - max(next_needed, begin))
    return lag
