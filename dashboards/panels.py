"""Panels about one unit's index, shared by the overview and the unit drill-down.

Each factory takes the name of the template variable that holds the unit
(`parent` on the overview, `unit` on the drill-down).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, stat, timeseries
from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue

from dashboards.common import (
    DS,
    STATES,
    band_mappings,
    band_percentage_thresholds,
    band_thresholds,
    fixed_colour,
    groups,
    last_value,
    legend_list,
    ref_ids,
    target,
    tooltip_all,
    with_names,
)
from processors import vocabulary
from processors.index import INDICATORS, IndexConfig


def score_stat(var: str, config: IndexConfig) -> stat.Panel:
    return (
        stat.Panel()
        .title("Điểm chỉ số phục vụ")
        .description("Điểm Bộ chỉ số (0–100) của đơn vị và toàn bộ đơn vị trực thuộc trong kỳ tính.\n"
                     "Service index score (0–100) of the unit's subtree over the window.")
        .datasource(DS)
        .with_target(target(with_names(f'dvc_index_score{{unit="${var}",window="$window"}}'),
                            "A", "{{name}}"))
        .unit("none").decimals(1).min(0).max(100)
        .thresholds(band_thresholds(config))
        .no_value("Chưa có dữ liệu")
        .reduce_options(last_value())
        .graph_mode(common.BigValueGraphMode.AREA)
        .color_mode(common.BigValueColorMode.VALUE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
    )


def band_stat(var: str, config: IndexConfig) -> stat.Panel:
    return (
        stat.Panel()
        .title("Xếp loại")
        .description("Xếp loại theo điểm: ≥90 xuất sắc, ≥80 tốt, ≥70 khá, ≥50 trung bình, dưới 50 yếu.\n"
                     "Band of the score (kpis.md §4).")
        .datasource(DS)
        .with_target(target(f'dvc_index_score{{unit="${var}",window="$window"}}', "A", "Xếp loại"))
        .unit("none").min(0).max(100)
        .thresholds(band_thresholds(config))
        .mappings(band_mappings(config))
        .no_value("Chưa có dữ liệu")
        .reduce_options(last_value())
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .text_mode(common.BigValueTextMode.VALUE)
    )


def points_bargauge(config: IndexConfig, *, decimals: int, names: common.BarGaugeNamePlacement) -> bargauge.Panel:
    """Horizontal bars of points against each bar's own maximum (set per query),
    coloured by the share of the maximum reached."""
    return (
        bargauge.Panel()
        .datasource(DS)
        .unit("none").decimals(decimals).min(0)
        .thresholds(band_percentage_thresholds(config))
        .no_value("–")
        .reduce_options(last_value())
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .orientation(common.VizOrientation.HORIZONTAL)
        .value_mode(common.BarGaugeValueMode.COLOR)
        .name_placement(names)
        .show_unfilled(True)
    )


def group_points_bargauge(var: str, config: IndexConfig) -> bargauge.Panel:
    """One query per group, so bars keep the order of kpis.md §4 and each gets its own max."""
    panel = points_bargauge(config, decimals=1, names=common.BarGaugeNamePlacement.TOP).title(
        "Điểm theo nhóm chỉ số").description(
        "Điểm đạt được của sáu nhóm chỉ số so với điểm tối đa của nhóm.\n"
        "Points of each of the six groups against the group's maximum.")
    for ref, (group, name, maximum) in zip(ref_ids(), groups(config)):
        expr = f'dvc_index_points{{unit="${var}",group="{group}",window="$window"}}'
        panel = (panel.with_target(target(expr, ref, f"{name} (tối đa {maximum})", instant=True))
                 .override_by_query(ref, [DynamicConfigValue(id_val="max", value=maximum)]))
    return panel


def indicator_points_bargauge(var: str, config: IndexConfig) -> bargauge.Panel:
    """index.md's 21 indicators: where the points are won and lost."""
    panel = points_bargauge(config, decimals=2, names=common.BarGaugeNamePlacement.LEFT).title(
        "Điểm theo chỉ số thành phần").description(
        "Điểm của từng chỉ số thành phần (21 chỉ số, cách tính của Cổng DVC quốc gia) so với "
        "điểm tối đa: thanh ngắn là chỗ đang mất điểm.\n"
        "Points of each of the 21 indicators against its maximum: short bars are where points are lost.")
    names = vocabulary.labels(vocabulary.INDICATORS)
    for ref, spec in zip(indicator_refs(), INDICATORS):
        maximum = config.maxima[spec.code]
        expr = f'dvc_index_indicator_points{{unit="${var}",indicator="{spec.code}",window="$window"}}'
        panel = (panel.with_target(target(expr, ref, f"{names[spec.code]} (tối đa {maximum:g})", instant=True))
                 .override_by_query(ref, [DynamicConfigValue(id_val="max", value=maximum)]))
    return panel


def indicator_refs() -> list[str]:
    """Query ref ids for 21 targets: A..Z then AA.. (Grafana accepts any text)."""
    letters = [chr(ord("A") + i) for i in range(26)]
    return letters + [a + b for a in letters for b in letters]


def open_dossiers_stat(var: str, states: list[str]) -> stat.Panel:
    panel = (
        stat.Panel()
        .title("Hồ sơ đang giải quyết")
        .description("Số hồ sơ chưa có kết quả tại thời điểm hiện tại, theo trạng thái.\n"
                     "Open dossiers now, by state (kpis.md §8).")
        .datasource(DS)
        .unit("none").decimals(0)
        .no_value("0")
        .reduce_options(last_value())
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.VALUE)
        .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
        .orientation(common.VizOrientation.HORIZONTAL)
    )
    wanted = [s for s in STATES if s[0] in states]
    for ref, (state, name, colour) in zip(ref_ids(), wanted):
        expr = f'dvc_open_dossiers{{unit="${var}",state="{state}"}}'
        panel = (panel.with_target(target(expr, ref, name, instant=True))
                 .override_by_query(ref, [fixed_colour(colour)]))
    return panel


def score_trend(var: str, config: IndexConfig) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title("Điểm chỉ số theo thời gian")
        .description("Diễn biến điểm chỉ số của kỳ tính đã chọn; các đường đứt là ngưỡng xếp loại.\n"
                     "Score over time; dashed lines are the band limits.")
        .datasource(DS)
        .with_target(target(with_names(f'dvc_index_score{{unit="${var}",window="$window"}}'),
                            "A", "{{name}}"))
        .unit("none").decimals(1).min(0).max(100)
        .thresholds(band_thresholds(config))
        .thresholds_style(common_builder.GraphThresholdsStyleConfig()
                          .mode(common.GraphThresholdsStyleMode.DASHED))
        .line_width(2).fill_opacity(10)
        .span_nulls(False)
        .legend(legend_list())
        .tooltip(tooltip_all())
    )


def open_dossiers_trend(var: str, states: list[str], *, stacked: bool = False) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title("Hồ sơ quá hạn, sắp đến hạn theo thời gian" if not stacked
               else "Hồ sơ đang giải quyết theo thời gian")
        .description("Số hồ sơ đang giải quyết theo trạng thái, theo thời gian.\n"
                     "Open dossiers by state over time.")
        .datasource(DS)
        .unit("none").decimals(0).min(0)
        .line_width(2).fill_opacity(30 if stacked else 10)
        .legend(legend_list())
        .tooltip(tooltip_all())
    )
    if stacked:
        panel = panel.stacking(common_builder.StackingConfig().mode(common.StackingMode.NORMAL))
    wanted = [s for s in STATES if s[0] in states]
    for ref, (state, name, colour) in zip(ref_ids(), wanted):
        expr = f'dvc_open_dossiers{{unit="${var}",state="{state}"}}'
        panel = (panel.with_target(target(expr, ref, name))
                 .override_by_query(ref, [fixed_colour(colour)]))
    return panel

