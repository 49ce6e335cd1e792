"""Vận hành hệ thống: is the pipeline alive, keeping up, and rejecting little?"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard, stat, timeseries
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
)

from dashboards.common import (
    DS,
    base_dashboard,
    last_value,
    legend_list,
    target,
    tooltip_all,
)
from processors.index import IndexConfig

UID = "chiso-ops"
TITLE = "Vận hành hệ thống"

UP = 'up{job="chiso"}'
EVENTS_RATE = "sum(rate(dvc_events_total[$__rate_interval]))"
INVALID_RATE = "sum(rate(dvc_events_invalid_total[$__rate_interval]))"
LAG = "sum(dvc_consumer_lag_messages)"
APPLIED_AGE = "time() - max(dvc_pipeline_last_applied_timestamp_seconds)"


def steps(*pairs: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
        [Threshold(value=value, color=colour) for value, colour in pairs])


def small_stat(title: str, description: str, expr: str, legend: str) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DS)
        .with_target(target(expr, "A", legend))
        .reduce_options(last_value())
        .graph_mode(common.BigValueGraphMode.AREA)
        .color_mode(common.BigValueColorMode.VALUE)
        .text_mode(common.BigValueTextMode.VALUE)
    )


def up_stat() -> stat.Panel:
    return (
        small_stat("Tiến trình chiso", "Prometheus có thu thập được /metrics của chiso không.\n"
                   "Whether Prometheus can scrape chiso (up).", UP, "{{instance}}")
        .unit("none")
        .thresholds(steps((None, "red"), (1, "green")))
        .mappings([ValueMap({"0": ValueMappingResult(text="Ngừng", color="red", index=0),
                             "1": ValueMappingResult(text="Đang chạy", color="green", index=1)})])
        .no_value("Không thấy mục tiêu")
        .graph_mode(common.BigValueGraphMode.NONE)
        .color_mode(common.BigValueColorMode.BACKGROUND)
    )


def applied_age_stat() -> stat.Panel:
    return (
        small_stat("Độ trễ cập nhật", "Thời gian từ lần cuối áp dụng một sự kiện vào số liệu.\n"
                   "Seconds since the pipeline last applied an event.", APPLIED_AGE, "Độ trễ")
        .unit("s").decimals(0)
        .thresholds(steps((None, "green"), (60, "orange"), (300, "red")))
    )


def lag_stat() -> stat.Panel:
    return (
        small_stat("Sự kiện chờ xử lý", "Tổng số thông điệp Kafka chưa được xử lý (consumer lag).\n"
                   "Total consumer lag, all partitions.", LAG, "Chờ xử lý")
        .unit("none").decimals(0)
        .thresholds(steps((None, "green"), (1000, "orange"), (10000, "red")))
    )


def events_rate_stat() -> stat.Panel:
    return (
        small_stat("Sự kiện nhận mỗi giây", "Số sự kiện hợp lệ được chấp nhận mỗi giây (không tính trùng).\n"
                   "Accepted events per second, duplicates excluded.", EVENTS_RATE, "Sự kiện/giây")
        .unit("ops").decimals(1)
        .thresholds(steps((None, "blue")))
        .no_value("0")
    )


def invalid_rate_stat() -> stat.Panel:
    return (
        small_stat("Sự kiện không hợp lệ mỗi giây", "Số sự kiện bị chuyển sang hàng đợi lỗi (DLQ) mỗi giây.\n"
                   "Events sent to the dead-letter topic per second.", INVALID_RATE, "DLQ/giây")
        .unit("ops").decimals(2)
        .thresholds(steps((None, "green"), (0.001, "orange"), (1, "red")))
        .no_value("0")
    )


def series_panel(title: str, description: str, unit: str) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DS)
        .unit(unit)
        .min(0)
        .line_width(1).fill_opacity(20)
        .legend(legend_list())
        .tooltip(tooltip_all())
    )


def events_by_type() -> timeseries.Panel:
    return (
        series_panel("Sự kiện theo loại", "Sự kiện được chấp nhận mỗi giây, theo loại.\n"
            "Accepted events per second by type.", "ops")
        .with_target(target("sum by (type) (rate(dvc_events_total[$__rate_interval]))", "A", "{{type}}"))
        .stacking(common_builder.StackingConfig().mode(common.StackingMode.NORMAL))
    )


def invalid_by_reason() -> timeseries.Panel:
    return (
        series_panel("Sự kiện lỗi (DLQ) theo lý do", "Sự kiện không hợp lệ mỗi giây, theo lý do từ chối.\n"
            "Dead-lettered events per second by reason.", "ops")
        .with_target(target("sum by (reason) (rate(dvc_events_invalid_total[$__rate_interval]))",
                            "A", "{{reason}}"))
    )


def duplicates_rate() -> timeseries.Panel:
    return (
        series_panel("Sự kiện trùng lặp", "Sự kiện trùng (cùng event_id) bị bỏ qua mỗi giây.\n"
            "Duplicate events dropped per second.", "ops")
        .with_target(target("sum(rate(dvc_events_duplicate_total[$__rate_interval]))", "A", "Trùng lặp"))
    )


def alerts_sent() -> timeseries.Panel:
    return (
        series_panel("Cảnh báo đã gửi (1 giờ)", "Số cảnh báo sắp đến hạn / quá hạn gửi trong một giờ, theo trạng thái.\n"
            "Alerts sent over the last hour, by state.", "none")
        .with_target(target("sum by (state) (increase(dvc_alerts_sent_total[1h]))", "A", "{{state}}"))
    )


def lag_by_partition() -> timeseries.Panel:
    return (
        series_panel("Sự kiện chờ xử lý theo phân vùng", "Consumer lag của từng phân vùng Kafka.\n"
            "Consumer lag per partition.", "none")
        .with_target(target("sum by (partition) (dvc_consumer_lag_messages)", "A", "Phân vùng {{partition}}"))
    )


def applied_age_trend() -> timeseries.Panel:
    return (
        series_panel("Độ trễ cập nhật theo thời gian", "Số giây từ lần cuối áp dụng sự kiện.\n"
            "Seconds since the last applied event.", "s")
        .with_target(target(APPLIED_AGE, "A", "Độ trễ"))
        .thresholds(steps((None, "green"), (60, "orange"), (300, "red")))
        .thresholds_style(common_builder.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.DASHED))
    )


def scrape_duration() -> timeseries.Panel:
    return (
        series_panel("Thời gian tạo /metrics", "Thời gian chiso dựng trang /metrics, và thời gian Prometheus đo được.\n"
            "How long a scrape of /metrics takes.", "s")
        .with_target(target("max(dvc_scrape_duration_seconds)", "A", "chiso tự đo"))
        .with_target(target('max(scrape_duration_seconds{job="chiso"})', "B", "Prometheus đo"))
    )


def scrape_errors() -> timeseries.Panel:
    return (
        series_panel("Lỗi khi tạo /metrics", "Số lần dựng /metrics bị lỗi mỗi giây.\n"
            "Errors while building /metrics, per second.", "ops")
        .with_target(target("sum(rate(dvc_scrape_errors_total[$__rate_interval]))", "A", "Lỗi"))
    )


def up_trend() -> timeseries.Panel:
    return (
        series_panel("Trạng thái tiến trình", "1 = Prometheus thu thập được, 0 = không.\n"
            "up over time.", "none")
        .max(1)
        .with_target(target(UP, "A", "{{instance}}"))
        .line_interpolation(common.LineInterpolation.STEP_AFTER)
    )


def ops(config: IndexConfig) -> dashboard.Dashboard:  # noqa: ARG001 - every dashboard takes the index settings
    return (
        base_dashboard(
            UID, TITLE,
            "Tình trạng đường ống dữ liệu: sự kiện vào, lỗi, trùng lặp, độ trễ, thu thập số liệu.\n"
            "Pipeline health: events in, dead letters, duplicates, lag, scrapes.",
            refresh="30s", time_from="now-6h",
        )
        .with_row(dashboard.Row("Tình trạng"))
        .with_panel(up_stat().span(4).height(5))
        .with_panel(applied_age_stat().span(5).height(5))
        .with_panel(lag_stat().span(5).height(5))
        .with_panel(events_rate_stat().span(5).height(5))
        .with_panel(invalid_rate_stat().span(5).height(5))
        .with_row(dashboard.Row("Luồng sự kiện"))
        .with_panel(events_by_type().span(12).height(8))
        .with_panel(invalid_by_reason().span(12).height(8))
        .with_panel(duplicates_rate().span(6).height(8))
        .with_panel(alerts_sent().span(6).height(8))
        .with_panel(lag_by_partition().span(6).height(8))
        .with_panel(applied_age_trend().span(6).height(8))
        .with_row(dashboard.Row("Thu thập số liệu (/metrics)"))
        .with_panel(scrape_duration().span(8).height(8))
        .with_panel(scrape_errors().span(8).height(8))
        .with_panel(up_trend().span(8).height(8))
    )
