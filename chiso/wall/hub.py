"""The wall's live feed: one poller per server process, fanned out to every display.

Once a second (``CHISO_WALL_POLL_S``) the poller reads one Redis key, the time of
the last applied batch (``applied_at``). When it moved, or ``CHISO_WALL_REFRESH_S``
passed (open dossiers age without any event), it rebuilds the snapshot of every
(unit, window) some display watches, by calling the JSON API in process, and
pushes only the parts whose JSON changed. The cost is per server and per watched
(unit, window), not per display: a display costs a queue and the bytes it is sent.

Snapshot parts, each one server-sent event (``event: <part>``, ``data: <JSON>``):

``hello``     ``{"version", "unit", "window"}``: the asset version, so that a display
              reloads itself after an upgrade.
``meta``      the unit: id, name, level, the names of its ancestors, children count.
``kpis``      ``/api/v1/kpis?unit=U&window=W`` as the API answers it.
``ranking``   ``/api/v1/ranking?parent=U&window=W``, each item reduced to what the
              wall shows.
``open``      ``/api/v1/open?unit=U``, or ``{"available": false}`` while the server
              has no such endpoint.
``dossiers``  ``/api/v1/dossiers?unit=U&state=overdue`` then ``…nearing_due``, each
              item with ``unit_name`` added; or ``{"available": false}``.
``trend``     the index of each of the last 30 local dates, each day on its own:
              the score ``/api/v1/kpis?unit=U&from=D&to=D`` answers, computed from the
              same counters in one Redis round trip.
``status``    pipeline health: ``applied_at``, lag, ``stale`` and why; also sent every
              ``CHISO_WALL_HEARTBEAT_S`` as a heartbeat.
``error``     ``{"error": ...}`` (unknown unit or window); the stream stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from pydantic_settings import BaseSettings, SettingsConfigDict

from processors.index import index
from processors.measures import MEASURES
from processors.windows import WINDOW_NAMES

log = logging.getLogger(__name__)

PART_ORDER = ("hello", "error", "meta", "kpis", "ranking", "open", "dossiers", "trend", "status")
TREND_DAYS = 30


class WallSettings(BaseSettings):
    """``CHISO_WALL_*`` environment variables (docs/wall.md)."""

    model_config = SettingsConfigDict(env_prefix="CHISO_WALL_", extra="ignore")

    poll_s: float = 1.0          # how often the server reads applied_at from Redis
    refresh_s: float = 15.0      # rebuild at least this often: open dossiers age without events
    lag_every_s: float = 5.0     # how often the consumer lag is probed while displays watch
    stale_after_s: float = 60.0  # events waiting and nothing applied for this long: stale
    heartbeat_s: float = 5.0     # a status event at least this often
    idle_stop_s: float = 30.0    # the poller stops this long after the last display left
    rotate_s: int = 20           # default seconds per view on the wall
    window: str = "30d"          # default window of the wall
    ticker: int = 15             # most urgent dossiers shown per state (overdue, nearing due)
    top: int = 10                # units in each of the best and worst lists


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


async def call_api(app, path: str, params: dict[str, Any]) -> tuple[int, Any]:
    """GET ``path`` from the app itself, in process (no socket): the JSON API's
    own answer, with its status."""
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": urlencode({k: v for k, v in params.items() if v is not None}).encode(),
        "headers": [(b"host", b"wall.local"), (b"accept", b"application/json")],
        "client": ("127.0.0.1", 0), "server": ("wall.local", 80),
    }
    status = 500
    body = bytearray()
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)  # nobody disconnects from an in-process call
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    try:
        return status, orjson.loads(bytes(body)) if body else None
    except orjson.JSONDecodeError:
        return status, None


class Subscriber:
    """One display: the parts not yet sent to it (a newer part replaces an unsent
    older one, so a slow display never piles up a backlog)."""

    def __init__(self, topic: "Topic") -> None:
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
    parts: dict[str, str] = field(default_factory=dict)
    subscribers: set[Subscriber] = field(default_factory=set)
    built_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Hub:
    def __init__(self, ctx, settings: WallSettings, version: str) -> None:
        self.ctx = ctx
        self.settings = settings
        self.version = version
        self.app = None
        self.topics: dict[tuple[str | None, str], Topic] = {}
        self.task: asyncio.Task | None = None
        self.status_part: str | None = None  # the last status sent, for new displays
        self.status_key: str | None = None   # the same without the clock fields, to see changes
        self.status_sent_at = 0.0
        self.last_applied: float | None = None
        self.store_error: str | None = None
        self.lag: int | None = None
        self.lag_error: str | None = None
        self.lag_probed_at = 0.0
        self.started_at = time.time()
        self.last_caught_up = time.time()  # last time the lag was seen at 0 (or the hub started)
        self.idle_since: float | None = None
        self.rebuilds = 0  # for the benchmark and tests

    # -- displays ------------------------------------------------------------------

    def default_unit(self) -> str | None:
        roots = self.ctx.queries.base_catalogue.roots()
        return roots[0].unit_id if len(roots) == 1 else None

    async def subscribe(self, app, unit: str | None, window: str) -> Subscriber:
        self.app = app
        key = (unit, window)
        topic = self.topics.get(key)
        if topic is None:
            topic = self.topics[key] = Topic(unit, window)
        sub = Subscriber(topic)
        topic.subscribers.add(sub)
        self.idle_since = None
        sub.offer("hello", dumps({"version": self.version, "unit": unit, "window": window}))
        if not topic.parts:
            await self.rebuild(topic)
        for part, data in topic.parts.items():
            sub.offer(part, data)
        if self.status_part is None:
            await self.refresh_status(force_lag=False)
        if self.status_part is not None:
            sub.offer("status", self.status_part)
        self.ensure_running()
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        topic = sub.topic
        topic.subscribers.discard(sub)
        if not topic.subscribers:
            self.topics.pop((topic.unit, topic.window), None)
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
            self.task = None

    async def tick(self) -> None:
        s = self.settings
        previous = self.last_applied
        await self.refresh_status()
        changed = self.last_applied != previous
        for topic in list(self.topics.values()):
            if changed or time.monotonic() - topic.built_at >= s.refresh_s or self.store_error:
                await self.rebuild(topic)

    async def refresh_status(self, force_lag: bool = True) -> None:
        s = self.settings
        now = time.time()
        try:
            self.last_applied = await asyncio.to_thread(self.ctx.queries.store.applied_at)
            self.store_error = None
        except Exception as exc:
            self.store_error = f"{type(exc).__name__}: {exc}"
        if force_lag and time.monotonic() - self.lag_probed_at >= s.lag_every_s:
            self.lag_probed_at = time.monotonic()
            await self.probe_lag()
        if self.lag == 0:
            self.last_caught_up = now
        progress = max(self.last_applied or 0.0, self.last_caught_up, self.started_at)
        reason = None
        if self.store_error:
            reason = "store"
        elif self.lag_error and now - progress > s.stale_after_s:
            reason = "broker"
        elif self.lag and now - progress > s.stale_after_s:
            reason = "pipeline"
        status = {
            "stale": reason is not None, "reason": reason, "applied_at": self.last_applied,
            "lag": self.lag, "lag_error": self.lag_error is not None, "stale_after_s": s.stale_after_s,
        }
        key = dumps(status)
        heartbeat_due = time.monotonic() - self.status_sent_at >= s.heartbeat_s
        if key != self.status_key or heartbeat_due or self.status_part is None:
            self.status_key = key
            self.status_sent_at = time.monotonic()
            self.status_part = dumps({**status, "now": self.ctx.now().isoformat(), "server_time": now})
            self.broadcast("status", self.status_part)

    async def probe_lag(self) -> None:
        from chiso.api import current_lag  # the API's own probe: the same numbers as /readyz

        if self.ctx.lag_probe is None:
            self.lag, self.lag_error = None, None
            return
        try:
            lag = await asyncio.wait_for(current_lag(self.ctx), timeout=max(1.0, self.settings.lag_every_s))
            self.lag, self.lag_error = sum(lag.values()), None
        except Exception as exc:
            self.lag_error = f"{type(exc).__name__}: {exc}"

    def broadcast(self, part: str, data: str) -> None:
        for topic in self.topics.values():
            for sub in topic.subscribers:
                sub.offer(part, data)

    # -- snapshots -----------------------------------------------------------------

    async def rebuild(self, topic: Topic) -> None:
        async with topic.lock:
            try:
                parts = await self.build(topic.unit, topic.window)
            except Exception as exc:
                log.warning("wall: snapshot of %s/%s failed: %s", topic.unit, topic.window, exc)
                self.store_error = f"{type(exc).__name__}: {exc}"
                return
            finally:
                topic.built_at = time.monotonic()
            self.rebuilds += 1
            for part, data in parts.items():
                if topic.parts.get(part) != data:
                    topic.parts[part] = data
                    for sub in topic.subscribers:
                        sub.offer(part, data)

    async def build(self, unit: str | None, window: str) -> dict[str, str]:
        app = self.app
        if window not in WINDOW_NAMES:
            return {"error": dumps({"error": f"unknown window {window!r}", "kind": "window"})}
        status, kpis = await call_api(app, "/api/v1/kpis", {"unit": unit, "window": window})
        if status == 404:
            return {"error": dumps({"error": f"unknown unit {unit!r}", "kind": "unit", "unit": unit})}
        if status != 200:
            raise RuntimeError(f"/api/v1/kpis answered {status}: {kpis}")
        catalogue = await asyncio.to_thread(self.ctx.queries.catalogue)
        parts = {"meta": dumps(self.meta(catalogue, unit)), "kpis": dumps(kpis)}

        status, ranking = await call_api(app, "/api/v1/ranking", {"parent": unit, "window": window})
        if status != 200:
            raise RuntimeError(f"/api/v1/ranking answered {status}: {ranking}")
        parts["ranking"] = dumps({"window": ranking["window"], "items": [slim(i) for i in ranking["items"]]})

        status, open_ = await call_api(app, "/api/v1/open", {"unit": unit})
        if status == 200:
            parts["open"] = dumps({"available": True, **open_})
            items = []
            for state in ("overdue", "nearing_due"):
                status, answer = await call_api(
                    app, "/api/v1/dossiers", {"unit": unit, "state": state, "limit": self.settings.ticker})
                if status == 200:
                    for item in answer.get("items", []):
                        u = catalogue.get(item.get("unit_id") or "")
                        items.append({**item, "state": item.get("state") or state,
                                      "unit_name": u.name if u else item.get("unit_id")})
            parts["dossiers"] = dumps({"available": status == 200, "items": items})
        else:  # the server has no open-dossier endpoints (yet): the wall hides them
            parts["open"] = dumps({"available": False})
            parts["dossiers"] = dumps({"available": False, "items": []})

        points = await asyncio.to_thread(daily_scores, self.ctx.queries, unit, self.ctx.today())
        parts["trend"] = dumps({"basis": "daily", "days": TREND_DAYS, "points": points})
        return parts

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


def slim(item: dict) -> dict:
    ratios = item.get("ratios") or {}
    return {
        "unit": item["unit"], "name": item["name"], "level": item.get("level"), "known": item.get("known", True),
        "rank": item.get("rank"), "score": item.get("score"), "band": item.get("band"),
        "on_time": ratios.get("on_time"), "online": ratios.get("online"),
        "online_payment": ratios.get("online_payment"),
        "received": item.get("received"), "resolved": item.get("resolved"),
    }


def daily_scores(queries, unit: str | None, today: date, days: int = TREND_DAYS) -> list[list]:
    """``[[date, score, band, received], ...]`` for the ``days`` local dates ending
    today, oldest first: for each date D, the index of D alone, exactly as
    ``/api/v1/kpis?unit=U&from=D&to=D`` computes it (Queries.kpis), but all dates
    in one pipelined Redis round trip."""
    units = queries.scope_units(unit, "subtree")
    seen = queries.store.seen_units()
    units = [u for u in units if u in seen]
    dates = [today - timedelta(days=days - 1 - i) for i in range(days)]
    sums = queries.store.sum_ranges(units, [(d, d) for d in dates])
    out = []
    for d, total in zip(dates, sums):
        measures = {m: total.get(m, 0) for m in MEASURES}
        idx = index(measures, queries.index_config)["index"]
        score = idx["score"]
        out.append([d.isoformat(), None if score is None or math.isnan(score) else score, idx["band"],
                    measures["received"]])
    return out
