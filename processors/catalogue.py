"""The procedure catalogue (catalogue.md): which procedures each unit offers and
the facts the index's procedure-counting indicators read.

Loaded once at start-up from a CSV file (``CHISO_PROCEDURES``); a malformed row
stops start-up with the file, line and column, so nothing ever runs on a
catalogue that was half read. Unit ids and levels in ``applies_to`` that the
unit catalogue does not know are reported (``unknown_targets``) and ignored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from processors.units import UnitCatalogue

COLUMNS = ("procedure_id", "name", "applies_to", "online_service", "fee_required", "citizen",
           "decided_on", "published_on_time", "public_on_time", "content_complete")
REQUIRED_COLUMNS = ("procedure_id", "name", "applies_to", "online_service")
LEVEL_PREFIX = "level:"


class ProcedureCatalogueError(ValueError):
    """A catalogue that cannot be used, with where: file, line and column."""


def _boolean(value: object) -> object:
    """catalogue.md: true/false or 1/0, any case; an empty cell is false."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "false", "0"):
            return False
        if text in ("true", "1"):
            return True
        raise ValueError(f"expected true/false or 1/0, got {value!r}")
    return value


def _local_date(value: object) -> object:
    """A local date, YYYY-MM-DD (also dd/mm/yyyy, as provincial exports write it)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        raise ValueError(f"expected a date YYYY-MM-DD or dd/mm/yyyy, got {value!r}")
    return value


def _text(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


Flag = Annotated[bool, BeforeValidator(_boolean)]
Text = Annotated[str, BeforeValidator(_text)]


class _Row(BaseModel):
    """One CSV row as the contract states it; pydantic names the failing column."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    procedure_id: Annotated[Text, BeforeValidator(_text)]
    name: Text
    applies_to: Text = ""
    online_service: Literal["full", "partial", "none"]
    fee_required: Flag = False
    citizen: Flag = False
    decided_on: Annotated[date | None, BeforeValidator(_local_date)] = None
    published_on_time: Flag = False
    public_on_time: Flag = False
    content_complete: Flag = False


@dataclass(frozen=True, slots=True)
class Procedure:
    procedure_id: str
    name: str
    applies_to: tuple[str, ...]          # unit ids and level:NAME, as written
    online_service: str                  # full | partial | none
    fee_required: bool = False
    citizen: bool = False
    decided_on: date | None = None
    published_on_time: bool = False
    public_on_time: bool = False
    content_complete: bool = False
    extra: dict[str, str] = field(default_factory=dict)  # other columns, kept for their users

    @property
    def online(self) -> bool:
        return self.online_service in ("full", "partial")

    def as_json(self) -> dict:
        return {
            "procedure_id": self.procedure_id, "name": self.name, "applies_to": list(self.applies_to),
            "online_service": self.online_service, "fee_required": self.fee_required, "citizen": self.citizen,
            "decided_on": self.decided_on.isoformat() if self.decided_on else None,
            "published_on_time": self.published_on_time, "public_on_time": self.public_on_time,
            "content_complete": self.content_complete,
        }


class ProcedureCatalogue:
    """Procedures by id, and per unit the procedures that apply to it."""

    def __init__(self, procedures: Iterable[Procedure], units: UnitCatalogue) -> None:
        self._procedures: dict[str, Procedure] = {}
        for p in procedures:
            if p.procedure_id in self._procedures:
                raise ProcedureCatalogueError(f"duplicate procedure_id {p.procedure_id!r}")
            self._procedures[p.procedure_id] = p
        self.unknown_targets: dict[str, list[str]] = {}  # target -> procedures naming it
        by_level: dict[str, list[str]] = {}
        for u in units.all():
            by_level.setdefault(u.level, []).append(u.unit_id)
        self._by_unit: dict[str, frozenset[str]] = {}
        offered: dict[str, set[str]] = {}
        for p in self._procedures.values():
            for target in p.applies_to:
                if target.startswith(LEVEL_PREFIX):
                    unit_ids = by_level.get(target[len(LEVEL_PREFIX):], [])
                else:
                    unit_ids = [target] if target in units else []
                if not unit_ids:
                    self.unknown_targets.setdefault(target, []).append(p.procedure_id)
                for unit_id in unit_ids:
                    offered.setdefault(unit_id, set()).add(p.procedure_id)
        self._by_unit = {u: frozenset(ps) for u, ps in offered.items()}
        self._kinds: dict[tuple[str, str], frozenset[str]] = {}

    @classmethod
    def from_csv_text(cls, text: str, units: UnitCatalogue, source: str = "procedure catalogue") -> ProcedureCatalogue:
        return cls(parse_rows(text, source), units)

    @classmethod
    def from_path(cls, path: str, units: UnitCatalogue) -> ProcedureCatalogue:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise ProcedureCatalogueError(f"{path}: cannot read the procedure catalogue: {exc.strerror or exc}") from None
        return cls.from_csv_text(text, units, path)

    def __contains__(self, procedure_id: object) -> bool:
        return procedure_id in self._procedures

    def __len__(self) -> int:
        return len(self._procedures)

    def get(self, procedure_id: str) -> Procedure | None:
        return self._procedures.get(procedure_id)

    def all(self) -> list[Procedure]:
        return list(self._procedures.values())

    def name(self, procedure_id: str | None) -> str | None:
        p = self._procedures.get(procedure_id or "")
        return p.name if p else None

    def of_unit(self, unit_id: str) -> frozenset[str]:
        """The ids of the procedures that apply to the unit itself."""
        return self._by_unit.get(unit_id, frozenset())

    def of_unit_kind(self, unit_id: str, kind: str) -> frozenset[str]:
        """The unit's own procedures of a kind: ``online`` (full or partial),
        ``fee`` (fee_required) or ``citizen``; kept once computed."""
        key = (unit_id, kind)
        got = self._kinds.get(key)
        if got is None:
            flag = {"online": "online", "fee": "fee_required", "citizen": "citizen"}[kind]
            got = self._kinds[key] = frozenset(
                p for p in self.of_unit(unit_id) if getattr(self._procedures[p], flag))
        return got

    def of_units(self, unit_ids: Iterable[str]) -> set[str]:
        """The union over the units (a subtree's procedures)."""
        out: set[str] = set()
        for u in unit_ids:
            out |= self.of_unit(u)
        return out


def parse_rows(text: str, source: str) -> list[Procedure]:
    """Every row, or ProcedureCatalogueError naming the file, line and column."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ProcedureCatalogueError(f"{source}:1: missing column(s) {', '.join(missing)}; "
                                      f"expected {','.join(COLUMNS)}")
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise ProcedureCatalogueError(f"{source}:1: column(s) {', '.join(duplicated)} appear twice")
    out: list[Procedure] = []
    seen: dict[str, int] = {}
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise ProcedureCatalogueError(f"{source}:{line_no}: expected {len(header)} cells, got {len(row)}")
        cells = dict(zip(header, row, strict=True))
        try:
            parsed = _Row.model_validate(cells)
        except ValidationError as exc:
            err = exc.errors()[0]
            column = ".".join(str(x) for x in err["loc"]) or "?"
            raise ProcedureCatalogueError(f"{source}:{line_no}: column {column}: {err['msg']}") from None
        if not parsed.procedure_id or not parsed.name:
            column = "procedure_id" if not parsed.procedure_id else "name"
            raise ProcedureCatalogueError(f"{source}:{line_no}: column {column}: must not be empty")
        if parsed.procedure_id in seen:
            raise ProcedureCatalogueError(f"{source}:{line_no}: column procedure_id: {parsed.procedure_id!r} "
                                          f"is already on line {seen[parsed.procedure_id]}")
        seen[parsed.procedure_id] = line_no
        targets = tuple(t.strip() for t in parsed.applies_to.split(";") if t.strip())
        extra = {k: v for k, v in cells.items() if k not in COLUMNS}
        out.append(Procedure(
            parsed.procedure_id, parsed.name, targets, parsed.online_service, parsed.fee_required,
            parsed.citizen, parsed.decided_on, parsed.published_on_time, parsed.public_on_time,
            parsed.content_complete, extra,
        ))
    return out
