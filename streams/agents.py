"""The Faust agent: a thin adapter from Kafka batches to ``BatchApplier``.

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

from chiso.redis_keys import Keys
from chiso.settings import Settings
from streams.apply import BatchApplier, RawMessage

log = logging.getLogger(__name__)


def register_agents(app: faust.App, settings: Settings) -> None:
    events = app.topic(settings.events_topic, partitions=settings.partitions)
    dead_letters = app.topic(settings.dlq_topic, partitions=settings.partitions)
    applier: BatchApplier | None = None

    async def send_dead_letters(records: list[dict]) -> None:
        futures = [
            await dead_letters.send(key=f"{r['topic']}:{r['partition']}:{r['offset']}".encode(), value=orjson.dumps(r))
            for r in records
        ]
        await asyncio.gather(*futures)  # wait for the broker's acknowledgement

    @app.agent(events, name="apply-dossier-events")
    async def apply_dossier_events(stream: faust.Stream) -> None:
        nonlocal applier
        if applier is None:
            client = aioredis.from_url(settings.redis or "redis://127.0.0.1:6379/0")
            applier = BatchApplier(client, Keys(settings.redis_prefix), send_dead_letters)
        async for batch in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            messages = [
                RawMessage(e.message.topic, e.message.partition, e.message.offset, e.message.value)
                for e in batch
            ]
            await apply_until_done(applier, messages)


async def apply_until_done(applier: BatchApplier, messages: list[RawMessage]) -> None:
    delay = 0.2
    while True:
        try:
            await applier.apply(messages)
            return
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - anything else must stall, not skip, the batch
            log.exception("applying a batch of %d messages failed; retrying in %.1fs", len(messages), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
