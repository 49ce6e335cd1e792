"""Errors that explain (#12): ordinary mistakes with the real `chiso` command end
in ONE line on stderr and a non-zero exit status, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chiso.embedded import free_port
from tests.gen import INVALID_SAMPLES

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def chiso(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHISO_")}
    return subprocess.run([sys.executable, "-m", "chiso.cli", *args], env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=120, **kw)


def one_line(out: subprocess.CompletedProcess, status: int, *fragments: str) -> str:
    assert out.returncode == status, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr, out.stderr
    # a command that got as far as connecting first says which Kafka/Redis it uses (one line)
    lines = [line for line in out.stderr.splitlines() if not line.startswith("chiso: using ")]
    assert len(lines) == 1, out.stderr
    assert all(f in lines[0] for f in fragments), lines[0]
    return lines[0]


@pytest.fixture
def nowhere(tmp_path: Path) -> dict[str, str]:
    """Settings for a command that must fail before it connects to anything."""
    port = free_port()  # nothing listens there
    return {"CHISO_STATE_DIR": str(tmp_path / "state"), "CHISO_KAFKA": f"127.0.0.1:{port}",
            "CHISO_REDIS": f"redis://127.0.0.1:{port}/0"}


def test_report_dates(nowhere) -> None:
    one_line(chiso("report", "--from", "2026-13-01", "--to", "2026-12-01", env=nowhere), 2,
             "chiso report: argument --from:", "ngày không hợp lệ / invalid date '2026-13-01'")
    one_line(chiso("report", "--from", "30/11/2026", "--to", "01/11/2026", env=nowhere), 2,
             "--from must not be after --to")
    # dd/mm/yyyy is accepted: the command goes on and fails only at the Redis that is not there
    one_line(chiso("report", "--from", "01/11/2026", "--to", "30/11/2026", env=nowhere), 1,
             "chiso report: không kết nối được Redis / cannot reach Redis")


def test_replay_mistakes(nowhere, tmp_path: Path) -> None:
    one_line(chiso("replay", str(tmp_path / "missing.jsonl"), env=nowhere), 2,
             "cannot read", "missing.jsonl: No such file or directory")
    one_line(chiso("replay", str(tmp_path), env=nowhere), 2, "is a directory")
    one_line(chiso("replay", "x.jsonl", "--rate", "-5", env=nowhere), 2, "--rate: must be positive, not -5")
    one_line(chiso("simulate", "--speedup", "0", env=nowhere), 2, "--speedup: must be positive")
    one_line(chiso("up", "--workers", "0", env=nowhere), 2, "--workers: must be positive")


def test_dashboards_push_mistakes(nowhere) -> None:
    one_line(chiso("dashboards", "push", "--url", "localhost:3000", "--token", "t", env=nowhere), 2,
             "'localhost:3000' is not an http(s) URL")
    url = f"http://127.0.0.1:{free_port()}"
    one_line(chiso("dashboards", "push", "--url", url, "--token", "t", env=nowhere), 1,
             f"cannot reach Grafana at {url}", "Connection refused")


def test_bad_settings_stop_start_up_naming_the_key(nowhere, tmp_path: Path) -> None:
    one_line(chiso("serve", env={**nowhere, "CHISO_HTTP_PORT": "abc"}), 2, "CHISO_HTTP_PORT='abc'", "valid integer")
    one_line(chiso("serve", env={**nowhere, "CHISO_UNITS": str(tmp_path / "units.csv")}), 2,
             "CHISO_UNITS=", "units.csv: no such file")
    one_line(chiso("serve", env={**nowhere, "CHISO_PROCEDURES": str(tmp_path / "p.csv")}), 2, "CHISO_PROCEDURES=")
    one_line(chiso("serve", env={**nowhere, "CHISO_SETTINGS": str(tmp_path / "chiso.toml")}), 2,
             "CHISO_SETTINGS=", "chiso.toml: no such file")
    toml = tmp_path / "chiso.toml"
    toml.write_text("htp_port = 9000\n", encoding="utf-8")
    one_line(chiso("report", "--from", "01/11/2026", "--to", "30/11/2026",
                   env={**nowhere, "CHISO_SETTINGS": str(toml)}), 2, "unknown key htp_port")


def test_a_pipe_to_head_ends_quietly(tmp_path: Path) -> None:
    sample = (REPO / "tests" / "data" / "igate-export-sample.csv").read_text(encoding="utf-8").splitlines()
    big = tmp_path / "big.csv"
    big.write_text("\n".join([sample[0], *sample[1:] * 300]) + "\n", encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if not k.startswith("CHISO_")}
    proc = subprocess.Popen([sys.executable, "-m", "chiso.cli", "import-csv", str(big), "--dry-run"], env=base,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert first.startswith(b"{") and len(big.read_text().splitlines()) > 1000
    assert err == "" and proc.returncode == 141, (err, proc.returncode)


def test_replay_of_only_invalid_lines_fails(make_stack, tmp_path: Path) -> None:
    stack = make_stack()
    path = tmp_path / "bad.jsonl"
    path.write_bytes(INVALID_SAMPLES["missing_field"] + b"\n" + INVALID_SAMPLES["not_json"] + b"\n")
    out = subprocess.run([sys.executable, "-m", "chiso.cli", "replay", str(path)], env=stack.env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr
    assert "every line of" in out.stderr and "Traceback" not in out.stderr
    assert "sent 2 event(s)" in out.stdout and "2 invalid" in out.stdout
