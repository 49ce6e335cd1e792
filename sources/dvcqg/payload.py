"""Request bodies as the one-stop systems send them, unwrapped into items.

Four shapes are accepted (docs/ket-noi-mot-cua.md):

- one dossier (or step) object;
- a JSON array of them (what provincial gateways forward, e.g. Tân Dân's DichVuCong);
- ``{"data": [...]}``;
- the OpenCPS adapter envelope ``{"session", "madonvi", "isUpdating", "service",
  "data": [...]}``: ``service`` says what the items are (OpenCPS posts both services,
  and its look-ups, to one URL), ``madonvi`` is the sending unit's code and
  ``session`` may carry the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

SYNC = "DongBoHoSoMC"
PROGRESS = "CapNhatTienDoHoSoMC"
SERVICES = (SYNC, PROGRESS)
# Read-only look-ups OpenCPS makes on the same URL before syncing; a reply without
# results is tolerated by the client (it then leaves names blank, isUpdating False).
LOOKUPS = frozenset({"LayThuTuc", "TraCuuHoSo", "LayDanhSachTTHC", "LayDanhMucTTHC"})


class PayloadError(ValueError):
    """The body as a whole cannot be used (not JSON, not an object or array)."""


@dataclass(frozen=True, slots=True)
class Body:
    service: str
    items: list[Any]
    madonvi: str | None = None       # the envelope's sending-unit code
    session: str | None = None       # the envelope's session (a token), never logged
    unit_code: str | None = None     # MaDinhDanhDV (a gateway's query parameter, kept in dead letters)


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def unwrap(decoded: Any, default_service: str) -> Body:
    if isinstance(decoded, list):
        return Body(default_service, decoded)
    if not isinstance(decoded, dict):
        raise PayloadError(f"body must be a JSON object or array, got {type(decoded).__name__}")
    if "data" not in decoded and "service" not in decoded:
        return Body(default_service, [decoded])
    service = _text(decoded.get("service")) or default_service
    data = decoded.get("data", [])
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise PayloadError(f"data must be an array of items, got {type(data).__name__}")
    return Body(service, data, _text(decoded.get("madonvi")), _text(decoded.get("session")),
                _text(decoded.get("MaDinhDanhDV")))


def decode(body: bytes, default_service: str) -> Body:
    text = body.strip()
    if not text:
        raise PayloadError("empty body: send a dossier object, an array of them, or {\"data\": [...]}")
    try:
        decoded = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from None
    return unwrap(decoded, default_service)


def guess_service(item: Any) -> str:
    """For archives of bare items: a progress step is dated by ThoiDiemXuLy and has no
    TrangThaiHoSo; anything else is taken for a dossier (and validated as one)."""
    if isinstance(item, dict) and "ThoiDiemXuLy" in item and "TrangThaiHoSo" not in item:
        return PROGRESS
    return SYNC


def standalone(service: str, item: Any, madonvi: str | None, query_unit: str | None) -> bytes:
    """One item as a self-contained body that can be sent again (the dead-letter
    ``raw``): the envelope's context kept, the session (a credential) dropped."""
    envelope: dict[str, Any] = {"service": service}
    if madonvi:
        envelope["madonvi"] = madonvi
    if query_unit:
        envelope["MaDinhDanhDV"] = query_unit
    envelope["data"] = [item]
    return orjson.dumps(envelope)
