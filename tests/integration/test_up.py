"""`chiso up` on embedded defaults: prints where to look, answers, and leaves
nothing running after SIGTERM, even when the whole process group is signalled
twice (as `timeout` does)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from chiso.embedded import free_port

pytestmark = pytest.mark.integration


def processes_using(state_dir: Path) -> set[int]:
    """Processes whose environment or command line names this run's state dir or ports."""
    runtime = json.loads((state_dir / "runtime.json").read_text())
    marks = [str(state_dir).encode(), runtime["kafka"].encode(), runtime["redis"].rsplit(":", 1)[1].split("/")[0].encode()]
    found = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            blob = Path(f"/proc/{pid}/cmdline").read_bytes() + Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if any(m in blob for m in marks):
            found.add(int(pid))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def test_chiso_up_answers_then_stops_everything(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHISO_")}
    env.update(CHISO_HTTP_PORT=str(port), CHISO_STATE_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "chiso.cli", "up", "--no-simulate"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(l.decode() for l in proc.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("Ctrl-C" in l for l in lines):
            time.sleep(0.1)  # the banner comes once the supervisor saw the server healthy
        assert any("Ctrl-C" in l for l in lines), "".join(lines)
        answered = False
        while time.monotonic() < deadline and not answered:
            try:
                answered = httpx.get(f"http://127.0.0.1:{port}/api/v1/kpis?unit=dng&window=30d", timeout=2).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.2)
        assert answered, "no API answer within 60 s"
        children = processes_using(tmp_path)
        assert len(children) >= 4  # broker, Redis, worker, server
        os.killpg(proc.pid, signal.SIGTERM)
        time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    text = "".join(lines)
    assert proc.returncode == 0, text
    assert f"http://127.0.0.1:{port}/api/v1/kpis" in text and "/metrics" in text and "(embedded)" in text
    deadline = time.monotonic() + 60  # a bound, not a timing: the children may take a moment to exit
    while any(alive(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in children if alive(p)] == []
    assert not (tmp_path / "runtime.json").exists()
