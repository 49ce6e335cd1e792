"""A seeded, reproducible generator of realistic dossier events (docs/simulator.md).

Pure: no Kafka, no clock, no randomness but the seed. ``Simulator.events_until``
returns the contract's JSON objects (``spec/events.md``) as dicts, ordered by
``occurred_at``, with every instant in RFC 3339 at the calendar's local offset
(+07:00 for Asia/Ho_Chi_Minh).

How it stays reproducible whatever the caller does: the arrivals of one local day
are drawn, and their whole lifecycles planned, from a generator seeded by
``(seed, date)`` alone, the first time a call's ``until`` reaches that day. Events
wait in a heap until ``until`` passes them. So the events depend on the seed, the
units, the calendar, the config and ``start``, never on how the calls are spaced.

Instants are whole epoch seconds (ints) inside this module: cheap to compare, add
and heap-order, and exact.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from itertools import accumulate

from processors.calendar import WorkingCalendar
from processors.units import Unit
from sources.simulator.config import SimConfig
from sources.simulator.draw import pick, poisson
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
    timed_events,
)
from sources.simulator.office import OfficeTime
from sources.simulator.procedures import (
    LEVELS,
    ONE_DAY,
    Procedure,
    bounded_id,
    unit_procedures,
    unit_weight,
)

# -- the simulator ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitProfile:
    """A unit as the generators see it: arrival weight, procedures by level (with
    running weight totals for drawing), one-stop desk staff and processing officers."""

    unit: Unit
    weight: float
    procedures: dict[str, tuple[tuple[Procedure, float], ...]]
    cumulative: dict[str, list[float]]
    receivers: tuple[str, ...]
    officers: tuple[str, ...]

    def pick_procedure(self, rng: random.Random, level: str) -> Procedure:
        return self.procedures[level][pick(rng, self.cumulative[level])][0]


def unit_profile(unit: Unit) -> UnitProfile:
    w = unit_weight(unit)
    procs = unit_procedures(unit)
    cumulative = {lvl: list(accumulate(x for _, x in procs[lvl])) for lvl in LEVELS}
    staff = max(2, round(3 * w))
    return UnitProfile(
        unit, w, procs, cumulative,
        tuple(bounded_id(unit.unit_id, f".mc{i:02d}") for i in range(1, 3)),
        tuple(bounded_id(unit.unit_id, f".cb{i:02d}") for i in range(1, staff + 1)),
    )


class Simulator:
    """Dossier events of a province, day by day, reproducible from a seed.

    ``start`` is the origin of simulated time: dossiers arrive from then on, and
    none is open before it (start some days before the first ``until`` to warm up
    the open dossiers). ``stop``, when given, ends the arrivals (the dossiers
    already in go on to their end): a finite run. Arrivals follow the calendar's
    working days and office hours; each dossier's whole lifecycle is planned when
    it arrives.
    """

    # Relative arrivals by weekday (Mon..Sun; a make-up Saturday counts as 1).
    WEEKDAY_FACTOR = (1.15, 1.05, 1.0, 0.95, 0.85, 1.0, 1.0)

    def __init__(
        self,
        units: Iterable[Unit],
        seed: int,
        calendar: WorkingCalendar,
        config: SimConfig = SimConfig(),
        *,
        start: datetime,
        stop: datetime | None = None,
    ) -> None:
        for name, value in (("start", start), ("stop", stop)):
            if value is not None and (value.tzinfo is None or value.utcoffset() is None):
                raise ValueError(f"{name} must be time-zone aware")
        self.seed = seed
        self.config = config
        self.office = OfficeTime(calendar)
        self._units = [p for p in map(unit_profile, units) if p.weight > 0]
        if not self._units:
            raise ValueError("no unit takes dossiers (all weights are 0)")
        self._cum_weights = list(accumulate(u.weight for u in self._units))
        self._start = int(math.ceil(start.timestamp()))
        self._stop = int(math.ceil(stop.timestamp())) if stop is not None else None
        self._next_day = self.office.local_date(self._start)
        self._heap: list[tuple[int, str, dict]] = []
        self._derive_rates()

    def _derive_rates(self) -> None:
        """Turn the config's overall shares into the conditional probabilities the
        draws use, so that the overall shares come out as configured."""
        c = self.config
        mix = c.online_service_mix
        total = sum(mix)
        self._level_cum = list(accumulate(mix))
        eligible = (mix[0] + mix[1]) / total
        self._p_online_if_eligible = min(1.0, c.channel_online / eligible) if eligible else 0.0
        not_online = 1.0 - c.channel_online
        self._p_postal_if_not_online = min(1.0, c.channel_postal / not_online) if not_online > 0 else 0.0
        # Share of dossiers on procedures that have a fee at all, and how many of
        # those come online (a fee procedure without online service never does).
        weight_sum = self._cum_weights[-1]
        fee_possible = fee_online = 0.0
        for u in self._units:
            for i, lvl in enumerate(LEVELS):
                procs = u.procedures[lvl]
                w_fee = sum(x for p, x in procs if p.fee_vnd > 0) / sum(x for _, x in procs)
                share = u.weight / weight_sum * mix[i] / total * w_fee
                fee_possible += share
                if lvl != "none":
                    fee_online += share * self._p_online_if_eligible
        self._p_fee_if_possible = min(1.0, c.fee_share / fee_possible) if fee_possible else 0.0
        # Those who submit online mostly pay online; at the counter a quarter use
        # QR codes or card terminals. Solve for the online submitters' rate so that
        # payments come out at online_payment_share overall.
        o = fee_online / fee_possible if fee_possible else 0.0
        self._p_pay_online_counter = min(0.25, c.online_payment_share)
        self._p_pay_online_online = (
            min(1.0, max(0.0, (c.online_payment_share - self._p_pay_online_counter * (1 - o)) / o)) if o else 0.0
        )

    # -- public ------------------------------------------------------------------

    def events_until(self, until: datetime) -> list[dict]:
        """Every event with occurred_at < until not returned before, in
        (occurred_at, event_id) order. A smaller ``until`` than before returns []."""
        if until.tzinfo is None or until.utcoffset() is None:
            raise ValueError("until must be time-zone aware")
        limit = until.timestamp()
        # A day's arrivals are all planned at once; every event of a later day
        # happens at or after that day's midnight, hence not before ``until``.
        while self.office.midnight(self._next_day) < limit:
            if self._stop is None or self.office.midnight(self._next_day) < self._stop:
                self._arrive(self._next_day)
            self._next_day += ONE_DAY
        out = []
        heap = self._heap
        while heap and heap[0][0] < limit:
            out.append(heapq.heappop(heap)[2])
        return out

    # -- generation ----------------------------------------------------------------

    def _arrive(self, d: date) -> None:
        if not self.office.periods(d):
            return
        rng = random.Random(f"chiso-sim:{self.seed}:{d.isoformat()}")
        n = poisson(rng, self.config.dossiers_per_working_day * self.WEEKDAY_FACTOR[d.weekday()])
        arrivals = sorted(
            (self.office.random_instant(rng, d), pick(rng, self._cum_weights)) for _ in range(n)
        )
        seq: dict[int, int] = {}
        stamp = d.strftime("%y%m%d")
        for at, ui in arrivals:
            seq[ui] = seq.get(ui, 0) + 1
            plan = self._plan(rng, self._units[ui], at, f"-{stamp}-{seq[ui]:04d}")
            if at < self._start or (self._stop is not None and at >= self._stop):
                continue  # drawn all the same, so that the others do not depend on start
            for ts, ev in timed_events(plan, self.office, self.config.source):
                heapq.heappush(self._heap, (ts, ev["event_id"], ev))

    def _plan(self, rng: random.Random, u: UnitProfile, at: int, suffix: str) -> DossierPlan:
        c, office = self.config, self.office
        level = LEVELS[pick(rng, self._level_cum)]
        proc = u.pick_procedure(rng, level)
        if level != "none" and rng.random() < self._p_online_if_eligible:
            channel = "online"
        else:
            channel = "postal" if rng.random() < self._p_postal_if_not_online else "direct"
        plan = DossierPlan(
            dossier_id=bounded_id(u.unit.unit_id, suffix),
            unit_id=u.unit.unit_id,
            procedure=proc,
            received_at=at,
            channel=channel,
            due_at=office.due_after(at, proc.processing_days),
            receiver=rng.choice(u.receivers),
            officer=rng.choice(u.officers),
            assigned_at=office.add(at, assign_delay_s(rng)),
            fee_required=proc.fee_vnd > 0 and rng.random() < self._p_fee_if_possible,
            digitized=rng.random() < c.digitized_share,
        )
        if plan.fee_required:
            p_online = self._p_pay_online_online if channel == "online" else self._p_pay_online_counter
            online = rng.random() < p_online
            plan.paid = (at + payment_delay_s(rng, online), "online" if online else "offline")
        if rng.random() < c.sync_share:
            plan.synced_at = at + sync_delay_s(rng)
        add_clock_events(
            rng, office, plan,
            supplement=rng.random() < c.supplement_probability,
            pause=rng.random() < c.pause_probability,
            extension=rng.random() < c.extension_probability,
        )
        due, lo = plan.effective_due(), plan.busy_until()
        outcome = rng.random()
        if outcome < c.withdrawn_share + c.rejected_share:
            kind = "withdrawn" if outcome < c.withdrawn_share else "rejected"
            plan.end = (kind, on_time_instant(rng, office, lo, max(due, lo + 3600)))
            return plan
        late = rng.random() < c.late_share
        if late:
            resolved = office.add(max(due, lo), late_delay_s(rng))
            if rng.random() < c.apology_share:
                plan.apology_at = office.add(due, rng.randrange(max(office.between(due, resolved), 1)))
        else:
            resolved = on_time_instant(rng, office, lo, due)
        plan.end = ("resolved", resolved)
        plan.result_electronic = rng.random() < c.e_result_share
        plan.returned_at = return_instant(rng, office, resolved, plan.result_electronic or channel == "online")
        if rng.random() < c.rating_share:
            satisfied = rng.random() < c.satisfaction
            plan.rated = (rating_instant(rng, plan.returned_at), pick_rating(rng, satisfied, c.very_satisfied_share))
        return plan


