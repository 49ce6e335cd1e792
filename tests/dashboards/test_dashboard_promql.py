"""Every dashboard query is PromQL that Prometheus accepts, and the joins give what the panels expect.

Uses `promtool` (Debian package `prometheus`): skipped where it is not installed,
except under CI (CI=true), where its absence fails the tests.
JSON is written where promtool expects YAML: JSON is YAML.
"""

from __future__ import annotations

import itertools
import json
import subprocess

from dashboards.common import PARENTS_EXPR
from dashboards.registry import all_queries, variable_queries
from tests.tools import require


def promtool(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([require("promtool"), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_every_query_parses(tmp_path):
    queries = list(itertools.chain(all_queries(), variable_queries()))
    rules = {"groups": [{"name": "chiso-dashboards", "rules": [
        {"record": f"chiso:dashboard_query_{n}", "expr": expr} for n, (_, _, expr) in enumerate(queries)]}]}
    (tmp_path / "queries.yml").write_text(json.dumps(rules, ensure_ascii=False), encoding="utf-8")
    result = promtool("check", "rules", "queries.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(queries)} rules found" in result.stdout


# A small catalogue: dng ─┬─ dng-snv ── xa-a
#                         └─ dng-stc
SERIES = [
    ('dvc_unit_info{unit="dng",name="UBND thành phố Đà Nẵng",level="province"}', "1x10"),
    ('dvc_unit_info{unit="dng-snv",name="Sở Nội vụ",parent="dng",level="department"}', "1x10"),
    ('dvc_unit_info{unit="dng-stc",name="Sở Tài chính",parent="dng",level="department"}', "1x10"),
    ('dvc_unit_info{unit="xa-a",name="Xã A",parent="dng-snv",level="commune"}', "1x10"),
    ('dvc_index_score{unit="dng",window="30d"}', "82x10"),
    ('dvc_index_score{unit="dng-snv",window="30d"}', "91x10"),
    ('dvc_index_score{unit="dng-stc",window="30d"}', "64x10"),
    ('dvc_index_score{unit="xa-a",window="30d"}', "40x10"),
    ('dvc_index_score{unit="dng-snv",window="7d"}', "50x10"),
    ('dvc_kpi_ratio{unit="dng-snv",kpi="on_time",window="30d"}', "0.95x10"),
    ('dvc_kpi_ratio{unit="dng-snv",kpi="online",window="30d"}', "0.5x10"),
    ('dvc_open_dossiers{unit="dng",state="overdue"}', "10x10"),
    ('dvc_open_dossiers{unit="dng-snv",state="overdue"}', "3x10"),
    ('dvc_open_dossiers{unit="dng-stc",state="overdue"}', "7x10"),
    ('dvc_open_dossiers{unit="dng-stc",state="nearing_due"}', "2x10"),
    ('dvc_events_total{type="received"}', "0+60x10"),
    ('dvc_events_total{type="resolved"}', "0+30x10"),
]
SNV = 'name="Sở Nội vụ",unit="dng-snv"'
STC = 'name="Sở Tài chính",unit="dng-stc"'


def queries_of(title: str, values: dict) -> list[str]:
    return [expr for _, panel, expr in all_queries(values) if panel == title]


def test_queries_evaluate_as_the_panels_expect(tmp_path):
    values = {"parent": "dng", "unit": "dng", "window": "30d", "__rate_interval": "5m"}
    ranking = queries_of("Xếp hạng đơn vị trực thuộc", values)
    cases = [
        # Ranking: the children of dng only (not the grandchild, not dng), one row key per unit.
        (ranking[0], [(f"{{{SNV}}}", 91), (f"{{{STC}}}", 64)]),
        (ranking[2], [(f"{{{SNV}}}", 0.95)]),  # on_time; dng-stc has no ratio, so no row
        (ranking[3], [(f"{{{SNV}}}", 0.5)]),
        # Score stat: the chosen unit's score, named.
        (queries_of("Điểm chỉ số phục vụ", values)[0],
         [('{name="UBND thành phố Đà Nẵng",unit="dng",window="30d"}', 82)]),
        (queries_of("Xếp loại", values)[0], [('dvc_index_score{unit="dng",window="30d"}', 82)]),
        # The ten children with most overdue dossiers.
        (queries_of("Đơn vị có nhiều hồ sơ quá hạn nhất", values)[0],
         [(f'{{{STC},state="overdue"}}', 7), (f'{{{SNV},state="overdue"}}', 3)]),
        # Events per second by type.
        (queries_of("Sự kiện theo loại", values)[0], [('{type="received"}', 1), ('{type="resolved"}', 0.5)]),
        # The parent variable: units that have children.
        (PARENTS_EXPR, [
            ('dvc_unit_info{unit="dng",name="UBND thành phố Đà Nẵng",level="province"}', 1),
            ('dvc_unit_info{unit="dng-snv",name="Sở Nội vụ",parent="dng",level="department"}', 1)]),
    ]
    tests = {"rule_files": [], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in SERIES],
        "promql_expr_test": [
            {"expr": expr, "eval_time": "9m",
             "exp_samples": [{"labels": labels, "value": value} for labels, value in samples]}
            for expr, samples in cases],
    }]}
    (tmp_path / "tests.yml").write_text(json.dumps(tests, ensure_ascii=False), encoding="utf-8")
    result = promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
