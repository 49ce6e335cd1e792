"""The Quảng Nam scenario's dossiers (sources/scenarios/quang_nam_2024q2.py).

The dossiers are drawn as the simulator would draw them (office hours, holidays,
unit weights, clock events), but every flag a figure counts is *allocated* to an
exact number of dossiers, picked at random with realistic weights, instead of
being drawn independently; then times are placed so that each dossier lands
where its flags say (in or after the period, before or after its effective due).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import accumulate

from sources.scenarios.allocation import largest_remainder, sample_covering, weighted_sample
from sources.simulator.config import SimConfig
from sources.simulator.draw import pick
from sources.simulator.lifecycle import (
    DossierPlan,
    add_clock_events,
    assign_delay_s,
    late_delay_s,
    on_time_instant,
    payment_delay_s,
    pick_rating,
    rating_instant,
    return_instant,
    sync_delay_s,
)
from sources.simulator.office import OfficeTime
from sources.simulator.procedures import Procedure, bounded_id
from sources.simulator.simulator import Simulator, UnitProfile

# Office time a dossier needs at least to fit its result in before a boundary.
_MIN_SLOT_S = 1200


@dataclass(frozen=True)
class ProcedureDesign:
    """A catalogue procedure with the scenario's columns: how many dossiers of
    the period it receives and how many of those come online, and the units
    that handle it (with running weight totals to draw from)."""

    procedure: Procedure
    received: int
    online: int
    units: tuple[UnitProfile, ...]
    unit_cum: tuple[float, ...]

    def pick_unit(self, rng: random.Random) -> UnitProfile:
        return self.units[pick(rng, self.unit_cum)]


@dataclass(frozen=True)
class DossierCounts:
    """Every exact count the dossiers must give (quang_nam_2024q2.targets)."""

    first: date
    last: date
    carried_over: int
    received: int
    received_online: int
    received_postal: int
    carried_open_at_end: int
    in_progress: int
    in_time: int                 # dossiers of the period in time as of x
    synced: int
    digitized: int
    e_result: int                # resolved with an electronic result by x
    digitized_e_result: int
    reused: int
    personal_store: int
    citizen_data: int
    fee_required: int
    paid_online: int             # fee required and paid online
    paid_online_procedures: frozenset[str]
    citizen_data_procedures: frozenset[str]
    complaints: int
    dissatisfied: int            # ratings of the period's dossiers that are `dissatisfied`


class DossierBuilder:
    def __init__(self, office: OfficeTime, designs: Sequence[ProcedureDesign], counts: DossierCounts,
                 seed: int) -> None:
        self.office = office
        self.cfg = SimConfig()
        self.rng = random.Random(seed)
        self.designs = [d for d in designs if d.received > 0]
        self.c = counts
        self.start = office.midnight(counts.first)
        self.end = office.midnight(date.fromordinal(counts.last.toordinal() + 1))  # x

    # -- the plan of every dossier ----------------------------------------------------

    def build(self) -> list[DossierPlan]:
        period = self._period_arrivals()
        carried = self._carried_over()
        plans = carried + period
        rng, cfg = self.rng, self.cfg
        for i, plan in enumerate(plans):
            if not (i < len(carried) and plan.due_at < self.start):  # not overdue on the first day
                add_clock_events(
                    rng, self.office, plan,
                    supplement=rng.random() < cfg.supplement_probability,
                    pause=rng.random() < cfg.pause_probability,
                    extension=rng.random() < cfg.extension_probability,
                )
        due = [p.effective_due() for p in plans]
        busy = [p.busy_until() for p in plans]
        n_carried = len(carried)
        open_at_end = self._open_at_end(plans, n_carried, due, busy)
        resolved = [i for i in range(len(plans)) if i not in open_at_end]
        late = self._late(plans, n_carried, resolved, open_at_end, due, busy)
        self._resolve(plans, n_carried, resolved, open_at_end, late, due, busy)
        self._ratings_and_complaints(plans, n_carried, late)
        self._number(plans)
        plans.sort(key=lambda p: (p.received_at, p.dossier_id))
        return plans

    def _new_plan(self, u: UnitProfile, at: int, proc: Procedure, channel: str) -> DossierPlan:
        rng, office = self.rng, self.office
        return DossierPlan(
            dossier_id="", unit_id=u.unit.unit_id, procedure=proc, received_at=at,
            channel=channel, due_at=office.due_after(at, proc.processing_days),
            receiver=rng.choice(u.receivers), officer=rng.choice(u.officers),
            assigned_at=office.add(at, assign_delay_s(rng)),
        )

    def _period_arrivals(self) -> list[DossierPlan]:
        rng, office, c = self.rng, self.office, self.c
        days = office.working_days(c.first, c.last)
        per_day = largest_remainder(c.received, [Simulator.WEEKDAY_FACTOR[d.weekday()] for d in days])
        instants = sorted(office.random_instant(rng, d) for d, n in zip(days, per_day) for _ in range(n))
        # Each procedure's exact number of dossiers, in random order over the period.
        which = [k for k, d in enumerate(self.designs) for _ in range(d.received)]
        rng.shuffle(which)
        by_design: dict[int, list[int]] = {}
        for i, k in enumerate(which):
            by_design.setdefault(k, []).append(i)
        online: set[int] = set()
        for k, members in by_design.items():
            online |= set(rng.sample(members, self.designs[k].online))
        n = len(instants)
        others = [i for i in range(n) if i not in online]
        postal = set(rng.sample(others, c.received_postal))
        plans = []
        for i, (at, k) in enumerate(zip(instants, which)):
            d = self.designs[k]
            channel = "online" if i in online else "postal" if i in postal else "direct"
            plans.append(self._new_plan(d.pick_unit(rng), at, d.procedure, channel))
        self._flags(plans)
        return plans

    def _flags(self, plans: list[DossierPlan]) -> None:
        """The reception's flags and the payments, each given to its exact count."""
        rng, c = self.rng, self.c
        everyone = range(len(plans))
        is_online = [p.channel == "online" for p in plans]

        def online_weight(w: float):
            return lambda i: w if is_online[i] else 1.0

        def proc(i: int) -> str:
            return plans[i].procedure.procedure_id

        for i in weighted_sample(rng, everyone, c.digitized, online_weight(2.0)):
            plans[i].digitized = True
        for i in weighted_sample(rng, everyone, c.synced, online_weight(1.5)):
            plans[i].synced_at = self._before_end(plans[i].received_at, sync_delay_s(rng))
        for i in weighted_sample(rng, everyone, c.reused, online_weight(1.5)):
            plans[i].reused_data = True
        for i in weighted_sample(rng, everyone, c.personal_store, online_weight(10.0)):
            plans[i].personal_store = True
        for i in sample_covering(rng, everyone, c.citizen_data, online_weight(3.0), proc,
                                 c.citizen_data_procedures):
            plans[i].citizen_data = True
        fee_procedures = {d.procedure.procedure_id for d in self.designs if d.procedure.fee_required}
        owing = sample_covering(rng, everyone, c.fee_required, lambda i: 1.0, proc, fee_procedures)
        for i in owing:
            plans[i].fee_required = True
        # Payments happen on the day of reception, so before the period's x.
        paid_online = sample_covering(rng, sorted(owing), c.paid_online, online_weight(12.0), proc,
                                      c.paid_online_procedures)
        for i in sorted(owing):
            self._pay(plans[i], i in paid_online)

    def _before_end(self, at: int, delay_s: int) -> int:
        """at + delay, kept before the period's end for a dossier received in it
        (a sync late on 14/6 happens that evening, not after midnight)."""
        if at < self.end <= at + delay_s:
            return at + (self.end - at) // 2
        return at + delay_s

    def _pay(self, plan: DossierPlan, online: bool) -> None:
        at = self._before_end(plan.received_at, payment_delay_s(self.rng, online))
        plan.paid = (at, "online" if online else "offline")

    def _carried_over(self) -> list[DossierPlan]:
        """Dossiers received before the period and still open at its start. The
        backlog of a procedure grows with its time limit, so long procedures
        dominate; a few were already overdue on the first day. Their flags are
        drawn at the period's rates (they count in no index figure: the index
        reads the dossiers received in the window)."""
        rng, office, c = self.rng, self.office, self.c
        cum = list(accumulate(d.received * d.procedure.processing_days for d in self.designs))
        p_postal = c.received_postal / (c.received - c.received_online)
        share = {name: n / c.received for name, n in (
            ("digitized", c.digitized), ("synced", c.synced), ("reused", c.reused),
            ("personal_store", c.personal_store), ("citizen_data", c.citizen_data))}
        plans = []
        for _ in range(c.carried_over):
            d = self.designs[pick(rng, cum)]
            days = d.procedure.processing_days
            back = days + rng.randint(1, 10) if rng.random() < 0.05 else rng.randint(1, days)
            at = office.random_instant(rng, office.working_day_before(c.first, back))
            if rng.random() < d.online / d.received:
                channel = "online"
            else:
                channel = "postal" if rng.random() < p_postal else "direct"
            plan = self._new_plan(d.pick_unit(rng), at, d.procedure, channel)
            plan.digitized = rng.random() < share["digitized"]
            plan.reused_data = rng.random() < share["reused"]
            plan.personal_store = rng.random() < share["personal_store"]
            plan.citizen_data = d.procedure.citizen and rng.random() < share["citizen_data"]
            if rng.random() < share["synced"]:
                plan.synced_at = at + sync_delay_s(rng)
            plan.fee_required = d.procedure.fee_required and rng.random() < c.fee_required / self._fee_dossiers()
            if plan.fee_required:
                self._pay(plan, rng.random() < c.paid_online / c.fee_required)
            plans.append(plan)
        return plans

    def _fee_dossiers(self) -> int:
        return sum(d.received for d in self.designs if d.procedure.fee_required)

    # -- who is still open at the period's end, who is late ---------------------------------

    def _open_at_end(self, plans: list[DossierPlan], n_carried: int, due: list[int], busy: list[int]) -> set[int]:
        """The dossiers still open at the period's end: carried-over ones with the
        longest procedures and those received too late in the period to be done."""
        rng, office, c = self.rng, self.office, self.c
        start, end = self.start, self.end
        room = [office.between(max(b, start), end) for b in busy]
        forced = {i for i, r in enumerate(room) if r < _MIN_SLOT_S}
        carried = range(n_carried)
        c_forced = forced.intersection(carried)
        c_free = [i for i in carried if i not in forced]
        c_open = c_forced | weighted_sample(
            rng, c_free, c.carried_open_at_end - len(c_forced),
            lambda i: plans[i].procedure.processing_days ** 2 * (4.0 if plans[i].clock else 1.0),
        )
        period = range(n_carried, len(plans))
        p_needed = c.in_progress - c.carried_open_at_end
        p_forced = forced.intersection(period)
        if len(p_forced) > p_needed:
            raise AssertionError("more dossiers cannot finish in the period than may stay open")

        def still_to_do(i: int) -> float:
            # The share of its allowed working time a dossier still has at the end:
            # the smaller, the likelier it is still open.
            allowed = max(office.between(plans[i].received_at, due[i]), 1)
            return room[i] / allowed * rng.uniform(0.75, 1.25)

        keyed = sorted((still_to_do(i), i) for i in period if i not in p_forced)
        p_open = p_forced | {i for _, i in keyed[: p_needed - len(p_forced)]}
        return c_open | p_open

    def _overdue_at_end(self, plan: DossierPlan) -> bool:
        """An open dossier is late as of x when its clock runs at x and x is past
        its effective due (index.md §2 rule 2). Every clock event of a plan comes
        while the dossier is in time, so no earlier instant decides otherwise."""
        due, paused_since = plan.clock_at(self.end)
        return paused_since is None and self.end > due

    def _late(self, plans: list[DossierPlan], n_carried: int, resolved: list[int], open_at_end: set[int],
              due: list[int], busy: list[int]) -> set[int]:
        """Which results are late. Among the period's dossiers exactly the number
        that makes ``in_time`` dossiers in time as of x, counting the open ones
        already overdue at x; carried-over dossiers at the simulator's late share
        (those overdue on the first day are always late)."""
        rng, office, c = self.rng, self.office, self.c
        start, end = self.start, self.end
        overdue_open = sum(1 for i in open_at_end if i >= n_carried and self._overdue_at_end(plans[i]))
        n_late = c.received - c.in_time - overdue_open
        forced: dict[bool, set[int]] = {False: set(), True: set()}  # by "received in the period"
        free: dict[bool, list[int]] = {False: [], True: []}
        for i in resolved:
            lo = max(busy[i], start)
            can_on_time = due[i] > lo and office.between(lo, min(due[i], end)) >= 600
            can_late = office.between(max(due[i], lo), end) >= _MIN_SLOT_S
            if not can_on_time:
                assert can_late, "a dossier fits neither on time nor late"
                forced[i >= n_carried].add(i)
            elif can_late:
                free[i >= n_carried].append(i)
        if len(forced[True]) > n_late:
            raise AssertionError("more dossiers must be late than the published timeliness allows")

        def weight(i: int) -> float:
            return (1 + plans[i].procedure.processing_days / 5) * (2.0 if plans[i].clock else 1.0)

        carried_late = forced[False] | {i for i in free[False] if rng.random() < self.cfg.late_share}
        return carried_late | forced[True] | weighted_sample(rng, free[True], n_late - len(forced[True]), weight)

    # -- times of the results -------------------------------------------------------------

    def _resolve(self, plans: list[DossierPlan], n_carried: int, resolved: list[int], open_at_end: set[int],
                 late: set[int], due: list[int], busy: list[int]) -> None:
        rng, office, cfg, c = self.rng, self.office, self.cfg, self.c
        start, end = self.start, self.end
        period = [i for i in resolved if i >= n_carried]
        digitized = [i for i in period if plans[i].digitized]
        not_digitized = [i for i in period if not plans[i].digitized]

        def online_weight(i: int) -> float:
            return 2.0 if plans[i].channel == "online" else 1.0

        e_result = (weighted_sample(rng, digitized, c.digitized_e_result, online_weight)
                    | weighted_sample(rng, not_digitized, c.e_result - c.digitized_e_result, online_weight))
        for i in resolved:
            lo = max(busy[i], start)
            if i in late:
                after = max(due[i], lo)
                room = office.between(after, end)
                at = office.add(after, min(late_delay_s(rng), room - 60))
            else:
                at = on_time_instant(rng, office, lo, min(due[i], end))
            electronic = i in e_result if i >= n_carried else rng.random() < cfg.e_result_share
            self._finish(plans[i], at, due[i], i in late, electronic)
        for i in sorted(open_at_end):
            lo = max(busy[i], end)
            electronic = rng.random() < cfg.e_result_share
            if due[i] > lo and office.between(lo, due[i]) >= 600 and rng.random() < 1 - cfg.late_share:
                self._finish(plans[i], on_time_instant(rng, office, lo, due[i]), due[i], False, electronic)
            else:
                self._finish(plans[i], office.add(max(due[i], lo), late_delay_s(rng)), due[i], True, electronic)

    def _finish(self, plan: DossierPlan, at: int, due: int, late: bool, e_result: bool) -> None:
        rng, office = self.rng, self.office
        plan.end = ("resolved", at)
        plan.result_electronic = e_result
        if late and rng.random() < self.cfg.apology_share:
            plan.apology_at = office.add(due, rng.randrange(max(office.between(due, at), 1)))
        plan.returned_at = return_instant(rng, office, at, e_result or plan.channel == "online")

    def _ratings_and_complaints(self, plans: list[DossierPlan], n_carried: int, late: set[int]) -> None:
        """About 45 % rate the service; among the period's dossiers exactly
        ``dissatisfied`` ratings, late dossiers being the unhappy ones, and
        exactly ``complaints`` complaints (dossier satisfaction reads both)."""
        rng, cfg, c = self.rng, self.cfg, self.c
        rated = [i for i, plan in enumerate(plans) if plan.returned_at is not None and rng.random() < cfg.rating_share]
        period = [i for i in rated if i >= n_carried]
        unhappy = weighted_sample(rng, period, c.dissatisfied, lambda i: 6.0 if i in late else 1.0)
        for i in rated:
            plan = plans[i]
            assert plan.returned_at is not None
            satisfied = i not in unhappy if i >= n_carried else rng.random() < cfg.satisfaction
            plan.rated = (rating_instant(rng, plan.returned_at), pick_rating(rng, satisfied, cfg.very_satisfied_share))
        for i in weighted_sample(rng, range(n_carried, len(plans)), c.complaints, lambda i: 5.0 if i in late else 1.0):
            plan = plans[i]
            assert plan.end is not None
            span = self.office.between(plan.assigned_at, plan.end[1])
            plan.complaint_at = self.office.add(plan.assigned_at, 600 + int(rng.uniform(0.1, 1.3) * span))

    def _number(self, plans: list[DossierPlan]) -> None:
        """Dossier codes: unit, reception date, number of the day at that unit."""
        order = sorted(range(len(plans)), key=lambda i: plans[i].received_at)
        seq: dict[tuple[str, date], int] = {}
        for i in order:
            plan = plans[i]
            d = self.office.local_date(plan.received_at)
            key = (plan.unit_id, d)
            seq[key] = seq.get(key, 0) + 1
            plan.dossier_id = bounded_id(plan.unit_id, f"-{d:%y%m%d}-{seq[key]:04d}")
