"""Faust agents and timers: thin adapters from Kafka to the appliers.

With the ``kafka+batch`` transport (the default, streams/transport.py) each
stream value is one fetched partition batch, already a list of
``RawMessage``, and the batches queued together are applied together; with
Faust's own ``kafka`` transport records are gathered with ``take_events``.
Either way ``take_events`` acknowledges what it yielded when the body returns,
so the body must not return before its effects are in Redis: Redis
outages and bugs are retried here (the pipeline stalls and the lag alert fires)
rather than letting an unapplied batch be committed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass

import faust
import orjson
import redis.asyncio as aioredis

from processors.calendar import WorkingCalendar
from store.layout import LayoutMismatch, async_client, is_cluster, prepare
from store.plan import PlanRules, RawMessage
from store.retention import RetentionSweeper
from store.timer import DeadlineTimer
from store.writer import BatchApplier
from streams.alerts import AlertPublisher
from streams.config import WorkerConfig
from streams.positions import Halted, PositionKeeper
from streams.topics import topic_partition_count
from streams.transport import SCHEME as BATCH_SCHEME

log = logging.getLogger(__name__)

MERGE_WITHIN_S = 0.02


def check_topic_partitions(kafka: str, topic: str, partitions: int) -> None:
    found = topic_partition_count(kafka, topic)
    if found is not None and found != partitions:
        raise LayoutMismatch(f"the Kafka topic {topic} has {found} partitions, CHISO_PARTITIONS is {partitions}: "
                             f"on a Redis Cluster they must agree (set CHISO_PARTITIONS={found} if the state is "
                             f"new, or see docs/architecture.md, Redis Cluster, to change the count)")


@dataclass
class WorkerStop:
    """Why the worker stopped itself (None: it did not): a mismatch that no
    retry can mend (store/layout.py), which ``chiso worker`` then prints as
    its one line and exit status (streams/worker.py)."""

    reason: LayoutMismatch | None = None


def register_agents(app: faust.App, config: WorkerConfig) -> WorkerStop:
    events = app.topic(config.topics.events, partitions=config.partitions)
    dead_letters = app.topic(config.topics.dead_letters, partitions=config.partitions)
    calendar = WorkingCalendar(config.calendar)
    # single node or Redis Cluster (store/layout.py); a changed partition count stops here
    clustered = is_cluster(config.redis_url, config.redis_cluster, wait_s=300.0)  # asked once: prepare() is told
    if clustered:
        # keys are tagged by partition: a topic with another count than the layout's would
        # hand the worker batches it has no keys for. Checked before prepare() records the
        # count, so that a mistaken CHISO_PARTITIONS leaves nothing behind to undo.
        check_topic_partitions(config.kafka, config.topics.events, config.partitions)
    # the counters must all be written with the same counting rules (store/layout.py check_rules)
    _, keys = prepare(config.redis_url, "yes" if clustered else "no", config.redis_prefix, config.partitions,
                      rules=config.counting.fingerprint())
    now = config.clock

    parts: dict = {}
    _close_on_shutdown(app, parts)
    stop = WorkerStop()

    def redis_client() -> aioredis.Redis:
        # Created lazily, inside the worker's event loop.
        if "redis" not in parts:
            parts["redis"] = async_client(config.redis_url, clustered)
        return parts["redis"]

    # Redis decides where each partition is read from (state identity)
    keeper = parts["keeper"] = PositionKeeper(app, config, keys, redis_client)

    async def send_dead_letters(records: list[dict]) -> None:
        futures = [
            await dead_letters.send(key=f"{r['topic']}:{r['partition']}:{r['offset']}".encode(), value=orjson.dumps(r))
            for r in records
        ]
        await asyncio.gather(*futures)  # wait for the broker's acknowledgement

    def stop_worker(exc: LayoutMismatch) -> None:
        # e.g. `chiso rebuild` recorded other counting rules while this worker
        # ran: it must write nothing more, and retrying cannot help. Stop the
        # way an operator does (SIGTERM: Faust's own shutdown; the batch in
        # hand is not acknowledged, so nothing is lost).
        if stop.reason is None:
            log.error("%s", exc)
            stop.reason = exc
            os.kill(os.getpid(), signal.SIGTERM)

    @app.agent(events, name="apply-dossier-events")
    async def apply_dossier_events(stream: faust.Stream) -> None:
        try:
            await apply_stream(stream)
        except LayoutMismatch as exc:
            stop_worker(exc)

    async def apply_stream(stream: faust.Stream) -> None:
        applier = BatchApplier(redis_client(), keys, send_dead_letters, PlanRules(calendar, config.counting), now,
                               gap_guard=keeper.guard)
        if config.transport == BATCH_SCHEME:
            # Each stream value is one partition's share of a fetch; the shares
            # already queued (up to one per partition, or what came within
            # MERGE_WITHIN_S) are applied in one write: at a moderate rate a
            # fetch brings a few records per partition, and one write each made
            # the worker fall behind at 2,000 events/s.
            async for events in stream.take_events(max(1, config.partitions), within=MERGE_WITHIN_S):
                records = [r for e in events for r in e.value]
                await retry_until_done(lambda batch=records: keeper.apply(applier, batch),
                                       f"a batch of {len(records)} messages")
            return
        async for batch in stream.take_events(config.batch_max, within=config.batch_within_s):
            messages = [
                RawMessage(e.message.topic, e.message.partition, e.message.offset, e.message.value)
                for e in batch
            ]
            await retry_until_done(lambda batch=messages: keeper.apply(applier, batch),
                                   f"a batch of {len(messages)} messages")

    @app.timer(interval=1.0, name="deadlines")
    async def deadlines() -> None:
        if "timers" not in parts:
            # One of each per partition's keys on a Redis Cluster (each script
            # call stays in one slot); one on a single node (keys.shards == [keys]).
            r = redis_client()
            parts["timers"] = [DeadlineTimer(r, shard, calendar, now, rules=config.counting)
                               for shard in keys.shards]
            lead = AlertPublisher(r, keys.shards[0], config.kafka, config.topics.alerts, config.topics.events,
                                  gate_keys=keys)
            parts["publishers"] = [lead] + [
                AlertPublisher(r, shard, config.kafka, config.topics.alerts, config.topics.events, lead=lead)
                for shard in keys.shards[1:]]
            parts["retentions"] = [RetentionSweeper(r, shard, now, config.retention_days,
                                                    config.retention_tombstone_days) for shard in keys.shards]
        if stop.reason is not None:
            return  # stopping: write nothing more
        try:
            for timer in parts["timers"]:
                await timer.tick()
                await timer.prune_asof()
            for publisher in parts["publishers"]:
                await publisher.run_once()
        except LayoutMismatch as exc:  # other counting rules in Redis (store/timer.py)
            stop_worker(exc)
            return
        except Exception:  # noqa: BLE001 - the next tick retries; state is in Redis
            log.exception("deadline tick failed")
        try:
            for retention in parts["retentions"]:
                await retention.run_once()  # at most once a minute
        except Exception:  # noqa: BLE001 - the next run retries
            log.exception("retention sweep failed")

    return stop


def _close_on_shutdown(app: faust.App, parts: dict) -> None:
    @app.on_before_shutdown.connect
    async def close(app: faust.App, **kwargs) -> None:  # noqa: ARG001 - signal signature
        for publisher in parts.get("publishers", []):
            await publisher.stop()
        if "keeper" in parts:
            await parts["keeper"].stop()
        if "redis" in parts:
            await parts["redis"].aclose()


HALT_POLL_S = 2.0


async def retry_until_done(step, what: str) -> None:
    delay = 0.2
    halted: str | None = None
    while True:
        try:
            await step()
            return
        except (asyncio.CancelledError, LayoutMismatch):  # a mismatch stops the worker: no retry mends it
            raise
        except Halted as exc:
            # Not a failure to retry with backoff: the operator must run
            # `chiso rebuild` (/readyz says so). Say it once, then look at the
            # flag every few seconds so the worker resumes soon after.
            if str(exc) != halted:
                halted = str(exc)
                log.error("not applying %s: the state is halted (%s); waiting for `chiso rebuild`", what, halted)
            await asyncio.sleep(HALT_POLL_S)
        except Exception:  # noqa: BLE001 - anything else must stall, not skip, the batch
            log.exception("applying %s failed; retrying in %.1fs", what, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
