"""The Prometheus and Alertmanager files under deploy/ are valid, tested and documented.

Runs promtool and amtool (Debian packages `prometheus`, `prometheus-alertmanager`).
A missing binary fails the test rather than skipping it (tests/tools.py).

The rule and test files are read as text, not parsed as YAML: the project does not
depend on PyYAML, and the layout of these files is ours to keep regular.
"""

import re
import subprocess
from pathlib import Path

import pytest

from tests.tools import require

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
RULES = ROOT / "deploy" / "prometheus" / "rules" / "chiso-alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "tests" / "chiso-alerts.test.yml"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
ALERTS_DOC = ROOT / "docs" / "alerts.md"

ANNOTATIONS = ("summary", "summary_en", "description", "runbook", "runbook_url")


def run(tool: str, *args: str) -> str:
    """Run a Prometheus tool, fail with its output unless it exits 0, return stdout."""
    path = require(tool)
    proc = subprocess.run(
        [path, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, f"{tool} {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def alert_blocks() -> dict[str, str]:
    """Each alerting rule's text, by alert name."""
    text = RULES.read_text(encoding="utf-8")
    starts = list(re.finditer(r"^\s*- (alert|record|name): (\S+)", text, re.MULTILINE))
    blocks = {}
    for here, following in zip(starts, [*starts[1:], None]):
        if here.group(1) == "alert":
            end = following.start() if following else len(text)
            blocks[here.group(2)] = text[here.start() : end]
    return blocks


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub derives from the headings of a Markdown text."""
    anchors = set()
    for heading in re.findall(r"^#+\s+(.+?)\s*$", markdown, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
        anchors.add(slug.replace(" ", "-"))
    return anchors


def test_prometheus_config_is_valid():
    run("promtool", "check", "config", str(PROMETHEUS_CONFIG))


def test_alert_rules_are_valid():
    run("promtool", "check", "rules", "--lint=all", "--lint-fatal", str(RULES))


def test_alert_rules_pass_their_unit_tests():
    run("promtool", "test", "rules", str(RULE_TESTS))


def test_alertmanager_config_is_valid():
    run("amtool", "check-config", str(ALERTMANAGER_CONFIG))


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=warning", "category=dossier", "unit=xa-ab", "level=commune"], "unit-desk"),
        (["severity=info", "category=dossier", "unit=xa-ab", "level=commune"], "unit-desk"),
        (
            ["severity=critical", "category=dossier", "unit=xa-ab", "level=commune"],
            "it-oncall,unit-desk",
        ),
        (["severity=warning", "category=dossier", "unit=tinh", "level=province"], "province-office"),
        (
            ["severity=warning", "category=index", "unit=so-tp", "level=department"],
            "province-leaders,unit-desk",
        ),
        (
            ["severity=warning", "category=index", "unit=tinh", "level=province"],
            "province-leaders,province-office",
        ),
        (["severity=critical", "category=pipeline"], "it-oncall,it-centre"),
        (["severity=warning", "category=pipeline"], "it-centre"),
        (["alertname=Unknown"], "it-centre"),
    ],
)
def test_alerts_route_to_the_documented_receivers(labels, receivers):
    out = run(
        "amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}", *labels
    )
    assert out.strip() == receivers


def test_every_alert_has_severity_category_and_annotations():
    blocks = alert_blocks()
    assert blocks, f"no alerting rule found in {RULES}"
    for name, block in blocks.items():
        assert re.search(r"^\s+severity: (critical|warning|info)$", block, re.MULTILINE), name
        assert re.search(r"^\s+category: (dossier|index|pipeline)$", block, re.MULTILINE), name
        for key in ANNOTATIONS:
            assert re.search(rf"^\s+{key}: \S", block, re.MULTILINE), f"{name} lacks {key}"
        assert f"runbook_url: 'docs/alerts.md#{name.lower()}'" in block, name


def test_every_alert_is_tested_firing_and_not_firing():
    cases = re.findall(
        r"alertname: (\w+)\n\s+exp_alerts:(.*)$",
        RULE_TESTS.read_text(encoding="utf-8"),
        re.MULTILINE,
    )
    fires = {name for name, rest in cases if rest.strip() != "[]"}
    stays_quiet = {name for name, rest in cases if rest.strip() == "[]"}
    alerts = set(alert_blocks())
    assert alerts - fires == set(), "alerts never tested firing"
    assert alerts - stays_quiet == set(), "alerts never tested not firing"
    assert (fires | stays_quiet) - alerts == set(), "tests of alerts that do not exist"


def test_every_alert_has_a_runbook_section():
    anchors = github_anchors(ALERTS_DOC.read_text(encoding="utf-8"))
    missing = {name for name in alert_blocks() if name.lower() not in anchors}
    assert missing == set()
    for anchor in ("routing", "tuning"):
        assert anchor in anchors
