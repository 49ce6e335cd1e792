"""Tổng quan Bộ chỉ số phục vụ: what a leader opens first.

The chosen parent unit's score, band and group points, its open dossiers, and
the ranking of its child units.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, dashboard, table
from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DataTransformerConfig,
    DynamicConfigValue,
)

from dashboards import panels
from dashboards.common import (
    DS,
    PARENTS_EXPR,
    band_mappings,
    band_thresholds,
    base_dashboard,
    count_thresholds,
    last_value,
    ratio_thresholds,
    target,
    unit_variable,
    window_variable,
    with_names,
)
from processors import vocabulary
from processors.index import INDICATORS, IndexConfig

UID = "chiso-overview"
TITLE = "Tổng quan Bộ chỉ số phục vụ"

# Columns of the ranking table after the score: refId, kpi, header.
RANKING_RATIOS = [
    ("C", "on_time", "Đúng hạn"),
    ("D", "online", "Trực tuyến"),
    ("E", "online_payment", "Thanh toán trực tuyến"),
    ("F", "digitization", "Số hóa"),
    ("G", "satisfaction", "Hài lòng"),
]
UNIT_LINK = ("/d/chiso-unit?var-unit=${__data.fields.unit}"
             "&${window:queryparam}&${datasource:queryparam}&${__url_time_range}")


CHILDREN = 'parent="$parent"'


def child_column(expr: str) -> str:
    """One column of a per-child table: only unit and name survive, so every
    query's rows share the same keys and `merge` joins them into one row per unit."""
    return f"max by (unit, name) ({with_names(expr, CHILDREN)})"


def merged_columns(panel: table.Panel, order: list[str], rename: dict[str, str]) -> table.Panel:
    """Join the per-child queries into one row per unit, columns in ``order``."""
    return (
        panel
        .with_transformation(DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(DataTransformerConfig(id_val="organize", options={
            "excludeByName": {"Time": True},
            "indexByName": {name: index for index, name in enumerate(order)},
            "renameByName": rename,
        }))
    )


def ranking_table(config: IndexConfig) -> table.Panel:
    """One instant query per column; `merge` joins them into one row per child unit."""
    panel = (
        table.Panel()
        .title("Xếp hạng đơn vị trực thuộc")
        .description("Các đơn vị trực thuộc đơn vị đã chọn, xếp theo điểm chỉ số (cao trước). "
            "Bấm tên đơn vị để xem chi tiết.\n"
            "Child units of the chosen unit, best score first; click a name to drill down.")
        .datasource(DS)
        .with_target(target(child_column('dvc_index_score{window="$window"}'), "A", table=True))
        .with_target(target(child_column('dvc_index_score{window="$window"}'), "B", table=True))
    )
    for ref, kpi, _ in RANKING_RATIOS:
        panel = panel.with_target(
            target(child_column(f'dvc_kpi_ratio{{kpi="{kpi}",window="$window"}}'), ref, table=True))

    rename = {"name": "Đơn vị", "Value #A": "Điểm", "Value #B": "Xếp loại"}
    rename.update({f"Value #{ref}": header for ref, _, header in RANKING_RATIOS})
    order = ["name", "Value #A", "Value #B"] + [f"Value #{ref}" for ref, _, _ in RANKING_RATIOS] + ["unit"]
    panel = (
        merged_columns(panel, order, rename)
        .unit("percentunit").decimals(1)
        .thresholds(ratio_thresholds(config))
        .cell_options(common.TableColorTextCellOptions())
        .sort_by([common_builder.TableSortByFieldState().display_name("Điểm").desc(True)])
        .override_by_name("Đơn vị", [
            DynamicConfigValue(id_val="custom.cellOptions", value={"type": "auto"}),
            DynamicConfigValue(id_val="links", value=[{"title": "Xem chi tiết đơn vị", "url": UNIT_LINK}]),
            DynamicConfigValue(id_val="custom.minWidth", value=220),
        ])
        .override_by_name("Điểm", [
            DynamicConfigValue(id_val="unit", value="none"),
            DynamicConfigValue(id_val="thresholds", value=band_thresholds(config).build()),
        ])
        .override_by_name("Xếp loại", [
            DynamicConfigValue(id_val="unit", value="none"),
            DynamicConfigValue(id_val="mappings", value=band_mappings(config)),
            DynamicConfigValue(id_val="thresholds", value=band_thresholds(config).build()),
            DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-background"}),
        ])
        .override_by_name("unit", [DynamicConfigValue(id_val="custom.hidden", value=True)])
    )
    return panel


def stake_table(config: IndexConfig) -> table.Panel:
    """index.md §5 per child unit: points at stake now, and lost per group."""
    groups = vocabulary.GROUPS
    panel = (
        table.Panel()
        .title("Điểm có thể mất và điểm đã mất")
        .description("Mỗi đơn vị trực thuộc: số điểm còn có thể mất nếu các hồ sơ đang giải quyết trong hạn "
                     "bị trễ hạn (chỉ với kỳ đang diễn ra), và điểm đã mất ở từng nhóm chỉ số. "
                     "Đơn vị có nhiều điểm có thể mất nhất ở trên cùng.\n"
                     "Per child unit: points its open in-time dossiers would cost if late (running windows), and "
                     "points already lost per group; most at stake first.")
        .datasource(DS)
        .with_target(target(child_column('dvc_index_points_at_stake{window="$window"}'), "A", table=True))
    )
    rename = {"name": "Đơn vị", "Value #A": "Có thể mất"}
    order = ["name", "Value #A"]
    for i, group in enumerate(groups):
        ref = chr(ord("B") + i)
        codes = "|".join(s.code for s in INDICATORS if s.group == group.id)
        expr = f'sum by (unit) (dvc_index_indicator_points_lost{{indicator=~"{codes}",window="$window"}})'
        panel = panel.with_target(target(child_column(expr), ref, table=True))
        rename[f"Value #{ref}"] = f"Mất: {group.vi}"
        order.append(f"Value #{ref}")
    order.append("unit")
    return (
        merged_columns(panel, order, rename)
        .unit("none").decimals(2)
        .thresholds(count_thresholds("orange"))
        .sort_by([common_builder.TableSortByFieldState().display_name("Có thể mất").desc(True)])
        .override_by_name("Đơn vị", [
            DynamicConfigValue(id_val="links", value=[{"title": "Xem chi tiết đơn vị", "url": UNIT_LINK}]),
            DynamicConfigValue(id_val="custom.minWidth", value=220),
        ])
        .override_by_name("unit", [DynamicConfigValue(id_val="custom.hidden", value=True)])
    )


def top_overdue_bargauge() -> bargauge.Panel:
    return (
        bargauge.Panel()
        .title("Đơn vị có nhiều hồ sơ quá hạn nhất")
        .description("Mười đơn vị trực thuộc có nhiều hồ sơ đang quá hạn nhất.\n"
            "The ten child units with the most overdue open dossiers.")
        .datasource(DS)
        .with_target(target(
            "sort_desc(topk(10, "
            + with_names('dvc_open_dossiers{state="overdue"}', 'parent="$parent"') + "))",
            "A", "{{name}}", instant=True))
        .unit("none").decimals(0).min(0)
        .thresholds(count_thresholds("red"))
        .no_value("Không có hồ sơ quá hạn")
        .reduce_options(last_value())
        .display_mode(common.BarGaugeDisplayMode.BASIC)
        .orientation(common.VizOrientation.HORIZONTAL)
        .value_mode(common.BarGaugeValueMode.COLOR)
        .name_placement(common.BarGaugeNamePlacement.LEFT)
        .show_unfilled(True)
    )


def parent_variable() -> dashboard.QueryVariable:
    return unit_variable("parent", "Đơn vị", PARENTS_EXPR,
                         "Đơn vị có đơn vị trực thuộc (tỉnh/thành phố, sở, ngành).")


def overview(config: IndexConfig) -> dashboard.Dashboard:
    return (
        base_dashboard(
            UID, TITLE,
            "Điểm Bộ chỉ số phục vụ người dân, doanh nghiệp (Quyết định 766/QĐ-TTg) của đơn vị "
            "đã chọn và xếp hạng các đơn vị trực thuộc.\n"
            "Leaders' overview of the public-service index (Decision 766/QĐ-TTg).",
        )
        .with_variable(window_variable())
        .with_variable(parent_variable())
        .with_row(dashboard.Row("Kết quả chung"))
        .with_panel(panels.score_stat("parent", config).span(5).height(7))
        .with_panel(panels.band_stat("parent", config).span(4).height(7))
        .with_panel(panels.group_points_bargauge("parent", config).span(9).height(7))
        .with_panel(panels.open_dossiers_stat("parent", ["overdue", "nearing_due", "overdue_no_apology"])
                    .span(6).height(7))
        .with_row(dashboard.Row("Xếp hạng đơn vị trực thuộc"))
        .with_panel(ranking_table(config).span(24).height(14))
        .with_row(dashboard.Row("Điểm thành phần và điểm có thể mất"))
        .with_panel(panels.indicator_points_bargauge("parent", config).span(10).height(16))
        .with_panel(stake_table(config).span(14).height(16))
        .with_row(dashboard.Row("Diễn biến"))
        .with_panel(panels.score_trend("parent", config).span(8).height(9))
        .with_panel(panels.open_dossiers_trend("parent", ["overdue", "nearing_due"]).span(8).height(9))
        .with_panel(top_overdue_bargauge().span(8).height(9))
    )
