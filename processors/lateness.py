"""When a dossier becomes late, as the national portal counts it (index.md §2).

A dossier is *late as of x* when, at some instant t <= x (the clock walked over
the events at or before t), one of these holds:

1. it ended at t and t > its effective due at t;
2. it has not ended by t, is not paused, and t > its effective due at t;
3. it is paused for a supplement that was requested after the effective due;

or (4, a setting, on by default) it had two or more ``supplement_requested``
events after its reception, before its end, at or before x.

Being late is monotone in x, so one instant says it all: ``late_at``, the first
instant at which it is late, and late(x) <=> x >= late_at. Instants have
microsecond resolution (Python's datetime), so "t > due" becomes
"t >= due + 1 us". Instants before the reception are not considered (a dossier
is not late before it exists): with a due before its reception a dossier is
late from its reception on.

Between two clock steps the clock is constant, so each rule's first instant in
such a segment is found without looking at any other instant.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from processors.facts import Clock, DossierFacts
from processors.rules import CountingRules

_US = timedelta(microseconds=1)


def late_at(f: DossierFacts, rules: CountingRules = CountingRules()) -> datetime | None:
    """The first instant at which the dossier is late, or None if it never is
    (given the events it has)."""
    if f.orphan:
        return None
    assert f.received_at is not None and f.initial_due is not None
    start = f.received_at
    end = f.end_at  # rule 2 needs "not ended by t": t < end
    candidates: list[datetime] = []

    if rules.second_supplement_is_late and f.second_supplement_at is not None:
        candidates.append(max(f.second_supplement_at, start))

    # Rule 1: the end, against the clock walked over every step (all are before T).
    if end is not None and f.final_clock is not None and end > f.final_clock.effective_due(end):
        candidates.append(max(end, start))

    # Rules 2 and 3, segment by segment between the instants of clock steps.
    clock = Clock(f.initial_due)
    steps = f.clock_steps
    i = 0
    seg_start = start
    while True:
        # All steps at or before seg_start are walked.
        while i < len(steps) and steps[i].at <= seg_start:
            clock = clock.step(steps[i])
            i += 1
        seg_end = steps[i].at if i < len(steps) else None  # exclusive
        if clock.paused_since is None:
            first = max(seg_start, clock.due + _US)
            limit = _min(seg_end, end)
            if limit is None or first < limit:
                candidates.append(first)
                break  # later segments start later still
        elif clock.pause_kind == "supplement_requested" and clock.paused_since > clock.due:
            if end is None or seg_start < end:
                candidates.append(seg_start)
                break
        if seg_end is None or (end is not None and seg_end >= end):
            break
        seg_start = seg_end
    return min(candidates) if candidates else None


def _min(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
