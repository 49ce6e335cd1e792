"""Procedures (thủ tục hành chính) as the simulator uses them, and which units offer which."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta

from processors.units import Unit

LEVELS = ("full", "partial", "none")
ONE_DAY = timedelta(days=1)
WORKING_DAY_S = 27000  # 7.5 h: the default office day, used only to scale delays
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
MAX_ID_LEN = 64  # dossier_id, unit_id, officer_id, procedure_id (events.md)

# -- procedures -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Procedure:
    """An administrative procedure (thủ tục hành chính) as the simulator uses it.

    ``processing_days``: the legal time limit in working days; the appointment
    (``due_at``) is the end of office hours on that many working days after the
    reception day. ``fee_vnd``: the fee or charge when one is due, 0 for free ones.
    """

    procedure_id: str
    name: str
    processing_days: int
    online_service: str  # full | partial | none: the level the procedure offers
    fee_vnd: int = 0


def _p(code: str, name: str, days: int, level: str, fee: int = 0) -> Procedure:
    return Procedure(code, name, days, level, fee)


# Codes follow the national procedure catalogue (Cơ sở dữ liệu quốc gia về TTHC).
# They, the time limits and the fees are illustrative: taken from public listings
# where we found them, not checked one by one against the current catalogue.
PROCEDURES: dict[str, Procedure] = {p.procedure_id: p for p in (
    # commune level (UBND xã, phường, đặc khu)
    _p("1.001193", "Đăng ký khai sinh", 1, "full"),
    _p("1.000656", "Đăng ký khai tử", 1, "full"),
    _p("1.000894", "Đăng ký kết hôn", 1, "partial"),
    _p("1.004884", "Đăng ký lại khai sinh", 5, "partial"),
    _p("2.000815", "Chứng thực bản sao từ bản chính giấy tờ, văn bản", 1, "partial", 10_000),
    _p("2.000884", "Chứng thực chữ ký trong các giấy tờ, văn bản", 1, "none", 10_000),
    _p("1.001612", "Đăng ký thành lập hộ kinh doanh", 3, "full", 100_000),
    _p("1.009994", "Cấp giấy phép xây dựng nhà ở riêng lẻ", 15, "partial", 75_000),
    _p("1.013831", "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất "
       "(chuyển nhượng, thừa kế, tặng cho)", 10, "partial", 100_000),
    # provincial departments
    _p("1.000122", "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người nước ngoài đang cư trú "
       "tại Việt Nam", 10, "full", 200_000),
    _p("1.000956", "Đăng ký thành lập công ty TNHH một thành viên", 3, "full", 50_000),
    _p("1.004222", "Đăng ký thường trú", 7, "full", 20_000),
    _p("1.004194", "Đăng ký tạm trú", 3, "full", 15_000),
    # Stand-ins for the many procedures not listed above, one per service level, so
    # that every unit offers every level (the config's online_service mix).
    _p("khac.toan-trinh", "Thủ tục hành chính khác (dịch vụ công trực tuyến toàn trình)", 5, "full"),
    _p("khac.mot-phan", "Thủ tục hành chính khác (dịch vụ công trực tuyến một phần)", 7, "partial", 50_000),
    _p("khac.khong", "Thủ tục hành chính khác (không có dịch vụ công trực tuyến)", 10, "none"),
)}

# (procedure, relative frequency) by kind of unit.
COMMUNE_PROCEDURES: tuple[tuple[str, float], ...] = (
    ("1.001193", 8), ("1.000656", 3), ("1.000894", 2), ("1.004884", 0.5),
    ("2.000815", 10), ("2.000884", 5), ("1.001612", 2), ("1.009994", 1.5), ("1.013831", 4),
)
# Departments of the sample catalogue, by the id part after the parent's id.
DEPARTMENT_PROCEDURES: dict[str, tuple[tuple[str, float], ...]] = {
    "snnmt": (("1.013831", 10),),
    "stp": (("1.000122", 10),),
    "stc": (("1.000956", 10),),
    "ca": (("1.004222", 4), ("1.004194", 6)),
    "sxd": (("1.009994", 2),),
}
_FALLBACK = {"full": "khac.toan-trinh", "partial": "khac.mot-phan", "none": "khac.khong"}

# Relative daily arrivals by unit (see unit_weight): the big provincial desks and
# the police see far more dossiers than a mountain commune.
DEPARTMENT_WEIGHTS: dict[str, float] = {
    "ca": 6.0, "snnmt": 6.0, "stp": 2.0, "stc": 2.0, "sxd": 2.0, "snv": 1.5,
    "syt": 1.0, "sgddt": 0.8, "sct": 0.8,
}
# Units that take no dossiers at all: the root (a roll-up only) and Hoàng Sa, a
# commune-level unit with no resident population.
_SILENT_SUFFIXES = ("hoang-sa",)


def _local_part(unit: Unit) -> str:
    """``dng-snnmt`` under ``dng`` -> ``snnmt``."""
    prefix = f"{unit.parent_id}-" if unit.parent_id else ""
    return unit.unit_id[len(prefix):] if unit.unit_id.startswith(prefix) else unit.unit_id


def unit_weight(unit: Unit) -> float:
    """Relative arrival rate of a unit: 0 for the root and uninhabited units."""
    level = unit.level.lower()
    name = unit.name.lower()
    if unit.parent_id is None or level == "province":
        return 0.0
    if any(unit.unit_id.endswith(s) for s in _SILENT_SUFFIXES):
        return 0.0
    if "phục vụ hành chính công" in name or level in ("center", "centre", "pasc"):
        return 8.0  # a Public Administration Service Centre receives for many departments
    if level == "commune":
        if name.startswith("phường"):
            return 1.0
        if name.startswith("đặc khu"):
            return 0.3
        return 0.5
    if level == "department":
        return DEPARTMENT_WEIGHTS.get(_local_part(unit), 0.3)
    return 0.5


def unit_procedures(unit: Unit) -> dict[str, tuple[tuple[Procedure, float], ...]]:
    """The procedures a unit handles, by online service level, with weights."""
    if unit.level.lower() == "commune":
        table = COMMUNE_PROCEDURES
    else:
        table = DEPARTMENT_PROCEDURES.get(_local_part(unit), ())
    out: dict[str, tuple[tuple[Procedure, float], ...]] = {}
    for level in LEVELS:
        chosen = tuple((PROCEDURES[c], w) for c, w in table if PROCEDURES[c].online_service == level)
        out[level] = chosen or ((PROCEDURES[_FALLBACK[level]], 1.0),)
    return out


def bounded_id(base: str, suffix: str) -> str:
    """``base + suffix`` within 64 characters (a long base is shortened with a hash)."""
    if len(base) + len(suffix) <= MAX_ID_LEN:
        return base + suffix
    tag = f"~{zlib.crc32(base.encode()):08x}"
    return base[: MAX_ID_LEN - len(suffix) - len(tag)] + tag + suffix


