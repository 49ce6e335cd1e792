"""The Quảng Nam 2024 Q2 scenario through the whole pipeline: `chiso simulate
--scenario` into the real broker, one worker, then the API's period report and
index equal the published figures exactly (docs/simulator.md for the source),
with the scenario's catalogue and settings in the server's environment, as the
command tells its user."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sources.scenarios import SCENARIOS
from sources.scenarios.quang_nam_2024q2 import (
    PUBLISHED_BAND,
    PUBLISHED_POINTS,
    PUBLISHED_REPORT,
    PUBLISHED_SCORE,
    targets,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_published_quang_nam_figures_come_out_of_the_pipeline(make_stack) -> None:
    spec = SCENARIOS["quang-nam-2024q2"]
    # Any instant after the window: its as-of instant is then the end of 14/6.
    stack = make_stack(now="2024-08-01T09:00:00+07:00")
    stack.env["CHISO_PARTITIONS"] = "8"
    stack.env.update(spec.server_env())
    stack.start("server")
    stack.start("worker")
    sent = subprocess.run([sys.executable, "-m", "chiso.cli", "simulate", "--scenario", "quang-nam-2024q2"],
                          env=stack.env, capture_output=True, text=True, timeout=900)
    assert sent.returncode == 0, sent.stderr[-2000:]
    # The command says which catalogue and settings the server needs.
    assert f"CHISO_PROCEDURES={spec.procedures_path}" in sent.stdout
    assert "CHISO_INDEX__E_CERTIFIED_COPY_SHARE=1.0" in sent.stdout
    stack.wait_ready(timeout_s=1800)
    period = {"from": "2024-03-15", "to": "2024-06-14"}
    report = stack.http.get("/api/v1/report", params=period).json()
    for line, value in PUBLISHED_REPORT.items():
        assert report[line] == value, line
    assert report["received_online"] / report["received"] == pytest.approx(0.732, abs=0.0005)
    kpis = stack.http.get("/api/v1/kpis", params=period).json()
    index = kpis["index"]
    assert kpis["as_of"].startswith("2024-06-15T00:00:00")
    for group, points in PUBLISHED_POINTS.items():
        assert index["groups"][group] == pytest.approx(points, abs=1e-9), group
    assert index["score"] == pytest.approx(PUBLISHED_SCORE, abs=1e-9)
    assert index["band"] == PUBLISHED_BAND
    t = targets()
    indicators = index["indicators"]
    assert indicators["dossier_on_time"]["numerator"] == t["in_time"]
    assert indicators["online_service_used"]["numerator"] == 7
    assert indicators["petition_on_time"]["denominator"] == t["petitions_received"] + t["petitions_carried_in"]
