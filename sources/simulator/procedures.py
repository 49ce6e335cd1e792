"""Procedures (thủ tục hành chính) as the simulator uses them: read from the
procedure catalogue (catalogue.md), with how often each is asked for and which
units handle it."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta

from processors.catalogue import Procedure as CatalogueProcedure
from processors.catalogue import ProcedureCatalogue
from processors.units import Unit

ONE_DAY = timedelta(days=1)
WORKING_DAY_S = 27000  # 7.5 h: the default office day, used only to scale delays
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
MAX_ID_LEN = 64  # dossier_id, unit_id, officer_id, procedure_id (events.md)
# A catalogue without the simulator's columns (processing_days, fee_vnd): a
# week's time limit and a fee known only as "there is one".
DEFAULT_PROCESSING_DAYS = 5

# -- procedures -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Procedure:
    """A catalogue procedure as the simulator uses it.

    ``processing_days``: the legal time limit in working days; the appointment
    (``due_at``) is the end of office hours on that many working days after the
    reception day. ``fee_required``: the procedure carries a fee (a dossier may
    still be exempt); ``fee_vnd`` its amount when known, else 0. ``citizen``:
    individuals use it (VNeID-authenticated applicants are mostly citizens).
    """

    procedure_id: str
    name: str
    processing_days: int
    online_service: str  # full | partial | none: the level the procedure offers
    fee_required: bool = False
    fee_vnd: int = 0
    citizen: bool = True

    @property
    def online(self) -> bool:
        return self.online_service != "none"


def _int_column(p: CatalogueProcedure, column: str, default: int) -> int:
    text = p.extra.get(column, "").strip()
    try:
        return int(text) if text else default
    except ValueError:
        raise ValueError(f"procedure {p.procedure_id}: column {column} must be a whole number, got {text!r}") from None


def simulated(p: CatalogueProcedure) -> Procedure:
    """The simulator's view of a catalogue row (its optional ``processing_days``
    and ``fee_vnd`` columns, catalogue.md's extra columns)."""
    days = _int_column(p, "processing_days", DEFAULT_PROCESSING_DAYS)
    return Procedure(p.procedure_id, p.name, max(days, 1), p.online_service, p.fee_required,
                     _int_column(p, "fee_vnd", 0) if p.fee_required else 0, p.citizen)


# How often a procedure is asked for, relative to the others of the same unit
# (our estimate for the sample catalogue's procedures; a commune certifies far
# more copies than it registers foreign marriages). Other codes get DEFAULT_VOLUME.
VOLUME: dict[str, float] = {
    # commune: certification, civil status, residence, households, land
    "2.000815": 12, "2.000884": 4, "2.001035": 1.5, "1.001193": 5, "1.000656": 1.5,
    "1.000894": 1.5, "1.004873": 3, "2.000635": 2, "2.000908": 0.5, "1.004884": 0.3,
    "1.004859": 0.6, "2.000528": 0.05, "2.000806": 0.05, "1.001612": 1, "2.000720": 0.6,
    "1.001570": 0.3, "1.001266": 0.3, "1.013978": 1, "1.011607": 0.2, "1.013225": 0.8,
    "1.004222": 2.5, "1.004194": 3.5, "1.002755": 1, "1.003677": 0.5, "1.014061": 2,
    "1.001776": 0.4, "1.001731": 0.2, "1.001699": 0.2, "1.014027": 0.2, "1.001029": 0.02,
    # departments and the police
    "3.000333": 5, "3.000347": 3, "3.000348": 1, "1.013831": 8, "1.010727": 0.2,
    "1.004756": 0.3, "1.014748": 2, "1.010825": 0.3, "1.014199": 0.5, "2.002043": 0.6,
    "1.013236": 0.5,
}
DEFAULT_VOLUME = 1.0


def volume(procedure_id: str) -> float:
    return VOLUME.get(procedure_id, DEFAULT_VOLUME)


def unit_procedures(unit: Unit, catalogue: ProcedureCatalogue) -> tuple[tuple[Procedure, float], ...]:
    """The procedures the catalogue gives the unit, with their relative volumes,
    in a fixed order (by code) so that draws do not depend on set order."""
    return tuple((simulated(p), volume(p.procedure_id))
                 for p in (catalogue.get(code) for code in sorted(catalogue.of_unit(unit.unit_id)))
                 if p is not None)


# -- units ----------------------------------------------------------------------------

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
    """Relative arrival rate of a unit: 0 for the root and uninhabited units (a
    unit the catalogue gives no procedure gets none either: ``unit_profile``)."""
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


def bounded_id(base: str, suffix: str) -> str:
    """``base + suffix`` within 64 characters (a long base is shortened with a hash)."""
    if len(base) + len(suffix) <= MAX_ID_LEN:
        return base + suffix
    tag = f"~{zlib.crc32(base.encode()):08x}"
    return base[: MAX_ID_LEN - len(suffix) - len(tag)] + tag + suffix
