"""A dossier's facts as a pure function of its event set (kpis.md §1).

Everything the system shows about a dossier follows from ``dossier_facts(events)``:
the input is deduplicated by ``event_id`` and sorted by (``occurred_at``,
``event_id``) here, so arrival order and duplicates cannot matter.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import msgspec

from processors.events import END_TYPES, Event
from processors.timeutil import local_date

_PAUSE_TYPES = frozenset({"supplement_requested", "paused"})
_RESUME_TYPES = frozenset({"supplement_received", "resumed"})
_CLOCK_TYPES = _PAUSE_TYPES | _RESUME_TYPES | {"due_changed"}

# The types below are frozen msgspec Structs rather than frozen dataclasses: one
# DossierFacts (30 fields) is built per dossier update, and a frozen dataclass
# pays an object.__setattr__ per field (~4 µs against ~0.5 µs).


class ClockStep(msgspec.Struct, frozen=True):
    """An event that may move the deadline: (type, instant, optional new due)."""

    type: str
    at: datetime
    due_at: datetime | None


class Clock(msgspec.Struct, frozen=True):
    """The deadline clock after a walk: ``due``, and ``paused_since`` while paused
    (with the type of the event that paused it: index.md §2 treats a pause for a
    supplement apart)."""

    due: datetime
    paused_since: datetime | None = None
    pause_kind: str | None = None

    def effective_due(self, at: datetime) -> datetime:
        """While paused the deadline slides with time (kpis.md §1)."""
        if self.paused_since is None:
            return self.due
        return self.due + (at - self.paused_since)

    def step(self, s: ClockStep) -> Clock:
        if s.type in _PAUSE_TYPES:
            return self if self.paused_since is not None else Clock(self.due, s.at, s.type)
        if s.type in _RESUME_TYPES:
            if self.paused_since is None:
                return self
            due = s.due_at if s.due_at is not None else self.due + (s.at - self.paused_since)
            return Clock(due, None)
        # due_changed: only a move made in time and while the clock runs counts.
        if self.paused_since is None and s.due_at is not None and s.at <= self.due:
            return Clock(s.due_at, None)
        return self


class DossierFacts(msgspec.Struct, frozen=True):
    dossier_id: str
    orphan: bool
    unit: str | None = None
    procedure_id: str | None = None
    received_at: datetime | None = None
    channel: str | None = None
    online_service: str | None = None
    fee_required: bool = False
    digitized: bool = False
    reused_data: bool = False       # index.md digitisation flags of the reception
    personal_store: bool = False
    citizen_data: bool = False
    initial_due: datetime | None = None
    officer: str | None = None
    end_type: str | None = None
    end_at: datetime | None = None
    timeliness: str | None = None  # early | on_time | late, when resolved
    result_electronic: bool = False
    paid_at: datetime | None = None
    paid_online: bool = False
    rated_at: datetime | None = None
    satisfied: bool = False
    dissatisfied_at: datetime | None = None  # the first rating, when it is `dissatisfied`
    synced: bool = False
    # Each `synced` event: (its instant, the instant of the latest other event
    # at or before it), for the index's "synced within sync_max_delay".
    syncs: tuple[tuple[datetime, datetime], ...] = ()
    complaint_at: datetime | None = None       # the first `complaint`
    second_supplement_at: datetime | None = None  # index.md §2 rule 4
    apology: bool = False
    # The clock events after R and before T, in order: enough to walk the clock
    # "as of" any instant (period report, open states now).
    clock_steps: tuple[ClockStep, ...] = ()
    final_clock: Clock | None = None

    @property
    def resolved_at(self) -> datetime | None:
        return self.end_at if self.end_type == "resolved" else None

    @property
    def e_result_at(self) -> datetime | None:
        """When an electronic result was issued (resolved with result_electronic)."""
        return self.end_at if self.end_type == "resolved" and self.result_electronic else None

    def synced_at(self, max_delay: timedelta | None = None) -> datetime | None:
        """The first sync that counts: any, or one within ``max_delay`` of the
        dossier's last change before it."""
        for at, last_change in self.syncs:
            if max_delay is None or at - last_change <= max_delay:
                return at
        return None

    def clock_as_of(self, x: datetime, *, inclusive: bool) -> Clock:
        """The clock walked over the steps at (inclusive) or before x."""
        assert self.initial_due is not None
        clock = Clock(self.initial_due)
        for s in self.clock_steps:
            if s.at > x or (s.at == x and not inclusive):
                break
            clock = clock.step(s)
        return clock


def dedupe_sorted(events: Iterable[Event]) -> list[Event]:
    """Drop repeated ``event_id`` s (the first copy wins: copies are identical by
    contract) and order by (occurred_at, event_id)."""
    seen: dict[str, Event] = {}
    for e in events:
        seen.setdefault(e.event_id, e)
    return sorted(seen.values(), key=lambda e: e.sort_key)


def dossier_facts(dossier_id: str, events: Iterable[Event]) -> DossierFacts:
    ordered = dedupe_sorted(events)
    r_index = next((i for i, e in enumerate(ordered) if e.type == "received"), None)
    if r_index is None:
        return DossierFacts(dossier_id=dossier_id, orphan=True)
    r = ordered[r_index]
    t_index = next((i for i, e in enumerate(ordered) if e.type in END_TYPES), None)
    t = ordered[t_index] if t_index is not None else None

    # The clock walks the events after R and before T, in sorted order.
    stop = t_index if t_index is not None else len(ordered)
    steps = tuple(
        ClockStep(e.type, e.occurred_at, e.due_at)
        for e in ordered[r_index + 1 : stop]
        if e.type in _CLOCK_TYPES
    )
    assert r.due_at is not None  # required on `received` by the contract
    clock = Clock(r.due_at)
    for s in steps:
        clock = clock.step(s)

    timeliness = None
    if t is not None and t.type == "resolved":
        due = clock.effective_due(t.occurred_at)
        if t.occurred_at > due:
            timeliness = "late"
        elif local_date(t.occurred_at) < local_date(due):
            timeliness = "early"
        else:
            timeliness = "on_time"

    officer = r.get("officer_id")
    for e in ordered[:stop]:
        if e.type == "assigned":
            officer = e.get("officer_id")

    paid = next((e for e in ordered if e.type == "paid"), None)
    rated = next((e for e in ordered if e.type == "rated"), None)
    complaint = next((e for e in ordered if e.type == "complaint"), None)
    supplements = [e.occurred_at for e in ordered[r_index + 1: stop] if e.type == "supplement_requested"]
    syncs: list[tuple[datetime, datetime]] = []
    last_change: datetime | None = None
    for e in ordered:
        if e.type == "synced":
            syncs.append((e.occurred_at, last_change if last_change is not None else e.occurred_at))
        else:
            last_change = e.occurred_at
    return DossierFacts(
        dossier_id=dossier_id,
        orphan=False,
        unit=r.get("unit_id"),
        procedure_id=r.get("procedure_id"),
        received_at=r.occurred_at,
        channel=r.get("channel"),
        online_service=r.get("online_service"),
        fee_required=bool(r.get("fee_required", False)),
        digitized=bool(r.get("digitized", False)),
        reused_data=bool(r.get("reused_data", False)),
        personal_store=bool(r.get("personal_store", False)),
        citizen_data=bool(r.get("citizen_data", False)),
        initial_due=r.due_at,
        officer=officer,
        end_type=t.type if t is not None else None,
        end_at=t.occurred_at if t is not None else None,
        timeliness=timeliness,
        result_electronic=bool(t.get("result_electronic", False)) if t is not None and t.type == "resolved" else False,
        paid_at=paid.occurred_at if paid is not None else None,
        paid_online=paid is not None and paid.get("method") == "online",
        rated_at=rated.occurred_at if rated is not None else None,
        satisfied=rated is not None and rated.get("rating") in ("very_satisfied", "satisfied"),
        dissatisfied_at=rated.occurred_at if rated is not None and rated.get("rating") == "dissatisfied" else None,
        synced=bool(syncs),
        syncs=tuple(syncs),
        complaint_at=complaint.occurred_at if complaint is not None else None,
        second_supplement_at=supplements[1] if len(supplements) >= 2 else None,
        apology=any(e.type == "apology_issued" for e in ordered),
        clock_steps=steps,
        final_clock=clock,
    )


def overdue_intervals(f: DossierFacts) -> list[tuple[datetime, datetime | None]]:
    """The as-of instants x at which the dossier counts as *in progress and
    overdue* for the period report (kpis.md §7), as left-open, right-closed
    intervals (a, b]; b is None for "forever".

    As of x the report sees the events strictly before x: in progress means
    received_at < x and not T < x, overdue means effective due (clock walked over
    the steps before x) < x. Between two consecutive step instants the walked set
    is fixed, so on each such segment overdue-ness is: never, always (paused
    after the due: the gap due - x stays constant), or from the due on.
    """
    if f.orphan:
        return []
    assert f.received_at is not None and f.initial_due is not None
    start = f.received_at
    end = f.end_at  # in progress for x <= end (T not before x)
    if end is not None and end <= start:
        return []
    out: list[tuple[datetime, datetime | None]] = []

    def add(a: datetime, b: datetime | None) -> None:
        if b is not None and b <= a:
            return
        if out and out[-1][1] == a:
            out[-1] = (out[-1][0], b)  # merge touching intervals
        else:
            out.append((a, b))

    clock = Clock(f.initial_due)
    seg_start = start
    # Segment boundaries: each step instant s gives segment (prev, s] walked
    # with the steps before s; the last segment runs to T (or forever).
    # Steps all lie in [R, T] by construction.
    i = 0
    steps = f.clock_steps
    while True:
        # steps at the same instant apply together once x passes that instant
        next_at = steps[i].at if i < len(steps) else None
        seg_end = next_at if next_at is not None else end
        if next_at is not None and end is not None and next_at > end:
            seg_end = end
        # overdue on (seg_start, seg_end] under `clock`
        if clock.paused_since is None:
            a = max(seg_start, clock.due)
            add(a, seg_end)
        elif clock.due < clock.paused_since:
            add(seg_start, seg_end)
        if next_at is None:
            break
        while i < len(steps) and steps[i].at == next_at:
            clock = clock.step(steps[i])
            i += 1
        seg_start = max(seg_start, next_at)
    return out
