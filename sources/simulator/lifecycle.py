"""A dossier's plan (everything that will happen to it) and the events it becomes;
lifecycle timing shared with the scenarios."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sources.simulator.office import OfficeTime
from sources.simulator.procedures import WORKING_DAY_S, Procedure

# -- a dossier's plan and its events ------------------------------------------------


@dataclass(slots=True)
class DossierPlan:
    """Everything that will happen to one dossier; ``plan_events`` turns it into
    events. Instants are epoch seconds."""

    dossier_id: str
    unit_id: str
    procedure: Procedure
    received_at: int
    channel: str
    due_at: int
    receiver: str
    officer: str
    assigned_at: int
    fee_required: bool = False
    digitized: bool = False
    reused_data: bool = False      # index.md's digitisation flags of the reception
    personal_store: bool = False
    citizen_data: bool = False
    # (type, at, new due or None): supplement_*, paused/resumed, due_changed
    clock: list[tuple[str, int, int | None]] = field(default_factory=list)
    end: tuple[str, int] | None = None  # (resolved | withdrawn | rejected | stopped, at)
    result_electronic: bool = False
    paid: tuple[int, str] | None = None  # (at, online | offline)
    synced_at: int | None = None
    apology_at: int | None = None
    returned_at: int | None = None
    rated: tuple[int, str] | None = None  # (at, rating)
    complaint_at: int | None = None  # the applicant complained about the dossier

    def effective_due(self) -> int:
        """The due once every clock event has run (the plan never ends paused)."""
        return self.clock_at()[0]

    def clock_at(self, until: int | None = None) -> tuple[int, int | None]:
        """(due, paused since or None) after the clock events at or before
        ``until`` (all of them by default), as kpis.md §1 walks them."""
        due, paused_since = self.due_at, None
        for kind, at, new_due in self.clock:
            if until is not None and at > until:
                break
            if kind in ("supplement_requested", "paused"):
                paused_since = paused_since if paused_since is not None else at
            elif kind in ("supplement_received", "resumed"):
                if paused_since is not None:
                    due = new_due if new_due is not None else due + (at - paused_since)
                    paused_since = None
            elif paused_since is None and new_due is not None and at <= due:
                due = new_due
        return due, paused_since

    def busy_until(self) -> int:
        """The last instant before which the result cannot come: assignment and
        every clock event."""
        return max([self.assigned_at, *(at for _, at, _ in self.clock)])


_REASONS = {
    "due_changed": "Gia hạn do cần lấy ý kiến cơ quan phối hợp",
    "rejected": "Hồ sơ không đủ điều kiện giải quyết",
    "stopped": "Dừng xử lý theo đề nghị của cơ quan có thẩm quyền",
}
# Same-instant events sort by this rank, so ids (numbered in that order) follow time.
_RANK = {t: i for i, t in enumerate((
    "received", "paid", "synced", "assigned", "supplement_requested", "paused",
    "supplement_received", "resumed", "due_changed", "apology_issued", "resolved",
    "withdrawn", "rejected", "stopped", "returned", "rated", "complaint",
    "petition_received", "petition_resolved", "petition_rated", "petition_reopened",
))}


def plan_events(plan: DossierPlan, office: OfficeTime, source: str) -> list[dict]:
    """The plan's events as contract dicts, in (occurred_at, event_id) order."""
    return [ev for _, ev in timed_events(plan, office, source)]


def timed_events(plan: DossierPlan, office: OfficeTime, source: str) -> list[tuple[int, dict]]:
    """``plan_events`` with each event's instant in epoch seconds."""
    steps: list[Step] = []
    iso = office.iso

    def add(at: int, kind: str, **extra: object) -> None:
        steps.append((at, kind, extra))

    add(plan.received_at, "received", unit_id=plan.unit_id,
        procedure_id=plan.procedure.procedure_id, channel=plan.channel,
        online_service=plan.procedure.online_service, due_at=iso(plan.due_at),
        fee_required=plan.fee_required, digitized=plan.digitized, reused_data=plan.reused_data,
        personal_store=plan.personal_store, citizen_data=plan.citizen_data, officer_id=plan.receiver)
    add(plan.assigned_at, "assigned", officer_id=plan.officer)
    for kind, at, new_due in plan.clock:
        if kind == "due_changed":
            add(at, kind, due_at=iso(new_due), reason=_REASONS[kind])  # type: ignore[arg-type]
        elif new_due is not None:
            add(at, kind, due_at=iso(new_due))
        else:
            add(at, kind)
    if plan.paid is not None:
        extra: dict[str, object] = {"method": plan.paid[1]}
        if plan.procedure.fee_vnd:
            extra["amount_vnd"] = plan.procedure.fee_vnd
        add(plan.paid[0], "paid", **extra)
    if plan.synced_at is not None:
        add(plan.synced_at, "synced")
    if plan.end is not None:
        kind, at = plan.end
        if kind == "resolved":
            add(at, kind, result_electronic=plan.result_electronic)
        elif kind in ("rejected", "stopped"):
            add(at, kind, reason=_REASONS[kind])
        else:
            add(at, kind)
    if plan.apology_at is not None:
        add(plan.apology_at, "apology_issued")
    if plan.returned_at is not None:
        add(plan.returned_at, "returned")
    if plan.rated is not None:
        add(plan.rated[0], "rated", rating=plan.rated[1])
    if plan.complaint_at is not None:
        add(plan.complaint_at, "complaint")

    return numbered_events("dossier_id", plan.dossier_id, steps, office, source)


Step = tuple[int, str, dict]  # (instant, type, extra fields)


def numbered_events(key_field: str, key: str, steps: list[Step], office: OfficeTime,
                    source: str) -> list[tuple[int, dict]]:
    """Contract dicts of one dossier's (or petition's) steps, in time order;
    event ids ``<key>-NN`` numbered in that order (same-instant steps by _RANK)."""
    steps.sort(key=lambda s: (s[0], _RANK[s[1]]))
    out = []
    for n, (at, kind, extra) in enumerate(steps, start=1):
        ev = {"event_id": f"{key}-{n:02d}", key_field: key, "type": kind, "occurred_at": office.iso(at)}
        ev.update(extra)
        ev["source"] = source
        out.append((at, ev))
    return out


# -- lifecycle timing (shared with the scenarios) -------------------------------------


def assign_delay_s(rng: random.Random) -> int:
    """Office time from reception to hand-over to a processing officer."""
    return 300 + int(rng.expovariate(1 / 2400))


def payment_delay_s(rng: random.Random, online: bool) -> int:
    """Wall-clock time from reception to payment: a few minutes at the counter,
    up to a few hours online (citizens pay from home, evenings included)."""
    return 60 + rng.randrange(14400 if online else 1200)


def sync_delay_s(rng: random.Random) -> int:
    """Wall-clock time from reception to publication on the national portal."""
    return 60 + rng.randrange(6 * 3600)


def return_instant(rng: random.Random, office: OfficeTime, resolved_at: int, fast: bool) -> int:
    """The result reaches the applicant: at once when it is electronic or online,
    else at the counter within a few working days."""
    if fast:
        return resolved_at + 60 + rng.randrange(3600)
    return office.add(resolved_at, 600 + int(rng.expovariate(1 / (0.8 * WORKING_DAY_S))))


def rating_instant(rng: random.Random, returned_at: int) -> int:
    return returned_at + 300 + int(rng.expovariate(1 / 30000))


def pick_rating(rng: random.Random, satisfied: bool, very_share: float) -> str:
    if not satisfied:
        return "dissatisfied"
    return "very_satisfied" if rng.random() < very_share else "satisfied"


def add_clock_events(rng: random.Random, office: OfficeTime, plan: DossierPlan,
                     supplement: bool, pause: bool, extension: bool) -> None:
    """Append the clock events asked for, in a fixed order (supplement round, then
    an extension asked in time, then a pause) so each one counts as the contract
    says: an extension only counts when asked before the due and while the clock
    runs, which is when we ask it."""
    cursor = plan.assigned_at
    due = plan.due_at
    if supplement:
        asked = office.add(cursor, 60 + int(rng.uniform(0.1, 0.5) * office.between(cursor, due)))
        back = office.add(asked, int(rng.uniform(0.3, 5.0) * WORKING_DAY_S))
        if rng.random() < 0.5:  # a new appointment counted afresh from the complete file
            new_due = office.due_after(back, plan.procedure.processing_days)
            plan.clock += [("supplement_requested", asked, None), ("supplement_received", back, new_due)]
            due = new_due
        else:  # the deadline slides by the time the file was away
            plan.clock += [("supplement_requested", asked, None), ("supplement_received", back, None)]
            due += back - asked
        cursor = back
    if extension and office.between(cursor, due) > 1200:
        asked = office.add(cursor, 60 + int(rng.uniform(0.2, 0.9) * (office.between(cursor, due) - 600)))
        new_due = office.day_end(office.working_day_after(office.local_date(due), rng.randint(1, 5)))
        plan.clock.append(("due_changed", asked, new_due))
        due, cursor = new_due, asked
    if pause:
        stopped = office.add(cursor, 60 + int(rng.uniform(0.05, 0.4) * office.between(cursor, due)))
        resumed = office.add(stopped, int(rng.uniform(0.5, 8.0) * WORKING_DAY_S))
        plan.clock += [("paused", stopped, None), ("resumed", resumed, None)]


def on_time_instant(rng: random.Random, office: OfficeTime, lo: int, hi: int) -> int:
    """A resolution in (lo, hi] by office time, most of them well before hi (most
    dossiers are resolved early, trước hạn)."""
    span = office.between(lo, hi)
    if span <= 120:
        return max(lo + 1, hi) if hi > lo else lo + 1
    used = 60 + int(rng.betavariate(1.4, 2.2) * (span - 120))
    return office.add(lo, used)


def late_delay_s(rng: random.Random) -> int:
    """Office time past the due: mostly a day or two, sometimes weeks."""
    return 600 + int(rng.expovariate(1 / (1.8 * WORKING_DAY_S)))


