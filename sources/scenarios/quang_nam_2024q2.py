"""Quảng Nam, 15/3-14/6/2024: events that reproduce the province's published figures.

Source: a 2024 provincial report on Quảng Nam's service index (Bộ chỉ số phục vụ
người dân, doanh nghiệp) for the period 15/3/2024-14/6/2024. Once every event of
``events()`` is applied, the period report (kpis.md §7) for 2024-03-15..2024-06-14
over all units and the index (§4) of that explicit window give:

    carried_over 8,351   received 105,344 (online 77,112)   to_process 113,695
    resolved 104,126     in_progress 9,569                  withdrawn + rejected 0
    points: transparency 13.2, timeliness 18.4, online_payment 7.6,
            satisfaction 17.6, digitization 15.6 (each to within 0.05)

The report states no online_service points; we choose 90,720 online-eligible
receptions, so 77,112 / 90,720 = 85 % and 10.2 points (docs/simulator.md).

How "exactly" is reached: the dossiers are drawn as the simulator would draw them
(office hours, holidays, unit weights, procedures), but every flag a figure counts
(channel, digitised, synced, late, electronic result, online payment, satisfied,
open at the period's end) is *allocated* to an exact number of dossiers, picked at
random with realistic weights, instead of being drawn independently. Times are
then placed so that each dossier lands where its flags say (in or after the
period, before or after its effective due).

The units are the sample catalogue's: the communes of the former Quảng Nam (all
but the 16 of the former Đà Nẵng) and the city's departments, which stand in for
Quảng Nam's. The root ``dng`` receives nothing.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from itertools import accumulate

from processors.calendar import WorkingCalendar
from processors.units import Unit, UnitCatalogue
from sources.samples import sample_units_text
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
    plan_events,
    rating_instant,
    return_instant,
    sync_delay_s,
    timed_events,
)
from sources.simulator.office import OfficeTime
from sources.simulator.procedures import LEVELS, Procedure, bounded_id
from sources.simulator.simulator import Simulator, UnitProfile, unit_profile

FROM = date(2024, 3, 15)
TO = date(2024, 6, 14)
SOURCE = "igate-qnam"
SEED = 20240614

# Published (kpis.md §7 names).
PUBLISHED_REPORT = {
    "carried_over": 8_351, "received": 105_344, "received_online": 77_112,
    "to_process": 113_695, "resolved": 104_126, "in_progress": 9_569,
    "withdrawn": 0, "rejected": 0,
}
PUBLISHED_POINTS = {
    "transparency": 13.2, "timeliness": 18.4, "online_payment": 7.6,
    "satisfaction": 17.6, "digitization": 15.6,
}

# Our choices where the report is silent.
ONLINE_ELIGIBLE = 90_720  # online_service: 12 x 77,112 / 90,720 = 10.2 points
RECEIVED_POSTAL = 1_264  # 1.2 % by public postal service
RECEIVED_DIGITIZED = 79_008  # 75 %; the e-result share follows from 15.6 points
CARRIED_OPEN_AT_END = 151  # old dossiers (land, building permits) still open on 14/6
FEE_PAYING = 0.8  # dossiers of fee-charging procedures that owe the fee (exemptions)

# Communes of the former Đà Nẵng: not part of Quảng Nam in 2024.
FORMER_DA_NANG = frozenset({
    "dng-p-hai-van", "dng-p-lien-chieu", "dng-p-hoa-khanh", "dng-p-thanh-khe",
    "dng-p-an-khe", "dng-p-hai-chau", "dng-p-hoa-cuong", "dng-p-cam-le",
    "dng-p-son-tra", "dng-p-an-hai", "dng-p-ngu-hanh-son", "dng-x-ba-na",
    "dng-p-hoa-xuan", "dng-x-hoa-vang", "dng-x-hoa-tien", "dng-dk-hoang-sa",
})

# Office time a dossier needs at least to fit its result in before a boundary.
_MIN_SLOT_S = 1200


def targets() -> dict[str, int]:
    """Every exact count the scenario allocates (published or derived from points)."""
    received = PUBLISHED_REPORT["received"]
    resolved = PUBLISHED_REPORT["resolved"]
    digitized = RECEIVED_DIGITIZED
    return {
        **PUBLISHED_REPORT,
        "received_online_eligible": ONLINE_ELIGIBLE,
        "received_postal": RECEIVED_POSTAL,
        "received_digitized": digitized,
        "received_synced": round(PUBLISHED_POINTS["transparency"] / 18 * received),
        "resolved_on_time_or_early": round(PUBLISHED_POINTS["timeliness"] / 20 * resolved),
        "resolved_e_result": round((2 * PUBLISHED_POINTS["digitization"] / 22 - digitized / received) * resolved),
    }


def scenario_units(catalogue: UnitCatalogue | None = None) -> list[Unit]:
    if catalogue is None:
        text = sample_units_text()
        catalogue = UnitCatalogue.from_csv_text(text)
    return [u for u in catalogue.all() if u.unit_id not in FORMER_DA_NANG]


def events() -> Iterator[dict]:
    """The whole scenario, ordered by (occurred_at, event_id); ~115k dossiers."""
    yield from Scenario().events()


def dossiers() -> Iterator[list[dict]]:
    """The same events, one dossier's at a time (cheap to aggregate)."""
    yield from Scenario().dossiers()


class Scenario:
    """The scenario's dossier plans, built once; both views come from them."""

    def __init__(self, units: Sequence[Unit] | None = None) -> None:
        self.office = OfficeTime(WorkingCalendar())
        self.plans = _Builder(self.office, units if units is not None else scenario_units()).build()

    def dossiers(self) -> Iterator[list[dict]]:
        for plan in self.plans:
            yield plan_events(plan, self.office, SOURCE)

    def events(self) -> Iterator[dict]:
        # Plans come in reception order and no event precedes its reception, so an
        # event earlier than the next reception can go out.
        heap: list[tuple[int, str, dict]] = []
        for plan in self.plans:
            while heap and heap[0][0] < plan.received_at:
                yield heapq.heappop(heap)[2]
            for ts, ev in timed_events(plan, self.office, SOURCE):
                heapq.heappush(heap, (ts, ev["event_id"], ev))
        while heap:
            yield heapq.heappop(heap)[2]


def _weighted_sample(rng: random.Random, items: Sequence[int], k: int,
                     weight: Callable[[int], float]) -> set[int]:
    """k distinct items, each drawn with probability proportional to its weight
    (Efraimidis-Spirakis keys)."""
    if k > len(items):
        raise ValueError(f"cannot pick {k} of {len(items)}")
    if k <= 0:
        return set()
    keys = [(math.log(1.0 - rng.random()) / weight(i), i) for i in items]
    keys.sort(reverse=True)
    return {i for _, i in keys[:k]}


def _largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    s = sum(weights)
    raw = [total * w / s for w in weights]
    out = [math.floor(x) for x in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: (out[i] - raw[i], i))
    for i in by_remainder[: total - sum(out)]:
        out[i] += 1
    return out


class _Builder:
    def __init__(self, office: OfficeTime, units: Sequence[Unit]) -> None:
        self.office = office
        self.cfg = SimConfig()
        self.rng = random.Random(SEED)
        self.units = [p for p in map(unit_profile, units) if p.weight > 0]
        if not self.units:
            raise ValueError("no unit takes dossiers")
        self.unit_cum = list(accumulate(p.weight for p in self.units))
        mix = self.cfg.online_service_mix
        self.level_cum = list(accumulate(mix))
        self.p_full_if_eligible = mix[0] / (mix[0] + mix[1])
        self.t = targets()
        self.start = office.midnight(FROM)
        self.end = office.midnight(date.fromordinal(TO.toordinal() + 1))
        received = self.t["received"]
        self.p_online_if_eligible = self.t["received_online"] / ONLINE_ELIGIBLE
        self.p_postal_if_not_online = RECEIVED_POSTAL / (received - self.t["received_online"])

    # -- the plan of every dossier ----------------------------------------------------

    def build(self) -> list[DossierPlan]:
        period = self._period_arrivals()
        carried = self._carried_over()
        plans = carried + period
        cfg, rng = self.cfg, self.rng
        for i, plan in enumerate(plans):
            overdue_at_start = i < len(carried) and plan.due_at < self.start
            if not overdue_at_start:
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
        in_window = [i for i in range(len(plans)) if i not in open_at_end]
        assert len(in_window) == self.t["resolved"]
        late = self._late(plans, in_window, due, busy)
        self._resolve(plans, in_window, open_at_end, late, due, busy)
        self._ratings(plans, late)
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
            fee_required=proc.fee_vnd > 0 and rng.random() < FEE_PAYING,
        )

    def _period_arrivals(self) -> list[DossierPlan]:
        rng, office, t = self.rng, self.office, self.t
        days = office.working_days(FROM, TO)
        counts = _largest_remainder(t["received"], [Simulator.WEEKDAY_FACTOR[d.weekday()] for d in days])
        arrivals: list[tuple[int, int]] = []
        for d, n in zip(days, counts):
            arrivals += sorted((office.random_instant(rng, d), pick(rng, self.unit_cum)) for _ in range(n))
        n = len(arrivals)
        none = set(rng.sample(range(n), n - ONLINE_ELIGIBLE))
        levels = [
            "none" if i in none else ("full" if rng.random() < self.p_full_if_eligible else "partial")
            for i in range(n)
        ]
        eligible = [i for i in range(n) if levels[i] != "none"]
        online = _weighted_sample(rng, eligible, t["received_online"], lambda i: 1.3 if levels[i] == "full" else 0.8)
        others = [i for i in range(n) if i not in online]
        postal = set(rng.sample(others, RECEIVED_POSTAL))
        plans = []
        for i, (at, ui) in enumerate(arrivals):
            channel = "online" if i in online else "postal" if i in postal else "direct"
            u = self.units[ui]
            plans.append(self._new_plan(u, at, u.pick_procedure(rng, levels[i]), channel))
        everyone = range(n)
        is_online = [p.channel == "online" for p in plans]
        for i in _weighted_sample(rng, everyone, t["received_digitized"], lambda i: 2.0 if is_online[i] else 1.0):
            plans[i].digitized = True
        synced = _weighted_sample(rng, everyone, t["received_synced"], lambda i: 1.5 if is_online[i] else 1.0)
        for i in everyone:
            if i in synced:
                plans[i].synced_at = plans[i].received_at + sync_delay_s(rng)
        # Payments happen on the day of reception, so the period's payments are
        # exactly those of its receptions: allocate the online ones exactly.
        payers = [i for i in everyone if plans[i].fee_required]
        pay_online = _weighted_sample(
            rng, payers, round(PUBLISHED_POINTS["online_payment"] / 10 * len(payers)),
            lambda i: 8.0 if is_online[i] else 1.0,
        )
        for i in payers:
            self._pay(plans[i], i in pay_online)
        return plans

    def _pay(self, plan: DossierPlan, online: bool) -> None:
        plan.paid = (plan.received_at + payment_delay_s(self.rng, online), "online" if online else "offline")

    def _carried_over(self) -> list[DossierPlan]:
        """Dossiers received before 15/3 and still open then. The backlog of a
        procedure grows with its time limit, so long procedures dominate; a few
        were already overdue on 15/3."""
        rng, office, cfg = self.rng, self.office, self.cfg
        plans = []
        for _ in range(self.t["carried_over"]):
            u = self.units[pick(rng, self.unit_cum)]
            level = LEVELS[pick(rng, self.level_cum)]
            procs = u.procedures[level]
            proc = procs[pick(rng, list(accumulate(w * p.processing_days for p, w in procs)))][0]
            days = proc.processing_days
            back = days + rng.randint(1, 10) if rng.random() < 0.05 else rng.randint(1, days)
            at = office.random_instant(rng, office.working_day_before(FROM, back))
            if level != "none" and rng.random() < self.p_online_if_eligible:
                channel = "online"
            else:
                channel = "postal" if rng.random() < self.p_postal_if_not_online else "direct"
            plan = self._new_plan(u, at, proc, channel)
            plan.digitized = rng.random() < cfg.digitized_share
            if rng.random() < cfg.sync_share:
                plan.synced_at = at + sync_delay_s(rng)
            if plan.fee_required:
                self._pay(plan, rng.random() < PUBLISHED_POINTS["online_payment"] / 10)
            plans.append(plan)
        return plans

    # -- who is still open on 14/6, who is late ------------------------------------------

    def _open_at_end(self, plans: list[DossierPlan], n_carried: int, due: list[int], busy: list[int]) -> set[int]:
        """The dossiers still open at the period's end: the carried-over ones with the
        longest procedures and those received too late in the period to be done."""
        rng, office = self.rng, self.office
        start, end = self.start, self.end
        room = [office.between(max(b, start), end) for b in busy]
        forced = {i for i, r in enumerate(room) if r < _MIN_SLOT_S}
        carried = range(n_carried)
        c_forced = forced.intersection(carried)
        c_free = [i for i in carried if i not in forced]
        c_open = c_forced | _weighted_sample(
            rng, c_free, CARRIED_OPEN_AT_END - len(c_forced),
            lambda i: plans[i].procedure.processing_days ** 2 * (4.0 if plans[i].clock else 1.0),
        )
        period = range(n_carried, len(plans))
        p_needed = self.t["in_progress"] - CARRIED_OPEN_AT_END
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

    def _late(self, plans: list[DossierPlan], in_window: list[int], due: list[int], busy: list[int]) -> set[int]:
        """Exactly the published number of late results among those of the period.
        Carried-over dossiers already overdue on 15/3 cannot be on time."""
        rng, office = self.rng, self.office
        start, end = self.start, self.end
        n_late = self.t["resolved"] - self.t["resolved_on_time_or_early"]
        forced_late, free = set(), []
        for i in in_window:
            lo = max(busy[i], start)
            can_on_time = due[i] > lo and office.between(lo, min(due[i], end)) >= 600
            can_late = office.between(max(due[i], lo), end) >= _MIN_SLOT_S
            if not can_on_time:
                assert can_late, "a dossier fits neither on time nor late"
                forced_late.add(i)
            elif can_late:
                free.append(i)
        if len(forced_late) > n_late:
            raise AssertionError("more dossiers must be late than the report has")
        return forced_late | _weighted_sample(
            rng, free, n_late - len(forced_late),
            lambda i: (1 + plans[i].procedure.processing_days / 5) * (2.0 if plans[i].clock else 1.0),
        )

    # -- times of the results -------------------------------------------------------------

    def _resolve(self, plans: list[DossierPlan], in_window: list[int], open_at_end: set[int],
                 late: set[int], due: list[int], busy: list[int]) -> None:
        rng, office, cfg = self.rng, self.office, self.cfg
        start, end = self.start, self.end
        e_result = _weighted_sample(
            rng, in_window, self.t["resolved_e_result"],
            lambda i: 2.0 if plans[i].channel == "online" else 1.0,
        )
        for i in in_window:
            lo = max(busy[i], start)
            if i in late:
                after = max(due[i], lo)
                room = office.between(after, end)
                at = office.add(after, min(late_delay_s(rng), room - 60))
            else:
                at = on_time_instant(rng, office, lo, min(due[i], end))
            self._finish(plans[i], at, due[i], i in late, i in e_result)
        for i in sorted(open_at_end):
            lo = max(busy[i], end)
            if due[i] > lo and office.between(lo, due[i]) >= 600 and rng.random() < 1 - cfg.late_share:
                self._finish(plans[i], on_time_instant(rng, office, lo, due[i]), due[i], False,
                             rng.random() < cfg.e_result_share)
            else:
                at = office.add(max(due[i], lo), late_delay_s(rng))
                self._finish(plans[i], at, due[i], True, rng.random() < cfg.e_result_share)

    def _finish(self, plan: DossierPlan, at: int, due: int, late: bool, e_result: bool) -> None:
        rng, office = self.rng, self.office
        plan.end = ("resolved", at)
        plan.result_electronic = e_result
        if late and rng.random() < self.cfg.apology_share:
            plan.apology_at = office.add(due, rng.randrange(max(office.between(due, at), 1)))
        plan.returned_at = return_instant(rng, office, at, e_result or plan.channel == "online")

    def _ratings(self, plans: list[DossierPlan], late: set[int]) -> None:
        """About 45 % rate the service; among the ratings dated in the period,
        exactly the published satisfied share (late dossiers are the unhappy ones)."""
        rng, office, cfg = self.rng, self.office, self.cfg
        rated_at: dict[int, int] = {}
        for i, plan in enumerate(plans):
            if plan.returned_at is not None and rng.random() < cfg.rating_share:
                rated_at[i] = rating_instant(rng, plan.returned_at)
        in_period = [i for i, at in rated_at.items() if FROM <= office.local_date(at) <= TO]
        n_satisfied = round(PUBLISHED_POINTS["satisfaction"] / 18 * len(in_period))
        unhappy = _weighted_sample(rng, in_period, len(in_period) - n_satisfied,
                                   lambda i: 6.0 if i in late else 1.0)
        chosen = set(in_period)
        for i, at in rated_at.items():
            satisfied = (i not in unhappy) if i in chosen else rng.random() < cfg.satisfaction
            plans[i].rated = (at, pick_rating(rng, satisfied, cfg.very_satisfied_share))

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


__all__ = ["events", "dossiers", "Scenario", "targets", "scenario_units", "FROM", "TO",
           "PUBLISHED_REPORT", "PUBLISHED_POINTS"]
