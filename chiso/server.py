"""The HTTP server process: uvicorn, with a header-read timeout.

uvicorn's h11 protocol has ``timeout_keep_alive`` for idle connections between
requests, but nothing bounds how long a client may take to send a request's
line and headers: a slowloris client (a few bytes now and then) keeps a
connection, and its memory, forever. :class:`HeaderTimeoutProtocol` closes a
connection whose request headers are not complete within
``CHISO_HTTP_HEADER_TIMEOUT_S`` of the connection's start, or of the previous
response on a keep-alive connection. Bodies are bounded by size instead
(``CHISO_INGEST_MAX_BYTES``: 413).
"""

from __future__ import annotations

import asyncio

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol


class HeaderTimeoutProtocol(H11Protocol):
    header_timeout_s: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:  # the request line and headers are complete
            self._cancel_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # the next request on this keep-alive connection

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.transport.close()


def protocol_with_header_timeout(timeout_s: float) -> type[HeaderTimeoutProtocol]:
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout_s": timeout_s})


def serve(app, host: str, port: int, header_timeout_s: float) -> None:
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            http=protocol_with_header_timeout(header_timeout_s),
                            timeout_keep_alive=5)
    uvicorn.Server(config).run()
