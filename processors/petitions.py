"""A petition's facts (phản ánh, kiến nghị — events.md), as a pure function of its
event set, exactly like a dossier's: deduplicated by ``event_id``, sorted by
(``occurred_at``, ``event_id``); the first reception, the first answer, the first
rating, the first reopening.

Its time limit is its ``due_at``, or the end of office hours on the 15th working
day after the local date of its reception (index.md §3, a setting). It is
*handled in time* when answered at or before the limit, or unanswered while the
limit has not passed; so, as for dossiers, being late is monotone in the as-of
instant x: late(x) <=> x >= late_at, with late_at = limit + 1 us unless it was
answered in time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from processors.calendar import WorkingCalendar
from processors.events import Event
from processors.facts import dedupe_sorted
from processors.measures import instant_member
from processors.timeutil import epoch_us, from_epoch_us, local_date

_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class PetitionRules:
    default_working_days: int = 15  # index.md: the time limit when a petition has no due_at


@dataclass(frozen=True, slots=True)
class PetitionFacts:
    petition_id: str
    orphan: bool                       # no petition_received (yet)
    unit: str | None = None
    received_at: datetime | None = None
    limit: datetime | None = None      # its time limit (due)
    answered_at: datetime | None = None
    dissatisfied_at: datetime | None = None  # the first rating, when it is `dissatisfied`
    reopened_at: datetime | None = None      # the first `petition_reopened`

    @property
    def late_at(self) -> datetime | None:
        """The first instant at which it is handled late; None: never."""
        if self.limit is None or (self.answered_at is not None and self.answered_at <= self.limit):
            return None
        return self.limit + _US

    @property
    def unsatisfied_at(self) -> datetime | None:
        """When it stops counting for petition satisfaction: rated dissatisfied,
        handled late, or reopened, whichever comes first."""
        present = [t for t in (self.late_at, self.dissatisfied_at, self.reopened_at) if t is not None]
        return min(present) if present else None


def petition_facts(petition_id: str, events: Iterable[Event], calendar: WorkingCalendar,
                   rules: PetitionRules = PetitionRules()) -> PetitionFacts:
    ordered = dedupe_sorted(events)
    r = next((e for e in ordered if e.type == "petition_received"), None)
    if r is None:
        return PetitionFacts(petition_id, orphan=True)
    limit = r.due_at if r.due_at is not None else calendar.appointment(r.occurred_at, rules.default_working_days)
    answered = next((e for e in ordered if e.type == "petition_resolved"), None)
    rated = next((e for e in ordered if e.type == "petition_rated"), None)
    reopened = next((e for e in ordered if e.type == "petition_reopened"), None)
    return PetitionFacts(
        petition_id=petition_id,
        orphan=False,
        unit=r.get("unit_id"),
        received_at=r.occurred_at,
        limit=limit,
        answered_at=answered.occurred_at if answered is not None else None,
        dissatisfied_at=rated.occurred_at if rated is not None and rated.get("rating") == "dissatisfied" else None,
        reopened_at=reopened.occurred_at if reopened is not None else None,
    )


# -- what a petition contributes, and the two indicators' counts -------------------

PETITION_ORPHANS = "petition_orphans"


@dataclass(frozen=True, slots=True)
class PetitionRecord:
    """What the index needs of one petition, kept per unit (instants in us)."""

    received_us: int
    answered_us: int | None
    late_us: int | None
    unsatisfied_us: int | None

    def to_json(self) -> list:
        return [self.received_us, self.answered_us, self.late_us, self.unsatisfied_us]

    @classmethod
    def from_json(cls, row: list) -> PetitionRecord:
        return cls(*row)


def petition_record(f: PetitionFacts) -> tuple[str, PetitionRecord] | None:
    """(unit, record), or None for an orphan."""
    if f.orphan:
        return None
    assert f.unit is not None and f.received_at is not None
    return f.unit, PetitionRecord(
        epoch_us(f.received_at),
        epoch_us(f.answered_at) if f.answered_at is not None else None,
        epoch_us(f.late_at) if f.late_at is not None else None,
        epoch_us(f.unsatisfied_at) if f.unsatisfied_at is not None else None,
    )


def petition_instants(placed: tuple[str, PetitionRecord] | None) -> dict[bytes, int]:
    """The instants at which a petition's counts change with time alone (its
    limit passing, a rating or reopening coming due): kept with the dossiers'
    as-of instants so that a reader that caches can see that time moved them.
    The counts themselves come from the records (``petition_counts``)."""
    if placed is None:
        return {}
    unit, r = placed
    day = local_date(from_epoch_us(r.received_us)).isoformat()
    out = {}
    for name, us in (("pt.late", r.late_us), ("pt.unsat", r.unsatisfied_us), ("pt.answered", r.answered_us)):
        if us is not None:
            out[instant_member(name, unit, day, "")] = us
    return out


@dataclass(frozen=True, slots=True)
class PetitionCounts:
    on_time: int = 0          # petition_on_time numerator
    on_time_of: int = 0       # its denominator: received or answered in the window
    satisfied: int = 0        # petition_satisfaction numerator
    received: int = 0         # its denominator: received in the window

    def __add__(self, other: PetitionCounts) -> PetitionCounts:
        return PetitionCounts(self.on_time + other.on_time, self.on_time_of + other.on_time_of,
                              self.satisfied + other.satisfied, self.received + other.received)


def petition_counts(records: Iterable[PetitionRecord], first: date, last: date, x_us: int) -> PetitionCounts:
    """index.md §3 over the local dates first..last, as of x (microseconds)."""
    on_time = of = satisfied = received = 0
    for r in records:
        in_window_received = first <= local_date(from_epoch_us(r.received_us)) <= last
        in_window_answered = (r.answered_us is not None and r.answered_us <= x_us
                              and first <= local_date(from_epoch_us(r.answered_us)) <= last)
        if in_window_received or in_window_answered:
            of += 1
            if r.late_us is None or r.late_us > x_us:
                on_time += 1
        if in_window_received:
            received += 1
            if r.unsatisfied_us is None or r.unsatisfied_us > x_us:
                satisfied += 1
    return PetitionCounts(on_time, of, satisfied, received)
