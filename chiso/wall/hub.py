"""The wall's live feed: one poller per server process, fanned out to every display
(chiso/wall/fanout.py); the parts are built by chiso/wall/snapshot.py.

Every ``CHISO_WALL_POLL_S`` (0.5 s) the poller reads one Redis key, the time of
the last applied batch (``applied_at``). When it moved, it rebuilds the snapshot
of every (unit, window, top) some display watches from the same queries the
JSON API answers with, and pushes each part whose JSON changed as soon as it is computed. The
parts come in two groups: the fast one (the score and KPIs, open dossiers, the
ticker, today's trend point) at most every ``CHISO_WALL_FAST_EVERY_S`` (1 s), the
slow one (the ranking, which reads every child unit) at most every
``CHISO_WALL_SLOW_EVERY_S`` (3 s). A group whose last rebuild took ``c`` seconds
also waits ``c / CHISO_WALL_MAX_BUSY``, so that a heavy topic cannot starve the
API. Without new data everything is rebuilt every ``CHISO_WALL_REFRESH_S``, since
open dossiers become nearly due and overdue with time; the trend's past dates are
re-read every ``CHISO_WALL_TREND_FULL_S``.

The cost is per server and per watched topic, not per display: a display costs a
small queue (the newest unsent part of each kind, so a slow display never piles
up a backlog) and the bytes it is sent.

Snapshot parts, each one server-sent event (``event: <part>``, ``data: <JSON>``):

``hello``     ``{"version", "unit", "window", "top"}``: the asset version, so that a display
              reloads itself after an upgrade.
``meta``      the unit: id, name, level, the names of its ancestors, children count.
``kpis``      ``/api/v1/kpis?unit=U&window=W`` as the API answers it.
``ranking``   ``/api/v1/ranking?parent=U&window=W``: the ``top`` best and the ``top``
              worst units with a score, each reduced to what the wall shows.
``open``      ``/api/v1/open?unit=U``, with ``"available": true``.
``dossiers``  ``/api/v1/dossiers?unit=U&state=overdue`` then ``…nearing_due``, each
              item with ``unit_name`` added; ``"known": false`` (and no items) when they
              could not be read: the page then says "unknown", never "no overdue dossiers".
``trend``     ``{"days": 30, "rolling": 7, "points": [[date, day, rolling, received]…]}``
              for the last 30 local dates: ``day`` is the score of that date alone
              (``/api/v1/kpis?unit=U&from=D&to=D``), ``rolling`` the score of the 7
              dates ending there (``from=D-6&to=D``), ``received`` that date's
              receptions; all 60 windows in one read (``Queries.series``).
``stake``     ``/api/v1/stake?parent=U&window=W``: the ``top`` units with the most points
              at stake (their points lost, per indicator left out) and the most costly
              open dossiers (index.md §5).
``status``    pipeline health: ``applied_at``, lag, ``stale`` and why (``store``: Redis
              unreadable; ``broker``: the lag cannot be measured; ``unknown``: no Kafka
              configured to measure it; ``pipeline``: events waiting and nothing applied
              for ``CHISO_WALL_STALE_AFTER_S``); also sent every ``CHISO_WALL_HEARTBEAT_S``
              as a heartbeat. The page's live dot turns red while ``stale``.
``problem``   ``{"error": ..., "kind": "unit"|"window"}``: an unknown unit or window; the
              stream stays open. (Not ``error``: EventSource uses that name itself.)
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from chiso.queries import UnknownUnit
from chiso.readiness import current_lag  # the API's own probe: the same numbers as /readyz
from chiso.wall.fanout import Schedule, Subscriber, Topic
from chiso.wall.settings import WallSettings
from chiso.wall.snapshot import (
    ROLLING_DAYS,
    STAKE_DOSSIERS,
    TREND_DAYS,
    best_and_worst,
    stake_part,
    trend_points,
    trend_windows,
)
from processors.timeutil import local_date
from processors.windows import WINDOW_NAMES, named_window

log = logging.getLogger(__name__)


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()






class Hub:
    def __init__(self, ctx, settings: WallSettings, version: str) -> None:
        self.ctx = ctx
        self.settings = settings
        self.version = version
        self.topics: dict[tuple[str | None, str, int], Topic] = {}
        self.task: asyncio.Task | None = None
        self.status_part: str | None = None  # the last status sent, for new displays
        self.status_key: str | None = None   # the same without the clock fields, to see changes
        self.status_sent_at = 0.0
        self.last_applied: float | None = None
        self.tick_applied: float | None = None  # applied_at as the poller last saw it
        self.store_error: str | None = None
        self.lag: int | None = None
        self.lag_error: str | None = None
        self.started_at = time.time()
        self.last_caught_up = time.time()  # last time the lag was seen at 0 (or the hub started)
        self.idle_since: float | None = None
        self.rebuilds = 0  # for the benchmark and tests

    # -- displays ------------------------------------------------------------------

    def default_unit(self) -> str | None:
        roots = self.ctx.queries.base_catalogue.roots()
        return roots[0].unit_id if len(roots) == 1 else None

    async def subscribe(self, unit: str | None, window: str, top: int) -> Subscriber:
        key = (unit, window, top)
        topic = self.topics.get(key)
        if topic is None:
            topic = self.topics[key] = Topic(unit, window, top)
        sub = Subscriber(topic)
        topic.subscribers.add(sub)
        self.idle_since = None
        sub.offer("hello", dumps({"version": self.version, "unit": unit, "window": window, "top": top}))
        if not topic.parts:
            await self.rebuild(topic)
            if topic.slow_task is not None:
                await asyncio.shield(topic.slow_task)
        for part, data in topic.parts.items():
            sub.offer(part, data)
        if self.status_part is None or self.store_error is not None:
            await self.refresh_status()
        if self.status_part is not None:
            sub.offer("status", self.status_part)
        self.ensure_running()
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        topic = sub.topic
        topic.subscribers.discard(sub)
        if not topic.subscribers:
            self.topics.pop((topic.unit, topic.window, topic.top), None)
            if topic.slow_task is not None:
                topic.slow_task.cancel()
        if not self.topics:
            self.idle_since = time.monotonic()

    def displays(self) -> int:
        return sum(len(t.subscribers) for t in self.topics.values())

    def ensure_running(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self.run(), name="wall-hub")

    # -- the poller ----------------------------------------------------------------

    async def run(self) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        helpers = [loop.create_task(self.lag_forever(), name="wall-lag"),
                   loop.create_task(self.heartbeat_forever(), name="wall-heartbeat")]
        try:
            while True:
                await asyncio.sleep(s.poll_s)
                if not self.topics:
                    if self.idle_since is not None and time.monotonic() - self.idle_since > s.idle_stop_s:
                        return
                    continue
                try:
                    await self.tick()
                except Exception:  # never let one bad tick end the feed
                    log.exception("wall: tick failed")
        finally:
            for task in helpers:
                task.cancel()
            self.task = None

    async def lag_forever(self) -> None:
        """The consumer lag, probed apart from the poller: a slow broker must not
        delay the numbers."""
        while True:
            await self.probe_lag()
            await asyncio.sleep(self.settings.lag_every_s)

    async def heartbeat_forever(self) -> None:
        """The status at least every CHISO_WALL_HEARTBEAT_S, however busy the poller."""
        while True:
            await asyncio.sleep(self.settings.heartbeat_s / 2)
            with contextlib.suppress(Exception):
                await self.refresh_status()

    async def tick(self) -> None:
        s = self.settings
        await self.refresh_status()
        changed = self.last_applied != self.tick_applied
        self.tick_applied = self.last_applied
        for topic in list(self.topics.values()):
            if changed or self.store_error is not None:
                topic.fast.dirty = topic.slow.dirty = True
            now = time.monotonic()
            fast, slow = topic.fast.due(s.fast_every_s, s, now), topic.slow.due(s.slow_every_s, s, now)
            if fast or slow:
                await self.rebuild(topic, fast=fast, slow=slow)

    async def refresh_status(self) -> None:
        s = self.settings
        now = time.time()
        try:
            self.last_applied = await asyncio.to_thread(self.ctx.queries.store.applied_at)
            self.store_error = None
        except Exception as exc:  # noqa: BLE001 - Redis down shows on the wall as a stale status
            self.store_error = f"{type(exc).__name__}: {exc}"
        if self.lag == 0:
            self.last_caught_up = now
        progress = max(self.last_applied or 0.0, self.last_caught_up, self.started_at)
        reason = None
        if self.store_error:
            reason = "store"
        elif self.lag_error:  # the lag cannot be measured: nobody knows whether the numbers are current
            reason = "broker"
        elif self.ctx.lag_probe is None:
            reason = "unknown"
        elif self.lag and now - progress > s.stale_after_s:
            reason = "pipeline"
        status = {"stale": reason is not None, "reason": reason, "lag_error": self.lag_error is not None,
                  "stale_after_s": s.stale_after_s}
        # Sent when staleness changes, else as the heartbeat: applied_at and the lag
        # move with every batch, and need not cost a message each.
        key = dumps(status)
        heartbeat_due = time.monotonic() - self.status_sent_at >= s.heartbeat_s
        if key != self.status_key or heartbeat_due or self.status_part is None:
            self.status_key = key
            self.status_sent_at = time.monotonic()
            self.status_part = dumps({**status, "applied_at": self.last_applied, "lag": self.lag,
                                      "now": self.ctx.now().isoformat(), "server_time": now})
            self.broadcast("status", self.status_part)

    async def probe_lag(self) -> None:
        if self.ctx.lag_probe is None:
            self.lag, self.lag_error = None, None
            return
        try:
            lag = await asyncio.wait_for(current_lag(self.ctx), timeout=max(1.0, self.settings.lag_every_s))
            self.lag, self.lag_error = sum(lag.values()), None
        except Exception as exc:  # noqa: BLE001 - one failed part must not end the feed
            self.lag_error = f"{type(exc).__name__}: {exc}"

    def broadcast(self, part: str, data: str) -> None:
        for topic in self.topics.values():
            for sub in topic.subscribers:
                sub.offer(part, data)

    # -- snapshots -----------------------------------------------------------------

    async def rebuild(self, topic: Topic, fast: bool = True, slow: bool = True) -> None:
        """Recompute the topic's fast parts now, and start its slow ones beside
        (unless they are being computed already)."""
        if fast:
            await self.run_group(topic, topic.fast, self.build_fast(topic))
        if slow and (topic.slow_task is None or topic.slow_task.done()):
            topic.slow_task = asyncio.get_running_loop().create_task(
                self.run_group(topic, topic.slow, self.build_slow(topic)), name="wall-slow")

    async def run_group(self, topic: Topic, schedule: Schedule, parts: AsyncIterator[tuple[str, str]]) -> None:
        """Push each part whose JSON changed as soon as it is computed."""
        async with schedule.lock:
            started = time.monotonic()
            schedule.dirty = False
            try:
                async for part, data in parts:
                    if topic.parts.get(part) != data:
                        topic.parts[part] = data
                        for sub in topic.subscribers:
                            sub.offer(part, data)
                self.rebuilds += 1
            except Exception as exc:  # noqa: BLE001 - a broken broker shows on the wall as a stale status
                log.warning("wall: snapshot of %s/%s failed: %s", topic.unit, topic.window, exc)
                self.store_error = f"{type(exc).__name__}: {exc}"
                if schedule is topic.fast:
                    # The urgent list is unknown now: say so, rather than keep showing an old one
                    # (or none, which the page would read as "no overdue dossiers").
                    unknown = dumps({"available": True, "known": False, "items": [], "reason": "store"})
                    if topic.parts.get("dossiers") != unknown:
                        topic.parts["dossiers"] = unknown
                        for sub in topic.subscribers:
                            sub.offer("dossiers", unknown)
            finally:
                schedule.built_at = time.monotonic()
                schedule.cost = schedule.built_at - started

    async def build_fast(self, topic: Topic) -> AsyncIterator[tuple[str, str]]:
        """meta, kpis, open, dossiers and today's trend point, from the same
        queries the JSON API answers with."""
        unit, window, queries = topic.unit, topic.window, self.ctx.queries
        if window not in WINDOW_NAMES:
            yield "problem", dumps({"error": f"unknown window {window!r}", "kind": "window"})
            return
        now = self.ctx.now()
        try:
            kpis = await asyncio.to_thread(queries.kpis, unit, named_window(window, local_date(now)))
        except UnknownUnit:
            yield "problem", dumps({"error": f"unknown unit {unit!r}", "kind": "unit", "unit": unit})
            return
        catalogue = await asyncio.to_thread(queries.catalogue)
        yield "meta", dumps(self.meta(catalogue, unit))
        yield "kpis", dumps(kpis)

        open_ = await asyncio.to_thread(queries.open_now, unit, "subtree", now)
        yield "open", dumps({"available": True, **open_})
        items = []
        for state in ("overdue", "nearing_due"):
            answer = await asyncio.to_thread(queries.dossiers, unit, "subtree", [state], now, self.settings.ticker, 0)
            for item in answer["items"]:
                u = catalogue.get(item.get("unit_id") or "")
                items.append({**item, "unit_name": u.name if u else item.get("unit_id")})
        yield "dossiers", dumps({"available": True, "items": items})

        today = self.ctx.today()
        if topic.trend is not None and topic.trend[-1][0] == today.isoformat():
            # Only today's point: past dates change only with late events, which
            # the slow group's full read catches.
            windows = trend_windows(today, days=1)
            answers = await asyncio.to_thread(queries.series, unit, windows)
            topic.trend[-1] = trend_points(windows, answers)[0]
            yield "trend", self.trend_part(topic)
        else:
            topic.slow.dirty = True

    async def build_slow(self, topic: Topic) -> AsyncIterator[tuple[str, str]]:
        """The ranking, and every CHISO_WALL_TREND_FULL_S the trend's 36 dates."""
        unit, window, queries = topic.unit, topic.window, self.ctx.queries
        if window not in WINDOW_NAMES:
            return
        today = self.ctx.today()
        if (topic.trend is None or topic.trend[-1][0] != today.isoformat()
                or time.monotonic() - topic.trend_at >= self.settings.trend_full_s):
            windows = trend_windows(today)
            try:
                answers = await asyncio.to_thread(queries.series, unit, windows)
            except UnknownUnit:
                return
            topic.trend = trend_points(windows, answers)
            topic.trend_at = time.monotonic()
            yield "trend", self.trend_part(topic)
        try:
            ranking = await asyncio.to_thread(queries.ranking, unit, named_window(window, today))
            stake = await asyncio.to_thread(queries.stake, unit, None, named_window(window, today), STAKE_DOSSIERS)
        except UnknownUnit:
            return
        yield "ranking", dumps(best_and_worst(ranking, topic.top))
        yield "stake", dumps(stake_part(stake, topic.top))

    def trend_part(self, topic: Topic) -> str:
        return dumps({"days": TREND_DAYS, "rolling": ROLLING_DAYS, "points": topic.trend})

    def meta(self, catalogue, unit: str | None) -> dict:
        if unit is None:
            return {"unit": None, "name": None, "level": None, "path": [], "children": len(catalogue.roots())}
        u = catalogue.get(unit)
        path = []
        parent = u.parent_id
        while parent is not None and len(path) < 20:
            p = catalogue.get(parent)
            if p is None:
                break
            path.insert(0, p.name)
            parent = p.parent_id
        return {"unit": unit, "name": u.name, "level": u.level, "known": u.known, "path": path,
                "children": len(catalogue.children(unit))}
