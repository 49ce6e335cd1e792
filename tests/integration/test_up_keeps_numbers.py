"""`chiso up` on embedded defaults keeps its numbers: its Redis persists (AOF in
the state directory); its broker, whose memory log starts empty after a restart,
is read as a new log (rule ``continue``). It supervises both: a killed Redis or
broker is reported in one line and restarted, and the numbers end equal to the
batch reference every time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from chiso.embedded import free_port
from sources.producers import key_of, make_producer
from tests.integration.conftest import TEST_PROCEDURES
from tests.integration.test_pipeline import NOW, assert_event_counters, assert_matches_reference, messy_feed
from tests.stack import wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Up:
    def __init__(self, state_dir: Path, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHISO_")}
        env.update(CHISO_HTTP_PORT=str(port), CHISO_STATE_DIR=str(state_dir), PYTHONUNBUFFERED="1",
                   CHISO_NOW=NOW, CHISO_PROCEDURES=str(TEST_PROCEDURES), CHISO_PARTITIONS="4",
                   CHISO_IDENTITY_CHECK_S="2", CHISO_BATCH_WITHIN_S="0.1")
        self.state_dir = state_dir
        self.proc = subprocess.Popen([sys.executable, "-m", "chiso.cli", "up", "--no-simulate"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(x.decode() for x in self.proc.stdout), daemon=True).start()
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        self.wait_line("Ctrl-C")
        self.runtime = json.loads((state_dir / "runtime.json").read_text())

    def wait_line(self, text: str, timeout_s: float = 90) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            assert self.proc.poll() is None, "".join(self.lines)
            time.sleep(0.1)
        raise AssertionError(f"no line with {text!r}: {''.join(self.lines)}")

    def logs(self) -> str:
        return "".join(self.lines) + "\n".join(
            p.read_text(errors="replace")[-2000:] for p in (self.state_dir / "logs").glob("*.log"))

    def send(self, messages: list[bytes]) -> None:
        producer = make_producer(self.runtime["kafka"])
        for value in messages:
            producer.send("dossier-events", key=key_of(value), value=value)
        producer.flush()
        producer.close()

    def ready(self) -> None:
        wait_ready(self.http, 240, self.logs)

    def embedded_pid(self, name: str) -> int:
        needle = {"redis": b"redis-server", "kafka": b"broker"}[name]
        port = self.runtime[name].rsplit(":", 1)[1].split("/")[0].encode()
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if needle in cmd and port in cmd:
                    return int(pid)
        raise AssertionError(f"no embedded {name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.http.close()


def settled(up: Up, events: list[dict], messages: list[bytes]) -> None:
    up.ready()
    view = SimpleNamespace(http=up.http)
    assert_matches_reference(view, events)
    assert_event_counters(view, events, messages)


def test_embedded_services_die_and_chiso_up_restarts_keep_every_number(tmp_path: Path) -> None:
    port = free_port()
    up = Up(tmp_path, port)
    events: list[dict] = []
    messages: list[bytes] = []
    try:
        for seed, kill in ((51, "redis"), (52, "kafka"), (53, None)):
            batch, batch_messages = messy_feed(seed=seed, dossiers=150)
            up.send(batch_messages)
            events += batch
            messages += batch_messages
            settled(up, events, messages)
            if kill:
                os.kill(up.embedded_pid(kill), signal.SIGKILL)
                line = up.wait_line("exited with code")
                assert "restarting" in line, line
                if kill == "kafka":
                    up.wait_line("worker-0 exited")  # restarted against the new, empty log
                up.lines.clear()
        up.stop()
        assert (tmp_path / "redis" / "appendonlydir").is_dir()

        up = Up(tmp_path, port)  # a plain restart: Redis from its AOF, an empty broker
        batch, batch_messages = messy_feed(seed=54, dossiers=150)
        up.send(batch_messages)
        settled(up, events + batch, messages + batch_messages)
    finally:
        up.stop()
