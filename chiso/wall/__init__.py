"""The control-room wall display (màn hình trung tâm giám sát, điều hành thông minh).

``routes(ctx)`` gives the Starlette routes that ``chiso.api.create_app`` adds:

``/``                 landing page: links to the wall, the API documentation, /metrics
``/docs``             the API documentation (docs/api.md) as HTML
``/wall``             the wall page (parameters unit, window, view, lang, rotate, top)
``/wall/events``      server-sent events: the live snapshot (chiso/wall/hub.py)
``/wall/snapshot``    the same snapshot once, as one JSON object (debugging, scripts)
``/wall/static/…``    the page's CSS/JS, uPlot and the Be Vietnam Pro font, all vendored

Read-only: nothing here writes to Redis or Kafka. See docs/wall.md.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from chiso.wall.hub import Hub, dumps
from chiso.wall.pages import docs_html, landing_html
from chiso.wall.settings import WallSettings
from processors import vocabulary
from processors.index import GROUPS

STATIC = Path(__file__).parent / "static"
VIEWS = ("overview", "indicators", "units", "stake", "deadlines")

# Defence in depth for names that come from events and the catalogue: the page
# only ever sets them as text, and no inline script or style may run at all.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'self'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def asset_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _script_json(obj) -> str:
    """JSON safe inside <script type="application/json">: no '<' at all."""
    return dumps(obj).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def routes(ctx) -> list:
    settings = WallSettings()
    version = asset_version()
    hub = Hub(ctx, settings, version)
    template = (STATIC / "wall.html").read_text(encoding="utf-8")

    def wall_config() -> dict:
        index = ctx.settings.index
        config = ctx.queries.index_config
        return {
            "version": version,
            "default_unit": hub.default_unit(),
            "window": settings.window,
            "rotate_s": settings.rotate_s,
            "top": settings.top,
            "views": list(VIEWS),
            "timezone": ctx.settings.calendar.timezone,
            "maxima": {g: config.group_max(g) for g in GROUPS},
            "bands": [[limit, name] for limit, name in index.bands],
            "heartbeat_s": settings.heartbeat_s,
            "vocabulary": vocabulary.as_json(),
        }

    async def landing(request: Request) -> Response:
        return HTMLResponse(landing_html(hub.default_unit()), headers=SECURITY_HEADERS)

    async def docs(request: Request) -> Response:
        return HTMLResponse(docs_html(), headers=SECURITY_HEADERS)

    async def wall(request: Request) -> Response:
        body = (template.replace("{{config}}", _script_json(wall_config()))
                .replace("{{version}}", version))
        return HTMLResponse(body, headers=SECURITY_HEADERS)

    def topic_of(request: Request) -> tuple[str | None, str, int]:
        params = request.query_params
        unit = params.get("unit") or hub.default_unit()
        window = params.get("window") or settings.window
        try:
            top = max(1, min(50, int(params.get("top", settings.top))))
        except ValueError:
            top = settings.top
        return unit, window, top

    async def events(request: Request) -> Response:
        sub = await hub.subscribe(*topic_of(request))

        async def stream():
            try:
                first = True
                while True:
                    for part, data in await sub.next(timeout=settings.heartbeat_s * 3):
                        event = {"event": part, "data": data}
                        if first:
                            event["retry"] = 2000  # reconnect within ~2 s after a restart
                            first = False
                        yield event
            finally:
                hub.unsubscribe(sub)

        return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-cache",
                                                                "X-Accel-Buffering": "no"})

    async def snapshot(request: Request) -> Response:
        sub = await hub.subscribe(*topic_of(request))
        try:
            parts = {part: orjson.loads(data) for part, data in await sub.next(timeout=0)}
        finally:
            hub.unsubscribe(sub)
        return JSONResponse(parts, status_code=404 if "problem" in parts else 200)

    return [
        Route("/", landing),
        Route("/docs", docs),
        Route("/wall", wall),
        Route("/wall/", wall),
        Route("/wall/events", events),
        Route("/wall/snapshot", snapshot),
        Mount("/wall/static", app=StaticFiles(directory=STATIC), name="wall-static"),
    ]
