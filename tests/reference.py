"""A plain batch computation of the spec, written separately from processors/.

It is deliberately naive (recomputes everything per question, walks every
dossier, no counters, no intervals) so that it reads like kpis.md. Tests compare
the streaming system and the processors against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from fractions import Fraction

VN = timezone(timedelta(hours=7))
ENDS = ("resolved", "withdrawn", "rejected", "stopped")
MEASURE_OF_END = {"resolved": "resolved", "withdrawn": "withdrawn", "rejected": "rejected", "stopped": "rejected"}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def ldate(at: datetime) -> date:
    return at.astimezone(VN).date()


def midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=VN)


@dataclass
class RefDossier:
    events: list[dict]  # deduplicated, sorted

    @classmethod
    def of(cls, events: Iterable[dict]) -> RefDossier:
        by_id: dict[str, dict] = {}
        for e in events:
            by_id.setdefault(e["event_id"], e)
        return cls(sorted(by_id.values(), key=lambda e: (instant(e["occurred_at"]), e["event_id"])))

    def first(self, *types: str) -> tuple[int, dict] | tuple[None, None]:
        for i, e in enumerate(self.events):
            if e["type"] in types:
                return i, e
        return None, None

    @property
    def r(self) -> dict | None:
        return self.first("received")[1]

    @property
    def t(self) -> dict | None:
        return self.first(*ENDS)[1]

    def clock(self, as_of: datetime | None = None, inclusive: bool = True) -> tuple[datetime, datetime | None]:
        """(due, paused_since) after walking events after R and before T,
        skipping events after as_of (or at as_of when not inclusive)."""
        ri, r = self.first("received")
        ti, _ = self.first(*ENDS)
        due = instant(r["due_at"])
        paused = None
        stop = ti if ti is not None else len(self.events)
        for e in self.events[ri + 1: stop]:
            at = instant(e["occurred_at"])
            if as_of is not None and (at > as_of or (at == as_of and not inclusive)):
                continue
            kind = e["type"]
            if kind in ("supplement_requested", "paused"):
                if paused is None:
                    paused = at
            elif kind in ("supplement_received", "resumed"):
                if paused is not None:
                    due = instant(e["due_at"]) if e.get("due_at") else due + (at - paused)
                    paused = None
            elif kind == "due_changed":
                if paused is None and at <= due:
                    due = instant(e["due_at"])
        return due, paused

    @staticmethod
    def effective(due: datetime, paused: datetime | None, at: datetime) -> datetime:
        return due if paused is None else due + (at - paused)

    def timeliness(self) -> str | None:
        t = self.t
        if t is None or t["type"] != "resolved":
            return None
        at = instant(t["occurred_at"])
        due, paused = self.clock()
        d = self.effective(due, paused, at)
        if at > d:
            return "late"
        return "early" if ldate(at) < ldate(d) else "on_time"

    def measures_on(self, dates: set[date]) -> dict[str, int]:
        """kpis.md §2 for this dossier over a set of local dates."""
        m: dict[str, int] = {}
        r = self.r
        if r is None:
            return m

        def inc(name: str, at: datetime, cond: bool = True) -> None:
            if cond and ldate(at) in dates:
                m[name] = m.get(name, 0) + 1

        ra = instant(r["occurred_at"])
        inc("received", ra)
        inc("received_" + r["channel"], ra)
        inc("received_online_eligible", ra, r["online_service"] != "none")
        inc("received_online_eligible_online", ra, r["online_service"] != "none" and r["channel"] == "online")
        inc("received_digitized", ra, bool(r.get("digitized", False)))
        inc("received_synced", ra, any(e["type"] == "synced" for e in self.events))
        t = self.t
        if t is not None:
            ta = instant(t["occurred_at"])
            inc(MEASURE_OF_END[t["type"]], ta)
            if t["type"] == "resolved":
                tl = self.timeliness()
                inc("resolved_" + tl, ta)
                inc("resolved_e_result", ta, bool(t.get("result_electronic", False)))
                inc("resolved_late_no_apology", ta, tl == "late" and not any(e["type"] == "apology_issued" for e in self.events))
        _, p = self.first("paid")
        if p is not None:
            pa = instant(p["occurred_at"])
            inc("paid", pa)
            inc("paid_online", pa, p["method"] == "online")
        _, q = self.first("rated")
        if q is not None:
            qa = instant(q["occurred_at"])
            inc("rated", qa)
            inc("rated_satisfied", qa, q["rating"] in ("very_satisfied", "satisfied"))
        return m

    def report_lines(self, start_d: date, end_d: date) -> dict[str, int]:
        """kpis.md §7, directly from the definitions."""
        out: dict[str, int] = {}
        r = self.r
        if r is None:
            return out
        start, end = midnight(start_d), midnight(end_d + timedelta(days=1))
        ra = instant(r["occurred_at"])
        if not ra < end:
            return out
        t = self.t
        ta = instant(t["occurred_at"]) if t is not None else None

        def one(name: str) -> None:
            out[name] = out.get(name, 0) + 1

        if ra < start and not (ta is not None and ta < start):
            one("carried_over")
        if start <= ra < end:
            one("received")
            one("received_" + r["channel"])
        if ta is not None and start <= ta < end:
            one(MEASURE_OF_END[t["type"]])
            if t["type"] == "resolved":
                one("resolved_" + self.timeliness())
        if not (ta is not None and ta < end):
            one("in_progress")
            due, paused = self.clock(as_of=end, inclusive=False)
            if self.effective(due, paused, end) < end:
                one("in_progress_overdue")
            else:
                one("in_progress_not_due")
        return out


def group(events: Iterable[dict]) -> dict[str, RefDossier]:
    """The dossiers' events by dossier (petition events are not a dossier's)."""
    by: dict[str, list[dict]] = {}
    for e in events:
        if not e["type"].startswith("petition_"):
            by.setdefault(e["dossier_id"], []).append(e)
    return {d: RefDossier.of(evs) for d, evs in by.items()}


def dates_between(start: date, end: date) -> set[date]:
    return {start + timedelta(days=i) for i in range((end - start).days + 1)}


def measures(dossiers: dict[str, RefDossier], units: set[str] | None, dates: set[date]) -> dict[str, int]:
    total: dict[str, int] = {}
    for d in dossiers.values():
        if d.r is None or (units is not None and d.r["unit_id"] not in units):
            continue
        for k, v in d.measures_on(dates).items():
            total[k] = total.get(k, 0) + v
    return total


def report(dossiers: dict[str, RefDossier], units: set[str] | None, start: date, end: date) -> dict[str, int]:
    total: dict[str, int] = {}
    for d in dossiers.values():
        if d.r is None or (units is not None and d.r["unit_id"] not in units):
            continue
        for k, v in d.report_lines(start, end).items():
            total[k] = total.get(k, 0) + v
    total["to_process"] = total.get("carried_over", 0) + total.get("received", 0)
    return total


def ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def ratios_of(m: dict[str, int]) -> dict[str, float | None]:
    """kpis.md §3: the operational ratios."""
    g = m.get
    return {
        "on_time": ratio(g("resolved_early", 0) + g("resolved_on_time", 0), g("resolved", 0)),
        "early": ratio(g("resolved_early", 0), g("resolved", 0)),
        "online": ratio(g("received_online_eligible_online", 0), g("received_online_eligible", 0)),
        "online_payment": ratio(g("paid_online", 0), g("paid", 0)),
        "digitization": ratio(g("received_digitized", 0), g("received", 0)),
        "e_result": ratio(g("resolved_e_result", 0), g("resolved", 0)),
        "satisfaction": ratio(g("rated_satisfied", 0), g("rated", 0)),
        "sync": ratio(g("received_synced", 0), g("received", 0)),
    }


def open_state(d: RefDossier, now: datetime, working_time_s, threshold_s: float) -> tuple[str | None, bool]:
    """kpis.md §8 for one dossier: (state or None when not open, overdue without apology)."""
    r = d.r
    if r is None or instant(r["occurred_at"]) > now:
        return None, False
    t = d.t
    if t is not None and instant(t["occurred_at"]) <= now:
        return None, False
    due, paused = d.clock(as_of=now, inclusive=True)
    eff = d.effective(due, paused, now)
    if now > eff:
        return "overdue", not any(e["type"] == "apology_issued" for e in d.events)
    if paused is not None:
        return "paused", False
    if working_time_s(now, eff) <= threshold_s:
        return "nearing_due", False
    return "not_due", False


# -- index.md, read literally -------------------------------------------------------
#
# Written from index.md without looking at processors/: lateness by checking the
# rules at the instants where they can first hold, every indicator by walking
# every dossier, petition and procedure.

US = timedelta(microseconds=1)
INDEX = {  # code: (group, max, threshold, points on a zero denominator)
    "publish_on_time": ("transparency", 6, 1, None),
    "public_update_on_time": ("transparency", 4, 1, None),
    "public_content_full": ("transparency", 2, 1, None),
    "dossier_sync": ("transparency", 6, 1, None),
    "dossier_on_time": ("timeliness", 20, 1, 0),
    "online_catalogue": ("online_service", 2, Fraction(8, 10), 0),
    "online_service_used": ("online_service", 4, 1, 0),
    "online_channel": ("online_service", 6, Fraction(5, 10), 0),
    "online_paid_dossiers": ("online_payment", 6, 1, 0),
    "online_paid_procedures": ("online_payment", 2, Fraction(8, 10), 0),
    "fee_data_procedures": ("online_payment", 2, Fraction(8, 10), 0),
    "dossier_satisfaction": ("satisfaction", 6, Fraction(9, 10), 0),
    "petition_on_time": ("satisfaction", 6, 1, 6),
    "petition_satisfaction": ("satisfaction", 6, 1, 6),
    "original_result": ("digitization", 6, 1, None),
    "digitized_with_result": ("digitization", 4, 1, None),
    "reused_data": ("digitization", 2, Fraction(8, 10), None),
    "personal_store": ("digitization", 4, 1, None),
    "citizen_data_dossiers": ("digitization", 2, 1, None),
    "citizen_data_procedures": ("digitization", 2, 1, 0),
    "e_certified_copy": ("digitization", 2, 1, None),
}


def ref_clock(d: RefDossier, t: datetime) -> tuple[datetime, datetime | None, str | None]:
    """(due, paused_since, what paused it) walking the events after R and before
    T that occurred at or before t."""
    ri, r = d.first("received")
    ti, _ = d.first(*ENDS)
    due, paused, kind = instant(r["due_at"]), None, None
    for e in d.events[ri + 1: ti if ti is not None else len(d.events)]:
        at = instant(e["occurred_at"])
        if at > t:
            continue
        k = e["type"]
        if k in ("supplement_requested", "paused") and paused is None:
            paused, kind = at, k
        elif k in ("supplement_received", "resumed") and paused is not None:
            due = instant(e["due_at"]) if e.get("due_at") else due + (at - paused)
            paused, kind = None, None
        elif k == "due_changed" and paused is None and at <= due:
            due = instant(e["due_at"])
    return due, paused, kind


def ref_late(d: RefDossier, x: datetime, second_supplement: bool = True) -> bool:
    """index.md §2: late as of x."""
    r = d.r
    ra = instant(r["occurred_at"])
    if x < ra:
        return False
    ri, _ = d.first("received")
    ti, t = d.first(*ENDS)
    ta = instant(t["occurred_at"]) if t is not None else None
    if second_supplement:
        requests = [e for e in d.events[ri + 1: ti if ti is not None else len(d.events)]
                    if e["type"] == "supplement_requested" and instant(e["occurred_at"]) <= x]
        if len(requests) >= 2:
            return True
    # Rule 1: ended at t <= x, after its effective due at t.
    if ta is not None and ra <= ta <= x:
        due, paused, _ = ref_clock(d, ta)
        if ta > (due if paused is None else due + (ta - paused)):
            return True
    # Rules 2 and 3 can first hold at the reception, at an event, just before one, or at x.
    points = {x, ra}
    for e in d.events:
        at = instant(e["occurred_at"])
        if ra < at <= x:
            points.update((at, at - US))
    for p in points:
        if p < ra or p > x:
            continue
        ended = ta is not None and ta <= p
        due, paused, kind = ref_clock(d, p)
        if not ended and paused is None and p > due:
            return True
        if not ended and paused is not None and kind == "supplement_requested" and paused > due:
            return True
    return False


def ref_first(d: RefDossier, kind: str) -> dict | None:
    return d.first(kind)[1]


def ref_by(at_text: str | None, x: datetime) -> bool:
    return at_text is not None and instant(at_text) <= x


def petition_events_of(events: Iterable[dict]) -> dict[str, list[dict]]:
    by: dict[str, list[dict]] = {}
    for e in events:
        if e["type"].startswith("petition_"):
            by.setdefault(e["petition_id"], []).append(e)
    return by


@dataclass
class RefPetition:
    events: list[dict]

    @classmethod
    def of(cls, events: Iterable[dict]) -> RefPetition:
        return cls(RefDossier.of(events).events)

    def first(self, kind: str) -> dict | None:
        return next((e for e in self.events if e["type"] == kind), None)

    def limit(self, appointment) -> datetime:
        r = self.first("petition_received")
        return instant(r["due_at"]) if r.get("due_at") else appointment(instant(r["occurred_at"]))

    def handled_late(self, x: datetime, appointment) -> bool:
        """index.md: in time when answered at or before its limit, or unanswered
        with the limit not passed at x; otherwise late."""
        answer = self.first("petition_resolved")
        limit = self.limit(appointment)
        if answer is not None and instant(answer["occurred_at"]) <= x:
            return instant(answer["occurred_at"]) > limit
        return x > limit


def ref_points(code: str, num: int | None, den: int | None, share: Fraction | None = None) -> tuple:
    group, mx, threshold, den0 = INDEX[code]
    if share is not None:
        ratio = share
    elif den:
        ratio = Fraction(num, den)
    else:
        ratio = None
    points = (None if den0 is None else Fraction(den0)) if ratio is None else mx * min(Fraction(1), ratio / threshold)
    return num, den, ratio, points


def ref_round(v: Fraction) -> Fraction:
    return Fraction(int(v * 100 + Fraction(1, 2)), 100)


def ref_index(dossiers: dict[str, RefDossier], petitions: dict[str, RefPetition], procedures: dict[str, dict],
              units: set[str], root: bool, first: date, last: date, x: datetime, appointment,
              root_only_catalogue: bool = True, e_copy: Fraction = Fraction(1)) -> dict:
    """Every indicator of index.md §3 for the dossiers and petitions of ``units``
    over the local dates first..last, as of x. ``procedures``: id -> {online,
    fee, citizen, decided_on, published_on_time, public_on_time, content_complete,
    units (the unit ids it applies to)}."""
    dates = dates_between(first, last)
    mine = [d for d in dossiers.values() if d.r is not None and d.r["unit_id"] in units
            and ldate(instant(d.r["occurred_at"])) in dates]
    n = len(mine)

    def count(pred) -> int:
        return sum(1 for d in mine if pred(d))

    def first_is(d: RefDossier, kind: str, pred) -> bool:
        e = ref_first(d, kind)
        return e is not None and ref_by(e["occurred_at"], x) and pred(e)

    def e_result(d: RefDossier) -> bool:
        t = d.t
        return t is not None and t["type"] == "resolved" and bool(t.get("result_electronic")) and ref_by(t["occurred_at"], x)

    def paid_online(d: RefDossier) -> bool:
        return first_is(d, "paid", lambda e: e["method"] == "online")

    def satisfied(d: RefDossier) -> bool:
        return not (ref_late(d, x) or first_is(d, "rated", lambda e: e["rating"] == "dissatisfied")
                    or any(e["type"] == "complaint" and ref_by(e["occurred_at"], x) for e in d.events))

    def procs(pred) -> set[str]:
        return {p for p, v in procedures.items() if pred(v) and v["units"] & units}

    def active(pred, dossier_pred) -> tuple[int, int]:
        den = procs(pred)
        num = {d.r["procedure_id"] for d in mine
               if d.r["procedure_id"] in den and d.r["unit_id"] in procedures[d.r["procedure_id"]]["units"]
               and dossier_pred(d)}
        return len(num), len(den)

    decided = [v for v in procedures.values() if v["decided_on"] is not None and first <= v["decided_on"] <= last]
    catalogue = procedures.values() if root else [procedures[p] for p in procs(lambda v: True)]
    pets = [p for p in petitions.values() if p.first("petition_received") is not None
            and p.first("petition_received")["unit_id"] in units]

    def received_in(p: RefPetition) -> bool:
        return ldate(instant(p.first("petition_received")["occurred_at"])) in dates

    def answered_in(p: RefPetition) -> bool:
        a = p.first("petition_resolved")
        return a is not None and ref_by(a["occurred_at"], x) and ldate(instant(a["occurred_at"])) in dates

    handled = [p for p in pets if received_in(p) or answered_in(p)]
    received_pets = [p for p in pets if received_in(p)]

    def unhappy(p: RefPetition) -> bool:
        rated = p.first("petition_rated")
        return (p.handled_late(x, appointment)
                or (rated is not None and rated["rating"] == "dissatisfied" and ref_by(rated["occurred_at"], x))
                or any(e["type"] == "petition_reopened" and ref_by(e["occurred_at"], x) for e in p.events))

    fee_dossiers = [d for d in mine if d.r.get("fee_required")]
    out = {
        "publish_on_time": ref_points("publish_on_time", sum(v["published_on_time"] for v in decided), len(decided)),
        "public_update_on_time": ref_points("public_update_on_time", sum(v["public_on_time"] for v in decided), len(decided)),
        "public_content_full": ref_points("public_content_full", sum(v["content_complete"] for v in procedures.values()), len(procedures)),
        "dossier_sync": ref_points("dossier_sync", count(lambda d: any(e["type"] == "synced" and ref_by(e["occurred_at"], x) for e in d.events)), n),
        "dossier_on_time": ref_points("dossier_on_time", count(lambda d: not ref_late(d, x)), n),
        "online_catalogue": ref_points("online_catalogue", sum(v["online"] for v in catalogue), len(catalogue)),
        "online_service_used": ref_points("online_service_used", *active(lambda v: v["online"], lambda d: d.r["channel"] == "online")),
        "online_channel": ref_points("online_channel", count(lambda d: d.r["channel"] == "online"), n),
        "online_paid_dossiers": ref_points("online_paid_dossiers", sum(1 for d in fee_dossiers if paid_online(d)), len(fee_dossiers)),
        "online_paid_procedures": ref_points("online_paid_procedures", *active(lambda v: v["fee"], paid_online)),
        "fee_data_procedures": ref_points("fee_data_procedures", *active(lambda v: v["fee"], lambda d: bool(d.r.get("fee_required")))),
        "dossier_satisfaction": ref_points("dossier_satisfaction", count(satisfied), n),
        "petition_on_time": ref_points("petition_on_time", sum(1 for p in handled if not p.handled_late(x, appointment)), len(handled)),
        "petition_satisfaction": ref_points("petition_satisfaction", sum(1 for p in received_pets if not unhappy(p)), len(received_pets)),
        "original_result": ref_points("original_result", count(e_result), n),
        "digitized_with_result": ref_points("digitized_with_result", count(lambda d: e_result(d) and bool(d.r.get("digitized"))), n),
        "reused_data": ref_points("reused_data", count(lambda d: bool(d.r.get("reused_data"))), n),
        "personal_store": ref_points("personal_store", count(lambda d: bool(d.r.get("personal_store"))), n),
        "citizen_data_dossiers": ref_points("citizen_data_dossiers", count(lambda d: bool(d.r.get("citizen_data"))), n),
        "citizen_data_procedures": ref_points("citizen_data_procedures", *active(lambda v: v["citizen"], lambda d: bool(d.r.get("citizen_data")))),
        "e_certified_copy": ref_points("e_certified_copy", None, None, share=e_copy),
    }
    if root_only_catalogue and not root:
        num, den, ratio, _ = out["online_catalogue"]
        out["online_catalogue"] = (num, den, ratio, Fraction(0))
    groups = {g: Fraction(0) for g in ("transparency", "timeliness", "online_service", "online_payment",
                                       "satisfaction", "digitization")}
    for code, (_, _, _, points) in out.items():
        if points is not None:
            groups[INDEX[code][0]] += ref_round(points)
    return {"indicators": out, "groups": groups, "score": sum(groups.values())}


def epoch_us_of(t: datetime) -> int:
    return (t - datetime(1970, 1, 1, tzinfo=UTC)) // US
