"""Golden payloads of the portal's sync format -> the exact chiso events, for every
status, flag and field the mapping table (docs/ket-noi-mot-cua.md) names."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sources.dvcqg.derive import BAD_FIELD, NOT_AN_ITEM, UNKNOWN_AGENCY, Derived, Origin, Rejected
from sources.dvcqg.ledger import Entry, MemoryLedger, derive_entries, derive_item
from sources.dvcqg.payload import PROGRESS, SYNC
from tests.dvcqg_samples import (
    OPENCPS_RECEIVED,
    SUPPLEMENT_ENTRY,
    TANDAN_RETURNED,
    checked,
    deriver,
    facts_of,
    step,
)

pytestmark = pytest.mark.unit
VN = timezone(timedelta(hours=7))
D1 = OPENCPS_RECEIVED["MaHoSo"]
D2 = TANDAN_RETURNED["MaHoSo"]


def derive(snapshot: dict, origin: Origin = Origin()) -> Derived:
    out = derive_item(deriver(), SYNC, snapshot, origin)
    assert isinstance(out, Derived), out
    checked(out.events)
    return out


def rejected(snapshot: dict, service: str = SYNC) -> Rejected:
    out = derive_item(deriver(), service, snapshot)
    assert isinstance(out, Rejected), out
    return out


def events(*items: tuple[str, dict]) -> list[dict]:
    """The events a sequence of items sends, through the ledger."""
    ledger = MemoryLedger()
    out: list[dict] = []
    for service, item in items:
        outcome = derive_entries(deriver(), [Entry(service, item)])[0].result
        assert isinstance(outcome, Derived), outcome
        out += ledger.accept([outcome])
    return checked(out) and out


def by_type(evs: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for e in evs:
        out.setdefault(e["type"], []).append(e)
    return out


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=VN)


# -- statuses ----------------------------------------------------------------------

def test_opencps_received_snapshot_gives_exactly_its_reception_and_a_sync() -> None:
    assert events((SYNC, OPENCPS_RECEIVED)) == [
        {"event_id": f"dvcqg:{D1}:synced:20240315083000", "dossier_id": D1, "type": "synced",
         "occurred_at": "2024-03-15T08:30:00+07:00", "source": "dvcqg"},
        {"event_id": f"dvcqg:{D1}:received:20240315083000:a92ae120:312024031817000020",
         "dossier_id": D1, "type": "received", "occurred_at": "2024-03-15T08:30:00+07:00",
         "unit_id": "dng-sxd", "procedure_id": "1.001612", "channel": "direct", "online_service": "full",
         "due_at": "2024-03-18T17:00:00+07:00", "fee_required": False, "digitized": False,
         "reused_data": False, "personal_store": False, "citizen_data": False, "source": "dvcqg"},
    ]


def test_tandan_returned_snapshot_gives_reception_payment_result_return_and_sync() -> None:
    got = by_type(events((SYNC, TANDAN_RETURNED)))
    assert sorted(got) == ["paid", "received", "resolved", "returned", "synced"]
    (r,) = got["received"]
    assert (r["unit_id"], r["procedure_id"], r["channel"], r["online_service"]) == \
        ("dng-p-hai-chau", "1.001193", "online", "full")  # unit from the MaHoSo prefix H56.14
    assert (r["occurred_at"], r["due_at"]) == ("2024-08-23T09:15:02+07:00", "2024-08-26T17:00:00+07:00")
    assert {k: r[k] for k in ("fee_required", "digitized", "reused_data", "personal_store", "citizen_data")} == \
        {"fee_required": True, "digitized": True, "reused_data": False, "personal_store": False, "citizen_data": False}
    assert got["paid"] == [{"event_id": f"dvcqg:{D2}:paid:20240823091502:08000", "dossier_id": D2, "type": "paid",
                            "occurred_at": "2024-08-23T09:15:02+07:00", "method": "online", "amount_vnd": 8000,
                            "source": "dvcqg"}]
    assert got["resolved"] == [{"event_id": f"dvcqg:{D2}:resolved:20240826093000:0", "dossier_id": D2,
                                "type": "resolved", "occurred_at": "2024-08-26T09:30:00+07:00",
                                "result_electronic": True, "source": "dvcqg"}]
    assert got["returned"][0]["occurred_at"] == "2024-08-26T10:00:00+07:00"
    assert got["synced"][0]["occurred_at"] == "2024-08-26T10:00:00+07:00"  # the latest stated happening
    f = facts_of(D2, events((SYNC, TANDAN_RETURNED)))
    assert (f.end_type, f.timeliness, f.result_electronic, f.paid_online, f.synced) == \
        ("resolved", "on_time", True, True, True)


def test_newly_filed_dossier_gives_nothing_yet() -> None:
    out = derive(dict(OPENCPS_RECEIVED, TrangThaiHoSo="1"))
    assert out.events == [] and out.reception is None and "not received yet" in out.notes[0]


@pytest.mark.parametrize("status", ["2", "4"])
def test_received_and_in_progress_state_the_same_reception(status: str) -> None:
    assert events((SYNC, dict(OPENCPS_RECEIVED, TrangThaiHoSo=status))) == events((SYNC, OPENCPS_RECEIVED))


def test_supplement_entries_give_request_and_answer_with_the_new_appointment() -> None:
    snap = dict(OPENCPS_RECEIVED, TrangThaiHoSo="4", NgayHenTra="20240320170000", DanhSachHoSoBoSung=[SUPPLEMENT_ENTRY])
    got = by_type(events((SYNC, snap)))
    assert got["supplement_requested"] == [{"event_id": f"dvcqg:{D1}:supplement_requested:20240316100000",
                                            "dossier_id": D1, "type": "supplement_requested",
                                            "occurred_at": "2024-03-16T10:00:00+07:00", "source": "dvcqg"}]
    assert got["supplement_received"] == [{"event_id": f"dvcqg:{D1}:supplement_received:20240318090000:"
                                                       "020240320170000", "dossier_id": D1,
                                           "type": "supplement_received", "occurred_at": "2024-03-18T09:00:00+07:00",
                                           "due_at": "2024-03-20T17:00:00+07:00", "source": "dvcqg"}]
    # the appointment at reception is the one before the first supplement, not NgayHenTra
    assert got["received"][0]["due_at"] == "2024-03-18T17:00:00+07:00"
    f = facts_of(D1, events((SYNC, snap)))
    assert f.final_clock is not None and f.final_clock.due == at("20240320170000") and f.final_clock.paused_since is None


def test_supplement_requested_status_alone_is_dated_by_its_progress_step() -> None:
    snap = dict(OPENCPS_RECEIVED, TrangThaiHoSo="5")
    assert "supplement_requested" not in by_type(events((SYNC, snap)))
    got = by_type(events((SYNC, snap), (PROGRESS, step(D1, "20240316100000", "5"))))
    assert [e["occurred_at"] for e in got["supplement_requested"]] == ["2024-03-16T10:00:00+07:00"]


def test_payment_requested_marks_the_fee_without_stopping_the_clock() -> None:
    got = by_type(events((SYNC, dict(OPENCPS_RECEIVED, TrangThaiHoSo="6"))))
    assert got["received"][0]["fee_required"] is True
    assert not {"paid", "paused", "supplement_requested"} & set(got)


@pytest.mark.parametrize(("status", "kind"), [("7", "withdrawn"), ("8", "stopped")])
def test_withdrawn_and_stopped_end_at_the_end_of_processing(status: str, kind: str) -> None:
    snap = dict(OPENCPS_RECEIVED, TrangThaiHoSo=status, NgayKetThucXuLy="20240316110000")
    got = by_type(events((SYNC, snap)))
    assert got[kind] == [{"event_id": f"dvcqg:{D1}:{kind}:20240316110000", "dossier_id": D1, "type": kind,
                          "occurred_at": "2024-03-16T11:00:00+07:00", "source": "dvcqg"}]
    assert facts_of(D1, events((SYNC, snap))).end_type == kind


@pytest.mark.parametrize(("status", "kind"), [("3", "rejected"), ("7", "withdrawn"), ("8", "stopped")])
def test_an_undated_end_is_noted_and_dated_by_the_progress_step(status: str, kind: str) -> None:
    out = derive(dict(OPENCPS_RECEIVED, TrangThaiHoSo=status))
    assert kind not in by_type(out.events) and "progress step" in " ".join(out.notes)
    got = by_type(events((SYNC, dict(OPENCPS_RECEIVED, TrangThaiHoSo=status)),
                         (PROGRESS, step(D1, "20240316110000", status))))
    assert [e["occurred_at"] for e in got[kind]] == ["2024-03-16T11:00:00+07:00"]


def test_not_accepted_is_a_rejection_dated_by_the_refusal() -> None:
    snap = dict(OPENCPS_RECEIVED, TrangThaiHoSo="3", NgayTuChoi="20240315090000", NgayHenTra="")
    got = by_type(events((SYNC, snap)))
    assert [e["occurred_at"] for e in got["rejected"]] == ["2024-03-15T09:00:00+07:00"]
    assert got["received"][0]["due_at"] == "2024-03-15T09:00:00+07:00"  # no appointment: never late
    never_received = derive(dict(OPENCPS_RECEIVED, TrangThaiHoSo="3", NgayTiepNhan=""))
    assert never_received.events == [] and "never received" in never_received.notes[0]


def test_resolved_result_is_electronic_only_with_a_result_file_link() -> None:
    base = dict(OPENCPS_RECEIVED, TrangThaiHoSo="9", NgayKetThucXuLy="20240318100000")
    paper = by_type(events((SYNC, base)))["resolved"]
    assert paper == [{"event_id": f"dvcqg:{D1}:resolved:20240318100000:1", "dossier_id": D1, "type": "resolved",
                      "occurred_at": "2024-03-18T10:00:00+07:00", "result_electronic": False, "source": "dvcqg"}]
    with_file = dict(base, DanhSachGiayToKetQua=[{"TenGiayTo": "kq.pdf", "DuongDanTepTinKetQua": "https://x/kq.pdf"}])
    assert by_type(events((SYNC, with_file)))["resolved"][0]["result_electronic"] is True
    # the file attached in a later sync: the electronic result sorts first and is the one the facts read
    assert facts_of(D1, events((SYNC, base), (SYNC, with_file))).result_electronic is True
    assert facts_of(D1, events((SYNC, with_file), (SYNC, base))).result_electronic is True


@pytest.mark.parametrize("status", ["9", "10"])
def test_an_undated_resolution_is_noted_and_the_rest_kept(status: str) -> None:
    """Tân Dân sends 9 for dossiers that wait for a supplement or a payment, undated."""
    out = derive(dict(OPENCPS_RECEIVED, TrangThaiHoSo=status, NgayKetThucXuLy=""))
    assert "resolved" not in by_type(out.events) and out.reception is not None
    assert any("NgayKetThucXuLy" in n for n in out.notes)


def test_returned_without_its_date_is_noted() -> None:
    out = derive(dict(TANDAN_RETURNED, NgayTra=""))
    assert "returned" not in by_type(out.events) and any("NgayTra" in n for n in out.notes)


# -- flags and fields --------------------------------------------------------------

def flags(snapshot: dict) -> dict[str, bool]:
    (r,) = by_type(events((SYNC, snapshot)))["received"]
    return {k: r[k] for k in ("fee_required", "digitized", "reused_data", "personal_store", "citizen_data")}


def component(**kw: str) -> dict:
    return {"TenTepDinhKem": "x.pdf", "IsDeleted": "False", **kw}


@pytest.mark.parametrize(("fields", "expected"), [
    ({"HoSoCoThanhPhanSoHoa": "1"}, {"digitized"}),
    ({"TaiLieuNop": [component(DuocSoHoa="1")]}, {"digitized"}),
    ({"TaiLieuNop": [component(DuocTaiSuDung="1")]}, {"reused_data"}),
    ({"TaiLieuNop": [component(DuocTaiSuDung="2", MaKetQuaThayThe="KQ.1")]}, {"reused_data"}),
    ({"TaiLieuNop": [component(DuocLayTuKhoDMQG="1")]}, {"personal_store"}),
    ({"TaiLieuNop": [component(DuocSoHoa="1", DuocLayTuKhoDMQG="1", IsDeleted="True")]}, set()),
    ({"TaiKhoanDuocXacThucVoiVNeID": "1"}, {"citizen_data"}),
    ({"DanhSachLePhi": [{"Gia": "50000"}]}, {"fee_required"}),
    ({"DanhSachLePhi": [{"Gia": "0"}, {"Gia": 0}]}, set()),
    ({"DuocThanhToanTrucTuyen": "2"}, {"fee_required"}),
    ({"DuocThanhToanTrucTuyen": "0", "HoSoCoThanhPhanSoHoa": "0"}, set()),
])
def test_flags(fields: dict, expected: set[str]) -> None:
    got = flags(dict(OPENCPS_RECEIVED, **fields))
    assert {k for k, v in got.items() if v} == expected


@pytest.mark.parametrize(("kenh", "channel"), [("1", "direct"), ("2", "online"), ("3", "postal"), ("", "direct"),
                                                (None, "direct"), (2, "online")])
def test_kenh_thuc_hien_gives_the_channel(kenh: object, channel: str) -> None:
    (r,) = by_type(events((SYNC, dict(OPENCPS_RECEIVED, KenhThucHien=kenh))))["received"]
    assert r["channel"] == channel


@pytest.mark.parametrize(("online", "method", "at_", "amount"), [
    ("1", "online", "2024-08-23T09:15:02+07:00", 8000),   # paid on the national portal: when filing
    ("2", "online", "2024-08-23T09:15:02+07:00", 8000),   # on the province's payment gateway
    ("0", "offline", "2024-08-26T10:00:00+07:00", 8000),  # a fee and the result handed over: paid by then
])
def test_payment(online: str, method: str, at_: str, amount: int) -> None:
    (p,) = by_type(events((SYNC, dict(TANDAN_RETURNED, DuocThanhToanTrucTuyen=online))))["paid"]
    assert (p["method"], p["occurred_at"], p["amount_vnd"]) == (method, at_, amount)


def test_no_payment_is_derived_before_the_result_is_handed_over_unless_online() -> None:
    assert "paid" not in by_type(events((SYNC, dict(TANDAN_RETURNED, TrangThaiHoSo="9", DuocThanhToanTrucTuyen="0"))))


def test_online_payment_reported_later_wins_over_the_offline_one() -> None:
    offline = dict(TANDAN_RETURNED, DuocThanhToanTrucTuyen="0")
    for order in ((offline, TANDAN_RETURNED), (TANDAN_RETURNED, offline)):
        assert facts_of(D2, events(*[(SYNC, s) for s in order])).paid_online is True


def test_procedure_code_with_a_local_suffix_maps_to_the_national_code() -> None:
    (r,) = by_type(events((SYNC, dict(OPENCPS_RECEIVED, MaTTHC="1.001612.000.00.00.H22"))))["received"]
    assert r["procedure_id"] == "1.001612"


@pytest.mark.parametrize(("kenh", "level"), [("2", "partial"), ("1", "none")])
def test_a_procedure_outside_the_catalogue_is_kept_and_noted(kenh: str, level: str) -> None:
    out = derive(dict(OPENCPS_RECEIVED, MaTTHC="9.999999", KenhThucHien=kenh))
    assert (out.reception.procedure_id, out.reception.online_service) == ("9.999999", ("none", "partial").index(level))
    assert "not in the procedure catalogue" in out.notes[0]


# -- units ---------------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "origin", "unit"), [
    ({"DonViXuLy": "dng-stp"}, Origin(), "dng-stp"),                                   # a unit id
    ({"DonViXuLy": "  sở   TƯ pháp "}, Origin(), "dng-stp"),                           # a catalogue name
    ({"DonViXuLy": "UBND phường Điện Biên"}, Origin(), "dng-p-thanh-khe"),            # a name in the mapping file
    ({"DonViXuLy": "20194"}, Origin(), "dng-x-hoa-vang"),                              # a Decision 19/2025 code
    ({"DonViXuLy": "Somewhere", "MaHoSo": "H56.14-240823-0009"}, Origin(), "dng-p-hai-chau"),  # MaHoSo prefix
    ({"DonViXuLy": "", "MaHoSo": "X-1"}, Origin(unit_code="000.00.12.H22"), "dng-sxd"),  # MaDinhDanhDV
    ({"DonViXuLy": "", "MaHoSo": "X-1"}, Origin(madonvi="000.00.00.H22"), "dng"),       # madonvi
    ({"DonViXuLy": "Sở Tư pháp", "MaHoSo": "H56.14-1-2"}, Origin(madonvi="000.00.00.H22"), "dng-stp"),  # most specific
])
def test_unit_mapping(fields: dict, origin: Origin, unit: str) -> None:
    assert derive(dict(OPENCPS_RECEIVED, **fields), origin).reception.unit_id == unit


def test_an_unknown_agency_is_rejected_naming_every_value_tried() -> None:
    r = rejected(dict(OPENCPS_RECEIVED, DonViXuLy="UBND xã Không Có", MaHoSo="H99.01-240101-0001"))
    assert r.reason == UNKNOWN_AGENCY and r.agencies == ("UBND xã Không Có", "H99.01")
    assert r.errors[0].field == "DonViXuLy" and "UBND xã Không Có" in r.errors[0].message and "H99.01" in r.errors[0].message


# -- validation --------------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"NgayTiepNhan": "2024-03-15 08:30"}, "NgayTiepNhan", "yyyyMMddHHmmss"),
    ({"NgayTiepNhan": "20241332083000"}, "NgayTiepNhan", "not a date"),
    ({"NgayTiepNhan": 20240315083000}, "NgayTiepNhan", "as a string"),
    ({"TrangThaiHoSo": "11"}, "TrangThaiHoSo", "less than or equal to 10"),
    ({"TrangThaiHoSo": ""}, "TrangThaiHoSo", "integer"),
    ({"MaHoSo": ""}, "MaHoSo", "at least 1"),
    ({"MaHoSo": "x" * 65}, "MaHoSo", "at most 64"),
    ({"KenhThucHien": "4"}, "KenhThucHien", "less than or equal to 3"),
    ({"NgayHenTra": "", "TrangThaiHoSo": "4"}, "NgayHenTra", "required"),
    ({"NgayTiepNhan": "", "TrangThaiHoSo": "4"}, "NgayTiepNhan", "required"),
    ({"MaTTHC": ""}, "MaTTHC", "required"),
    ({"TaiLieuNop": [{"DuocSoHoa": "yes"}]}, "TaiLieuNop[0].DuocSoHoa", "0 or 1"),
    ({"DanhSachLePhi": [{"Gia": "8.000đ"}]}, "DanhSachLePhi[0].Gia", "VND"),
])
def test_a_bad_snapshot_names_the_field(fields: dict, field: str, words: str) -> None:
    r = rejected(dict(OPENCPS_RECEIVED, **fields))
    assert r.reason == BAD_FIELD
    assert [e.field for e in r.errors] == [field], r.errors
    assert words in r.errors[0].message, r.errors[0].message


def test_missing_required_fields_are_all_named_at_once() -> None:
    r = rejected({"MaHoSo": "A-1"})
    assert [e.field for e in r.errors] == ["TrangThaiHoSo"]
    r = rejected(dict(OPENCPS_RECEIVED, NgayTiepNhan="", MaTTHC="", NgayHenTra="", TrangThaiHoSo="4"))
    assert {e.field for e in r.errors} == {"NgayTiepNhan", "MaTTHC", "NgayHenTra"}


def test_an_item_that_is_not_an_object_is_rejected() -> None:
    assert rejected([1, 2]).reason == NOT_AN_ITEM  # type: ignore[arg-type]


# -- progress steps --------------------------------------------------------------------

@pytest.mark.parametrize(("status", "kinds"), [
    ("2", {"assigned", "supplement_received"}), ("4", {"assigned", "supplement_received"}),
    ("6", {"assigned", "supplement_received"}), ("5", {"assigned", "supplement_requested"}),
    ("3", {"assigned", "rejected"}), ("7", {"assigned", "withdrawn"}), ("8", {"assigned", "stopped"}),
    ("9", {"assigned"}), ("10", {"assigned"}), ("1", {"assigned"}), ("", {"assigned"}),
])
def test_progress_steps(status: str, kinds: set[str]) -> None:
    got = events((PROGRESS, step(D1, "20240316100000", status)))
    assert {e["type"] for e in got} == kinds
    assert {e["occurred_at"] for e in got} == {"2024-03-16T10:00:00+07:00"}
    assigned = next(e for e in got if e["type"] == "assigned")
    assert assigned["officer_id"] == "Trần Thị B"


def test_a_step_without_its_instant_is_rejected() -> None:
    r = rejected({"MaHoSo": D1, "TrangThai": "4", "ThoiDiemXuLy": ""}, PROGRESS)
    assert [e.field for e in r.errors] == ["ThoiDiemXuLy"]


def test_supplement_pause_from_steps_moves_the_due_by_the_paused_time() -> None:
    evs = events((SYNC, dict(OPENCPS_RECEIVED, TrangThaiHoSo="4")),
                 (PROGRESS, step(D1, "20240316100000", "5")), (PROGRESS, step(D1, "20240317100000", "4")))
    f = facts_of(D1, evs)
    assert f.final_clock.due == at("20240318170000") + timedelta(days=1)


# -- the reception join ----------------------------------------------------------------

def test_reception_joins_flags_and_keeps_the_earliest_appointment_in_any_order() -> None:
    early = dict(OPENCPS_RECEIVED, TrangThaiHoSo="4")
    # later: a fee paid online, the appointment moved by a supplement, a digitised component
    late = dict(OPENCPS_RECEIVED, TrangThaiHoSo="9", NgayKetThucXuLy="20240319100000", NgayHenTra="20240320170000",
                DuocThanhToanTrucTuyen="1", DanhSachLePhi=[{"Gia": "5000"}], HoSoCoThanhPhanSoHoa="1")
    for order in ((early, late), (late, early)):
        evs = events(*[(SYNC, s) for s in order])
        receptions = by_type(evs)["received"]
        assert len(receptions) == 3  # each snapshot's, and their join
        f = facts_of(D1, evs)
        assert (f.fee_required, f.digitized, f.initial_due) == (True, True, at("20240318170000"))
    assert sorted(e["event_id"] for e in events((SYNC, early), (SYNC, late))) == \
        sorted(e["event_id"] for e in events((SYNC, late), (SYNC, early)))


def test_a_resent_snapshot_sends_its_own_events_again_but_no_new_reception() -> None:
    ledger = MemoryLedger()
    out = derive_entries(deriver(), [Entry(SYNC, TANDAN_RETURNED)])[0].result
    first = ledger.accept([out])
    again = ledger.accept([out])
    assert {e["event_id"] for e in again} < {e["event_id"] for e in first}
    assert "received" not in {e["type"] for e in again}
