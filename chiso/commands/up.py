"""`chiso up`: the whole system on one machine, supervised.

Starts (when CHISO_KAFKA / CHISO_REDIS are unset) an embedded broker and Redis,
creates the topics, then runs the stream worker(s), the HTTP server and the
simulator as child processes. A child that dies is restarted; Ctrl-C or SIGTERM
stops everything in order (producers first, stores last). The addresses of the
embedded services go to ``<state_dir>/runtime.json`` so that `chiso report`,
`chiso replay` and `chiso simulate` find them without any setting.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from chiso.embedded import EmbeddedProcess, die_with_parent, start_broker, start_redis, stop_process
from chiso.instance import check_port_free, hold_instance
from chiso.runtime import runtime_file
from chiso.settings import Settings
from chiso.supervisor import EmbeddedSupervisor, ServiceLost
from streams.topics import ensure_topics


@dataclass
class Child:
    name: str
    argv: list[str]
    log_path: Path
    restart: bool = True
    proc: subprocess.Popen | None = None
    restarts: int = 0

    def start(self, env: dict[str, str]) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=die_with_parent,
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout_s)


class Stop(Exception):
    pass


def _on_signal(signum, frame) -> None:
    raise Stop()


def wait_healthy(url: str, timeout_s: float, child: Child) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if child.proc is not None and child.proc.poll() is not None:
            raise RuntimeError(f"the HTTP server exited (see {child.log_path})")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout_s}s")


def banner(settings: Settings, embedded: list[EmbeddedProcess], log_dir: Path, simulate: bool) -> str:
    base = f"http://{settings.http_host}:{settings.http_port}"
    kinds = {e.name for e in embedded}
    lines = [
        "",
        "chiso đang chạy / chiso is running",
        f"  Trang chủ / Home          {base}/",
        f"  Chỉ số / KPIs (API)       {base}/api/v1/kpis?window=30d",
        f"  Xếp hạng / Ranking        {base}/api/v1/ranking?parent=dng&window=30d",
        f"  Đơn vị / Units            {base}/api/v1/units",
        f"  Prometheus metrics        {base}/metrics",
        f"  Sẵn sàng / Readiness      {base}/readyz",
        f"  Kafka  {settings.kafka}{' (embedded)' if 'kafka' in kinds else ''}",
        f"  Redis  {settings.redis}{' (embedded)' if 'redis' in kinds else ''}",
        f"  Logs   {log_dir}",
        f"  Simulator: {'on' if simulate else 'off'}",
        f"  Thông báo / Notifier: {settings.notify_recipients or 'off (CHISO_NOTIFY_RECIPIENTS)'}",
        "Nhấn Ctrl-C để dừng / Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


def run(args) -> int:
    return up(Settings(), simulate=not args.no_simulate, workers=args.workers)


def up(settings: Settings, simulate: bool = True, workers: int = 1) -> int:
    # Before anything starts: one `chiso up` per state directory, and a free HTTP port
    # (each a one-line UserError, never a banner for another instance's server).
    hold_instance(settings.state_dir)
    check_port_free(settings.http_host, settings.http_port)
    log_dir = settings.state_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    embedded: list[EmbeddedProcess] = []
    children: list[Child] = []
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        started = time.monotonic()
        updates = {}
        if not settings.kafka:
            broker = start_broker(log_dir)
            embedded.append(broker)
            updates["kafka"] = f"127.0.0.1:{broker.port}"
        if not settings.redis:
            redis_proc = start_redis(log_dir, data_dir=settings.state_dir / "redis")  # AOF: a restart keeps the numbers
            embedded.append(redis_proc)
            updates["redis"] = f"redis://127.0.0.1:{redis_proc.port}/0"
        settings = settings.model_copy(update=updates)
        ensure_topics(settings.kafka, settings.topics, settings.partitions)
        runtime_file(settings).write_text(json.dumps({"kafka": settings.kafka, "redis": settings.redis, "pid": os.getpid()}))

        env = dict(os.environ, CHISO_KAFKA=settings.kafka, CHISO_REDIS=settings.redis,
                   CHISO_HTTP_PORT=str(settings.http_port), CHISO_HTTP_HOST=settings.http_host,
                   CHISO_STATE_DIR=str(settings.state_dir), PYTHONUNBUFFERED="1")
        if any(e.name == "kafka" for e in embedded):
            # the embedded broker starts empty after a restart: keep the numbers, read the new log
            env.setdefault("CHISO_ON_LOG_RESET", "continue")
        py = sys.executable
        children = [Child(f"worker-{i}", [py, "-m", "chiso.cli", "worker"], log_dir / f"worker-{i}.log") for i in range(workers)]
        server = Child("server", [py, "-m", "chiso.cli", "serve"], log_dir / "server.log")
        children.append(server)
        if settings.notify_recipients:
            children.append(Child("notifier", [py, "-m", "chiso.cli", "notify"], log_dir / "notifier.log"))
        if simulate:
            children.append(Child("simulator", [py, "-m", "chiso.cli", "simulate"], log_dir / "simulator.log", restart=False))
        for child in children:
            child.start(env)
        wait_healthy(f"http://{settings.http_host}:{settings.http_port}/healthz", 30, server)
        print(banner(settings, embedded, log_dir, simulate), flush=True)
        print(f"  (ready to answer in {time.monotonic() - started:.1f}s)", flush=True)

        def broker_restarted() -> None:
            ensure_topics(settings.kafka, settings.topics, settings.partitions)
            for child in children:
                if child.name.startswith("worker"):
                    child.stop()  # restarted below, against the new log

        supervisor = EmbeddedSupervisor(embedded, log_dir, broker_restarted, lambda line: print(line, flush=True))
        while True:
            time.sleep(0.5)
            supervisor.check()
            for child in children:
                if child.proc is not None and child.proc.poll() is not None and child.restart:
                    child.restarts += 1
                    print(f"{child.name} exited with {child.proc.returncode}; restarting (see {child.log_path})", flush=True)
                    time.sleep(min(child.restarts, 10))
                    child.start(env)
    except Stop:
        print("\nĐang dừng / stopping…", flush=True)
        return 0
    except ServiceLost as exc:
        print(f"chiso up: {exc}", file=sys.stderr, flush=True)
        return 1
    except (RuntimeError, TimeoutError, OSError) as exc:
        # e.g. the HTTP port is taken: say so plainly, then clean up below
        print(f"chiso up: {exc}. Is port {settings.http_port} free? (CHISO_HTTP_PORT)", file=sys.stderr, flush=True)
        return 1
    finally:
        # A second signal (Ctrl-C twice, or `timeout` signalling the whole process
        # group) must not interrupt the clean-up and leave services behind.
        for s in previous:
            signal.signal(s, signal.SIG_IGN)
        for child in reversed(children):
            child.stop()
        for proc in reversed(embedded):
            proc.stop()
        runtime_file(settings).unlink(missing_ok=True)
        for s, handler in previous.items():
            signal.signal(s, handler)
