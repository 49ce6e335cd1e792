"""The HTTP server: JSON API (outputs.md), health, readiness and /metrics.

Endpoints are plain functions over ``Queries``; Starlette runs the synchronous
ones in its thread pool. Every bad request answers 4xx with ``{"error": ...}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NoBrokersAvailable
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chiso.dvcqg import DvcqgIngest, deriver_from
from chiso.exposition import CONTENT_TYPE, render_registry
from chiso.http import (
    JSON,
    BadRequest,
    Context,
    endpoint,
    error,
    param_date,
    param_int,
    param_scope,
    param_unit,
    param_window,
)
from chiso.ingest import Ingest
from chiso.metrics import ChisoCollector, build_registry
from chiso.notify.metrics import NotifyCollector
from chiso.queries import LISTABLE_STATES, Queries
from chiso.readiness import current_lag, readiness
from chiso.settings import Settings
from chiso.wall import routes as wall_routes
from processors import vocabulary
from processors.calendar import WorkingCalendar
from store.layout import LayoutCheck, async_client
from store.reader import Store
from streams.lag import LagProbe

log = logging.getLogger(__name__)


@endpoint
def kpis(request: Request, ctx: Context) -> dict:
    return ctx.queries.kpis(param_unit(request), param_window(request, ctx), param_scope(request))


@endpoint
def report(request: Request, ctx: Context) -> dict:
    start, end = param_date(request, "from"), param_date(request, "to")
    if start > end:
        raise BadRequest("from must not be after to")
    return ctx.queries.report(param_unit(request), start, end)


@endpoint
def open_dossiers(request: Request, ctx: Context) -> dict:
    return ctx.queries.open_now(param_unit(request), param_scope(request), ctx.now())


@endpoint
def dossiers(request: Request, ctx: Context) -> dict:
    raw = request.query_params.get("state", "overdue,nearing_due")
    states = [s for s in raw.split(",") if s]
    bad = [s for s in states if s not in LISTABLE_STATES]
    if bad or not states:
        raise BadRequest(f"state must be one or more of {', '.join(LISTABLE_STATES)} (comma-separated)")
    limit = param_int(request, "limit", 50, 1, 1000)
    offset = param_int(request, "offset", 0, 0, 1_000_000)
    return ctx.queries.dossiers(param_unit(request), param_scope(request), states, ctx.now(), limit, offset)


@endpoint
def units(request: Request, ctx: Context) -> dict:
    return {"units": ctx.queries.catalogue().tree()}


@endpoint
def stake(request: Request, ctx: Context) -> dict:
    """index.md §5: per child of ``parent`` (or ``unit`` itself), the points lost
    and at stake, and the open dossiers whose lateness would cost the most."""
    parent, unit = param_unit(request, "parent"), param_unit(request)
    if parent is not None and unit is not None:
        raise BadRequest("give either parent or unit, not both")
    return ctx.queries.stake(parent, unit, param_window(request, ctx), param_int(request, "limit", 20, 1, 500),
                             param_int(request, "per_unit", 3, 0, 500))


@endpoint
def procedures(request: Request, ctx: Context) -> dict:
    return ctx.queries.procedure_list(param_unit(request), param_scope(request))


@endpoint
def ranking(request: Request, ctx: Context) -> dict:
    return ctx.queries.ranking(param_unit(request, "parent"), param_window(request, ctx))


def vocabulary_terms(request: Request) -> Response:
    """Every id the answers use, with its Vietnamese and English label."""
    return JSON(vocabulary.as_json())


def healthz(request: Request) -> Response:
    return JSON({"status": "ok"})


async def readyz(request: Request) -> Response:
    ctx: Context = request.app.state.ctx
    try:
        ready, body = await readiness(ctx)
    except Exception as exc:  # noqa: BLE001 - broker or Redis unreachable: not ready
        return JSON({"ready": False, "error": f"{type(exc).__name__}: {exc}"}, status_code=503)
    return JSON(body, status_code=200 if ready else 503)


def metrics(request: Request) -> Response:
    return Response(render_registry(request.app.state.registry), media_type=CONTENT_TYPE)


async def not_found(request: Request, exc: HTTPException) -> Response:
    """404, 405 and the other HTTP errors Starlette raises, as JSON."""
    if exc.status_code == 404:
        return error(404, f"no such path {request.url.path}")
    response = error(exc.status_code, f"{exc.detail}: {request.method} {request.url.path}")
    for name, value in (exc.headers or {}).items():  # Allow: of a 405
        response.headers[name] = value
    return response


# Errors of a store or broker that is down or unreachable: 503 with a reason and
# Retry-After, never a 500 (the request was fine; the service will be back).
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
KAFKA_DOWN = (KafkaConnectionError, KafkaTimeoutError, NoBrokersAvailable)


async def unavailable(request: Request, exc: Exception) -> Response:
    what = "redis" if isinstance(exc, REDIS_DOWN) else "broker"
    log.warning("%s %s: %s unavailable: %s: %s", request.method, request.url.path, what, type(exc).__name__, exc)
    return error(503, f"{'Redis' if what == 'redis' else 'Kafka'} is unavailable, retry later "
                      f"({type(exc).__name__}: {exc})", reason=f"{what}_unavailable")


class InternalErrors:
    """Anything unexpected: logged with its traceback, answered 500 JSON. (Starlette's
    own 500 handler re-raises to the server, which then drops the connection.)"""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # noqa: BLE001 - the last resort: a JSON answer, the traceback in the log
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if not started:
                response = error(500, f"internal error ({type(exc).__name__}); see the server log", reason="internal")
                await response(scope, receive, send)


class LayoutGuard:
    """Until Redis confirms the layout this server took without asking (store/layout.py
    ``LayoutCheck``), every request asks; a wrong guess answers 503 with the reason."""

    def __init__(self, app, layout: LayoutCheck) -> None:
        self.app = app
        self.layout = layout

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not self.layout.confirmed:
            problem = await asyncio.to_thread(self.layout.problem)
            if problem:
                await error(503, problem, reason="redis_layout")(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(settings: Settings, extra_routes: list | None = None) -> Starlette:
    # A Redis that does not answer fails a request within seconds (503), rather than holding it.
    catalogue, procedure_catalogue = settings.load_catalogues()  # a bad setting says so before Redis is asked
    for target, ids in sorted(procedure_catalogue.unknown_targets.items()):
        log.warning("procedure catalogue: %s in applies_to of %s is not a unit or level of the unit "
                    "catalogue; ignored", target, ", ".join(ids))
    # single node or Redis Cluster (store/layout.py): a changed partition count stops here
    client, keys, layout = settings.redis_reader(socket_connect_timeout=5)
    queries = Queries(Store(client, keys), catalogue, settings.index.to_config(),
                      WorkingCalendar(settings.calendar.to_config()), procedure_catalogue,
                      clock=settings.clock(), rules=settings.index.counting_rules())
    now = settings.clock()
    probe = LagProbe(settings.kafka, settings.events_topic) if settings.kafka else None
    ctx = Context(settings, queries, now, probe)
    ingest = Ingest(settings)
    async_redis = async_client(settings.redis_url, keys.clustered)
    dvcqg = DvcqgIngest(settings, ingest, async_redis, deriver_from(settings, catalogue, procedure_catalogue),
                        keys)

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
            await async_redis.aclose()

    routes = [
        Route("/api/v1/events", ingest.handle, methods=["POST"]),
        *dvcqg.routes(),
        Route("/api/v1/kpis", kpis),
        Route("/api/v1/report", report),
        Route("/api/v1/open", open_dossiers),
        Route("/api/v1/dossiers", dossiers),
        Route("/api/v1/units", units),
        Route("/api/v1/ranking", ranking),
        Route("/api/v1/procedures", procedures),
        Route("/api/v1/stake", stake),
        Route("/api/v1/vocabulary", vocabulary_terms),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        *wall_routes(ctx),
        *(extra_routes or []),
    ]
    handlers: dict = {HTTPException: not_found}
    handlers.update({kind: unavailable for kind in (*REDIS_DOWN, *KAFKA_DOWN)})
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers,
                    middleware=[Middleware(InternalErrors), Middleware(LayoutGuard, layout=layout)])
    app.state.ctx = ctx
    app.state.registry = build_registry(
        ChisoCollector(queries, settings.metrics_windows, now, lag=lambda: ctx.last_lag, levels=settings.metrics_levels)
    )
    app.state.registry.register(NotifyCollector(client, keys))
    app.state.registry.register(dvcqg.stats)
    return app
