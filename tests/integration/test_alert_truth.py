"""Alerts only when true: nothing is published before the worker has caught up
with its input, and an alert whose dossier has left the state by then is dropped
(and re-armed, so that really entering the state again alerts once)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import uuid
from collections import Counter
from datetime import datetime

import orjson
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer

from chiso.settings import Settings
from processors.calendar import WorkingCalendar
from store.keys import Keys
from store.plan import PlanRules, RawMessage
from store.writer import BatchApplier
from streams.alerts import AlertPublisher
from streams.topics import ensure_topics
from tests import reference as ref
from tests.integration.test_deadlines import wait_outbox_empty
from tests.integration.test_pipeline import read_topic

pytestmark = pytest.mark.integration

NOW = datetime.fromisoformat("2024-03-20T15:00:00+07:00")  # a Wednesday afternoon
CAL = WorkingCalendar()


def event(dossier: str, n: int, kind: str, at: str, **extra) -> dict:
    return {"event_id": f"{dossier}-{n}", "dossier_id": dossier, "type": kind,
            "occurred_at": f"2024-03-20T{at}:00+07:00", **extra}


def received(dossier: str) -> dict:
    # due tomorrow 09:00: 3.5 working hours left at NOW, so nearing due
    return event(dossier, 1, "received", "09:00", unit_id="dng-sxd", procedure_id="1.009994",
                 channel="online", online_service="full", due_at="2024-03-21T09:00:00+07:00")


class Feed:
    """Events produced to the real input topic, then applied through the real
    write path with their real offsets, one step at a time."""

    def __init__(self, bootstrap: str, topic: str, redis: aioredis.Redis, keys: Keys) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.applier = BatchApplier(redis, keys, self._no_dead_letters, PlanRules(CAL), lambda: NOW)
        self.produced: list[RawMessage] = []

    @staticmethod
    async def _no_dead_letters(_: list[dict]) -> None:
        raise AssertionError("every event here is valid")

    async def produce(self, events: list[dict]) -> list[RawMessage]:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await producer.start()
        try:
            out = []
            for e in events:
                value = orjson.dumps(e)
                md = await producer.send_and_wait(self.topic, key=e["dossier_id"].encode(), value=value)
                out.append(RawMessage(self.topic, md.partition, md.offset, value))
            return out
        finally:
            await producer.stop()

    async def apply(self, messages: list[RawMessage]) -> None:
        await self.applier.apply(messages)


async def truth_scenario(settings: Settings, redis_url: str) -> None:
    r = aioredis.from_url(redis_url)
    keys = Keys(settings.redis_prefix)
    feed = Feed(settings.kafka, settings.events_topic, r, keys)
    publisher = AlertPublisher(r, keys, settings.kafka, settings.alerts_topic, settings.events_topic,
                               catch_up_within_s=600)  # generous: this test must not depend on speed
    try:
        await feed.apply(await feed.produce([received("TRUE"), received("CLOSED"), received("BACK")]))
        assert await r.llen(keys.outbox) == 3

        # The closing events are in the topic but not applied yet: nothing may go out.
        later = await feed.produce([event("CLOSED", 2, "resolved", "14:00"), event("BACK", 2, "paused", "14:00")])
        assert await publisher.run_once() == 0
        assert await r.llen(keys.outbox) == 3

        await feed.apply(later)
        assert await publisher.run_once() == 1  # TRUE only
        assert await r.llen(keys.outbox) == 0
        stats = await r.hgetall(keys.globals)
        assert int(stats[b"alerts:nearing_due"]) == 1 and int(stats[b"alerts_suppressed:nearing_due"]) == 2
        back = orjson.loads(await r.hget(keys.open, "BACK"))
        assert back[1] == "paused" and "|nearing_due|" not in back[3], "the dropped alert re-arms the state"

        # BACK really enters nearing_due again: alerted now, once.
        await feed.apply(await feed.produce([event("BACK", 3, "resumed", "14:30")]))
        assert await publisher.run_once() == 1
        await feed.apply(await feed.produce([event("BACK", 4, "assigned", "14:40", officer_id="cb-1")]))
        assert await r.llen(keys.outbox) == 0, "still nearing due: no second alert"
        assert await publisher.run_once() == 0
    finally:
        await publisher.stop()
        await r.aclose()


def test_alerts_wait_for_the_worker_and_drop_what_is_no_longer_true(services) -> None:
    broker, store = services
    tag = uuid.uuid4().hex[:8]
    settings = Settings(kafka=f"127.0.0.1:{broker.port}", events_topic=f"e-{tag}", dlq_topic=f"d-{tag}",
                        alerts_topic=f"a-{tag}", partitions=2, redis_prefix=f"t{tag}:")
    ensure_topics(settings.kafka, settings.topics, settings.partitions)
    asyncio.run(truth_scenario(settings, f"redis://127.0.0.1:{store.port}/0"))
    alerts = [orjson.loads(rec.value) for rec in read_topic(settings.kafka, settings.alerts_topic, 2)]
    assert sorted((a["dossier_id"], a["state"]) for a in alerts) == [("BACK", "nearing_due"), ("TRUE", "nearing_due")]


HISTORY_NOW = "2025-11-24T10:00:00+07:00"  # a Monday morning


def test_thirty_days_of_history_alert_only_what_is_true_at_the_end(make_stack) -> None:
    stack = make_stack(now=HISTORY_NOW)
    simulate = subprocess.run([sys.executable, "-m", "chiso.cli", "simulate", "--history-days", "30"],
                              env=stack.env, capture_output=True, text=True, timeout=300)
    assert simulate.returncode == 0, simulate.stderr
    events = read_all_events(stack, simulate.stdout)
    stack.start("server")
    stack.start("worker")
    stack.wait_ready(timeout_s=300)
    wait_outbox_empty(stack, 120)  # every queued alert published or dropped

    now = datetime.fromisoformat(HISTORY_NOW)
    final = {}
    for d, dossier in ref.group(events).items():
        state, _ = ref.open_state(dossier, now, CAL.working_time_s, CAL.config.warning_threshold_s)
        final[d] = state
    prefix = stack.settings.redis_prefix
    published = sum(int(stack.redis.hget(f"{prefix}g", f"alerts:{s}") or 0) for s in ("nearing_due", "overdue"))
    on_topic = sum(int(v) for v in stack.redis.hgetall(f"{prefix}alerts_pos").values())
    assert published == on_topic
    alerts = [orjson.loads(r.value) for r in read_topic(stack.settings.kafka, stack.settings.alerts_topic, published)]
    assert len(alerts) == published
    sent = Counter((a["dossier_id"], a["state"]) for a in alerts)
    closed = [d for d, _ in sent if final.get(d) is None]
    assert closed == [], f"{len(closed)} alerts for dossiers closed by the end of the feed"
    want = {(d, s) for d, s in final.items() if s in ("nearing_due", "overdue")}
    assert len(want) > 20, "the history must leave dossiers to alert"
    assert set(sent) == want and max(sent.values()) == 1, "exactly one alert per dossier in an alert state"
    suppressed = sum(int(stack.redis.hget(f"{prefix}g", f"alerts_suppressed:{s}") or 0) for s in ("nearing_due", "overdue"))
    print(f"history: {len(events)} events, {published} alerts published, {suppressed} dropped as no longer true")


def read_all_events(stack, simulator_output: str) -> list[dict]:
    """The feed as the simulator produced it, read back from the input topic."""
    sent = int(re.search(r"([\d,]+) events sent", simulator_output).group(1).replace(",", ""))
    records = read_topic(stack.settings.kafka, stack.settings.events_topic, sent, timeout_s=120)
    assert len(records) == sent
    return [orjson.loads(rec.value) for rec in records]
