"""The generated dashboards validate against Grafana 11.6's own types.

The schemas in dashboards/schema/ are made from @grafana/schema's TypeScript
types by tools/make_dashboard_schema.sh (ts-json-schema-generator).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import fastjsonschema
import pytest

from dashboards.build import GENERATED
from dashboards.registry import build_all

SCHEMA = Path(__file__).resolve().parents[2] / "dashboards" / "schema"


def compiled(name: str):
    return fastjsonschema.compile(json.loads((SCHEMA / f"{name}.schema.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def validate_dashboard():
    return compiled("dashboard")


@pytest.fixture(scope="module")
def panel_validators():
    validators = {}
    for path in sorted(SCHEMA.glob("panel-*.schema.json")):
        _, panel_type, part = path.name.removesuffix(".schema.json").split("-")
        validators[(panel_type, part)] = compiled(path.name.removesuffix(".schema.json"))
    return validators


def committed():
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(GENERATED.glob("*.json"))}


def test_schemas_are_present():
    assert (SCHEMA / "dashboard.schema.json").is_file()
    assert "@grafana/schema 11.6" in (SCHEMA / "VERSION").read_text(encoding="utf-8")


@pytest.mark.parametrize("uid", ["chiso-overview", "chiso-unit", "chiso-ops"])
def test_dashboard_matches_grafana_schema(uid, validate_dashboard):
    validate_dashboard(committed()[uid])


def test_panel_options_and_custom_field_config_match_their_plugin_schema(panel_validators):
    checked = set()
    for data in build_all().values():
        for panel in data["panels"]:
            if panel["type"] == "row":
                continue
            options = panel.get("options")
            custom = panel.get("fieldConfig", {}).get("defaults", {}).get("custom")
            for part, value in (("options", options), ("fieldconfig", custom)):
                validator = panel_validators.get((panel["type"], part))
                if validator is not None and value is not None:
                    try:
                        validator(value)
                    except fastjsonschema.JsonSchemaException as error:
                        pytest.fail(f"{data['uid']} / {panel['title']} / {part}: {error.message}")
                    checked.add((panel["type"], part))
    assert {("stat", "options"), ("table", "options"), ("bargauge", "options"),
            ("timeseries", "options"), ("timeseries", "fieldconfig"), ("table", "fieldconfig")} <= checked


def test_schema_rejects_a_broken_dashboard(validate_dashboard):
    broken = copy.deepcopy(committed()["chiso-overview"])
    broken["panels"][1]["gridPos"]["w"] = "wide"
    with pytest.raises(fastjsonschema.JsonSchemaException):
        validate_dashboard(broken)
    broken = copy.deepcopy(committed()["chiso-overview"])
    broken["graphTooltip"] = 7
    with pytest.raises(fastjsonschema.JsonSchemaException):
        validate_dashboard(broken)
