"""Fan-out of the wall's live feed: one topic per (unit, window, top) that some
display watches, and per display a queue of the newest unsent part of each kind
(a slow display never piles up a backlog)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from chiso.wall.settings import WallSettings

PART_ORDER = ("hello", "problem", "meta", "kpis", "open", "dossiers", "trend", "ranking", "stake", "status")



class Subscriber:
    """One display: the parts not yet sent to it (a newer part replaces an unsent
    older one, so a slow display never piles up a backlog)."""

    def __init__(self, topic: Topic) -> None:
        self.topic = topic
        self.pending: dict[str, str] = {}
        self.wake = asyncio.Event()

    def offer(self, part: str, data: str) -> None:
        self.pending[part] = data
        self.wake.set()

    async def next(self, timeout: float | None = None) -> list[tuple[str, str]]:
        if not self.pending:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)
        self.wake.clear()
        batch, self.pending = self.pending, {}
        return sorted(batch.items(), key=lambda kv: PART_ORDER.index(kv[0]) if kv[0] in PART_ORDER else 99)


@dataclass(eq=False)
class Topic:
    unit: str | None
    window: str
    top: int
    parts: dict[str, str] = field(default_factory=dict)
    subscribers: set[Subscriber] = field(default_factory=set)
    # Two groups of parts, rebuilt on their own schedules: "fast" (meta, kpis, open,
    # dossiers, today's trend point) and "slow" (ranking, the whole trend).
    fast: Schedule = field(default_factory=lambda: Schedule())
    slow: Schedule = field(default_factory=lambda: Schedule())
    slow_task: asyncio.Task | None = None  # the slow group runs beside the poller
    trend: list | None = None    # the trend's points: [date, day score, rolling score, received]
    trend_at: float = 0.0        # monotonic time they were all read


@dataclass
class Schedule:
    built_at: float = 0.0        # monotonic time of the last rebuild
    cost: float = 0.0            # how long it took (s)
    dirty: bool = True           # data changed since
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def due(self, every_s: float, settings: WallSettings, now: float) -> bool:
        """Rebuild now? When the data changed, no sooner than ``every_s`` after the
        last rebuild nor than its cost allows (CHISO_WALL_MAX_BUSY); or when the
        periodic refresh is due."""
        since = now - self.built_at
        if since >= settings.refresh_s:
            return True
        return self.dirty and since >= max(every_s, self.cost / max(settings.max_busy, 0.01)) - 1e-3
