"""A plain batch computation of the spec, written separately from processors/.

It is deliberately naive (recomputes everything per question, walks every
dossier, no counters, no intervals) so that it reads like kpis.md. Tests compare
the streaming system and the processors against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

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
    by: dict[str, list[dict]] = {}
    for e in events:
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


def index_of(m: dict[str, int]) -> dict:
    g = m.get
    ratios = {
        "on_time": ratio(g("resolved_early", 0) + g("resolved_on_time", 0), g("resolved", 0)),
        "early": ratio(g("resolved_early", 0), g("resolved", 0)),
        "online": ratio(g("received_online_eligible_online", 0), g("received_online_eligible", 0)),
        "online_payment": ratio(g("paid_online", 0), g("paid", 0)),
        "digitization": ratio(g("received_digitized", 0), g("received", 0)),
        "e_result": ratio(g("resolved_e_result", 0), g("resolved", 0)),
        "satisfaction": ratio(g("rated_satisfied", 0), g("rated", 0)),
        "sync": ratio(g("received_synced", 0), g("received", 0)),
    }
    dig = [x for x in (ratios["digitization"], ratios["e_result"]) if x is not None]
    groups = {
        "transparency": (18, ratios["sync"]), "timeliness": (20, ratios["on_time"]),
        "online_service": (12, ratios["online"]), "online_payment": (10, ratios["online_payment"]),
        "satisfaction": (18, ratios["satisfaction"]),
        "digitization": (22, sum(dig) / len(dig) if dig else None),
    }
    points = {k: (mx * v if v is not None else None) for k, (mx, v) in groups.items()}
    present = [k for k, (mx, v) in groups.items() if v is not None]
    score = 100 * sum(points[k] for k in present) / sum(groups[k][0] for k in present) if present else None
    band = None
    if score is not None:
        band = "excellent" if score >= 90 else "good" if score >= 80 else "fair" if score >= 70 else "average" if score >= 50 else "weak"
    return {"ratios": ratios, "score": score, "band": band, "groups": points}


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
