"""Which unit of the catalogue a synced dossier belongs to.

The portal format names the unit in up to four places (docs/ket-noi-mot-cua.md):
``DonViXuLy`` (the processing unit, usually its *name*), the ``MaHoSo`` prefix (the
receiving unit's code, ``000.00.12.H22-240315-0007``), ``MaDinhDanhDV`` (a gateway's
query parameter) and the OpenCPS envelope's ``madonvi`` (the sending unit's code).
They are tried in that order, most specific first; the first that names a known
unit wins.

A value equal to a unit id, or to the name of exactly one unit, of the unit
catalogue maps with no configuration. Anything else (portal codes such as
``H44.07`` or ``000.00.12.H55``, Decision 19/2025 commune codes, other spellings of
names) comes from a mapping file, CSV ``agency,unit_id``, validated at start-up:
every unit id must exist, an agency may not map to two units. Matching ignores case,
Unicode normal form and repeated spaces.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from processors.units import UnitCatalogue

HEADER = ("agency", "unit_id")


class AgencyMapError(ValueError):
    """A mapping file that cannot be used, with where (file and line)."""


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def dossier_prefix(dossier_id: str) -> str | None:
    """The unit code in front of a MaHoSo (``<code>-<yyMMdd>-<seq>``), if any."""
    head, sep, _ = dossier_id.partition("-")
    return (head.strip() or None) if sep else None


@dataclass(frozen=True)
class AgencyMap:
    by_key: dict[str, str]                                    # normalised agency -> unit id
    from_file: int = 0                                        # entries read from the mapping file
    ambiguous_names: dict[str, list[str]] = field(default_factory=dict)  # catalogue names of several units

    @classmethod
    def build(cls, units: UnitCatalogue, mapping_text: str | None = None, source: str = "agency mapping") -> AgencyMap:
        by_key: dict[str, str] = {}
        names: dict[str, list[str]] = {}
        for u in units.all():
            names.setdefault(normalise(u.name), []).append(u.unit_id)
        ambiguous = {n: ids for n, ids in names.items() if len(ids) > 1}
        by_key.update({n: ids[0] for n, ids in names.items() if len(ids) == 1})
        by_key.update({normalise(u.unit_id): u.unit_id for u in units.all()})
        entries = parse_mapping(mapping_text, units, source) if mapping_text is not None else {}
        by_key.update(entries)
        return cls(by_key, len(entries), ambiguous)

    @classmethod
    def from_path(cls, units: UnitCatalogue, path: str | None) -> AgencyMap:
        if path is None:
            return cls.build(units)
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise AgencyMapError(f"{path}: cannot read the agency mapping: {exc.strerror or exc}") from None
        return cls.build(units, text, path)

    def unit_of(self, value: str | None) -> str | None:
        if not value:
            return None
        return self.by_key.get(normalise(value))

    def resolve(self, tried: Iterable[tuple[str, str | None]]) -> str | None:
        """The unit of the first (field, value) that maps, or None."""
        for _, value in tried:
            unit = self.unit_of(value)
            if unit is not None:
                return unit
        return None


def parse_mapping(text: str, units: UnitCatalogue, source: str) -> dict[str, str]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in next(reader, [])]
    if header[:2] != list(HEADER):
        raise AgencyMapError(f"{source}:1: the header must start with {','.join(HEADER)}, got {','.join(header) or 'nothing'}")
    out: dict[str, str] = {}
    line_of: dict[str, int] = {}
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 2:
            raise AgencyMapError(f"{source}:{line_no}: expected agency,unit_id, got {len(row)} cell(s)")
        agency, unit_id = row[0].strip(), row[1].strip()
        if not agency or not unit_id:
            raise AgencyMapError(f"{source}:{line_no}: column {'agency' if not agency else 'unit_id'}: must not be empty")
        if unit_id not in units:
            raise AgencyMapError(f"{source}:{line_no}: column unit_id: {unit_id!r} is not a unit of the unit catalogue")
        key = normalise(agency)
        if key in out and out[key] != unit_id:
            raise AgencyMapError(f"{source}:{line_no}: column agency: {agency!r} maps to {out[key]!r} on line "
                                 f"{line_of[key]} already")
        out[key] = unit_id
        line_of.setdefault(key, line_no)
    return out
