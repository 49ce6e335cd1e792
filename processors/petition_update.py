"""Applying new events to one petition: the pure step the stream repeats, as
``dossier_update`` does for dossiers.

A petition's stored state is its event set and the record it last contributed
to its unit (``petitions.PetitionRecord``); new events recompute the facts from
the whole set, and the change is "replace the old record by the new one".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from processors.calendar import WorkingCalendar
from processors.events import Event, merge_events
from processors.petitions import PetitionFacts, PetitionRecord, PetitionRules, petition_facts, petition_record

Placed = tuple[str, PetitionRecord]  # (unit, record)


@dataclass(frozen=True, slots=True)
class PetitionState:
    events: dict[str, Event] = field(default_factory=dict)  # by event_id
    placed: Placed | None = None   # None: an orphan (or nothing yet)
    orphan: bool = False           # counted among the orphan petitions

    @property
    def version(self) -> int:
        return len(self.events)


@dataclass(frozen=True, slots=True)
class PetitionUpdate:
    state: PetitionState
    added: tuple[Event, ...]
    duplicates: int
    facts: PetitionFacts | None
    removed: Placed | None      # the record to drop (its unit and record)
    orphans_delta: int          # -1, 0 or +1

    @property
    def changed(self) -> bool:
        return bool(self.added)


def apply_petition_events(petition_id: str, state: PetitionState, new: Iterable[Event],
                          calendar: WorkingCalendar, rules: PetitionRules = PetitionRules()) -> PetitionUpdate:
    events, added, duplicates = merge_events(state.events, new)
    if not added:
        return PetitionUpdate(state, (), duplicates, None, None, 0)
    facts = petition_facts(petition_id, events.values(), calendar, rules)
    placed = petition_record(facts)
    new_state = PetitionState(events, placed, facts.orphan)
    removed = state.placed if state.placed is not None and state.placed[0] != (placed or ("",))[0] else None
    return PetitionUpdate(new_state, tuple(added), duplicates, facts, removed,
                          int(facts.orphan) - int(state.orphan))
