"""The Quảng Nam scenario's petitions (phản ánh, kiến nghị): exact numbers for the
two petition indicators (sources/scenarios/quang_nam_2024q2.py)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import accumulate

from sources.scenarios.allocation import largest_remainder
from sources.simulator.draw import pick
from sources.simulator.lifecycle import pick_rating
from sources.simulator.office import OfficeTime
from sources.simulator.petitions import (
    PetitionPlan,
    answer_in_time,
    answer_late,
    follow_up_s,
    petition_limit,
)
from sources.simulator.procedures import bounded_id
from sources.simulator.simulator import UnitProfile


@dataclass(frozen=True)
class PetitionCounts:
    """What the petitions must give (quang_nam_2024q2.targets)."""

    first: date
    last: date
    carried_in: int            # received before the period, answered in it
    carried_in_late: int       # of which answered after their limit
    received: int              # received in the period
    answered_late: int         # received in the period, answered after the limit by x
    open_late: int             # received in the period, unanswered and past the limit at x
    dissatisfied: int          # received in the period, answered in time, rated dissatisfied by x
    reopened: int              # received in the period, answered in time, rated well or not, reopened by x


class PetitionBuilder:
    def __init__(self, office: OfficeTime, units: Sequence[UnitProfile], counts: PetitionCounts, seed: int) -> None:
        self.office = office
        self.rng = random.Random(seed)
        self.units = list(units)
        self.cum = list(accumulate(u.weight for u in self.units))
        self.c = counts
        self.end = office.midnight(date.fromordinal(counts.last.toordinal() + 1))  # x

    def build(self) -> list[PetitionPlan]:
        rng, office, c = self.rng, self.office, self.c
        plans: list[PetitionPlan] = []
        # Carried in: received in the working days before the period, still
        # unanswered on its first day, answered in its first weeks; the late
        # ones had a limit of their own that passed on the first day.
        start = office.midnight(c.first)
        for n in range(c.carried_in):
            at = office.random_instant(rng, office.working_day_before(c.first, rng.randint(1, 9)))
            plan = self._new(at)
            if n < c.carried_in_late:
                plan.due_given, plan.limit = True, office.add(start, 3600)
                plan.resolved_at = answer_late(rng, office, plan)
            else:
                span = office.between(start, plan.limit)
                plan.resolved_at = office.add(start, 600 + rng.randrange(max(span - 1200, 1)))
            plans.append(plan)
        # Received in the period, spread over its working days.
        days = office.working_days(c.first, c.last)
        per_day = largest_remainder(c.received, [1.0] * len(days))
        period = [self._new(office.random_instant(rng, d)) for d, n in zip(days, per_day) for _ in range(n)]
        period.sort(key=lambda p: p.received_at)
        # Those whose limit falls before x can be answered in time or late; the
        # last ones received are mostly still open (and in time) at x.
        decided = [p for p in period if p.limit < self.end]
        # Late answers come within days of the limit, so only limits well before x.
        can_be_late = [k for k, p in enumerate(decided) if p.limit < self.end - 10 * 86400]
        late = set(rng.sample(can_be_late, c.answered_late + c.open_late))
        open_late = set(sorted(late)[: c.open_late])
        for k, p in enumerate(decided):
            if k in open_late:  # still unanswered at x: answered in the next days
                p.resolved_at = office.add(self.end, 3600 + rng.randrange(5 * 27000))
            elif k in late:
                p.resolved_at = answer_late(rng, office, p)
                if p.resolved_at >= self.end:  # keep "answered late by x" exact
                    p.resolved_at = office.add(p.limit, 1800)
            else:
                p.resolved_at = answer_in_time(rng, office, p)
        for p in period:
            if p.resolved_at is None:
                p.resolved_at = answer_in_time(rng, office, p)
        in_time_answered = [p for k, p in enumerate(decided) if k not in late and p.resolved_at is not None
                            and p.resolved_at + 2 * 86400 < self.end]
        unhappy = rng.sample(in_time_answered, c.dissatisfied + c.reopened)
        for p in unhappy[: c.dissatisfied]:
            p.rated = (p.resolved_at + follow_up_s(rng) % 86400, "dissatisfied")  # type: ignore[operator]
        for p in unhappy[c.dissatisfied:]:
            p.reopened_at = p.resolved_at + follow_up_s(rng) % 86400  # type: ignore[operator]
        chosen = {id(p) for p in unhappy}
        for p in plans + period:
            if p.rated is None and id(p) not in chosen and rng.random() < 0.55:
                assert p.resolved_at is not None
                p.rated = (p.resolved_at + follow_up_s(rng), pick_rating(rng, True, 0.6))
        plans += period
        self._number(plans)
        return plans

    def _new(self, at: int) -> PetitionPlan:
        rng = self.rng
        u = self.units[pick(rng, self.cum)]
        due_given = rng.random() < 0.3
        return PetitionPlan(
            petition_id="", unit_id=u.unit.unit_id, received_at=at,
            limit=petition_limit(self.office, at, due_given), due_given=due_given,
            category="staff" if rng.random() < 0.2 else "procedure",
        )

    def _number(self, plans: list[PetitionPlan]) -> None:
        plans.sort(key=lambda p: p.received_at)
        seq: dict[tuple[str, date], int] = {}
        for p in plans:
            d = self.office.local_date(p.received_at)
            key = (p.unit_id, d)
            seq[key] = seq.get(key, 0) + 1
            p.petition_id = bounded_id(p.unit_id, f"-pakn-{d:%y%m%d}-{seq[key]:03d}")
