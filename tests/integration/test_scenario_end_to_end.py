"""The Quảng Nam 2024 Q2 scenario through the whole pipeline: `chiso simulate
--scenario` into the real broker, one worker, then the API's period report and
index equal the published figures (docs/simulator.md for the source)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sources.scenarios.quang_nam_2024q2 import PUBLISHED_POINTS, PUBLISHED_REPORT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_published_quang_nam_figures_come_out_of_the_pipeline(make_stack) -> None:
    stack = make_stack(now="2024-06-14T17:00:00+07:00")
    stack.env["CHISO_PARTITIONS"] = "8"
    stack.start("server")
    stack.start("worker")
    sent = subprocess.run([sys.executable, "-m", "chiso.cli", "simulate", "--scenario", "quang-nam-2024q2"],
                          env=stack.env, capture_output=True, text=True, timeout=900)
    assert sent.returncode == 0, sent.stderr[-2000:]
    stack.wait_ready(timeout_s=1800)
    period = {"from": "2024-03-15", "to": "2024-06-14"}
    report = stack.http.get("/api/v1/report", params=period).json()
    for line, value in PUBLISHED_REPORT.items():
        assert report[line] == value, line
    assert report["received_online"] / report["received"] == pytest.approx(0.732, abs=0.0005)
    kpis = stack.http.get("/api/v1/kpis", params=period).json()
    for group, points in PUBLISHED_POINTS.items():
        assert kpis["index"]["groups"][group] == pytest.approx(points, abs=0.05), group
