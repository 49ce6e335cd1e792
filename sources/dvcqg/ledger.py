"""Items in, events out: the pure composition that the HTTP endpoint and
``chiso import-dvcqg`` run (chiso/dvcqg.py), with the accepted reception candidates
kept in memory here and in Redis there.

For a set S of accepted items the derived events are

    D(S) = ⋃ stateless events of each item  ∪  received events of closure(candidates of S)

Both parts grow with S and depend on S only, so D is monotone and order-free:
sending, at each arrival, what D gained (the item's own events and the closure's
new elements) sends D(S) in the end, whatever the order and however often items
repeat, and never anything outside it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sources.dvcqg.derive import BAD_FIELD, NOT_AN_ITEM, Derived, Deriver, Origin, Rejected
from sources.dvcqg.model import parse_snapshot, parse_step
from sources.dvcqg.payload import PROGRESS, SYNC, guess_service
from sources.dvcqg.reception import Reception, added_receptions, closure


@dataclass(frozen=True)
class Entry:
    """One item to accept, with what travelled beside it."""

    service: str                     # SYNC, PROGRESS or "auto" (guessed from the item)
    item: Any                        # as decoded from JSON
    origin: Origin = Origin()
    where: str = ""                  # for people: "POST /api/dvcqg/DongBoHoSoMC [3]", "archive.jsonl:12"


@dataclass(frozen=True)
class ItemOutcome:
    entry: Entry
    service: str
    result: Derived | Rejected


def derive_item(deriver: Deriver, service: str, item: Any, origin: Origin = Origin()) -> Derived | Rejected:
    if service == SYNC:
        parsed = parse_snapshot(item)
        if isinstance(parsed, list):
            return Rejected(NOT_AN_ITEM if not isinstance(item, dict) else BAD_FIELD, parsed, _id_of(item))
        return deriver.snapshot(parsed, origin)
    assert service == PROGRESS, service
    step = parse_step(item)
    if isinstance(step, list):
        return Rejected(NOT_AN_ITEM if not isinstance(item, dict) else BAD_FIELD, step, _id_of(item))
    return deriver.step(step)


def derive_entries(deriver: Deriver, entries: Iterable[Entry]) -> list[ItemOutcome]:
    out = []
    for e in entries:
        service = guess_service(e.item) if e.service == "auto" else e.service
        out.append(ItemOutcome(e, service, derive_item(deriver, service, e.item, e.origin)))
    return out


def _id_of(item: Any) -> str | None:
    value = item.get("MaHoSo") if isinstance(item, dict) else None
    return (value.strip() or None) if isinstance(value, str) else None


def candidates_by_dossier(derived: Iterable[Derived]) -> dict[str, set[Reception]]:
    out: dict[str, set[Reception]] = defaultdict(set)
    for d in derived:
        if d.reception is not None:
            out[d.dossier_id].add(d.reception)
    return dict(out)


def reception_events(stored: dict[str, set[Reception]], added: dict[str, set[Reception]], source: str) -> list[dict]:
    """The ``received`` events that accepting ``added`` on top of ``stored`` adds."""
    events = []
    for dossier_id, candidates in sorted(added.items()):
        new = added_receptions(stored.get(dossier_id, set()), candidates)
        events += [r.event(dossier_id, source) for r in sorted(new, key=lambda r: r.encode())]
    return events


def derivation(derived: Iterable[Derived], source: str) -> list[dict]:
    """D(S) at once, for a whole set of items (the reference the streamed path must equal)."""
    derived = list(derived)
    events = [e for d in derived for e in d.events]
    for dossier_id, candidates in candidates_by_dossier(derived).items():
        events += [r.event(dossier_id, source) for r in closure(candidates)]
    return events


class MemoryLedger:
    """The accepted receptions in memory: ``accept`` returns what to send."""

    def __init__(self, source: str = "dvcqg") -> None:
        self.source = source
        self.stored: dict[str, set[Reception]] = defaultdict(set)

    def accept(self, derived: Iterable[Derived]) -> list[dict]:
        derived = list(derived)
        added = candidates_by_dossier(derived)
        events = [e for d in derived for e in d.events] + reception_events(self.stored, added, self.source)
        for dossier_id, candidates in added.items():
            self.stored[dossier_id] |= candidates
        return events
