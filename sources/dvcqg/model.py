"""Validation of one sync item: a dossier snapshot (``DongBoHoSoMC``) or a progress
step (``CapNhatTienDoHoSoMC``), with an error per field.

What the clients send (docs/ket-noi-mot-cua.md, "What is known of the format"):
every value is usually a JSON string, codes and amounts included, but numbers are
accepted too; an empty string or ``null`` means "not given"; dates are
``yyyyMMddHHmmss`` in Vietnam's local time (UTC+07:00). Fields chiso does not use are
ignored, so the full portal payload can be sent as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

LOCAL = timezone(timedelta(hours=7))  # Asia/Ho_Chi_Minh: UTC+07:00, no daylight saving
_DATE = re.compile(r"^\d{14}$")
_AMOUNT = re.compile(r"^\d+(\.\d+)?$")

# TrangThaiHoSo / TrangThai (the portal's code table)
NEW, RECEIVED, NOT_ACCEPTED, IN_PROGRESS, SUPPLEMENT, PAYMENT, WITHDRAWN, STOPPED, RESOLVED, RETURNED = range(1, 11)
STATUS_NAMES = {
    1: "Mới đăng ký", 2: "Được tiếp nhận", 3: "Không được tiếp nhận", 4: "Đang xử lý",
    5: "Yêu cầu bổ sung giấy tờ", 6: "Yêu cầu thực hiện nghĩa vụ tài chính", 7: "Công dân yêu cầu rút hồ sơ",
    8: "Dừng xử lý", 9: "Đã xử lý xong", 10: "Đã trả kết quả",
}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_local(text: str) -> datetime:
    """``yyyyMMddHHmmss`` in local time; ValueError otherwise. (By hand: strptime
    was half of the cost of validating a snapshot.)"""
    if not _DATE.match(text):
        raise ValueError("expected a date yyyyMMddHHmmss (14 digits, local time)")
    try:
        return datetime(int(text[:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]),
                        int(text[12:14]), tzinfo=LOCAL)
    except ValueError as exc:
        raise ValueError(f"not a date: {exc}") from None


def _instant(value: Any) -> Any:
    if _blank(value):
        return None
    if isinstance(value, str):
        return parse_local(value.strip())
    raise ValueError("expected a date yyyyMMddHHmmss as a string")


def _code(value: Any) -> Any:
    """A numeric code, as a string or a number; blank: not given."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError("expected a numeric code")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise ValueError("expected a numeric code")


def _flag(value: Any) -> Any:
    """0/1 as a string, a number or a boolean ("True"/"False" as OpenCPS writes IsDeleted)."""
    if _blank(value):
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true"):
        return True
    if text in ("0", "false"):
        return False
    raise ValueError("expected 0 or 1")


def _amount(value: Any) -> Any:
    """An amount in VND: digits (a decimal part is rounded), as a string or a number."""
    if _blank(value):
        return 0
    if isinstance(value, bool):
        raise ValueError("expected an amount in VND")
    if isinstance(value, (int, float)) and value >= 0:
        return round(value)
    if isinstance(value, str) and _AMOUNT.match(value.strip()):
        return round(float(value.strip()))
    raise ValueError("expected an amount in VND (digits only)")


def _text(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value.strip() if isinstance(value, str) else value


def _list(value: Any) -> Any:
    return [] if _blank(value) else value


Instant = Annotated[datetime | None, BeforeValidator(_instant)]
Code = Annotated[int | None, BeforeValidator(_code)]
Flag = Annotated[bool, BeforeValidator(_flag)]
Amount = Annotated[int, BeforeValidator(_amount)]
Text = Annotated[str, BeforeValidator(_text)]
DossierId = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=64)]


class _Item(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Component(_Item):
    """TaiLieuNop[]: a component of the dossier as filed."""

    IsDeleted: Flag = False
    DuocSoHoa: Flag = False
    DuocTaiSuDung: Code = Field(None, ge=0, le=2)
    DuocLayTuKhoDMQG: Flag = False


class Fee(_Item):
    """DanhSachLePhi[]."""

    Gia: Amount = 0


class SupplementEntry(_Item):
    """DanhSachHoSoBoSung[]: one supplement round, with its own dates."""

    HoSoBoSungId: Text = ""
    NgayBoSung: Instant = None
    NgayTiepNhanBoSung: Instant = None
    NgayHenTraTruoc: Instant = None
    NgayHenTraMoi: Instant = None


class ResultDocument(_Item):
    """DanhSachGiayToKetQua[]."""

    DuongDanTepTinKetQua: Text = ""


Components = Annotated[list[Component], BeforeValidator(_list)]
Fees = Annotated[list[Fee], BeforeValidator(_list)]
Supplements = Annotated[list[SupplementEntry], BeforeValidator(_list)]
Results = Annotated[list[ResultDocument], BeforeValidator(_list)]


class Snapshot(_Item):
    """A ``DongBoHoSoMC`` dossier: where it stands at the time of the sync."""

    MaHoSo: DossierId
    TrangThaiHoSo: Annotated[int, BeforeValidator(_code), Field(ge=1, le=10)]
    MaTTHC: Text = ""
    KenhThucHien: Code = Field(None, ge=1, le=3)
    DonViXuLy: Text = ""
    NgayTiepNhan: Instant = None
    NgayNopHoSo: Instant = None
    NgayHenTra: Instant = None
    NgayKetThucXuLy: Instant = None
    NgayTra: Instant = None
    NgayTuChoi: Instant = None
    TaiLieuNop: Components = []
    DanhSachLePhi: Fees = []
    DanhSachHoSoBoSung: Supplements = []
    DanhSachGiayToKetQua: Results = []
    DuocThanhToanTrucTuyen: Code = Field(None, ge=0, le=3)
    HoSoCoThanhPhanSoHoa: Flag = False
    TaiKhoanDuocXacThucVoiVNeID: Flag = False


class Step(_Item):
    """A ``CapNhatTienDoHoSoMC`` progress step: one action on the dossier, dated."""

    MaHoSo: DossierId
    ThoiDiemXuLy: Annotated[datetime, BeforeValidator(_instant)]
    TrangThai: Code = Field(None, ge=1, le=10)
    NguoiXuLy: Text = ""


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str      # e.g. "NgayHenTra", "TaiLieuNop[0].DuocSoHoa"
    message: str
    value: Any = None

    def __str__(self) -> str:
        shown = "" if self.value is None else f" (got {self.value!r})"
        return f"{self.field}: {self.message}{shown}"

    def as_json(self) -> dict:
        return {"field": self.field, "error": self.message, "value": self.value}


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(item)"


def _message(err: dict) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "missing":
        return "required"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    return msg


def errors_of(exc: ValidationError) -> list[FieldError]:
    out = []
    for err in exc.errors(include_url=False):
        value = err.get("input") if err["type"] != "missing" else None
        if isinstance(value, (dict, list)):
            value = None  # the whole sub-object is not worth repeating
        out.append(FieldError(_field_path(err["loc"]), _message(err), value))
    return out


def parse_snapshot(obj: Any) -> Snapshot | list[FieldError]:
    if not isinstance(obj, dict):
        return [FieldError("(item)", f"expected a JSON object (a dossier), got {type(obj).__name__}")]
    try:
        return Snapshot.model_validate(obj)
    except ValidationError as exc:
        return errors_of(exc)


def parse_step(obj: Any) -> Step | list[FieldError]:
    if not isinstance(obj, dict):
        return [FieldError("(item)", f"expected a JSON object (a progress step), got {type(obj).__name__}")]
    try:
        return Step.model_validate(obj)
    except ValidationError as exc:
        return errors_of(exc)
