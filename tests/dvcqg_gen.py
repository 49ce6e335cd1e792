"""Random dossier lifecycles told twice: as the chiso events they mean (the
*intended* events, written here from the lifecycle, not by the adapter) and as what
a one-stop system syncs to the national portal along the way (dossier snapshots and
progress steps, in the portal's format). End-to-end tests send the second through
the adapter and compare every answer with the batch reference over the first.

The lifecycles stay inside what the format can say (docs/ket-noi-mot-cua.md):
payment online at filing, or offline by the time the result is handed over; a
supplement round told by progress steps (5, then 4), with the appointment the
one-stop recomputes afterwards; ends dated by NgayKetThucXuLy, or by the progress
step when a snapshot leaves it empty. Instants are distinct per dossier (a tie
between a pause and the end would be the format's ambiguity, not the adapter's).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sources.dvcqg.payload import PROGRESS, SYNC

VN = timezone(timedelta(hours=7))
BASE = datetime(2024, 3, 1, 8, 0, tzinfo=VN)
NOW = datetime(2024, 3, 20, 15, 0, tzinfo=VN)

# (unit id, how the one-stop names it): DonViXuLy, MaHoSo prefix, madonvi (see AGENCIES_CSV)
UNITS = (
    ("dng-sxd", {"DonViXuLy": "Sở Xây dựng"}, "HS", None),
    ("dng-stp", {"DonViXuLy": "dng-stp"}, "HS", None),
    ("dng-p-hai-chau", {"DonViXuLy": "UBND phường Hải Châu (cũ)"}, "H56.14", None),
    ("dng-x-hoa-vang", {"DonViXuLy": "20194"}, "HS", None),
    ("dng-p-thanh-khe", {"DonViXuLy": "UBND phường Điện Biên"}, "HS", None),
    ("dng", {"DonViXuLy": ""}, "HS", "000.00.00.H22"),
)
PROCEDURES = (("1.001193", "full"), ("1.000894", "partial"), ("9.999999", None))  # None: not in the catalogue
KENH = {"1": "direct", "2": "online", "3": "postal", "": "direct"}
OFFICERS = ("Trần Thị B", "Lê Văn C", "Cán bộ một cửa")


def stamp(at: datetime) -> str:
    return at.astimezone(VN).strftime("%Y%m%d%H%M%S")


@dataclass
class Lifecycle:
    dossier_id: str
    madonvi: str | None
    intended: list[dict] = field(default_factory=list)
    items: list[tuple[str, dict]] = field(default_factory=list)   # (service, item)


def lifecycle(rng: random.Random, index: int) -> Lifecycle:
    unit, naming, prefix, madonvi = rng.choice(UNITS)
    t0 = BASE + timedelta(minutes=rng.randrange(0, 18 * 24 * 60, 7))
    dossier_id = f"{prefix}-{t0:%y%m%d}-{index:05d}"
    life = Lifecycle(dossier_id, madonvi)
    procedure, level = rng.choice(PROCEDURES)
    kenh = rng.choice(tuple(KENH))
    channel = KENH[kenh]
    level = level or ("partial" if channel == "online" else "none")
    due0 = t0 + timedelta(hours=rng.choice((6, 30, 52, 100, 170)))
    digitized, reused, personal, citizen = (rng.random() < p for p in (0.6, 0.3, 0.2, 0.3))
    fee = rng.choice((0, 0, 8000, 50000))
    paid_online = fee > 0 and rng.random() < 0.6
    n = 0

    def ev(kind: str, at: datetime, **extra) -> None:
        nonlocal n
        n += 1
        life.intended.append({"event_id": f"{dossier_id}-{n}", "dossier_id": dossier_id, "type": kind,
                              "occurred_at": at.isoformat(), **extra})

    ev("received", t0, unit_id=unit, procedure_id=procedure, channel=channel, online_service=level,
       due_at=due0.isoformat(), fee_required=fee > 0, digitized=digitized, reused_data=reused,
       personal_store=personal, citizen_data=citizen)
    ev("synced", t0)
    if paid_online:
        ev("paid", t0, method="online", amount_vnd=fee)

    def components(final: bool) -> list[dict]:
        comp = {"TenTepDinhKem": "Tờ khai", "IsDeleted": "False", "DuocSoHoa": "1" if digitized else "0",
                "DuocTaiSuDung": "1" if reused else "0", "DuocLayTuKhoDMQG": "1" if personal else "0"}
        extra = [{"TenTepDinhKem": "deleted", "IsDeleted": "True", "DuocSoHoa": "1", "DuocLayTuKhoDMQG": "1"}]
        return [comp, *extra] if final else [comp]

    def snapshot(status: int, due: datetime, final: bool = False, **fields) -> dict:
        s = {"MaHoSo": dossier_id, "MaTTHC": procedure, "TenTTHC": "…", "TrangThaiHoSo": str(status),
             "NgayTiepNhan": stamp(t0), "NgayHenTra": stamp(due), "NgayKetThucXuLy": "", "NgayTra": "",
             "ChuHoSo": "Nguyễn Văn A", "LoaiDoiTuong": "1", **naming,
             "TaiLieuNop": components(final), "DanhSachHoSoBoSung": [], "DanhSachGiayToKetQua": [],
             # the fee and the payment show up once asked for: in the last sync
             "DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí", "Gia": str(fee)}] if final and fee else [],
             "DuocThanhToanTrucTuyen": ("1" if paid_online else "0") if final else "0",
             "HoSoCoThanhPhanSoHoa": "1" if digitized else "0",
             "TaiKhoanDuocXacThucVoiVNeID": "1" if citizen else "0"}
        if kenh:
            s["KenhThucHien"] = kenh
        s.update(fields)
        return s

    def step_(at: datetime, status: int) -> dict:
        return {"MaHoSo": dossier_id, "NguoiXuLy": rng.choice(OFFICERS), "ChucDanh": "", "ThoiDiemXuLy": stamp(at),
                "PhongBanXuLy": "", "NoiDungXuLy": "…", "TrangThai": str(status), "NgayBatDau": "",
                "NgayKetThucTheoQuyDinh": ""}

    snaps = [snapshot(2, due0)]
    steps = [step_(t0, 2)]
    clock = t0 + timedelta(minutes=rng.randrange(20, 600))
    steps.append(step_(clock, 4))
    if rng.random() < 0.7:
        snaps.append(snapshot(4, due0))
    due = due0
    if rng.random() < 0.3:  # a supplement round, told by progress steps as real clients do
        asked = clock + timedelta(minutes=rng.randrange(30, 3000))
        back = asked + timedelta(minutes=rng.randrange(30, 5000))
        ev("supplement_requested", asked)
        ev("supplement_received", back)
        steps += [step_(asked, 5), step_(back, 4)]
        if rng.random() < 0.5:
            snaps.append(snapshot(5, due0))
        due = due0 + (back - asked)  # the appointment the one-stop recomputes
        snaps.append(snapshot(4, due))
        clock = back
    ending = rng.random()
    if ending < 0.75:
        end = clock + timedelta(minutes=rng.randrange(30, 8000))
        kind = rng.choices(("resolved", "withdrawn", "stopped", "rejected"), (0.8, 0.08, 0.06, 0.06))[0]
        if kind == "resolved":
            electronic = rng.random() < 0.6
            results = [{"TenGiayTo": "kq", "DuongDanTepTinKetQua": "https://kq/1" if electronic else ""}]
            ev("resolved", end, result_electronic=electronic)
            returned = rng.random() < 0.5
            if returned:
                back_at = end + timedelta(minutes=rng.randrange(10, 3000))
                ev("returned", back_at)
                if fee and not paid_online:
                    ev("paid", back_at, method="offline", amount_vnd=fee)
                snaps.append(snapshot(10, due, True, NgayKetThucXuLy=stamp(end), NgayTra=stamp(back_at),
                                      DanhSachGiayToKetQua=results))
            else:
                snaps.append(snapshot(9, due, True, NgayKetThucXuLy=stamp(end), DanhSachGiayToKetQua=results))
            steps.append(step_(end, 9))
        else:
            status = {"withdrawn": 7, "stopped": 8, "rejected": 3}[kind]
            ev(kind, end)
            dated = rng.random() < 0.6  # else only the progress step dates the end
            date_field = "NgayTuChoi" if kind == "rejected" else "NgayKetThucXuLy"
            snaps.append(snapshot(status, due, True, **({date_field: stamp(end)} if dated else {})))
            steps.append(step_(end, status))
    else:
        snaps.append(snapshot(4, due, True))
    life.items = [(SYNC, s) for s in snaps] + [(PROGRESS, s) for s in steps]
    return life


def lifecycles(seed: int, n: int, first: int = 0) -> list[Lifecycle]:
    """``n`` lifecycles numbered from ``first`` (distinct numbers: distinct dossiers)."""
    rng = random.Random(seed)
    return [lifecycle(rng, i) for i in range(first, first + n)]
