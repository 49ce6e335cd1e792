"""Shape of the generated dashboards: what Grafana and the leaders rely on."""

from __future__ import annotations

import itertools
import json
import re

import pytest

from dashboards.build import GENERATED
from dashboards.common import DATASOURCE_UID, WINDOWS, groups
from dashboards.registry import DASHBOARDS, SAMPLE_VALUES, all_queries, build_all, variable_queries
from processors.index import IndexConfig

EXPECTED_UIDS = ["chiso-overview", "chiso-unit", "chiso-ops"]
VIETNAMESE = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]",
                        re.IGNORECASE)
# outputs.md's metrics, the extra pipeline metrics, and Prometheus's own per-target series.
KNOWN_METRICS = {
    "dvc_kpi_ratio", "dvc_kpi_measure", "dvc_index_score", "dvc_index_points", "dvc_open_dossiers",
    "dvc_index_indicator_points", "dvc_index_indicator_points_lost", "dvc_index_points_at_stake",
    "dvc_unit_info", "dvc_events_total", "dvc_events_duplicate_total", "dvc_events_invalid_total",
    "dvc_consumer_lag_messages", "dvc_pipeline_last_applied_timestamp_seconds", "dvc_alerts_sent_total",
    "dvc_scrape_duration_seconds", "dvc_scrape_errors_total", "up", "scrape_duration_seconds",
}
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range"}


@pytest.fixture(scope="module")
def built():
    return build_all()


def content_panels(data):
    return [p for p in data["panels"] if p["type"] != "row"]


def variables(data):
    return {v["name"]: v for v in data["templating"]["list"]}


def test_fixed_unique_uids(built):
    assert list(built) == EXPECTED_UIDS == list(DASHBOARDS)
    assert [d["uid"] for d in built.values()] == EXPECTED_UIDS


def test_committed_files_parse_and_carry_their_uid():
    for uid in EXPECTED_UIDS:
        data = json.loads((GENERATED / f"{uid}.json").read_text(encoding="utf-8"))
        assert data["uid"] == uid and data["title"]


def test_vietnamese_titles_and_descriptions(built):
    assert built["chiso-overview"]["title"] == "Tổng quan Bộ chỉ số phục vụ"
    assert built["chiso-unit"]["title"] == "Chi tiết đơn vị"
    assert built["chiso-ops"]["title"] == "Vận hành hệ thống"
    for data in built.values():
        assert VIETNAMESE.search(data["description"].splitlines()[0])
        for panel in data["panels"]:
            assert VIETNAMESE.search(panel["title"]), panel["title"]
            if panel["type"] != "row":
                first_line = panel["description"].splitlines()[0]
                assert VIETNAMESE.search(first_line), panel["title"]


def test_every_panel_has_the_datasource_variable_and_targets(built):
    for data in built.values():
        for panel in content_panels(data):
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel["targets"], panel["title"]
            ref_ids = [t["refId"] for t in panel["targets"]]
            assert all(ref_ids) and len(set(ref_ids)) == len(ref_ids), panel["title"]
            for query in panel["targets"]:
                assert query["datasource"] == panel["datasource"]
                assert query["expr"].strip()


def test_datasource_variable_defaults_to_the_provisioned_uid(built):
    for data in built.values():
        ds = variables(data)["datasource"]
        assert ds["type"] == "datasource" and ds["query"] == "prometheus"
        assert ds["current"]["value"] == DATASOURCE_UID
    provisioning = (GENERATED.parent.parent / "deploy/grafana/provisioning/datasources/chiso.yml").read_text("utf-8")
    assert f"uid: {DATASOURCE_UID}" in provisioning


def test_window_variable(built):
    for uid in ("chiso-overview", "chiso-unit"):
        window = variables(built[uid])["window"]
        assert window["type"] == "custom"
        assert [o["value"] for o in window["options"]] == ["today", "7d", "30d", "mtd", "qtd", "ytd", "all"]
        assert window["current"]["value"] == "30d"
        # Grafana parses "text : value" pairs out of the query; they must agree with the options.
        pairs = [part.split(" : ") for part in window["query"].split(",")]
        assert [(v, t) for t, v in pairs] == WINDOWS


def test_unit_variables(built):
    parent = variables(built["chiso-overview"])["parent"]
    unit = variables(built["chiso-unit"])["unit"]
    for variable in (parent, unit):
        assert variable["type"] == "query" and variable["query"].startswith("query_result(")
        assert variable["datasource"]["uid"] == "${datasource}"
        assert "(?<text>" in variable["regex"] and "(?<value>" in variable["regex"]
    sample = '{level="province",name="UBND thành phố Đà Nẵng",parent="",unit="dng"} 1 1700000000000'
    match = re.search(parent["regex"].strip("/").replace("?<", "?P<"), sample)
    assert match and match["text"] == "UBND thành phố Đà Nẵng" and match["value"] == "dng"


def test_every_referenced_variable_is_defined(built):
    pattern = re.compile(r"\$\{(\w+)[^}]*\}|\$(\w+)")
    for data in built.values():
        defined = set(variables(data)) | BUILTIN_VARIABLES
        texts = [q["expr"] for p in content_panels(data) for q in p["targets"]]
        texts += [v.get("query", "") for v in data["templating"]["list"] if isinstance(v.get("query"), str)]
        for text in texts:
            for match in pattern.finditer(text):
                name = match.group(1) or match.group(2)
                assert name in defined or name.isdigit(), (data["uid"], name, text)


def test_grid_positions_fit_and_do_not_overlap(built):
    for data in built.values():
        boxes = []
        for panel in data["panels"]:
            pos = panel["gridPos"]
            assert pos["w"] > 0 and pos["h"] > 0 and pos["x"] >= 0 and pos["y"] >= 0
            assert pos["x"] + pos["w"] <= 24, panel["title"]
            boxes.append((panel["title"], pos))
        for (a_title, a), (b_title, b) in itertools.combinations(boxes, 2):
            apart = (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
                     or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"])
            assert apart, (data["uid"], a_title, b_title)


def test_panel_ids_unique(built):
    for data in built.values():
        ids = [p["id"] for p in data["panels"]]
        assert len(set(ids)) == len(ids) and 0 not in ids


def test_only_known_metrics_are_queried():
    keywords = {"sum", "max", "by", "on", "group_left", "group", "rate", "increase", "time", "topk",
                "sort_desc", "and", "label_replace", "unit", "name", "type", "reason", "state",
                "partition", "parent", "measure"}
    for uid, title, expr in itertools.chain(all_queries(), variable_queries()):
        stripped = re.sub(r'"[^"]*"', "", expr)  # drop string literals
        stripped = re.sub(r"\[[^\]]*\]", "", stripped)  # and range selectors
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", stripped))
        metrics = {w for w in words if w.startswith("dvc_") or w in {"up", "scrape_duration_seconds"}}
        assert metrics, (uid, title, expr)
        assert metrics <= KNOWN_METRICS, (uid, title, metrics - KNOWN_METRICS)
        assert words - keywords - KNOWN_METRICS <= {"job", "kpi", "window", "group", "level", "indicator"}, (title, words)


def test_all_queries_substitutes_every_variable():
    queries = list(all_queries())
    total = sum(len(p["targets"]) for d in build_all().values() for p in content_panels(d))
    assert len(queries) == total
    for uid, title, expr in queries:
        assert "$" not in expr, (uid, title, expr)
    assert any('unit="dng"' in e for _, _, e in queries)
    custom = list(all_queries({"window": "7d", "parent": "dng-snv"}))
    assert any('window="7d"' in e and 'parent="dng-snv"' in e for _, _, e in custom)
    assert SAMPLE_VALUES["window"] == "30d"


def test_group_maxima_match_kpis(built):
    bargauge = next(p for p in built["chiso-overview"]["panels"] if p["title"] == "Điểm theo nhóm chỉ số")
    maxima = {}
    for override in bargauge["fieldConfig"]["overrides"]:
        assert override["matcher"]["id"] == "byFrameRefID"
        maxima[override["matcher"]["options"]] = override["properties"][0]["value"]
    by_ref = {t["refId"]: re.search(r'group="(\w+)"', t["expr"])[1] for t in bargauge["targets"]}
    assert {by_ref[ref]: m for ref, m in maxima.items()} == {
        "transparency": 18, "timeliness": 20, "online_service": 12,
        "online_payment": 10, "satisfaction": 18, "digitization": 22}
    assert sum(m for _, _, m in groups(IndexConfig())) == 100


def test_group_maxima_and_bands_follow_the_index_settings():
    """A province's own maxima and band limits reach its dashboards (chiso dashboards push)."""
    config = IndexConfig(maxima={**IndexConfig().maxima, "dossier_on_time": 25.0},
                         bands=((95.0, "excellent"), (85.0, "good"), (75.0, "fair"), (55.0, "average")))
    overview = build_all(config)["chiso-overview"]
    bargauge = next(p for p in overview["panels"] if p["title"] == "Điểm theo nhóm chỉ số")
    assert 25.0 in [o["properties"][0]["value"] for o in bargauge["fieldConfig"]["overrides"]]
    score = next(p for p in overview["panels"] if p["type"] == "stat" and "thresholds" in p["fieldConfig"]["defaults"])
    limits = [s["value"] for s in score["fieldConfig"]["defaults"]["thresholds"]["steps"]]
    assert limits == [None, 55.0, 75.0, 85.0, 95.0]


def grafana_range_mapping(mappings, value):
    """Grafana's rule: the first range mapping with from <= value <= to wins (null = unbounded)."""
    for mapping in mappings:
        low, high = mapping["options"]["from"], mapping["options"]["to"]
        if (low is None or value >= low) and (high is None or value <= high):
            return mapping["options"]["result"]["text"]
    return None


def threshold_colour(steps, value):
    colour = steps[0]["color"]
    for step in steps[1:]:
        if value >= step["value"]:
            colour = step["color"]
    return colour


@pytest.mark.parametrize("score, band, colour", [
    (100, "Xuất sắc", "dark-green"), (90, "Xuất sắc", "dark-green"), (89.99, "Tốt", "green"),
    (80, "Tốt", "green"), (79.9, "Khá", "yellow"), (70, "Khá", "yellow"), (69.9, "Trung bình", "orange"),
    (50, "Trung bình", "orange"), (49.99, "Yếu", "red"), (0, "Yếu", "red"),
])
def test_band_mapping_and_colours_follow_kpis(built, score, band, colour):
    for uid in ("chiso-overview", "chiso-unit"):
        panel = next(p for p in built[uid]["panels"] if p["title"] == "Xếp loại")
        defaults = panel["fieldConfig"]["defaults"]
        assert grafana_range_mapping(defaults["mappings"], score) == band
        assert threshold_colour(defaults["thresholds"]["steps"], score) == colour
    table = next(p for p in built["chiso-overview"]["panels"] if p["type"] == "table")
    band_column = next(o for o in table["fieldConfig"]["overrides"] if o["matcher"]["options"] == "Xếp loại")
    props = {p["id"]: p["value"] for p in band_column["properties"]}
    assert grafana_range_mapping(props["mappings"], score) == band


def test_ranking_table_columns(built):
    table = next(p for p in built["chiso-overview"]["panels"] if p["type"] == "table")
    assert all(t["format"] == "table" and t["instant"] for t in table["targets"])
    assert [t["id"] for t in table["transformations"]] == ["merge", "organize"]
    organize = table["transformations"][1]["options"]
    headers = [organize["renameByName"].get(name, name)
               for name, _ in sorted(organize["indexByName"].items(), key=lambda kv: kv[1])]
    assert headers == ["Đơn vị", "Điểm", "Xếp loại", "Đúng hạn", "Trực tuyến", "Thanh toán trực tuyến",
                       "Số hóa", "Hài lòng", "unit"]
    assert table["options"]["sortBy"] == [{"desc": True, "displayName": "Điểm"}]
    kpis = [re.search(r'kpi="(\w+)"', t["expr"]) for t in table["targets"]]
    assert [k[1] for k in kpis if k] == ["on_time", "online", "online_payment", "digitization", "satisfaction"]
    for query in table["targets"]:
        assert 'parent="$parent"' in query["expr"] and query["expr"].startswith("max by (unit, name)")


def test_ops_dashboard_covers_pipeline_metrics(built):
    exprs = " ".join(q["expr"] for p in content_panels(built["chiso-ops"]) for q in p["targets"])
    for metric in ("dvc_events_total", "dvc_events_invalid_total", "dvc_events_duplicate_total",
                   "dvc_consumer_lag_messages", "dvc_pipeline_last_applied_timestamp_seconds",
                   "dvc_scrape_duration_seconds", "dvc_scrape_errors_total", 'up{job="chiso"}'):
        assert metric in exprs, metric
