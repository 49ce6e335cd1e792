"""Real local servers for the notifier's tests: an SMTP server (aiosmtpd) and an
HTTP webhook receiver (the standard library's), each on a free port, recording
what they accept. Behaviour is scripted (answers, holds), never mocked."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from chiso.embedded import free_port


class SmtpRecorder:
    """Accepts every message and records it, unless told to hold one: a held
    message waits for ``release()`` and then is either accepted (recorded
    *before* the hold, as a server that stored it but whose reply never
    arrived) or refused with 451 (not recorded)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.hold_next: str | None = None      # None | "record-then-hold" | "hold-then-refuse"
        self.holding = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        msg = message_from_bytes(envelope.content, policy=policy.default)
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        mode, self.hold_next = self.hold_next, None
        if mode == "record-then-hold":
            self._record(msg)
        if mode is not None:
            self.holding.set()
            while not self._release.is_set():  # aiosmtpd runs in its own thread's loop
                await _sleep(0.05)
            if mode == "hold-then-refuse":
                return "451 4.3.0 try again later"
            return "250 OK"
        self._record(msg)
        return "250 OK"

    def _record(self, msg: EmailMessage) -> None:
        with self._lock:
            self.messages.append(msg)

    def release(self) -> None:
        self._release.set()

    def start(self) -> SmtpRecorder:
        self.controller.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.controller.stop()

    def wait_for(self, n: int, timeout_s: float = 120, why: Callable[[], str] = lambda: "") -> list[EmailMessage]:
        return wait_until(lambda: len(self.messages) >= n, timeout_s, lambda: f"{len(self.messages)} mails; {why()}") or self.messages


async def _sleep(s: float) -> None:
    import asyncio

    await asyncio.sleep(s)


class WebhookRecorder:
    """An HTTP server answering POSTs per path with scripted statuses (then 200),
    recording the JSON bodies it answered 2xx to."""

    def __init__(self, script: dict[str, list[int]] | None = None) -> None:
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.accepted: dict[str, list[dict]] = {}
        self.attempts: dict[str, int] = {}
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                plan = recorder.script.get(self.path, [])
                status = plan.pop(0) if plan else 200
                recorder.attempts[self.path] = recorder.attempts.get(self.path, 0) + 1
                if 200 <= status < 300:
                    recorder.accepted.setdefault(self.path, []).append({**body, "_key": self.headers["Idempotency-Key"]})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> WebhookRecorder:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_until(condition: Callable[[], bool], timeout_s: float, describe: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout_s}s: {describe()}")
