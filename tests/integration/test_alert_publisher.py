"""The alert publisher's crash window, made deterministic: alerts produced to
Kafka but still in the outbox (a crash before the commit) are not sent again.
(Every alerted dossier is open in the alerted state, and the input topic is
empty, so none is held back or dropped as untrue: tests/integration/test_alert_truth.py.)"""

from __future__ import annotations

import asyncio
import uuid

import orjson
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer

from chiso.settings import Settings
from store.keys import Keys
from streams.alerts import AlertPublisher
from streams.topics import ensure_topics
from tests.integration.test_pipeline import read_topic

pytestmark = pytest.mark.integration


def alert(i: int, state: str = "overdue") -> bytes:
    return orjson.dumps({"dossier_id": f"D{i}", "unit_id": "dng-sxd", "state": state,
                         "due_at": "2024-03-20T17:00:00+07:00", "at": "2024-03-21T08:00:00+07:00"})


def open_record(state: str) -> bytes:
    """An open record as set_open.lua writes it (store/codecs.py)."""
    return orjson.dumps(["dng-sxd", state, 0, f"|{state}|"])


async def scenario(bootstrap: str, redis_url: str, topic: str, events_topic: str, prefix: str) -> None:
    r = aioredis.from_url(redis_url)
    keys = Keys(prefix)
    entries = [alert(i) for i in range(10)] + [alert(i, "nearing_due") for i in range(10, 15)]
    await r.hset(keys.open, mapping={f"D{i}": open_record("nearing_due" if 10 <= i < 15 else "overdue")
                                     for i in [*range(15), 99]})
    await r.rpush(keys.outbox, *entries)
    # A publisher that produced the first 7 and died before its commit:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    for e in entries[:7]:
        await (await producer.send(topic, key=b"k", value=e))
    await producer.stop()
    await r.set(keys.publisher, "dead-owner", px=50)  # its lease runs out
    await asyncio.sleep(0.1)
    publisher = AlertPublisher(r, keys, bootstrap, topic, events_topic)
    sent = await publisher.run_once()
    assert sent == 8  # only what had not reached the topic
    assert await r.llen(keys.outbox) == 0
    # a second process cannot publish while the lease is held
    other = AlertPublisher(r, keys, bootstrap, topic, events_topic)
    await r.rpush(keys.outbox, alert(99))
    assert await other.run_once() == 0
    assert await publisher.run_once() == 1
    stats = await r.hgetall(keys.globals)
    assert int(stats[b"alerts:overdue"]) == 11 and int(stats[b"alerts:nearing_due"]) == 5
    await publisher.stop()
    await other.stop()
    await r.aclose()


def test_alerts_produced_before_a_crash_are_not_sent_again(services) -> None:
    broker, store = services
    topic = f"alerts-{uuid.uuid4().hex[:8]}"
    settings = Settings(kafka=f"127.0.0.1:{broker.port}", alerts_topic=topic, events_topic=f"e-{topic}", dlq_topic=f"d-{topic}", partitions=2)
    ensure_topics(settings.kafka, settings.topics, settings.partitions)
    asyncio.run(scenario(settings.kafka, f"redis://127.0.0.1:{store.port}/0", topic, settings.events_topic,
                         f"p{uuid.uuid4().hex[:6]}:"))
    values = [r.value for r in read_topic(settings.kafka, topic, 16)]
    assert len(values) == 16 and len(set(values)) == 16
