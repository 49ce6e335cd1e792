"""Publishing `dossier-alerts` exactly once.

Alerts are queued in a Redis outbox by the same atomic script that changes a
dossier's state. One process at a time (a Redis lease) moves them to Kafka:

1. produce the head of the outbox and wait for the broker's acknowledgement;
2. atomically (and only while still holding the lease) drop those entries from
   the outbox and record the topic positions reached.

A crash between 1 and 2 leaves published alerts in the outbox. So a process
that takes the lease first reads the alerts topic from the recorded positions to
its true end and drops every outbox entry found there: nothing is sent twice,
and nothing queued is lost. (The true end is found by fetching, not from the
broker's end offsets, which the embedded broker under-reports.)

Only alerts that are still true are published. Nothing leaves the outbox until
the worker has caught up with its input (``streams/catch_up.py``), and then
``outbox_take.lua`` drops every queued alert whose dossier is no longer open in
that state (closed, paused, moved on to overdue...) and takes the alerted mark
off its open record, so that a dossier that really enters the state again is
alerted then, once. A history load or a replay therefore alerts only the
dossiers still nearing due or overdue at its end.
"""

from __future__ import annotations

import logging
import uuid

import orjson
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from store.keys import Keys
from store.scripts import OutboxCommit, OutboxTake, script
from streams.catch_up import CatchUpGate
from streams.lag import LagProbe

log = logging.getLogger(__name__)

LEASE_MS = 15000


class AlertPublisher:
    def __init__(self, redis: aioredis.Redis, keys: Keys, bootstrap: str, topic: str, events_topic: str,
                 batch: int = 500, catch_up_within_s: float = 10.0, gate_keys: Keys | None = None,
                 lead: AlertPublisher | None = None) -> None:
        """``keys``: the outbox's partition keys (store/keys.py ``Keys.shard``; on a
        single node, every key). On a Redis Cluster there is one publisher per
        partition's outbox: ``gate_keys`` are the whole layout's (the worker has
        caught up when every partition has), and ``lead`` is the publisher whose
        producer and catch-up gate the others share."""
        self.redis = redis
        self.keys = keys
        self.bootstrap = bootstrap
        self.topic = topic
        self.batch = batch
        self.token = uuid.uuid4().hex
        self._producer: AIOKafkaProducer | None = None
        self._lead = lead
        self._recovered = False
        self._acquire = redis.register_script(script("lease_acquire"))
        self._take = redis.register_script(script("outbox_take"))
        self._commit = redis.register_script(script("outbox_commit"))
        # cache_s=0: a barrier is the topic's end as of now, not of a second ago
        self.gate = lead.gate if lead is not None else CatchUpGate(
            redis, gate_keys or keys, LagProbe(bootstrap, events_topic, cache_s=0.0), events_topic, catch_up_within_s)

    async def stop(self) -> None:
        if self._lead is not None:
            return  # the lead stops what is shared
        await self.gate.stop()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def run_once(self) -> int:
        """Publish the head of the outbox if we hold the lease and the worker has
        caught up, dropping alerts no longer true; returns how many were sent."""
        held = await self._acquire(keys=[self.keys.route], args=[self.keys.prefix, self.token, LEASE_MS])
        if held == 0:
            self._recovered = False  # someone else publishes; recover again if we take over
            return 0
        if held == 2 or not self._recovered:
            await self._recover()
            self._recovered = True
        if not await self.redis.llen(self.keys.outbox) or not await self.gate.caught_up():
            return 0
        entries = await self._take(keys=[self.keys.route], args=OutboxTake(self.token, self.batch, self.batch * 10).argv(self.keys.prefix))
        if not entries:
            return 0
        producer = await self._get_producer()
        positions: dict[int, int] = {}
        futures = [await producer.send(self.topic, key=_dossier_key(e), value=e) for e in entries]
        for fut in futures:
            md = await fut
            positions[md.partition] = max(positions.get(md.partition, 0), md.offset + 1)
        commit = OutboxCommit(self.token, len(entries), positions, [_state_of(e) for e in entries])
        ok = await self._commit(keys=[self.keys.route], args=commit.argv(self.keys.prefix))
        if not ok:
            # Lost the lease mid-way: the next holder's recovery drops what we sent.
            log.warning("alert publisher lost its lease after producing %d alerts", len(entries))
            self._recovered = False
        return len(entries)

    async def _get_producer(self) -> AIOKafkaProducer:
        if self._lead is not None:
            return await self._lead._get_producer()
        if self._producer is None:
            self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
            await self._producer.start()
        return self._producer

    async def _recover(self) -> None:
        start = {int(k): int(v) for k, v in (await self.redis.hgetall(self.keys.alerts_pos)).items()}
        published = await read_to_end(self.bootstrap, self.topic, start)
        if not published:
            return
        pending = set(await self.redis.lrange(self.keys.outbox, 0, -1))
        found = [value for value in published if value in pending]
        positions: dict[int, int] = dict(start)
        for partition, offset in published.values():
            positions[partition] = max(positions.get(partition, 0), offset + 1)
        pipe = self.redis.pipeline(transaction=True)
        for value in found:
            pipe.lrem(self.keys.outbox, 1, value)
            pipe.hincrby(self.keys.globals, f"alerts:{_state_of(value)}", 1)
        if positions:
            pipe.hset(self.keys.alerts_pos, mapping={str(p): o for p, o in positions.items()})
        await pipe.execute()
        if found:
            log.info("recovered %d alerts published before a crash", len(found))


async def read_to_end(bootstrap: str, topic: str, start: dict[int, int]) -> dict[bytes, tuple[int, int]]:
    """Values on the topic from the given positions (else the beginning) to the
    true end, with their (partition, offset)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                fetch_max_wait_ms=100, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer.topics()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return {}
        consumer.assign(tps)
        begins = await consumer.beginning_offsets(tps)
        for tp in tps:
            consumer.seek(tp, max(start.get(tp.partition, 0), begins[tp]))
        found: dict[bytes, tuple[int, int]] = {}
        empty_polls = 0
        while empty_polls < 3:  # the position reached by fetching is the true end
            got = await consumer.getmany(timeout_ms=200, max_records=10000)
            if not any(got.values()):
                empty_polls += 1
                continue
            empty_polls = 0
            for tp, records in got.items():
                for r in records:
                    found[r.value] = (tp.partition, r.offset)
        return found
    finally:
        await consumer.stop()


def _dossier_key(entry: bytes) -> bytes:
    return orjson.loads(entry)["dossier_id"].encode()


def _state_of(entry: bytes) -> str:
    return orjson.loads(entry)["state"]
