"""Shared constants and small factories for the chiso dashboards.

Everything a leader reads is Vietnamese; the metric and label names stay as
`outputs.md` fixes them. Every panel asks the datasource picked by the
`datasource` variable, whose default is the provisioned datasource's fixed uid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard, prometheus
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    DashboardRangeMapOptions,
    DataSourceRef,
    DynamicConfigValue,
    RangeMap,
    Threshold,
    ThresholdsMode,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from processors import vocabulary
from processors.index import IndexConfig

DATASOURCE_UID = "chiso-prometheus"
DATASOURCE_NAME = "Chiso Prometheus"
DATASOURCE_VAR = "datasource"
DS = DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VAR}}}")
TAGS = ["chiso", "generated"]

# Labels come from the one vocabulary (processors/vocabulary.py); maxima and band
# limits from the index settings, passed in by whoever builds the dashboards.
WINDOWS: list[tuple[str, str]] = [(t.id, t.vi) for t in vocabulary.WINDOWS]
DEFAULT_WINDOW = "30d"
KPIS: list[tuple[str, str]] = [(t.id, t.vi) for t in vocabulary.RATIOS]
KPI_NAMES = dict(KPIS)
MEASURES: list[tuple[str, str]] = [(t.id, t.vi) for t in vocabulary.MEASURES]
MEASURE_NAMES = dict(MEASURES)

STATE_COLOURS = {"overdue": "red", "nearing_due": "orange", "paused": "blue", "not_due": "green",
                 "overdue_no_apology": "dark-red"}
# kpis.md §8: state, Vietnamese name, colour.
STATES: list[tuple[str, str, str]] = [(t.id, t.vi, STATE_COLOURS[t.id]) for t in vocabulary.OPEN_STATES]

BAND_COLOURS = {"excellent": "dark-green", "good": "green", "fair": "yellow", "average": "orange", "weak": "red"}


def groups(config: IndexConfig) -> list[tuple[str, str, float]]:
    """(group, Vietnamese name, maximum points), in the index's order."""
    return [(t.id, t.vi, config.group_max(t.id)) for t in vocabulary.GROUPS]


def bands(config: IndexConfig) -> list[tuple[float, str, str, str]]:
    """(lower limit, key, Vietnamese name, colour), highest first; "weak" from 0."""
    names = vocabulary.labels(vocabulary.BANDS)
    limits = [*config.bands, (0.0, "weak")]
    return [(low, key, names[key], BAND_COLOURS[key]) for low, key in limits]


# Values that make every expression runnable outside Grafana (`all_queries`):
# `dng` is the root of the sample catalogue (sources/data/units.csv).
SAMPLE_VALUES: dict[str, str] = {
    "window": DEFAULT_WINDOW,
    "parent": "dng",
    "unit": "dng",
    DATASOURCE_VAR: DATASOURCE_UID,
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
}


# ---- queries -------------------------------------------------------------

def with_names(expr: str, unit_selector: str = "") -> str:
    """`expr` with a `name` label joined from dvc_unit_info (`unit_selector` filters it).

    `group by` makes the right side one series per unit even if several chiso
    instances are scraped, so the join can never become many-to-many.
    """
    info = f"dvc_unit_info{{{unit_selector}}}" if unit_selector else "dvc_unit_info"
    return f"{expr} * on(unit) group_left(name) group by (unit, name) ({info})"


def target(expr: str, ref_id: str, legend: str | None = None, *, instant: bool = False,
           table: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).ref_id(ref_id).datasource(DS)
    if legend is not None:
        query = query.legend_format(legend)
    query = query.instant() if instant or table else query.range()
    if table:
        query = query.format(PromQueryFormat.TABLE)
    return query


def ref_ids() -> Iterable[str]:
    return (chr(ord("A") + i) for i in range(26))


# ---- field configuration -------------------------------------------------

def band_thresholds(config: IndexConfig) -> dashboard.ThresholdsConfig:
    steps = [Threshold(value=None if low == 0 else float(low), color=colour)
             for low, _, _, colour in reversed(bands(config))]
    return dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


def band_percentage_thresholds(config: IndexConfig) -> dashboard.ThresholdsConfig:
    """The same colours relative to a field's max: points of a group against its maximum."""
    return band_thresholds(config).mode(ThresholdsMode.PERCENTAGE)


def band_mappings(config: IndexConfig) -> list[RangeMap]:
    """Score → band name. Grafana takes the first matching range, so highest first."""
    mappings = []
    for index, (low, _, name, colour) in enumerate(bands(config)):
        mappings.append(RangeMap(DashboardRangeMapOptions(
            from_val=float(low), to=100.0 if index == 0 else None,
            result=ValueMappingResult(text=name, color=colour, index=index))))
    return mappings


def fixed_colour(colour: str) -> DynamicConfigValue:
    return DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})


def ratio_thresholds(config: IndexConfig) -> dashboard.ThresholdsConfig:
    """Band colours for a ratio in [0, 1]."""
    steps = [Threshold(value=None if low == 0 else low / 100, color=colour)
             for low, _, _, colour in reversed(bands(config))]
    return dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


def count_thresholds(colour: str) -> dashboard.ThresholdsConfig:
    return dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
        [Threshold(value=None, color=colour)])


def last_value() -> common_builder.ReduceDataOptions:
    return common_builder.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def legend_list() -> common_builder.VizLegendOptions:
    return (common_builder.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True))


def tooltip_all() -> common_builder.VizTooltipOptions:
    return (common_builder.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING))


# ---- variables -----------------------------------------------------------

def datasource_variable() -> dashboard.DatasourceVariable:
    return (dashboard.DatasourceVariable(DATASOURCE_VAR)
            .label("Nguồn dữ liệu")
            .type("prometheus")
            .current(VariableOption(selected=True, text=DATASOURCE_NAME, value=DATASOURCE_UID)))


def window_variable() -> dashboard.CustomVariable:
    # "text : value" pairs: Grafana shows the Vietnamese text and puts the value in queries.
    options = [VariableOption(selected=key == DEFAULT_WINDOW, text=name, value=key)
               for key, name in WINDOWS]
    return (dashboard.CustomVariable("window")
            .label("Kỳ tính")
            .description("Khoảng thời gian tính chỉ số (kpis.md §5).")
            .values(",".join(f"{name} : {key}" for key, name in WINDOWS))
            .options(options)
            .current(VariableOption(selected=True, text=dict(WINDOWS)[DEFAULT_WINDOW],
                                    value=DEFAULT_WINDOW)))


# query_result renders each series as `{level="…",name="…",parent="…",unit="…"} 1 <ts>`
# (labels sorted by name), so one regex yields the unit's name as text, its id as value.
UNIT_REGEX = r'/name="(?<text>[^"]*)".*unit="(?<value>[^"]*)"/'

# Units that have children: a unit whose id appears as someone's parent.
PARENTS_EXPR = ('dvc_unit_info and on(unit) label_replace('
                'group by (parent) (dvc_unit_info{parent!=""}), "unit", "$1", "parent", "(.+)")')
UNITS_EXPR = "dvc_unit_info"


def unit_variable(name: str, label: str, expr: str, description: str) -> dashboard.QueryVariable:
    return (dashboard.QueryVariable(name)
            .label(label)
            .description(description)
            .datasource(DS)
            .query(f"query_result({expr})")
            .regex(UNIT_REGEX)
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC))


def dashboard_links() -> list[dashboard.DashboardLink]:
    return [dashboard.DashboardLink("Bảng chỉ số khác")
            .type(DashboardLinkType.DASHBOARDS)
            .tags(["chiso"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)]


# ---- JSON ----------------------------------------------------------------

def base_dashboard(uid: str, title: str, description: str, *, refresh: str = "1m",
                   time_from: str = "now-7d") -> dashboard.Dashboard:
    """What every chiso dashboard shares: tags, crosshair, refresh, Vietnam's time
    zone, the links between dashboards and the datasource variable."""
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .refresh(refresh)
        .time(time_from, "now")
        .timezone("Asia/Ho_Chi_Minh")
        .links(dashboard_links())
        .with_variable(datasource_variable())
    )


def to_dict(builder: dashboard.Dashboard) -> dict:
    """The dashboard as plain JSON data, with panel ids numbered in layout order."""
    data = json.loads(JSONEncoder().encode(builder.build()))
    for number, panel in enumerate(data.get("panels", []), start=1):
        panel["id"] = number
    for variable in data["templating"].get("list", []):
        # The SDK writes interval-variable settings on every variable; Grafana's
        # schema (and its own exports) have them on interval variables only.
        if variable["type"] != "interval":
            for key in ("auto", "auto_count", "auto_min"):
                variable.pop(key, None)
    return data


def encode(data: Mapping) -> str:
    """Deterministic text: sorted keys, 2-space indent, UTF-8 kept readable, final newline."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace Grafana variables by `values`; unknown ones (such as `$1`) stay as they are."""
    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return values.get(name, match.group(0))
    return _VARIABLE.sub(replace, expr)
