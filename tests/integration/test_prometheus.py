"""A real Prometheus scraping a real chiso: the shipped alert rules fire, and
every dashboard panel's query parses and returns data."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx
import orjson
import pytest

from chiso.embedded import free_port, wait_for_port
from dashboards import registry
from tests.gen import INVALID_SAMPLES
from tests.integration.test_pipeline import NOW, messy_feed, send
from tests.tools import require

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules" / "chiso-alerts.yml"


@pytest.fixture
def prometheus(tmp_path: Path):
    binary = require("prometheus")
    procs = []

    def start(target_port: int) -> httpx.Client:
        # The shipped rules, with their `for:` waits removed so a test can see them fire.
        rules = re.sub(r"^(\s*)(for|keep_firing_for): \S+$", r"\1\2: 0s", RULES.read_text(), flags=re.M)
        (tmp_path / "rules.yml").write_text(rules)
        port = free_port()
        (tmp_path / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: ['{tmp_path / 'rules.yml'}']\n"
            "scrape_configs:\n"
            f"  - job_name: chiso\n    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
        )
        proc = subprocess.Popen(
            [binary, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=open(tmp_path / "prometheus.log", "ab"), stderr=subprocess.STDOUT,
        )
        procs.append(proc)
        wait_for_port(port, 30, proc)
        return httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)

    yield start
    for p in procs:
        p.terminate()
        p.wait(10)


def firing(client: httpx.Client) -> set[tuple[str, str]]:
    alerts = client.get("/api/v1/alerts").json()["data"]["alerts"]
    return {(a["labels"]["alertname"], a["labels"].get("unit", "")) for a in alerts if a["state"] == "firing"}


def test_rules_fire_and_every_dashboard_query_returns_data(make_stack, prometheus) -> None:
    stack = make_stack(now=NOW)
    events, messages = messy_feed(seed=41, dossiers=600)
    stack.start("server")
    stack.start("worker")
    send(stack, messages)
    stack.wait_ready()
    prom = prometheus(stack.port)

    deadline = time.monotonic() + 90
    expected = {("DvcOverdueDossiers", "dng-sxd"), ("ChisoInvalidEvents", "")}
    while time.monotonic() < deadline and not expected <= firing(prom):
        time.sleep(1)
        send(stack, [INVALID_SAMPLES["not_json"], orjson.dumps(events[0])])  # keep the rates alive
    assert expected <= firing(prom), firing(prom)

    empty, failed = [], []
    for uid, title, expr in registry.all_queries():
        r = prom.get("/api/v1/query", params={"query": expr})
        if r.status_code != 200 or r.json().get("status") != "success":
            failed.append((uid, title, expr, r.text[:200]))
        elif not r.json()["data"]["result"]:
            empty.append((uid, title, expr))
    assert failed == []
    assert empty == [], "queries without data"
