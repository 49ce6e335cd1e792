"""Faust agents and timers: thin adapters from Kafka to the appliers.

Acknowledgement happens when ``take_events`` moves past a batch, so the batch
body must not return before its effects are in Redis: Redis outages and bugs
are retried here (the pipeline stalls and the lag alert fires) rather than
letting an unapplied batch be committed.
"""

from __future__ import annotations

import asyncio
import logging

import faust
import orjson
import redis.asyncio as aioredis

from processors.calendar import WorkingCalendar
from store.keys import Keys
from store.plan import PlanRules, RawMessage
from store.timer import DeadlineTimer
from store.writer import BatchApplier
from streams.alerts import AlertPublisher
from streams.config import WorkerConfig
from streams.positions import PositionKeeper

log = logging.getLogger(__name__)


def register_agents(app: faust.App, config: WorkerConfig) -> None:
    events = app.topic(config.topics.events, partitions=config.partitions)
    dead_letters = app.topic(config.topics.dead_letters, partitions=config.partitions)
    calendar = WorkingCalendar(config.calendar)
    keys = Keys(config.redis_prefix)
    now = config.clock

    parts: dict = {}
    _close_on_shutdown(app, parts)

    def redis_client() -> aioredis.Redis:
        # Created lazily, inside the worker's event loop.
        if "redis" not in parts:
            parts["redis"] = aioredis.from_url(config.redis_url)
        return parts["redis"]

    # Redis decides where each partition is read from (state identity)
    keeper = parts["keeper"] = PositionKeeper(app, config, keys, redis_client)

    async def send_dead_letters(records: list[dict]) -> None:
        futures = [
            await dead_letters.send(key=f"{r['topic']}:{r['partition']}:{r['offset']}".encode(), value=orjson.dumps(r))
            for r in records
        ]
        await asyncio.gather(*futures)  # wait for the broker's acknowledgement

    @app.agent(events, name="apply-dossier-events")
    async def apply_dossier_events(stream: faust.Stream) -> None:
        applier = BatchApplier(redis_client(), keys, send_dead_letters, PlanRules(calendar, config.counting), now,
                               gap_guard=keeper.guard)
        async for batch in stream.take_events(config.batch_max, within=config.batch_within_s):
            messages = [
                RawMessage(e.message.topic, e.message.partition, e.message.offset, e.message.value)
                for e in batch
            ]
            await retry_until_done(lambda batch=messages: keeper.apply(applier, batch),
                                   f"a batch of {len(messages)} messages")

    @app.timer(interval=1.0, name="deadlines")
    async def deadlines() -> None:
        if "timer" not in parts:
            parts["timer"] = DeadlineTimer(redis_client(), keys, calendar, now, rules=config.counting)
            parts["publisher"] = AlertPublisher(redis_client(), keys, config.kafka, config.topics.alerts,
                                                config.topics.events)
        try:
            await parts["timer"].tick()
            await parts["timer"].prune_asof()
            await parts["publisher"].run_once()
        except Exception:  # noqa: BLE001 - the next tick retries; state is in Redis
            log.exception("deadline tick failed")


def _close_on_shutdown(app: faust.App, parts: dict) -> None:
    @app.on_before_shutdown.connect
    async def close(app: faust.App, **kwargs) -> None:  # noqa: ARG001 - signal signature
        if "publisher" in parts:
            await parts["publisher"].stop()
        if "keeper" in parts:
            await parts["keeper"].stop()
        if "redis" in parts:
            await parts["redis"].aclose()


async def retry_until_done(step, what: str) -> None:
    delay = 0.2
    while True:
        try:
            await step()
            return
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - anything else must stall, not skip, the batch
            log.exception("applying %s failed; retrying in %.1fs", what, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
