"""The HTTP server: JSON API (outputs.md), health, readiness and /metrics.

Endpoints are plain functions over ``Queries``; Starlette runs the synchronous
ones in its thread pool. Every bad request answers 4xx with ``{"error": ...}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable

import orjson
import redis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chiso.exposition import CONTENT_TYPE, render_registry
from chiso.ingest import Ingest
from chiso.lag import LagProbe, lag_by_partition
from chiso.metrics import ChisoCollector, build_registry
from chiso.queries import LISTABLE_STATES, Queries, Store, UnknownUnit
from chiso.redis_keys import Keys
from chiso.settings import Settings
from chiso.wall import routes as wall_routes
from processors.calendar import WorkingCalendar
from processors.timeutil import local_date
from processors.units import UnitCatalogue
from processors.windows import WINDOW_NAMES, Window, named_window

log = logging.getLogger(__name__)


class BadRequest(ValueError):
    pass


class JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error(status: int, message: str) -> JSON:
    return JSON({"error": message}, status_code=status)


@dataclass
class Context:
    settings: Settings
    queries: Queries
    now: Callable[[], datetime]
    lag_probe: LagProbe | None
    last_lag: dict[int, int] | None = None

    def today(self) -> date:
        return local_date(self.now())


def _param_date(request: Request, name: str) -> date:
    raw = request.query_params.get(name)
    if raw is None:
        raise BadRequest(f"missing parameter {name!r} (YYYY-MM-DD)")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"parameter {name!r} must be a date YYYY-MM-DD, got {raw!r}") from None


def _window(request: Request, ctx: Context) -> Window:
    params = request.query_params
    has_dates = "from" in params or "to" in params
    if has_dates and "window" in params:
        raise BadRequest("give either window or from/to, not both")
    if has_dates:
        start, end = _param_date(request, "from"), _param_date(request, "to")
        if start > end:
            raise BadRequest("from must not be after to")
        return Window(None, start, end)
    name = params.get("window", "7d")
    if name not in WINDOW_NAMES:
        raise BadRequest(f"unknown window {name!r}; expected one of {', '.join(WINDOW_NAMES)}")
    return named_window(name, ctx.today())


def _scope(request: Request) -> str:
    scope = request.query_params.get("scope", "subtree")
    if scope not in ("subtree", "self"):
        raise BadRequest("scope must be 'subtree' or 'self'")
    return scope


def _unit(request: Request, name: str = "unit") -> str | None:
    value = request.query_params.get(name)
    if value is not None and not value:
        raise BadRequest(f"parameter {name!r} is empty")
    return value


def endpoint(fn: Callable[[Request, Context], Any]) -> Callable:
    """Adapts a handler: context injection and the 400/404 JSON error contract."""

    def handler(request: Request) -> Response:
        ctx: Context = request.app.state.ctx
        try:
            result = fn(request, ctx)
        except BadRequest as exc:
            return error(400, str(exc))
        except UnknownUnit as exc:
            return error(404, f"unknown unit {exc.args[0]!r}")
        return result if isinstance(result, Response) else JSON(result)

    handler.__name__ = fn.__name__
    return handler


@endpoint
def kpis(request: Request, ctx: Context) -> dict:
    return ctx.queries.kpis(_unit(request), _window(request, ctx), _scope(request))


@endpoint
def report(request: Request, ctx: Context) -> dict:
    start, end = _param_date(request, "from"), _param_date(request, "to")
    if start > end:
        raise BadRequest("from must not be after to")
    return ctx.queries.report(_unit(request), start, end)


@endpoint
def open_dossiers(request: Request, ctx: Context) -> dict:
    return ctx.queries.open_now(_unit(request), _scope(request), ctx.now())


def _int_param(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"parameter {name!r} must be an integer") from None
    if not lo <= value <= hi:
        raise BadRequest(f"parameter {name!r} must be between {lo} and {hi}")
    return value


@endpoint
def dossiers(request: Request, ctx: Context) -> dict:
    raw = request.query_params.get("state", "overdue,nearing_due")
    states = [s for s in raw.split(",") if s]
    bad = [s for s in states if s not in LISTABLE_STATES]
    if bad or not states:
        raise BadRequest(f"state must be one or more of {', '.join(LISTABLE_STATES)} (comma-separated)")
    limit = _int_param(request, "limit", 50, 1, 1000)
    offset = _int_param(request, "offset", 0, 0, 1_000_000)
    return ctx.queries.dossiers(_unit(request), _scope(request), states, ctx.now(), limit, offset)


@endpoint
def units(request: Request, ctx: Context) -> dict:
    return {"units": ctx.queries.catalogue().tree()}


@endpoint
def ranking(request: Request, ctx: Context) -> dict:
    return ctx.queries.ranking(_unit(request, "parent"), _window(request, ctx))


def healthz(request: Request) -> Response:
    return JSON({"status": "ok"})


async def readyz(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    try:
        lag = await current_lag(ctx)
    except Exception as exc:  # broker or Redis unreachable: not ready
        return JSON({"ready": False, "error": f"{type(exc).__name__}: {exc}"}, status_code=503)
    total = sum(lag.values())
    body = {"ready": total == 0, "lag": total, "partitions": {str(p): n for p, n in sorted(lag.items())}}
    return JSON(body, status_code=200 if total == 0 else 503)


async def current_lag(ctx: Context) -> dict[int, int]:
    if ctx.lag_probe is None:
        raise RuntimeError("no Kafka configured")
    offsets = await ctx.lag_probe.offsets()
    watermarks = await asyncio.to_thread(ctx.queries.store.watermarks)
    lag = lag_by_partition(ctx.settings.events_topic, offsets, watermarks)
    ctx.last_lag = lag
    return lag


def metrics(request: Request) -> Response:
    return Response(render_registry(request.app.state.registry), media_type=CONTENT_TYPE)


async def not_found(request: Request, exc: HTTPException) -> Response:
    return error(exc.status_code, exc.detail if exc.status_code != 404 else f"no such path {request.url.path}")


def create_app(settings: Settings, extra_routes: list | None = None) -> Starlette:
    client = redis.Redis.from_url(settings.redis or "redis://127.0.0.1:6379/0")
    catalogue = UnitCatalogue.from_path(settings.units_path)
    queries = Queries(Store(client, Keys(settings.redis_prefix)), catalogue, settings.index.to_config(),
                      WorkingCalendar(settings.calendar.to_config()))
    fixed_now = settings.now

    def now() -> datetime:
        return fixed_now if fixed_now is not None else datetime.now(timezone.utc)

    probe = LagProbe(settings.kafka, settings.events_topic) if settings.kafka else None
    ctx = Context(settings, queries, now, probe)
    ingest = Ingest(settings)

    async def refresh_lag_forever() -> None:
        # Keeps dvc_consumer_lag_messages current without probing Kafka inside a scrape.
        while True:
            with contextlib.suppress(Exception):
                await current_lag(ctx)
            await asyncio.sleep(5.0)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        task = asyncio.create_task(refresh_lag_forever()) if probe else None
        try:
            yield
        finally:
            if task:
                task.cancel()
            if probe:
                await probe.stop()
            await ingest.stop()

    routes = [
        Route("/api/v1/events", ingest.handle, methods=["POST"]),
        Route("/api/v1/kpis", kpis),
        Route("/api/v1/report", report),
        Route("/api/v1/open", open_dossiers),
        Route("/api/v1/dossiers", dossiers),
        Route("/api/v1/units", units),
        Route("/api/v1/ranking", ranking),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        *wall_routes(ctx),
        *(extra_routes or []),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: not_found})
    app.state.ctx = ctx
    app.state.registry = build_registry(
        ChisoCollector(queries, settings.metrics_windows, now, lag=lambda: ctx.last_lag, levels=settings.metrics_levels)
    )
    return app
