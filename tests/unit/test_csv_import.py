"""`chiso import-csv`: a dossier export (CSV) turned into events
(processors/csv_import.py, the pure part; streams/csv_import.py, the command).

Instants are written with their zone; all local times are Asia/Ho_Chi_Minh (+07:00).
"""

from __future__ import annotations

import argparse
import csv
import io
import unicodedata
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from chiso.cli import main as chiso_main
from chiso.commands.import_csv import import_csv as run
from processors.events import Event, event_from_dict
from processors.facts import dossier_facts
from sources.csv.cells import parse_amount, parse_datetime
from sources.csv.convert import RowError, RowResult
from sources.csv.mapping import CsvImportError, Mapping, load_mapping
from sources.csv.reader import convert_export, decode_export, iter_export, read_rows, sniff_delimiter

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "igate-export-sample.csv"
MAPPING = load_mapping()
MAPPING_TEXT = (Path(__file__).resolve().parents[2] / "sources/csv/mapping-igate.toml").read_text("utf-8")
VN = timezone(timedelta(hours=7))

BASE = {
    "Mã hồ sơ": "D-0001", "Mã đơn vị": "dng-sxd", "Mã thủ tục": "1.009994", "Kênh nộp": "Trực tuyến",
    "Mức độ DVC": "Toàn trình", "Ngày tiếp nhận": "11/03/2024 09:00", "Ngày hẹn trả": "15/03/2024",
}


def csv_text(*rows: dict[str, str], delimiter: str = ",") -> str:
    header = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(h, "") for h in header])
    return buf.getvalue()


def convert(*rows: dict[str, str], mapping: Mapping = MAPPING, **kw):
    return convert_export(csv_text(*rows), mapping, **kw)


def row_events(mapping: Mapping = MAPPING, unit_prefix: str | None = None, **cells: str) -> list[dict]:
    """The events of one row (BASE with `cells` over it); fails on a row error."""
    conv = convert(BASE | cells, mapping=mapping, unit_prefix=unit_prefix)
    assert not conv.errors, conv.errors
    return conv.events


def row_error(**cells: str) -> RowError:
    conv = convert(BASE | cells)
    assert len(conv.errors) == 1 and not conv.events, conv
    return conv.errors[0]


def by_type(events: list[dict]) -> dict[str, dict]:
    return {e["type"]: e for e in events}


def mapping_with(extra: str) -> Mapping:
    return Mapping.from_toml(MAPPING_TEXT.replace("[defaults]\n", "[defaults]\n" + extra + "\n", 1), "test")


def sample() -> tuple[str, object]:
    text = decode_export(SAMPLE.read_bytes())
    return text, convert_export(text, MAPPING, unit_prefix="dng-")


# -- the sample export ----------------------------------------------------------------


def test_the_sample_converts_to_valid_events_and_reports_its_bad_rows() -> None:
    _, conv = sample()
    assert conv.rows == 31 and len(conv.imported) == 24
    for event in conv.events:
        assert isinstance(event_from_dict(event), Event), event
    ids = [e["event_id"] for e in conv.events]
    assert len(ids) == len(set(ids)) == 127
    assert all(e["event_id"] == f"csv:{e['dossier_id']}:{e['type']}" for e in conv.events)
    assert all(e["occurred_at"].endswith("+07:00") and e.get("due_at", "+07:00").endswith("+07:00")
               for e in conv.events)
    assert {e["source"] for e in conv.events} == {"igate-csv"}
    # line numbers are the file's lines: row 9 has a two-line cell, so row 25 starts on line 27
    assert [(e.line, e.dossier_id) for e in conv.errors] == [
        (27, None), (28, "SXD-240315-0004"), (29, "PHC-240315-0008"), (30, "STP-240314-0004"),
        (31, "PHC-240311-0001"), (32, "HVA-240315-0005"), (33, "STC-240315-0004"),
    ]
    reasons = [e.reason for e in conv.errors]
    assert reasons[0] == "Mã hồ sơ is empty"
    assert reasons[1].startswith("Ngày tiếp nhận: cannot read '15/03/2024 8h30' as a date")
    assert reasons[2] == "Kênh nộp: unknown value 'Qua Zalo' (add it to [values.channel])"
    assert reasons[3] == "Trạng thái 'Đã giải quyết' needs a date in Ngày có kết quả"
    assert reasons[4] == "dossier PHC-240311-0001 is already on line 12"
    assert reasons[5] == ("Ngày có kết quả (2024-03-14T10:00:00+07:00) is before "
                          "Ngày tiếp nhận (2024-03-15T09:00:00+07:00)")
    assert reasons[6].startswith("Ngày hẹn trả: cannot read '30/02/2024' as a date")
    assert not conv.warnings
    skipped = {e.dossier_id for e in conv.errors} - {"PHC-240311-0001"}
    assert not skipped & {e["dossier_id"] for e in conv.events}


def test_sample_dossier_with_same_day_dates_exactly() -> None:
    """PHC-240311-0002: due and payment are dates only, on the day of reception."""
    _, conv = sample()
    src = {"source": "igate-csv"}
    assert [e for e in conv.events if e["dossier_id"] == "PHC-240311-0002"] == [
        {"event_id": "csv:PHC-240311-0002:received", "dossier_id": "PHC-240311-0002", "type": "received",
         "occurred_at": "2024-03-11T08:10:00+07:00", "unit_id": "dng-p-hai-chau", "procedure_id": "2.000815",
         "channel": "direct", "online_service": "partial", "due_at": "2024-03-11T17:00:00+07:00",
         "fee_required": True, "digitized": True} | src,
        {"event_id": "csv:PHC-240311-0002:assigned", "dossier_id": "PHC-240311-0002", "type": "assigned",
         "occurred_at": "2024-03-11T08:10:00+07:00", "officer_id": "Nguyễn Thị Hoa"} | src,
        # "11/03/2024" would be 08:00, before the 08:10 reception: it takes the reception's instant
        {"event_id": "csv:PHC-240311-0002:paid", "dossier_id": "PHC-240311-0002", "type": "paid",
         "occurred_at": "2024-03-11T08:10:00+07:00", "method": "offline", "amount_vnd": 10000} | src,
        {"event_id": "csv:PHC-240311-0002:resolved", "dossier_id": "PHC-240311-0002", "type": "resolved",
         "occurred_at": "2024-03-11T09:00:00+07:00", "result_electronic": False} | src,
        {"event_id": "csv:PHC-240311-0002:returned", "dossier_id": "PHC-240311-0002", "type": "returned",
         "occurred_at": "2024-03-11T09:05:00+07:00"} | src,
        {"event_id": "csv:PHC-240311-0002:rated", "dossier_id": "PHC-240311-0002", "type": "rated",
         "occurred_at": "2024-03-11T09:05:00+07:00", "rating": "satisfied"} | src,
        {"event_id": "csv:PHC-240311-0002:synced", "dossier_id": "PHC-240311-0002", "type": "synced",
         "occurred_at": "2024-03-11T08:10:00+07:00"} | src,
    ]


def test_sample_dossiers_exactly() -> None:
    _, conv = sample()
    events = {e["event_id"]: e for e in conv.events}
    # dates without a time: reception 08:00, resolution 16:00, return 17:00
    assert events["csv:HVA-240312-0002:received"]["occurred_at"] == "2024-03-12T08:00:00+07:00"
    assert events["csv:HVA-240312-0002:resolved"]["occurred_at"] == "2024-03-22T16:00:00+07:00"
    assert events["csv:HVA-240312-0002:returned"]["occurred_at"] == "2024-03-22T17:00:00+07:00"
    # a rejection keeps its (two-line) reason
    assert events["csv:STC-240315-0003:rejected"] == {
        "event_id": "csv:STC-240315-0003:rejected", "dossier_id": "STC-240315-0003", "type": "rejected",
        "occurred_at": "2024-03-18T14:00:00+07:00",
        "reason": "Tên doanh nghiệp trùng với tên doanh nghiệp đã đăng ký.\nĐề nghị chọn tên khác và nộp lại hồ sơ.",
        "source": "igate-csv"}
    assert [e["type"] for e in conv.events if e["dossier_id"] == "STP-240313-0003"] == [
        "received", "assigned", "paid", "withdrawn", "synced"]  # the reason of a withdrawal is not sent
    # an open dossier, with a fee but no payment yet, not synced, no officer
    assert [e["type"] for e in conv.events if e["dossier_id"] == "CA-240313-0003"] == ["received", "paid", "synced"]
    assert [e["type"] for e in conv.events if e["dossier_id"] == "PHC-240318-0007"] == ["received", "assigned"]
    # "Miễn phí": no fee; "200.000 đ": 200000; a payment before the reception stays before it
    assert events["csv:PHC-240311-0001:received"]["fee_required"] is False
    assert events["csv:STP-240311-0001:paid"]["amount_vnd"] == 200_000
    assert events["csv:STC-240311-0001:paid"]["occurred_at"] == "2024-03-11T13:40:00+07:00"
    # "Chờ trả kết quả" is resolved; "Chưa đồng bộ" is no sync; "Chưa đánh giá" is no rating
    assert "csv:PHC-240315-0006:resolved" in events and "csv:PHC-240315-0006:returned" not in events
    assert "csv:CA-240312-0002:synced" not in events
    assert "csv:STP-240312-0002:rated" not in events


def test_sample_facts_follow_the_export() -> None:
    """The events give each dossier the facts the export states (kpis.md §1)."""
    _, conv = sample()
    grouped: dict[str, list[Event]] = {}
    for e in conv.events:
        grouped.setdefault(e["dossier_id"], []).append(event_from_dict(e))
    facts = {d: dossier_facts(d, evs) for d, evs in grouped.items()}
    assert facts["SXD-240311-0002"].timeliness == "late"       # due 01/04, result 03/04
    assert facts["PHC-240311-0001"].timeliness == "early"      # due 12/03, result 11/03
    assert facts["PHC-240312-0003"].timeliness == "on_time"    # due 13/03 17:00, result 13/03 (16:00)
    assert facts["STC-240311-0001"].timeliness == "early"
    assert facts["HVA-240311-0001"].timeliness == "late"
    assert facts["STP-240313-0003"].end_type == "withdrawn"
    assert facts["HVA-240314-0004"].end_type == "rejected"
    assert facts["SXD-240312-0003"].end_type is None and facts["SXD-240312-0003"].fee_required
    assert facts["PHC-240315-0006"].paid_online and facts["PHC-240315-0006"].result_electronic
    assert facts["SXD-240311-0001"].officer == "Trần Văn Bình"
    assert facts["PHC-240312-0003"].rated_at is not None and not facts["PHC-240312-0003"].satisfied
    assert not any(f.orphan for f in facts.values())
    assert sum(f.synced for f in facts.values()) == 20


# -- determinism and re-imports ---------------------------------------------------------


def test_conversion_is_deterministic() -> None:
    text, first = sample()
    second = convert_export(text, load_mapping(), unit_prefix="dng-")
    assert orjson.dumps(first.events) == orjson.dumps(second.events)
    assert first.errors == second.errors


def test_a_later_export_adds_only_the_new_events() -> None:
    """Same ids for the same facts: a re-import only makes duplicates, and a later
    export of a dossier that has since ended adds its end events."""
    before = row_events(**{"Trạng thái": "Đang giải quyết"})
    after = row_events(**{"Trạng thái": "Đã trả kết quả", "Ngày có kết quả": "14/03/2024 10:00",
                          "Ngày trả kết quả": "14/03/2024 15:00"})
    assert after[: len(before)] == before
    assert [e["type"] for e in after[len(before):]] == ["resolved", "returned"]
    assert row_events(**{"Trạng thái": "Đang giải quyết"}) == before


def test_event_id_prefix_is_configurable() -> None:
    text = MAPPING_TEXT.replace('event_id_prefix = "csv"', 'event_id_prefix = "qnam-2024"')
    events = row_events(mapping=Mapping.from_toml(text, "t"))
    assert events[0]["event_id"] == "qnam-2024:D-0001:received"


# -- dates ------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected, has_time", [
    ("15/03/2024 08:12", datetime(2024, 3, 15, 8, 12, tzinfo=VN), True),
    ("15/03/2024 08:12:30", datetime(2024, 3, 15, 8, 12, 30, tzinfo=VN), True),
    ("5/3/2024 8:02", datetime(2024, 3, 5, 8, 2, tzinfo=VN), True),
    ("  15/03/2024   14:00 ", datetime(2024, 3, 15, 14, 0, tzinfo=VN), True),
    ("15/03/2024", datetime(2024, 3, 15, 17, 0, tzinfo=VN), False),          # the default time
    ("15-03-2024", datetime(2024, 3, 15, 17, 0, tzinfo=VN), False),
    ("2024-03-15", datetime(2024, 3, 15, 17, 0, tzinfo=VN), False),
    ("2024-03-15 09:30:00", datetime(2024, 3, 15, 9, 30, tzinfo=VN), True),
    ("2024-03-15T01:00:00Z", datetime(2024, 3, 15, 8, 0, tzinfo=VN), True),  # an offset is kept, shown local
    ("2024-03-15T08:00:00+07:00", datetime(2024, 3, 15, 8, 0, tzinfo=VN), True),
])
def test_dates_are_read_in_local_time(text: str, expected: datetime, has_time: bool) -> None:
    at, timed = parse_datetime(text, MAPPING.date_formats, MAPPING.tz, time(17, 0))
    assert at == expected and timed == has_time
    assert at.isoformat(timespec="seconds").endswith("+07:00")


@pytest.mark.parametrize("text", ["15/03/2024 8h30", "30/02/2024", "15.03.2024", "2024/03/15", "hôm nay", "03/15/2024"])
def test_unreadable_dates_are_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(text, MAPPING.date_formats, MAPPING.tz, time(8, 0))


def test_default_times_of_date_only_cells() -> None:
    events = by_type(row_events(**{
        "Ngày tiếp nhận": "11/03/2024", "Ngày hẹn trả": "15/03/2024", "Trạng thái": "Đã trả kết quả",
        "Ngày có kết quả": "14/03/2024", "Ngày trả kết quả": "15/03/2024", "Đánh giá": "Hài lòng",
        "Ngày đánh giá": "16/03/2024", "Hình thức thanh toán": "Trực tuyến", "Ngày thanh toán": "12/03/2024",
        "Cán bộ xử lý": "cb01", "Ngày chuyển xử lý": "12/03/2024", "Đồng bộ DVCQG": "Có",
        "Ngày đồng bộ": "13/03/2024"}))
    assert events["received"]["occurred_at"] == "2024-03-11T08:00:00+07:00"
    assert events["received"]["due_at"] == "2024-03-15T17:00:00+07:00"
    assert events["resolved"]["occurred_at"] == "2024-03-14T16:00:00+07:00"
    assert events["returned"]["occurred_at"] == "2024-03-15T17:00:00+07:00"
    assert events["rated"]["occurred_at"] == "2024-03-16T17:00:00+07:00"
    assert events["paid"]["occurred_at"] == "2024-03-12T08:00:00+07:00"
    assert events["assigned"]["occurred_at"] == "2024-03-12T08:00:00+07:00"
    assert events["synced"]["occurred_at"] == "2024-03-13T17:00:00+07:00"


def test_default_times_and_time_zone_are_configurable() -> None:
    text = MAPPING_TEXT.replace('due_at = "17:00"', 'due_at = "16:30"').replace(
        'timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Asia/Bangkok"')
    mapping = Mapping.from_toml(text, "t")
    received = row_events(mapping=mapping)[0]
    assert received["due_at"] == "2024-03-15T16:30:00+07:00"
    assert received["occurred_at"] == "2024-03-11T09:00:00+07:00"


def test_a_date_only_cell_never_falls_before_the_event_it_follows() -> None:
    events = by_type(row_events(**{
        "Ngày tiếp nhận": "11/03/2024 17:20", "Ngày hẹn trả": "11/03/2024",    # 17:00 < 17:20
        "Trạng thái": "Đã trả kết quả", "Ngày có kết quả": "11/03/2024",       # 16:00 < 17:20
        "Ngày trả kết quả": "11/03/2024 17:25"}))
    assert events["received"]["due_at"] == "2024-03-11T17:20:00+07:00"
    assert events["resolved"]["occurred_at"] == "2024-03-11T17:20:00+07:00"
    assert events["returned"]["occurred_at"] == "2024-03-11T17:25:00+07:00"


@pytest.mark.parametrize("cells, reason", [
    ({"Ngày hẹn trả": "10/03/2024"},
     "Ngày hẹn trả (2024-03-10T17:00:00+07:00) is before Ngày tiếp nhận (2024-03-11T09:00:00+07:00)"),
    ({"Trạng thái": "Đã giải quyết", "Ngày có kết quả": "11/03/2024 08:59"},
     "Ngày có kết quả (2024-03-11T08:59:00+07:00) is before Ngày tiếp nhận (2024-03-11T09:00:00+07:00)"),
    ({"Trạng thái": "Đã giải quyết", "Ngày có kết quả": "12/03/2024 10:00", "Ngày trả kết quả": "12/03/2024 09:00"},
     "Ngày trả kết quả (2024-03-12T09:00:00+07:00) is before Ngày có kết quả (2024-03-12T10:00:00+07:00)"),
])
def test_dates_out_of_order_are_errors(cells: dict[str, str], reason: str) -> None:
    assert row_error(**cells).reason == reason


# -- value maps -----------------------------------------------------------------------------


@pytest.mark.parametrize("cell, channel", [
    ("Trực tuyến", "online"), ("TRỰC TUYẾN", "online"), ("  trực   tuyến ", "online"),
    (unicodedata.normalize("NFD", "Trực tuyến"), "online"),   # decomposed Unicode (macOS, some exports)
    ("Truc tuyen", "online"),                                 # diacritics stripped
    ("Trực tiếp", "direct"), ("Bưu chính công ích", "postal"), ("BCCI", "postal"),
    ("online", "online"), ("postal", "postal"),              # the contract's own words
])
def test_channel_values(cell: str, channel: str) -> None:
    assert row_events(**{"Kênh nộp": cell})[0]["channel"] == channel


@pytest.mark.parametrize("cell, level", [("Toàn trình", "full"), ("Một phần", "partial"), ("Không", "none"),
                                         ("Mức độ 4", "full"), ("mot phan", "partial")])
def test_online_service_values(cell: str, level: str) -> None:
    assert row_events(**{"Mức độ DVC": cell})[0]["online_service"] == level


@pytest.mark.parametrize("cell, rating", [("Rất hài lòng", "very_satisfied"), ("Hài lòng", "satisfied"),
                                          ("Không hài lòng", "dissatisfied"), ("Chưa đánh giá", None), ("", None)])
def test_rating_values(cell: str, rating: str | None) -> None:
    events = by_type(row_events(**{"Đánh giá": cell}))
    assert events.get("rated", {}).get("rating") == rating
    if rating:  # no result yet and no rating date: dated by the reception
        assert events["rated"]["occurred_at"] == events["received"]["occurred_at"]


@pytest.mark.parametrize("field, cell, expected", [
    ("Số hóa", "Có", True), ("Số hóa", "x", True), ("Số hóa", "Đã số hóa", True), ("Số hóa", "Chưa số hóa", False),
    ("Số hóa", "không", False), ("Số hóa", "", False),
])
def test_boolean_values(field: str, cell: str, expected: bool) -> None:
    assert row_events(**{field: cell})[0]["digitized"] is expected


def test_result_electronic_and_sync() -> None:
    events = by_type(row_events(**{"Trạng thái": "Đã giải quyết", "Ngày có kết quả": "13/03/2024 10:00",
                                   "Kết quả điện tử": "Có", "Đồng bộ DVCQG": "Đã đồng bộ"}))
    assert events["resolved"]["result_electronic"] is True
    assert events["synced"]["occurred_at"] == events["received"]["occurred_at"]
    events = by_type(row_events(**{"Trạng thái": "Đã giải quyết", "Ngày có kết quả": "13/03/2024 10:00",
                                   "Đồng bộ DVCQG": "Chưa đồng bộ"}))
    assert events["resolved"]["result_electronic"] is False and "synced" not in events


def test_digitisation_flags_are_sent_when_the_export_has_them() -> None:
    """reused_data, personal_store and citizen_data (events.md) from their columns,
    Vietnamese or the national portal's names; absent columns send nothing."""
    received = row_events(**{"Tái sử dụng dữ liệu": "Có", "Lấy từ kho dữ liệu": "x",
                             "Xác thực VNeID": "Đã xác thực"})[0]
    assert (received["reused_data"], received["personal_store"], received["citizen_data"]) == (True, True, True)
    received = row_events(**{"DuocSoHoa": "0", "DuocLayTuKhoDMQG": "1", "TaiKhoanDuocXacThucVoiVNeID": "Chưa xác thực"})[0]
    assert (received["reused_data"], received["personal_store"], received["citizen_data"]) == (False, True, False)
    received = row_events()[0]
    assert not {"reused_data", "personal_store", "citizen_data"} & set(received)
    # an empty cell is "not said" too, unless the mapping gives a default
    assert "citizen_data" not in row_events(**{"Xác thực VNeID": ""})[0]
    assert row_events(mapping_with("citizen_data = true"), **{"Xác thực VNeID": ""})[0]["citizen_data"] is True
    assert row_error(**{"DuocSoHoa": "có lẽ"}).reason == (
        "DuocSoHoa: unknown value 'có lẽ' (add it to [values.boolean] or [values.reused_data])")


def test_digitisation_flags_become_the_dossiers_facts() -> None:
    events = row_events(**{"Tái sử dụng dữ liệu": "Có", "Lấy từ kho dữ liệu": "Không", "Xác thực VNeID": "1"})
    f = dossier_facts("D-0001", [event_from_dict(e) for e in events])
    assert (f.reused_data, f.personal_store, f.citizen_data) == (True, False, True)


@pytest.mark.parametrize("cells, reason", [
    ({"Kênh nộp": "Qua Zalo"}, "Kênh nộp: unknown value 'Qua Zalo' (add it to [values.channel])"),
    ({"Mức độ DVC": "Mức độ 5"}, "Mức độ DVC: unknown value 'Mức độ 5' (add it to [values.online_service])"),
    ({"Trạng thái": "Đã hủy"}, "Trạng thái: unknown value 'Đã hủy' (add it to [values.status])"),
    ({"Số hóa": "có lẽ"}, "Số hóa: unknown value 'có lẽ' (add it to [values.boolean] or [values.digitized])"),
    ({"Phí/lệ phí": "năm mươi nghìn"}, "Phí/lệ phí: cannot read 'năm mươi nghìn' as an amount in VND"),
    ({"Đánh giá": "Tạm được"}, "Đánh giá: unknown value 'Tạm được' (add it to [values.rating])"),
])
def test_unknown_values_are_row_errors(cells: dict[str, str], reason: str) -> None:
    assert row_error(**cells).reason == reason


def test_every_problem_of_a_row_is_reported_at_once() -> None:
    err = row_error(**{"Mã đơn vị": "", "Kênh nộp": "Fax", "Ngày hẹn trả": "sớm"})
    assert err.line == 2 and err.dossier_id == "D-0001"
    assert err.reason == ("Mã đơn vị is empty; Kênh nộp: unknown value 'Fax' (add it to [values.channel]); "
                          "Ngày hẹn trả: cannot read 'sớm' as a date (formats: %d/%m/%Y %H:%M:%S, %d/%m/%Y %H:%M, "
                          "%d/%m/%Y, …)")


@pytest.mark.parametrize("text, amount", [
    ("0", 0), ("75000", 75000), ("75.000", 75000), ("75,000", 75000), ("1.200.000", 1_200_000),
    ("1.200.000 đ", 1_200_000), ("1.200.000đ", 1_200_000), ("50.000 VNĐ", 50000), ("50000 VND", 50000),
    ("50000.00", 50000), ("1.200.000,00", 1_200_000), ("1,200,000.00", 1_200_000), ("100 000", 100000),
])
def test_amounts(text: str, amount: int) -> None:
    assert parse_amount(text) == amount


@pytest.mark.parametrize("text", ["-5000", "1.5", "12,5", "abc", "1.20.000"])
def test_bad_amounts(text: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(text)


def test_fee_and_payment() -> None:
    events = by_type(row_events(**{"Phí/lệ phí": "50.000", "Hình thức thanh toán": "Trực tuyến",
                                   "Ngày thanh toán": "11/03/2024 08:55"}))
    assert events["received"]["fee_required"] is True
    assert events["paid"] == {"event_id": "csv:D-0001:paid", "dossier_id": "D-0001", "type": "paid",
                              "occurred_at": "2024-03-11T08:55:00+07:00", "method": "online", "amount_vnd": 50000,
                              "source": "igate-csv"}
    # a fee not paid yet: required, no payment
    events = by_type(row_events(**{"Phí/lệ phí": "50.000"}))
    assert events["received"]["fee_required"] is True and "paid" not in events
    # a method without a date: paid at reception; no fee column value: no amount
    events = by_type(row_events(**{"Hình thức thanh toán": "Tiền mặt"}))
    assert events["paid"]["occurred_at"] == "2024-03-11T09:00:00+07:00" and "amount_vnd" not in events["paid"]
    assert events["received"]["fee_required"] is True
    assert "paid" not in by_type(row_events(**{"Phí/lệ phí": "Miễn phí", "Hình thức thanh toán": "Không"}))
    assert row_error(**{"Ngày thanh toán": "11/03/2024"}).reason == (
        "Ngày thanh toán is given but Hình thức thanh toán is empty")


def test_a_default_payment_method_applies_only_to_rows_with_a_payment_date() -> None:
    mapping = mapping_with('payment_method = "offline"')
    assert "paid" not in by_type(row_events(mapping=mapping))
    events = by_type(row_events(mapping=mapping, **{"Ngày thanh toán": "11/03/2024 10:00"}))
    assert events["paid"]["method"] == "offline"


# -- status and end events ------------------------------------------------------------------


@pytest.mark.parametrize("status, end", [
    ("Đang giải quyết", None), ("Chờ bổ sung", None), ("Đã giải quyết", "resolved"), ("Đã trả kết quả", "resolved"),
    ("Hoàn thành", "resolved"), ("Rút hồ sơ", "withdrawn"), ("Từ chối", "rejected"), ("Không giải quyết", "rejected"),
    ("Dừng xử lý", "stopped"), ("Đã dừng xử lý", "stopped"), ("dung giai quyet", "stopped"),
])
def test_status_gives_the_end_event(status: str, end: str | None) -> None:
    events = row_events(**{"Trạng thái": status, "Ngày có kết quả": "13/03/2024 10:00" if end else ""})
    ends = [e for e in events if e["type"] in ("resolved", "withdrawn", "rejected", "stopped")]
    assert [e["type"] for e in ends] == ([end] if end else [])
    if end:
        assert ends[0]["occurred_at"] == "2024-03-13T10:00:00+07:00"


def test_without_a_status_an_end_date_means_resolved() -> None:
    row = {k: v for k, v in BASE.items()}
    conv = convert(row | {"Ngày hoàn thành": "12/03/2024 10:00"}, row | {"Mã hồ sơ": "D-0002"})
    assert [e["type"] for e in conv.events] == ["received", "resolved", "received"]
    assert conv.columns["ended_at"] == "Ngày hoàn thành"
    assert "status" not in conv.columns


def test_an_end_status_needs_its_date() -> None:
    assert row_error(**{"Trạng thái": "Rút hồ sơ"}).reason == "Trạng thái 'Rút hồ sơ' needs a date in Ngày có kết quả"


def test_cells_that_contradict_the_status_are_ignored_with_a_note() -> None:
    conv = convert(BASE | {"Trạng thái": "Đang giải quyết", "Ngày có kết quả": "12/03/2024",
                           "Ngày trả kết quả": "12/03/2024"})
    assert [e["type"] for e in conv.events] == ["received"]
    assert [str(w) for w in conv.warnings] == [
        "line 2 (D-0001): Ngày có kết quả ignored: Trạng thái is 'Đang giải quyết'",
        "line 2 (D-0001): Ngày trả kết quả ignored: the dossier was not resolved",
    ]


def test_a_stopped_dossier_ends_with_its_reason() -> None:
    events = row_events(**{"Trạng thái": "Dừng xử lý", "Ngày kết thúc": "14/03/2024 15:00",
                           "Lý do dừng xử lý": "Cơ quan có thẩm quyền đề nghị dừng"})
    stopped = by_type(events)["stopped"]
    assert stopped == {"event_id": "csv:D-0001:stopped", "dossier_id": "D-0001", "type": "stopped",
                       "occurred_at": "2024-03-14T15:00:00+07:00", "reason": "Cơ quan có thẩm quyền đề nghị dừng",
                       "source": "igate-csv"}
    f = dossier_facts("D-0001", [event_from_dict(e) for e in events])
    assert f.end_type == "stopped"
    assert row_error(**{"Trạng thái": "Dừng xử lý"}).reason == "Trạng thái 'Dừng xử lý' needs a date in Ngày có kết quả"


def test_rejection_reason_is_kept_and_bounded() -> None:
    events = by_type(row_events(**{"Trạng thái": "Từ chối", "Ngày có kết quả": "12/03/2024", "Lý do": "x" * 2000}))
    assert len(events["rejected"]["reason"]) == 1024 and events["rejected"]["reason"].endswith("…")
    events = by_type(row_events(**{"Trạng thái": "Từ chối", "Ngày có kết quả": "12/03/2024", "Lý do": "Thiếu\r\ngiấy tờ "}))
    assert events["rejected"]["reason"] == "Thiếu\ngiấy tờ"


def test_officers() -> None:
    events = by_type(row_events(**{"Cán bộ xử lý": "Lê Thị Cúc", "Cán bộ tiếp nhận": "Trần Văn Bình"}))
    assert events["assigned"]["officer_id"] == "Lê Thị Cúc"
    assert events["assigned"]["occurred_at"] == events["received"]["occurred_at"]  # no assignment date column
    assert events["received"]["officer_id"] == "Trần Văn Bình"
    assert "officer_id" not in row_events()[0]


# -- units -------------------------------------------------------------------------------------


def test_unit_prefix_and_unit_map() -> None:
    assert row_events(unit_prefix="dng-", **{"Mã đơn vị": "sxd"})[0]["unit_id"] == "dng-sxd"
    text = MAPPING_TEXT.replace('unit_prefix = ""', 'unit_prefix = "dng-"') + (
        '\n[values.unit_id]\n"000.00.20.H17" = "sxd"\n"Sở Tư pháp" = "stp"\n')
    mapping = Mapping.from_toml(text, "t")
    assert row_events(mapping=mapping, **{"Mã đơn vị": "000.00.20.H17"})[0]["unit_id"] == "dng-sxd"
    assert row_events(mapping=mapping, **{"Mã đơn vị": "so tu phap"})[0]["unit_id"] == "dng-stp"
    assert row_events(mapping=mapping, **{"Mã đơn vị": "ca"})[0]["unit_id"] == "dng-ca"   # unmapped: as is
    assert row_events(mapping=mapping, unit_prefix="", **{"Mã đơn vị": "ca"})[0]["unit_id"] == "ca"  # the flag wins


def test_a_default_unit_for_a_one_unit_export() -> None:
    mapping = mapping_with('unit_id = "dng-p-hai-chau"')
    row = {k: v for k, v in BASE.items() if k != "Mã đơn vị"}
    assert convert(row, mapping=mapping).events[0]["unit_id"] == "dng-p-hai-chau"
    with pytest.raises(CsvImportError, match="unit_id"):
        convert(row)


# -- bad rows ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cells, reason", [
    ({"Mã hồ sơ": ""}, "Mã hồ sơ is empty"),
    ({"Mã đơn vị": " "}, "Mã đơn vị is empty"),
    ({"Mã thủ tục": ""}, "Mã thủ tục is empty"),
    ({"Kênh nộp": ""}, "Kênh nộp is empty"),
    ({"Ngày tiếp nhận": ""}, "Ngày tiếp nhận is empty"),
    ({"Ngày hẹn trả": ""}, "Ngày hẹn trả is empty"),
    ({"Mã hồ sơ": "X" * 65}, "received event invalid: data.dossier_id must be shorter than or equal to 64 characters"),
])
def test_bad_rows(cells: dict[str, str], reason: str) -> None:
    assert row_error(**cells).reason == reason


def test_bad_rows_keep_their_line_numbers_and_good_rows_go_on() -> None:
    rows = [BASE | {"Mã hồ sơ": f"D-{i}"} for i in range(6)]
    rows[1]["Lý do"] = "một\ndòng\nnữa"          # a quoted cell over three lines: lines 3-5
    rows[2]["Kênh nộp"] = "???"                   # line 6
    rows[4]["Mã hồ sơ"] = "D-0"                   # line 8: already on line 2
    conv = convert(*rows)
    assert [(e.line, e.dossier_id) for e in conv.errors] == [(6, "D-2"), (8, "D-0")]
    assert conv.errors[1].reason == "dossier D-0 is already on line 2"
    assert [r.line for r in conv.imported] == [2, 3, 7, 9]
    assert conv.rows == 6


def test_rows_wider_than_the_header_and_blank_rows() -> None:
    text = csv_text(BASE) + "D-9,dng-sxd,1.009994,Trực tuyến,Toàn trình,11/03/2024,15/03/2024,lạc,cột\r\n,,,,\r\n\r\n"
    conv = convert_export(text, MAPPING)
    assert conv.rows == 2 and len(conv.imported) == 1
    assert str(conv.errors[0]) == "line 3: 9 cells but the header has 7 (an unquoted delimiter in a cell?)"


def test_short_rows_read_missing_cells_as_empty() -> None:
    text = csv_text(BASE | {"Đánh giá": "Hài lòng"}) + "D-2,dng-sxd,1.009994,Trực tuyến,Toàn trình,11/03/2024,15/03/2024\r\n"
    conv = convert_export(text, MAPPING)
    assert not conv.errors and [e["type"] for e in conv.events] == ["received", "rated", "received"]


# -- headers, files, encodings ----------------------------------------------------------------------


def test_headers_match_loosely() -> None:
    row = {"  MÃ HỒ SƠ ": "D-1", unicodedata.normalize("NFD", "Mã đơn vị"): "u", "Ma thu tuc": "p",
           "Kênh  nộp": "Trực tiếp", "Muc do DVC": "Không", "ngày tiếp nhận": "11/03/2024", "Hạn xử lý": "12/03/2024"}
    conv = convert(row)
    assert not conv.errors and conv.events[0]["procedure_id"] == "p"
    assert conv.columns["due_at"] == "Hạn xử lý"


def test_the_first_listed_column_present_wins() -> None:
    conv = convert(BASE | {"Ngày hoàn thành": "14/03/2024 10:00", "Ngày có kết quả": "13/03/2024 10:00",
                           "Trạng thái": "Đã giải quyết"})
    assert conv.columns["ended_at"] == "Ngày có kết quả"
    assert by_type(conv.events)["resolved"]["occurred_at"] == "2024-03-13T10:00:00+07:00"


def test_a_missing_required_column_stops_the_import() -> None:
    row = {k: v for k, v in BASE.items() if k != "Ngày hẹn trả"}
    with pytest.raises(CsvImportError, match="required column.*due_at: Ngày hẹn trả / Ngày hẹn trả kết quả"):
        convert(row)


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_guessed_from_the_header(delimiter: str) -> None:
    text = csv_text(BASE | {"Phí/lệ phí": "1.200.000,00"}, delimiter=delimiter)
    assert sniff_delimiter(text) == delimiter
    conv = convert_export(text, MAPPING)
    assert not conv.errors and conv.events[0]["fee_required"] is True
    assert convert_export(text, MAPPING, delimiter=delimiter).events == conv.events


def _cp1258(text: str) -> bytes:
    """Windows Vietnamese: base letters precomposed, tone marks combining."""
    tones = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            d = unicodedata.normalize("NFD", ch)
            tone = "".join(c for c in d if c in tones)
            out += unicodedata.normalize("NFC", "".join(c for c in d if c not in tones)).encode("cp1258")
            out += tone.encode("cp1258")
    return bytes(out)


def test_encodings() -> None:
    text, conv = sample()
    raw = SAMPLE.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")                            # Excel's "CSV UTF-8"
    assert decode_export(raw[3:]) == text                               # without the BOM
    assert decode_export(text.encode("utf-16")) == text                 # Excel's "Unicode text"
    assert decode_export(_cp1258(text), "cp1258") == text               # Windows Vietnamese, NFC again
    assert convert_export(decode_export(_cp1258(text), "cp1258"), MAPPING, unit_prefix="dng-").events == conv.events
    with pytest.raises(CsvImportError, match=r"line 3: not utf-8 .*--encoding cp1258"):
        decode_export(_cp1258("a,b\nc,d\nHồ sơ,x\n"))
    with pytest.raises(CsvImportError, match="unknown encoding"):
        decode_export(b"a", "klingon")


def test_empty_files() -> None:
    with pytest.raises(CsvImportError, match="no header"):
        read_rows("\r\n\r\n")
    conv = convert_export(csv_text(BASE).split("\r\n")[0] + "\r\n", MAPPING)
    assert conv.rows == 0 and conv.events == []


def test_conversion_is_lazy() -> None:
    converter, results = iter_export(csv_text(BASE, BASE | {"Mã hồ sơ": "D-2"}), MAPPING)
    assert converter.columns["dossier_id"] == "Mã hồ sơ"
    first = next(results)
    assert isinstance(first, RowResult) and first.line == 2


# -- mapping files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("edit, message", [
    (("[columns]\n", "[columns]\ndossier = \"Mã\"\n"), "unknown field 'dossier'"),
    (('"Trực tuyến" = "online"', '"Trực tuyến" = "internet"'), r"\[values.channel\] 'Trực tuyến': must map to one of"),
    (('"Có" = true', '"Có" = "yes"'), "must map to true or false"),
    (('due_at = "17:00"', 'due_at = "5pm"'), "not a time"),
    (('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Mars/Olympus"'), "unknown time zone"),
    (("[defaults]\n", "[defaults]\nreceived_at = \"08:00\"\n"), "cannot have a default"),
    (("[defaults]\n", "[defaults]\nchannel = \"fax\"\n"), r"\[defaults\] channel: one of online, direct, postal"),
    (('dossier_id = ["Mã hồ sơ", "Số hồ sơ", "Mã HS"]\n', ""), "must name a column for dossier_id"),
    (("[import]\n", "[import]\nsorce = \"x\"\n"), "unknown key"),
    (("[import]\n", "[import\n"), "not valid TOML"),
])
def test_mapping_mistakes_are_reported(edit: tuple[str, str], message: str) -> None:
    old, new = edit
    assert old in MAPPING_TEXT
    with pytest.raises(CsvImportError, match=message):
        Mapping.from_toml(MAPPING_TEXT.replace(old, new, 1), "mine.toml")


def test_a_minimal_mapping() -> None:
    mapping = Mapping.from_toml("""
[columns]
dossier_id = "code"
unit_id = "unit"
procedure_id = "proc"
received_at = "in"
due_at = "due"
[defaults]
channel = "direct"
online_service = "none"
""", "minimal")
    text = "code;unit;proc;in;due\nA-1;u1;p1;2024-03-11 09:00;2024-03-12\n"
    assert convert_export(text, mapping).events == [{
        "event_id": "csv:A-1:received", "dossier_id": "A-1", "type": "received",
        "occurred_at": "2024-03-11T09:00:00+07:00", "unit_id": "u1", "procedure_id": "p1", "channel": "direct",
        "online_service": "none", "due_at": "2024-03-12T17:00:00+07:00", "fee_required": False, "digitized": False}]


# -- the command (dry run; sending is in tests/integration/test_csv_import.py) -------------------------


def _args(file: str, **kw) -> argparse.Namespace:
    return argparse.Namespace(**({"file": file, "mapping": None, "dry_run": True, "unit_prefix": None,
                                  "delimiter": None, "encoding": "utf-8"} | kw))


def test_dry_run_prints_the_events_as_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert chiso_main(["import-csv", str(SAMPLE), "--dry-run", "--unit-prefix", "dng-"]) == 0
    out, err = capsys.readouterr()
    _, conv = sample()
    assert [orjson.loads(line) for line in out.splitlines()] == conv.events
    assert "31 row(s): 24 imported, 7 skipped" in err
    assert "127 event(s) written to stdout (dry run: nothing sent): received 24, assigned 23, paid 16" in err
    assert "  line 29 (PHC-240315-0008): Kênh nộp: unknown value 'Qua Zalo' (add it to [values.channel])" in err
    assert "not in the unit catalogue" not in err


def test_dry_run_lists_units_missing_from_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert chiso_main(["import-csv", str(SAMPLE), "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "unit ids not in the unit catalogue" in err and "p-hai-chau (7)" in err


def test_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_text(BASE | {"Kênh nộp": "Fax"}, BASE | {"Mã hồ sơ": ""}), "utf-8")
    assert run(_args(str(bad)), out=io.StringIO(), err=(err := io.StringIO())) == 1   # nothing importable
    assert "2 row(s): 0 imported, 2 skipped" in err.getvalue()
    header_only = tmp_path / "empty.csv"
    header_only.write_text(",".join(BASE) + "\n", "utf-8")
    assert run(_args(str(header_only)), out=io.StringIO(), err=io.StringIO()) == 0
    no_due = tmp_path / "no-due.csv"
    no_due.write_text(csv_text({k: v for k, v in BASE.items() if k != "Ngày hẹn trả"}), "utf-8")
    assert run(_args(str(no_due)), out=(out := io.StringIO()), err=(err := io.StringIO())) == 2
    assert out.getvalue() == "" and "required column" in err.getvalue()
    assert run(_args(str(tmp_path / "missing.csv")), out=io.StringIO(), err=(err := io.StringIO())) == 2
    assert "cannot read" in err.getvalue()
    assert run(_args(str(SAMPLE), mapping=str(tmp_path / "nope.toml")), out=io.StringIO(), err=(err := io.StringIO())) == 2
    assert "cannot read mapping" in err.getvalue()
    assert run(_args(str(SAMPLE), delimiter="::"), out=io.StringIO(), err=io.StringIO()) == 2


def test_mapping_and_delimiter_flags(tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text(MAPPING_TEXT.replace('source = "igate-csv"', 'source = "igate-qnam"'), "utf-8")
    data = tmp_path / "tab.csv"
    data.write_text(csv_text(BASE, delimiter="\t"), "utf-8")
    out = io.StringIO()
    assert run(_args(str(data), mapping=str(mapping), delimiter="tab"), out=out, err=io.StringIO()) == 0
    assert orjson.loads(out.getvalue())["source"] == "igate-qnam"
