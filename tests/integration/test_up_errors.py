"""`chiso up` refuses, in one line and before its banner, a taken HTTP port and a
state directory another `chiso up` holds (#12) — no restart loop, nothing started."""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def up(state_dir: Path, port: int) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHISO_")}
    env.update(CHISO_HTTP_PORT=str(port), CHISO_STATE_DIR=str(state_dir), PYTHONUNBUFFERED="1")
    # a restart loop would never end: the timeout makes that a failure, not a hang
    return subprocess.run([sys.executable, "-m", "chiso.cli", "up", "--no-simulate"], env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_taken_port_is_reported_before_the_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = up(tmp_path, port)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Ctrl-C" not in out.stdout and "restarting" not in out.stdout + out.stderr
    assert out.stderr.strip() == (f"chiso up: cổng / port {port} on 127.0.0.1: already in use; is another server "
                                  "running? Choose another with CHISO_HTTP_PORT")
    assert not (tmp_path / "logs").exists()  # nothing was started


def test_one_chiso_up_per_state_directory(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    fd = os.open(tmp_path / "up.lock", os.O_RDWR | os.O_CREAT)
    os.write(fd, b"4242\n")
    fcntl.flock(fd, fcntl.LOCK_EX)  # what a running `chiso up` holds
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        out = up(tmp_path, port)
    finally:
        os.close(fd)
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stderr.strip() == (f"chiso up: another `chiso up` (pid 4242) is running with state directory {tmp_path}; "
                                  "stop it, or give this one its own CHISO_STATE_DIR")
    assert "Ctrl-C" not in out.stdout


def test_chiso_serve_on_a_taken_port_is_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHISO_")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env.update(CHISO_HTTP_PORT=str(port), CHISO_STATE_DIR=str(tmp_path), CHISO_KAFKA="127.0.0.1:1",
                   CHISO_REDIS="redis://127.0.0.1:1/0")
        out = subprocess.run([sys.executable, "-m", "chiso.cli", "serve"], env=env, capture_output=True, text=True,
                             timeout=120)
    assert out.returncode == 1 and out.stderr.strip() == (
        f"chiso serve: cổng / port {port} on 127.0.0.1: already in use; is another server running? "
        "Choose another with CHISO_HTTP_PORT")
