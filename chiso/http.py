"""HTTP helpers shared by the API, ingest and the wall: JSON responses, the
``{"error": ...}`` contract, query-parameter parsing, and the request context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chiso.queries import Queries, UnknownUnit
from chiso.settings import Settings
from processors.timeutil import local_date
from processors.windows import WINDOW_NAMES, Window, named_window
from streams.lag import LagProbe


class BadRequest(ValueError):
    pass


class JSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


RETRY_AFTER_S = 5  # what a 503 tells the client to wait before trying again


def error(status: int, message: str, **extra: Any) -> JSON:
    """The error contract: ``{"error": message, ...extra}``; a 503 says when to retry."""
    headers = {"Retry-After": str(RETRY_AFTER_S)} if status == 503 else None
    return JSON({"error": message, **extra}, status_code=status, headers=headers)


@dataclass
class Context:
    """What every handler needs; one per server process."""

    settings: Settings
    queries: Queries
    now: Callable[[], datetime]
    lag_probe: LagProbe | None
    last_lag: dict[int, int] | None = None

    def today(self) -> date:
        return local_date(self.now())


def param_date(request: Request, name: str) -> date:
    raw = request.query_params.get(name)
    if raw is None:
        raise BadRequest(f"missing parameter {name!r} (YYYY-MM-DD)")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"parameter {name!r} must be a date YYYY-MM-DD, got {raw!r}") from None


def param_window(request: Request, ctx: Context) -> Window:
    params = request.query_params
    has_dates = "from" in params or "to" in params
    if has_dates and "window" in params:
        raise BadRequest("give either window or from/to, not both")
    if has_dates:
        start, end = param_date(request, "from"), param_date(request, "to")
        if start > end:
            raise BadRequest("from must not be after to")
        return Window(None, start, end)
    name = params.get("window", "7d")
    if name not in WINDOW_NAMES:
        raise BadRequest(f"unknown window {name!r}; expected one of {', '.join(WINDOW_NAMES)}")
    return named_window(name, ctx.today())


def param_scope(request: Request) -> str:
    scope = request.query_params.get("scope", "subtree")
    if scope not in ("subtree", "self"):
        raise BadRequest("scope must be 'subtree' or 'self'")
    return scope


def param_unit(request: Request, name: str = "unit") -> str | None:
    value = request.query_params.get(name)
    if value is not None and not value:
        raise BadRequest(f"parameter {name!r} is empty")
    return value


def param_int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
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
