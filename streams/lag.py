"""Consumer lag measured against what the workers have *applied*, not committed.

lag(partition) = true end offset - (applied watermark + 1)

The watermark comes from Redis (store/writer.py), so "no lag" means every
message's effects are in Redis. The end offset is not trusted as the broker
reports it: the embedded broker (Tansu) answers ListOffsets(latest) with the
start of the last record batch, which would hide up to one batch of unapplied
events. Every fetch response, however, carries the partition's high watermark,
which is the true end on any broker (measured on Tansu: 5,000 against a reported
4,993). So a probe fetches each partition until it holds a high watermark from a
fetch *requested after the probe began*: the second response processed after
that instant (the first may answer a request sent before it). No answer within
the timeout is "end unknown", never "no lag": readiness must be conclusive.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from store.keys import watermark_field

log = logging.getLogger(__name__)


class EndUnknown(RuntimeError):
    """The topic's true end could not be established (missing topic, no fresh
    fetch answer in time): not ready, whatever Redis holds."""


class LagProbe:
    def __init__(self, bootstrap: str, topic: str, cache_s: float = 1.0, timeout_s: float = 10.0) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.cache_s = cache_s
        self.timeout_s = timeout_s
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

    async def offsets(self, max_age_s: float | None = None) -> dict[int, tuple[int, int]]:
        """partition -> (log start offset, true end offset), cached briefly;
        ``max_age_s=0``: measured after this call began (readiness)."""
        async with self._lock:
            now = time.monotonic()
            max_age = self.cache_s if max_age_s is None else max_age_s
            if self._cached and self._cached[0] >= now - max_age and max_age > 0:
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
        await consumer.topics()  # fresh metadata: a topic created since is seen
        partitions = consumer.partitions_for_topic(self.topic)
        if not partitions:
            raise EndUnknown(f"topic {self.topic} does not exist (or has no partitions)")
        tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        begins = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, ends[tp])  # from the reported end: at most a batch to read
        started_ms = int(1000 * time.time())
        first: dict[TopicPartition, int] = {}  # first fresh answer's time, per partition
        fresh: dict[TopicPartition, int] = {}  # true end, from an answer requested after started_ms
        deadline = time.monotonic() + self.timeout_s
        while len(fresh) < len(tps):
            if time.monotonic() > deadline:
                missing = sorted(tp.partition for tp in tps if tp not in fresh)
                raise EndUnknown(f"no fetch answer from partitions {missing} of {self.topic} in {self.timeout_s:g}s")
            await consumer.getmany(*[tp for tp in tps if tp not in fresh], timeout_ms=100, max_records=10000)
            for tp in tps:
                at = consumer.last_poll_timestamp(tp)
                if tp in fresh or at is None or at < started_ms:
                    continue
                if tp not in first:
                    first[tp] = at
                elif at > first[tp]:
                    fresh[tp] = consumer.highwater(tp)
        return {tp.partition: (begins[tp], max(fresh[tp], ends[tp])) for tp in tps}


def lag_by_partition(
    topic: str, offsets: dict[int, tuple[int, int]], watermarks: dict[str, int]
) -> dict[int, int]:
    lag = {}
    for partition, (begin, end) in offsets.items():
        applied = watermarks.get(watermark_field(topic, partition))
        next_needed = applied + 1 if applied is not None else begin
        lag[partition] = max(0, end - max(next_needed, begin))
    return lag
