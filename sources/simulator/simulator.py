"""A seeded, reproducible generator of realistic dossier events (docs/simulator.md).

Pure: no Kafka, no clock, no randomness but the seed. ``Simulator.events_until``
returns the contract's JSON objects (``spec/events.md``) as dicts, ordered by
``occurred_at``, with every instant in RFC 3339 at the calendar's local offset
(+07:00 for Asia/Ho_Chi_Minh).

How it stays reproducible whatever the caller does: the arrivals of one local day
are drawn, and their whole lifecycles planned, from a generator seeded by
``(seed, date)`` alone (the day's petitions from another, seeded the same way),
the first time a call's ``until`` reaches that day. Events wait in a heap until
``until`` passes them. So the events depend on the seed, the units, the
procedure catalogue, the calendar, the config, ``start`` and ``stop``, never on
how the calls are spaced.

Which procedures a unit handles, at which online-service level, with or without
a fee, for citizens or businesses, comes from the procedure catalogue
(catalogue.md; the sample one by default): a dossier is only ever for a
procedure that applies to its unit, and a unit with none receives nothing.

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
from processors.catalogue import ProcedureCatalogue
from processors.units import Unit, UnitCatalogue
from sources.samples import sample_procedures_path
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
from sources.simulator.petitions import (
    PetitionPlan,
    answer_in_time,
    answer_late,
    follow_up_s,
    petition_limit,
    petition_timed_events,
)
from sources.simulator.procedures import (
    ONE_DAY,
    Procedure,
    bounded_id,
    unit_procedures,
    unit_weight,
)

WORKING_DAYS_PER_MONTH = 22
# "Mostly": the rate of personal_store at the counter and of citizen_data on
# business procedures, relative to the configured (online, citizen) rate.
MINOR_RATE = 0.1

# -- the simulator ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitProfile:
    """A unit as the generators see it: arrival weight, the catalogue's procedures
    for it (with running volume totals for drawing), one-stop desk staff and
    processing officers."""

    unit: Unit
    weight: float
    procedures: tuple[tuple[Procedure, float], ...]
    cumulative: list[float]
    receivers: tuple[str, ...]
    officers: tuple[str, ...]

    def pick_procedure(self, rng: random.Random) -> Procedure:
        return self.procedures[pick(rng, self.cumulative)][0]


def unit_profile(unit: Unit, catalogue: ProcedureCatalogue) -> UnitProfile:
    """A unit the catalogue gives no procedure receives no dossiers (weight 0)."""
    procs = unit_procedures(unit, catalogue)
    w = unit_weight(unit) if procs else 0.0
    staff = max(2, round(3 * w))
    return UnitProfile(
        unit, w, procs, list(accumulate(x for _, x in procs)),
        tuple(bounded_id(unit.unit_id, f".mc{i:02d}") for i in range(1, 3)),
        tuple(bounded_id(unit.unit_id, f".cb{i:02d}") for i in range(1, staff + 1)),
    )


def sample_catalogue(units: Iterable[Unit]) -> ProcedureCatalogue:
    """The sample procedure catalogue (sources/data/procedures.csv) over these units."""
    return ProcedureCatalogue.from_path(sample_procedures_path(), UnitCatalogue(units))


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
        procedures: ProcedureCatalogue | None = None,
    ) -> None:
        for name, value in (("start", start), ("stop", stop)):
            if value is not None and (value.tzinfo is None or value.utcoffset() is None):
                raise ValueError(f"{name} must be time-zone aware")
        units = list(units)
        catalogue = procedures if procedures is not None else sample_catalogue(units)
        self.seed = seed
        self.config = config
        self.office = OfficeTime(calendar)
        self._units = [p for p in (unit_profile(u, catalogue) for u in units) if p.weight > 0]
        if not self._units:
            raise ValueError("no unit takes dossiers (all weights are 0, or the catalogue gives none a procedure)")
        self._cum_weights = list(accumulate(u.weight for u in self._units))
        self._start = int(math.ceil(start.timestamp()))
        self._stop = int(math.ceil(stop.timestamp())) if stop is not None else None
        self._next_day = self.office.local_date(self._start)
        self._heap: list[tuple[int, str, dict]] = []
        self._derive_rates()

    def _derive_rates(self) -> None:
        """Turn the config's overall shares into the conditional probabilities the
        draws use, so that the overall shares come out as configured: the
        catalogue decides which procedures can come online or owe a fee."""
        c = self.config
        weight_sum = self._cum_weights[-1]
        eligible = fee = fee_eligible = 0.0  # shares of all dossiers
        for u in self._units:
            volume = u.cumulative[-1]
            for p, x in u.procedures:
                share = u.weight / weight_sum * x / volume
                eligible += share * p.online
                fee += share * p.fee_required
                fee_eligible += share * (p.fee_required and p.online)
        self._p_online_if_eligible = min(1.0, c.channel_online / eligible) if eligible else 0.0
        not_online = 1.0 - c.channel_online
        self._p_postal_if_not_online = min(1.0, c.channel_postal / not_online) if not_online > 0 else 0.0
        # Those who submit online mostly pay online; at the counter a quarter use
        # QR codes or card terminals. Solve for the online submitters' rate so that
        # payments come out at online_payment_share overall.
        o = fee_eligible * self._p_online_if_eligible / fee if fee else 0.0
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
            if self._outside(at):
                continue  # drawn all the same, so that the others do not depend on start
            self._push(timed_events(plan, self.office, self.config.source))
        self._petitions(d)

    def _outside(self, at: int) -> bool:
        return at < self._start or (self._stop is not None and at >= self._stop)

    def _push(self, events: list[tuple[int, dict]]) -> None:
        for ts, ev in events:
            heapq.heappush(self._heap, (ts, ev["event_id"], ev))

    def _plan(self, rng: random.Random, u: UnitProfile, at: int, suffix: str) -> DossierPlan:
        c, office = self.config, self.office
        proc = u.pick_procedure(rng)
        if proc.online and rng.random() < self._p_online_if_eligible:
            channel = "online"
        else:
            channel = "postal" if rng.random() < self._p_postal_if_not_online else "direct"
        online = channel == "online"
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
            fee_required=proc.fee_required and rng.random() >= c.fee_exempt_share,
            digitized=rng.random() < c.digitized_share,
            reused_data=rng.random() < c.reused_data_share,
            personal_store=rng.random() < c.personal_store_share * (1.0 if online else MINOR_RATE),
            citizen_data=rng.random() < c.citizen_data_share * (1.0 if proc.citizen else MINOR_RATE),
        )
        if plan.fee_required:
            p_online = self._p_pay_online_online if online else self._p_pay_online_counter
            paid_online = rng.random() < p_online
            plan.paid = (at + payment_delay_s(rng, paid_online), "online" if paid_online else "offline")
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
        if outcome < c.withdrawn_share + c.rejected_share + c.stopped_share:
            kind = ("withdrawn" if outcome < c.withdrawn_share
                    else "rejected" if outcome < c.withdrawn_share + c.rejected_share else "stopped")
            plan.end = (kind, on_time_instant(rng, office, lo, max(due, lo + 3600)))
        else:
            self._resolve(rng, plan, due, lo)
        if rng.random() < c.complaint_share:
            # about the reception or the handling: while it is open, or soon after
            plan.complaint_at = office.add(plan.assigned_at, 600 + int(rng.uniform(0.1, 1.3) * office.between(
                plan.assigned_at, plan.end[1])))
        return plan

    def _resolve(self, rng: random.Random, plan: DossierPlan, due: int, lo: int) -> None:
        c, office = self.config, self.office
        if rng.random() < c.late_share:
            resolved = office.add(max(due, lo), late_delay_s(rng))
            if rng.random() < c.apology_share:
                plan.apology_at = office.add(due, rng.randrange(max(office.between(due, resolved), 1)))
        else:
            resolved = on_time_instant(rng, office, lo, due)
        plan.end = ("resolved", resolved)
        plan.result_electronic = rng.random() < c.e_result_share
        plan.returned_at = return_instant(rng, office, resolved, plan.result_electronic or plan.channel == "online")
        if rng.random() < c.rating_share:
            satisfied = rng.random() < c.satisfaction
            plan.rated = (rating_instant(rng, plan.returned_at), pick_rating(rng, satisfied, c.very_satisfied_share))

    # -- petitions ------------------------------------------------------------------

    def _petitions(self, d: date) -> None:
        """A working day's petitions, from a generator of their own (adding them
        changed no dossier), at units drawn by the same weights as dossiers."""
        c = self.config
        rng = random.Random(f"chiso-sim-pakn:{self.seed}:{d.isoformat()}")
        n = poisson(rng, c.petitions_per_unit_month * len(self._units) / WORKING_DAYS_PER_MONTH)
        arrivals = sorted((self.office.random_instant(rng, d), pick(rng, self._cum_weights)) for _ in range(n))
        seq: dict[int, int] = {}
        stamp = d.strftime("%y%m%d")
        for at, ui in arrivals:
            seq[ui] = seq.get(ui, 0) + 1
            plan = self._petition(rng, self._units[ui].unit.unit_id, at, f"-pakn-{stamp}-{seq[ui]:03d}")
            if not self._outside(at):
                self._push(petition_timed_events(plan, self.office, c.source))

    def _petition(self, rng: random.Random, unit_id: str, at: int, suffix: str) -> PetitionPlan:
        c, office = self.config, self.office
        due_given = rng.random() < c.petition_due_given_share
        plan = PetitionPlan(
            petition_id=bounded_id(unit_id, suffix), unit_id=unit_id, received_at=at,
            limit=petition_limit(office, at, due_given), due_given=due_given,
            category="staff" if rng.random() < c.petition_staff_share else "procedure",
        )
        late = rng.random() < c.petition_late_share
        plan.resolved_at = answer_late(rng, office, plan) if late else answer_in_time(rng, office, plan)
        if rng.random() < c.petition_rating_share:
            satisfied = rng.random() >= c.petition_dissatisfied_share
            plan.rated = (plan.resolved_at + follow_up_s(rng), pick_rating(rng, satisfied, c.very_satisfied_share))
        if rng.random() < c.petition_reopened_share:
            plan.reopened_at = plan.resolved_at + follow_up_s(rng)
        return plan
