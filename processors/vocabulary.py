"""The words chiso shows: every id of the contract with its Vietnamese and
English label, in the order a leader reads them.

One copy for the CLI, the dashboards and the wall (served to the page at
``/api/v1/vocabulary``), so a label is changed in one place. Ids are those of
``shared/spec``; labels follow the wording of provincial reports.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Term:
    id: str
    vi: str
    en: str

    def label(self, lang: str = "vi") -> str:
        return self.en if lang == "en" else self.vi


def _terms(*rows: tuple[str, str, str]) -> tuple[Term, ...]:
    return tuple(Term(*row) for row in rows)


# kpis.md §5, in the order a leader thinks of them.
WINDOWS = _terms(
    ("today", "Hôm nay", "Today"),
    ("7d", "7 ngày qua", "Last 7 days"),
    ("30d", "30 ngày qua", "Last 30 days"),
    ("mtd", "Từ đầu tháng", "Month to date"),
    ("qtd", "Từ đầu quý", "Quarter to date"),
    ("ytd", "Từ đầu năm", "Year to date"),
    ("all", "Toàn bộ thời gian", "All time"),
)

# kpis.md §2.
MEASURES = _terms(
    ("received", "Tiếp nhận", "Received"),
    ("received_online", "Tiếp nhận trực tuyến", "Received online"),
    ("received_direct", "Tiếp nhận trực tiếp", "Received in person"),
    ("received_postal", "Tiếp nhận qua bưu chính công ích", "Received by public postal service"),
    ("received_online_eligible", "Tiếp nhận, TTHC có dịch vụ công trực tuyến", "Received, procedure offered online"),
    ("received_online_eligible_online", "… trong đó nộp trực tuyến", "… of which submitted online"),
    ("received_digitized", "Số hóa khi tiếp nhận", "Digitised at reception"),
    ("received_synced", "Đã đồng bộ", "Synced to the national portal"),
    ("resolved", "Đã giải quyết", "Resolved"),
    ("resolved_early", "Giải quyết trước hạn", "Resolved early"),
    ("resolved_on_time", "Giải quyết đúng hạn", "Resolved on time"),
    ("resolved_late", "Giải quyết trễ hạn", "Resolved late"),
    ("resolved_e_result", "Trả kết quả điện tử", "Electronic result"),
    ("resolved_late_no_apology", "Trễ hạn, chưa có thư xin lỗi", "Late, no apology letter"),
    ("withdrawn", "Rút hồ sơ", "Withdrawn"),
    ("rejected", "Từ chối", "Rejected"),
    ("paid", "Đã nộp phí, lệ phí", "Fees paid"),
    ("paid_online", "Nộp phí trực tuyến", "Fees paid online"),
    ("rated", "Được đánh giá", "Rated"),
    ("rated_satisfied", "Đánh giá hài lòng", "Rated satisfied"),
)

# kpis.md §3: the operational ratios.
RATIOS = _terms(
    ("on_time", "Đúng hạn (gồm trước hạn)", "On time (incl. early)"),
    ("early", "Trước hạn", "Early"),
    ("online", "Nộp trực tuyến", "Submitted online"),
    ("online_payment", "Thanh toán trực tuyến", "Paid online"),
    ("digitization", "Số hóa hồ sơ", "Digitised"),
    ("e_result", "Trả kết quả điện tử", "Electronic result"),
    ("satisfaction", "Hài lòng", "Satisfied"),
    ("sync", "Đồng bộ", "Synced"),
)

# The six groups of the index (index.md §3).
GROUPS = _terms(
    ("transparency", "Công khai, minh bạch", "Transparency"),
    ("timeliness", "Tiến độ giải quyết", "Timeliness"),
    ("online_service", "Dịch vụ công trực tuyến", "Online service"),
    ("online_payment", "Thanh toán trực tuyến", "Online payment"),
    ("satisfaction", "Mức độ hài lòng", "Satisfaction"),
    ("digitization", "Số hóa hồ sơ", "Digitisation"),
)

# index.md §3: the 21 indicators, in the portal's order, as leaders read them.
INDICATORS = _terms(
    ("publish_on_time", "Công bố TTHC đúng hạn", "Procedures published on time"),
    ("public_update_on_time", "Công khai TTHC đúng hạn trên CSDL quốc gia", "Procedures made public on time"),
    ("public_content_full", "Công khai đầy đủ nội dung TTHC", "Procedures with complete public content"),
    ("dossier_sync", "Đồng bộ hồ sơ lên Cổng DVC quốc gia", "Dossiers synced to the national portal"),
    ("dossier_on_time", "Hồ sơ xử lý đúng hạn, trong hạn", "Dossiers handled on time"),
    ("online_catalogue", "TTHC cung cấp dịch vụ công trực tuyến", "Procedures offered online"),
    ("online_service_used", "TTHC trực tuyến có phát sinh hồ sơ trực tuyến", "Online procedures used online"),
    ("online_channel", "Hồ sơ nộp trực tuyến", "Dossiers submitted online"),
    ("online_paid_dossiers", "Hồ sơ thanh toán trực tuyến", "Dossiers paid online"),
    ("online_paid_procedures", "TTHC có thanh toán trực tuyến", "Fee procedures paid online"),
    ("fee_data_procedures", "TTHC có phí có phát sinh hồ sơ nộp phí", "Fee procedures with fee dossiers"),
    ("dossier_satisfaction", "Mức độ hài lòng về hồ sơ", "Satisfaction with dossiers"),
    ("petition_on_time", "Phản ánh, kiến nghị xử lý đúng hạn", "Petitions handled on time"),
    ("petition_satisfaction", "Mức độ hài lòng về xử lý phản ánh, kiến nghị", "Satisfaction with petition handling"),
    ("original_result", "Cấp kết quả điện tử", "Electronic results issued"),
    ("digitized_with_result", "Số hóa hồ sơ và cấp kết quả điện tử", "Digitised dossiers with electronic results"),
    ("reused_data", "Tái sử dụng dữ liệu đã số hóa", "Digitised data re-used"),
    ("personal_store", "Khai thác dữ liệu từ kho dữ liệu cá nhân", "Data taken from the personal data store"),
    ("citizen_data_dossiers", "Hồ sơ khai thác dữ liệu dân cư", "Dossiers using population data"),
    ("citizen_data_procedures", "TTHC khai thác dữ liệu dân cư", "Procedures using population data"),
    ("e_certified_copy", "Chứng thực bản sao điện tử", "Electronic certified copies"),
)

# kpis.md §4 bands, best first.
BANDS = _terms(
    ("excellent", "Xuất sắc", "Excellent"),
    ("good", "Tốt", "Good"),
    ("fair", "Khá", "Fair"),
    ("average", "Trung bình", "Average"),
    ("weak", "Yếu", "Weak"),
)

# kpis.md §8: open-dossier states, and the overdue ones without an apology letter.
OPEN_STATES = _terms(
    ("overdue", "Quá hạn", "Overdue"),
    ("nearing_due", "Sắp đến hạn", "Nearing due"),
    ("paused", "Tạm dừng", "Paused"),
    ("not_due", "Chưa đến hạn", "Not yet due"),
    ("overdue_no_apology", "Quá hạn, chưa xin lỗi", "Overdue, no apology"),
)

# kpis.md §7: the period report's lines, as provincial reports word them.
REPORT_LINES = _terms(
    ("carried_over", "Tồn kỳ trước", "Carried over"),
    ("received", "Tiếp nhận trong kỳ", "Received in the period"),
    ("received_online", "  trực tuyến", "  online"),
    ("received_direct", "  trực tiếp", "  in person"),
    ("received_postal", "  bưu chính công ích", "  public postal service"),
    ("to_process", "Tổng số phải giải quyết", "To process"),
    ("resolved", "Đã giải quyết", "Resolved"),
    ("resolved_early", "  trước hạn", "  early"),
    ("resolved_on_time", "  đúng hạn", "  on time"),
    ("resolved_late", "  trễ hạn", "  late"),
    ("withdrawn", "Rút hồ sơ", "Withdrawn"),
    ("rejected", "Từ chối", "Rejected"),
    ("in_progress", "Đang giải quyết", "In progress"),
    ("in_progress_not_due", "  chưa đến hạn", "  not yet due"),
    ("in_progress_overdue", "  quá hạn", "  overdue"),
)

VOCABULARY: dict[str, tuple[Term, ...]] = {
    "windows": WINDOWS, "measures": MEASURES, "ratios": RATIOS, "groups": GROUPS, "indicators": INDICATORS,
    "bands": BANDS, "open_states": OPEN_STATES, "report_lines": REPORT_LINES,
}


def labels(terms: tuple[Term, ...], lang: str = "vi") -> dict[str, str]:
    return {t.id: t.label(lang) for t in terms}


def as_json() -> dict[str, dict[str, dict[str, str]]]:
    """``{kind: {id: {"vi": ..., "en": ...}}}`` for the wall and API clients."""
    return {kind: {t.id: {"vi": t.vi, "en": t.en} for t in terms} for kind, terms in VOCABULARY.items()}
