"""Open dossiers at *now* (kpis.md §8) and when their state will next change.

A dossier's state moves with time even when no event arrives: not_due becomes
nearing_due when the working time left drops to the threshold, then overdue
once the effective due has passed. ``open_state`` returns the state at ``now``
and ``next_change_at``, the first instant after ``now`` at which the answer may
differ, so a timer can wake exactly then instead of scanning every dossier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from processors.calendar import WorkingCalendar
from processors.facts import DossierFacts

STATES = ("overdue", "paused", "nearing_due", "not_due")
ALERT_STATES = ("nearing_due", "overdue")
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class OpenState:
    state: str | None            # None: not open at now
    effective_due: datetime | None
    paused: bool = False
    no_apology: bool = False     # overdue and no apology letter (Decree 61/2018)
    next_change_at: datetime | None = None


def _min(*instants: datetime | None) -> datetime | None:
    present = [i for i in instants if i is not None]
    return min(present) if present else None


def open_state(f: DossierFacts, now: datetime, calendar: WorkingCalendar) -> OpenState:
    if f.orphan:
        return OpenState(None, None)
    assert f.received_at is not None
    if f.received_at > now:  # not received yet as of now
        return OpenState(None, None, next_change_at=f.received_at)
    if f.end_at is not None and f.end_at <= now:
        return OpenState(None, None)

    clock = f.clock_as_of(now, inclusive=True)
    due = clock.effective_due(now)
    paused = clock.paused_since is not None
    # Events after now will change the walk when their instant comes.
    upcoming = [s.at for s in f.clock_steps if s.at > now]
    next_event = _min(min(upcoming) if upcoming else None, f.end_at)

    if now > due:
        # Overdue stays overdue with time: paused, the gap is frozen; running, it grows.
        return OpenState("overdue", due, paused, not f.apology, next_event)
    if paused:
        return OpenState("paused", due, True, False, next_event)
    overdue_at = due + _TICK  # overdue means strictly after the due instant
    try:
        if calendar.working_time_s(now, due) <= calendar.config.warning_threshold_s:
            return OpenState("nearing_due", due, False, False, _min(next_event, overdue_at))
        nearing_at = calendar.nearing_due_from(due)
    except ValueError:
        # Outside the calendar's years (a garbage far-future due): never nearing.
        return OpenState("not_due", due, False, False, _min(next_event, overdue_at))
    return OpenState("not_due", due, False, False, _min(next_event, nearing_at, overdue_at))
