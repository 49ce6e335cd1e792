"""Has the worker caught up with its input? The condition for publishing alerts.

An alert is queued when a dossier is seen in an alert state, but a later event
(already in the topic, not yet applied) may close the dossier: history loads
and replays apply a dossier's reception long before its resolution. So the
alert publisher waits for a *barrier*: it measures the input topic's true end
(``streams/lag.py``: read past the end offsets the embedded broker
under-reports) and waits until the applied watermarks in Redis reach it. Every
event that reached the topic before the barrier is then applied, and the
dossiers' stored states account for it.

A barrier only counts if the worker reached it within ``within_s`` of measuring
it, i.e. the worker keeps up with the feed. While it is far behind (a history
load, a replay, a backlog) new events pour in after every barrier, so the
barrier is measured again until the worker reaches one promptly. Hence:

    an alert is published only when the dossier is in that state after every
    event that reached the topic at most ``within_s`` before the check.

``now`` is a monotonic clock (processing time, never the domain's CHISO_NOW).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis.asyncio as aioredis

from store.keys import Keys
from streams.lag import LagProbe, lag_by_partition


class CatchUpGate:
    def __init__(self, redis: aioredis.Redis, keys: Keys, probe: LagProbe, topic: str,
                 within_s: float = 10.0, now: Callable[[], float] = time.monotonic) -> None:
        self.redis = redis
        self.keys = keys
        self.probe = probe
        self.topic = topic
        self.within_s = within_s
        self.now = now
        self._barrier: tuple[float, dict[int, tuple[int, int]]] | None = None

    async def caught_up(self) -> bool:
        if self._barrier is None:
            self._barrier = (self.now(), await self.probe.offsets())
        measured_at, offsets = self._barrier
        watermarks = {k.decode(): int(v) for shard in self.keys.shards
                      for k, v in (await self.redis.hgetall(shard.watermarks)).items()}
        reached = not any(lag_by_partition(self.topic, offsets, watermarks).values())
        prompt = self.now() - measured_at <= self.within_s
        if reached or not prompt:
            self._barrier = None  # reached, or too late to count: measure anew next time
        return reached and prompt

    async def stop(self) -> None:
        await self.probe.stop()
