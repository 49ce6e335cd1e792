"""Chi tiết đơn vị: everything chiso knows about one unit (and its subtree)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, dashboard, stat, table, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DataTransformerConfig,
    DynamicConfigValue,
    ValueMap,
    ValueMappingResult,
)

from dashboards import panels
from dashboards.common import (
    DS,
    KPI_NAMES,
    KPIS,
    MEASURE_NAMES,
    MEASURES,
    UNITS_EXPR,
    base_dashboard,
    count_thresholds,
    last_value,
    legend_list,
    ratio_thresholds,
    ref_ids,
    target,
    tooltip_all,
    unit_variable,
    window_variable,
)
from processors.index import IndexConfig

UID = "chiso-unit"
TITLE = "Chi tiết đơn vị"

RECEPTION = ["received", "received_online", "received_direct", "received_postal"]
RESOLUTION = ["resolved", "resolved_early", "resolved_on_time", "resolved_late"]
TREND_KPIS = ["on_time", "online", "online_payment", "digitization", "satisfaction"]


def measures_stat(title: str, description: str, measures: list[str]) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DS)
        .unit("none").decimals(0)
        .thresholds(count_thresholds("blue"))
        .no_value("0")
        .reduce_options(last_value())
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.VALUE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .orientation(common.VizOrientation.HORIZONTAL)
    )
    for ref, measure in zip(ref_ids(), measures):
        expr = f'dvc_kpi_measure{{unit="$unit",measure="{measure}",window="$window"}}'
        panel = panel.with_target(target(expr, ref, MEASURE_NAMES[measure], instant=True))
    return panel


def reception_stat() -> stat.Panel:
    return measures_stat("Hồ sơ tiếp nhận",
                         "Số hồ sơ tiếp nhận trong kỳ, theo kênh.\nDossiers received in the window, by channel.",
                         RECEPTION)


def resolution_stat() -> stat.Panel:
    return measures_stat("Hồ sơ đã giải quyết",
                         "Số hồ sơ giải quyết trong kỳ: trước hạn, đúng hạn, trễ hạn.\n"
                         "Dossiers resolved in the window, by timeliness.",
                         RESOLUTION)


def measures_table() -> table.Panel:
    """Every measure of kpis.md §2, one row each, with its Vietnamese name."""
    names = {key: ValueMappingResult(text=f"{name} ({key})", index=index)
             for index, (key, name) in enumerate(MEASURES)}
    return (
        table.Panel()
        .title("Toàn bộ số liệu trong kỳ")
        .description("Tất cả các chỉ tiêu đếm hồ sơ của đơn vị trong kỳ tính (kpis.md §2).\n"
            "All dossier counts of the unit over the window.")
        .datasource(DS)
        .with_target(target('max by (measure) (dvc_kpi_measure{unit="$unit",window="$window"})',
                            "A", table=True))
        .with_transformation(DataTransformerConfig(id_val="organize", options={
            "excludeByName": {"Time": True},
            "indexByName": {"measure": 0, "Value": 1},
            "renameByName": {"measure": "Chỉ tiêu", "Value": "Số hồ sơ"},
        }))
        .unit("none").decimals(0)
        .thresholds(count_thresholds("text"))
        .override_by_name("Chỉ tiêu", [DynamicConfigValue(id_val="mappings", value=[ValueMap(names)])])
    )


def ratios_bargauge(config: IndexConfig) -> bargauge.Panel:
    panel = (
        bargauge.Panel()
        .title("Các tỷ lệ")
        .description("Tám tỷ lệ của kpis.md §3 trong kỳ tính (trống khi mẫu số bằng 0).\n"
            "The eight ratios over the window; empty where the denominator is 0.")
        .datasource(DS)
        .unit("percentunit").decimals(1).min(0).max(1)
        .thresholds(ratio_thresholds(config))
        .no_value("–")
        .reduce_options(last_value())
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .orientation(common.VizOrientation.HORIZONTAL)
        .value_mode(common.BarGaugeValueMode.COLOR)
        .name_placement(common.BarGaugeNamePlacement.LEFT)
        .show_unfilled(True)
    )
    for ref, (kpi, name) in zip(ref_ids(), KPIS):
        expr = f'dvc_kpi_ratio{{unit="$unit",kpi="{kpi}",window="$window"}}'
        panel = panel.with_target(target(expr, ref, name, instant=True))
    return panel


def ratios_trend() -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title("Các tỷ lệ theo thời gian")
        .description("Diễn biến các tỷ lệ chính của kỳ tính đã chọn.\nMain ratios over time.")
        .datasource(DS)
        .unit("percentunit").decimals(1).min(0).max(1)
        .line_width(2).fill_opacity(0)
        .legend(legend_list())
        .tooltip(tooltip_all())
    )
    for ref, kpi in zip(ref_ids(), TREND_KPIS):
        expr = f'dvc_kpi_ratio{{unit="$unit",kpi="{kpi}",window="$window"}}'
        panel = panel.with_target(target(expr, ref, KPI_NAMES[kpi]))
    return panel


def drilldown_unit_variable() -> dashboard.QueryVariable:
    return unit_variable("unit", "Đơn vị", UNITS_EXPR, "Mọi đơn vị trong danh mục.")


def unit_dashboard(config: IndexConfig) -> dashboard.Dashboard:
    return (
        base_dashboard(
            UID, TITLE,
            "Chỉ số, số liệu và hồ sơ đang giải quyết của một đơn vị (gồm các đơn vị trực thuộc).\n"
            "Drill-down into one unit's subtree: measures, ratios, group points, open dossiers.",
        )
        .with_variable(window_variable())
        .with_variable(drilldown_unit_variable())
        .with_row(dashboard.Row("Chỉ số phục vụ"))
        .with_panel(panels.score_stat("unit", config).span(5).height(8))
        .with_panel(panels.band_stat("unit", config).span(3).height(8))
        .with_panel(panels.group_points_bargauge("unit", config).span(8).height(8))
        .with_panel(ratios_bargauge(config).span(8).height(8))
        .with_panel(panels.indicator_points_bargauge("unit", config).span(24).height(16))
        .with_row(dashboard.Row("Số liệu trong kỳ"))
        .with_panel(reception_stat().span(12).height(5))
        .with_panel(resolution_stat().span(12).height(5))
        .with_panel(measures_table().span(8).height(11))
        .with_panel(ratios_trend().span(8).height(11))
        .with_panel(panels.score_trend("unit", config).span(8).height(11))
        .with_row(dashboard.Row("Tình trạng hồ sơ hiện tại"))
        .with_panel(panels.open_dossiers_stat(
            "unit", ["overdue", "nearing_due", "paused", "not_due", "overdue_no_apology"]).span(8).height(9))
        .with_panel(panels.open_dossiers_trend(
            "unit", ["overdue", "nearing_due", "paused", "not_due"], stacked=True).span(16).height(9))
    )
