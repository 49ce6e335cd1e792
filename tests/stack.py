"""Helpers shared by the tests that run chiso's processes for real
(tests/integration, tests/wall)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable

import httpx

from chiso.settings import Settings


def settings_from(env: dict[str, str]) -> Settings:
    """The Settings a child process started with ``env`` will read."""
    saved = {k: os.environ.get(k) for k in env if k.startswith("CHISO_")}
    os.environ.update({k: v for k, v in env.items() if k.startswith("CHISO_")})
    try:
        return Settings()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process and its children (they run in their own session)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def stop_group(proc: subprocess.Popen, timeout_s: float = 10) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(proc)


def wait_ready(http: httpx.Client, timeout_s: float, logs: Callable[[], str]) -> dict:
    """Poll /readyz until 200; fail with the last answer and the processes' logs."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            r = http.get("/readyz")
            last = r.json()
            if r.status_code == 200:
                return last
        except (httpx.HTTPError, ValueError) as exc:
            last = repr(exc)
        time.sleep(0.3)
    raise AssertionError(f"not ready after {timeout_s}s: {last}\n{logs()}")
