"""The unit catalogue (outputs.md) as a tree, and roll-up scopes (kpis.md §6).

A unit seen in events but missing from the catalogue is a top-level unit of its
own, reported as unknown: ``with_seen`` adds such units without changing the tree.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

HEADER = ["unit_id", "name", "parent_id", "level"]


class CatalogueError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Unit:
    unit_id: str
    name: str
    parent_id: str | None
    level: str
    known: bool = True  # False: seen in events, absent from the catalogue


class UnitCatalogue:
    def __init__(self, units: Iterable[Unit]) -> None:
        self._units: dict[str, Unit] = {}
        for u in units:
            if u.unit_id in self._units:
                raise CatalogueError(f"duplicate unit_id {u.unit_id!r}")
            self._units[u.unit_id] = u
        self._children: dict[str | None, list[str]] = {}
        for u in self._units.values():
            if u.parent_id is not None and u.parent_id not in self._units:
                raise CatalogueError(f"unit {u.unit_id!r}: unknown parent_id {u.parent_id!r}")
            self._children.setdefault(u.parent_id, []).append(u.unit_id)
        self._check_acyclic()

    def _check_acyclic(self) -> None:
        reachable = set(self._descendants_of_roots())
        cyclic = sorted(set(self._units) - reachable)
        if cyclic:
            raise CatalogueError(f"units in a parent cycle: {', '.join(cyclic[:5])}")

    def _descendants_of_roots(self) -> Iterable[str]:
        stack = list(self._children.get(None, []))
        while stack:
            uid = stack.pop()
            yield uid
            stack.extend(self._children.get(uid, []))

    @classmethod
    def from_csv_text(cls, text: str) -> UnitCatalogue:
        reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != HEADER:
            raise CatalogueError(f"unit catalogue header must be {','.join(HEADER)}, got {header}")
        units = []
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 4:
                raise CatalogueError(f"line {line_no}: expected 4 columns, got {len(row)}")
            unit_id, name, parent_id, level = (c.strip() for c in row)
            if not unit_id or not name:
                raise CatalogueError(f"line {line_no}: unit_id and name are required")
            units.append(Unit(unit_id, name, parent_id or None, level))
        return cls(units)

    @classmethod
    def from_path(cls, path: str) -> UnitCatalogue:
        with open(path, encoding="utf-8") as fh:
            return cls.from_csv_text(fh.read())

    def with_seen(self, unit_ids: Iterable[str]) -> UnitCatalogue:
        """This catalogue plus unknown units seen in events, each a root."""
        extra = [Unit(u, u, None, "unknown", known=False) for u in unit_ids if u not in self._units]
        if not extra:
            return self
        return UnitCatalogue([*self._units.values(), *extra])

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self._units

    def __len__(self) -> int:
        return len(self._units)

    def get(self, unit_id: str) -> Unit | None:
        return self._units.get(unit_id)

    def all(self) -> list[Unit]:
        return list(self._units.values())

    def roots(self) -> list[Unit]:
        return [self._units[u] for u in self._children.get(None, [])]

    def children(self, unit_id: str) -> list[Unit]:
        return [self._units[u] for u in self._children.get(unit_id, [])]

    def subtree(self, unit_id: str) -> list[str]:
        """The unit and all its descendants."""
        out = [unit_id]
        stack = list(self._children.get(unit_id, []))
        while stack:
            uid = stack.pop()
            out.append(uid)
            stack.extend(self._children.get(uid, []))
        return out

    def tree(self) -> list[dict]:
        def node(uid: str) -> dict:
            u = self._units[uid]
            return {
                "unit_id": u.unit_id, "name": u.name, "parent_id": u.parent_id, "level": u.level,
                "known": u.known, "children": [node(c) for c in self._children.get(uid, [])],
            }

        return [node(u) for u in self._children.get(None, [])]
