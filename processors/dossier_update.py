"""Applying new events to one dossier: the pure step the stream repeats.

The stored state of a dossier is its event set and the contribution (cells) it
last applied to the counters. Adding events recomputes the facts from the whole
set and yields the *change* in contribution, which is what the stream adds to
the counters. Re-applying events already in the set changes nothing, so a
replayed message is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from processors.events import Event, merge_events
from processors.facts import DossierFacts, dossier_facts
from processors.measures import Cell, Instant, contribution, contribution_delta
from processors.rules import CountingRules


@dataclass(frozen=True, slots=True)
class DossierState:
    events: dict[str, Event] = field(default_factory=dict)  # by event_id
    cells: tuple[Cell, ...] = ()
    instants: tuple[Instant, ...] = ()

    @property
    def version(self) -> int:
        """The number of events: grows with every change, so it doubles as the
        compare-and-set token of the stored state."""
        return len(self.events)


@dataclass(frozen=True, slots=True)
class DossierUpdate:
    state: DossierState
    added: tuple[Event, ...]   # events new to the set, in arrival order
    duplicates: int            # events whose id was already known
    delta: dict[Cell, int]
    facts: DossierFacts | None  # None when nothing was added
    instants_removed: tuple[bytes, ...] = ()        # members no longer contributed
    instants_added: tuple[Instant, ...] = ()        # new or moved (member, score)

    @property
    def changed(self) -> bool:
        return bool(self.added)


def apply_events(dossier_id: str, state: DossierState, new: Iterable[Event],
                 rules: CountingRules = CountingRules()) -> DossierUpdate:
    events, added, duplicates = merge_events(state.events, new)
    if not added:
        return DossierUpdate(state, (), duplicates, {}, None)
    facts = dossier_facts(dossier_id, events.values())
    contributed = contribution(facts, rules)
    cells = tuple(sorted(contributed.cells))
    instants = tuple(sorted(contributed.instants))
    old = dict(state.instants)
    now = dict(instants)
    return DossierUpdate(
        DossierState(events, cells, instants), tuple(added), duplicates,
        contribution_delta(state.cells, cells), facts,
        instants_removed=tuple(m for m in old if m not in now),
        instants_added=tuple((m, t) for m, t in instants if old.get(m) != t),
    )
