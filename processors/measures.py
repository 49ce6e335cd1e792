"""What one dossier contributes to the per-unit, per-local-date counters.

A dossier's *contribution* is a multiset of (unit, local date, field) cells, each
worth +1. The stream keeps, per dossier, the contribution it last applied; when an
event changes the facts it applies ``new - old`` (see ``contribution_delta``), so a
late or reordered event retracts the old cells and adds the new ones.

Fields:
- the measures of kpis.md §2, dated as the table says;
- ``closed``: a T exists, dated by the later of reception and T (the period
  report's carried-over and in-progress lines are prefix sums of received - closed);
- ``od+`` / ``od-``: start and end of each interval of as-of instants at which
  the dossier is in progress and overdue (``facts.overdue_intervals``);
- ``x|<line>|<reception date>``: a T dated before its reception's local date,
  which the period report must not count when the reception lies after the
  period (a rare data error, kept exact rather than ignored).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from processors.facts import DossierFacts, overdue_intervals
from processors.timeutil import local_date

Cell = tuple[str, str, str]  # (unit_id, "YYYY-MM-DD", field); unit "" = global

MEASURES = (
    "received", "received_online", "received_direct", "received_postal",
    "received_online_eligible", "received_online_eligible_online",
    "received_digitized", "received_synced",
    "resolved", "resolved_early", "resolved_on_time", "resolved_late",
    "resolved_e_result", "resolved_late_no_apology",
    "withdrawn", "rejected", "paid", "paid_online", "rated", "rated_satisfied",
)
CLOSED = "closed"
OVERDUE_FROM = "od+"
OVERDUE_UNTIL = "od-"
ANOMALY_PREFIX = "x|"
GLOBAL_UNIT = ""
ORPHANS = "orphans"


def contribution(f: DossierFacts) -> list[Cell]:
    if f.orphan:
        return [(GLOBAL_UNIT, "", ORPHANS)]
    assert f.unit is not None and f.received_at is not None
    u = f.unit
    cells: list[Cell] = []
    r_date = local_date(f.received_at).isoformat()

    def add(at_date: str, *fields: str) -> None:
        cells.extend((u, at_date, field) for field in fields)

    add(r_date, "received", f"received_{f.channel}")
    if f.online_service != "none":
        add(r_date, "received_online_eligible")
        if f.channel == "online":
            add(r_date, "received_online_eligible_online")
    if f.digitized:
        add(r_date, "received_digitized")
    if f.synced:
        add(r_date, "received_synced")

    if f.end_type is not None and f.end_at is not None:
        t_date = local_date(f.end_at).isoformat()
        # kpis.md §1: `stopped` counts with `rejected` in the measures.
        lines = ["rejected" if f.end_type == "stopped" else f.end_type]
        if f.end_type == "resolved":
            lines.append(f"resolved_{f.timeliness}")
            if f.result_electronic:
                add(t_date, "resolved_e_result")
            if f.timeliness == "late" and not f.apology:
                add(t_date, "resolved_late_no_apology")
        add(t_date, *lines)
        add(max(r_date, t_date), CLOSED)
        if t_date < r_date:
            add(t_date, *(f"{ANOMALY_PREFIX}{line}|{r_date}" for line in lines))

    if f.paid_at is not None:
        paid_date = local_date(f.paid_at).isoformat()
        add(paid_date, "paid", *(("paid_online",) if f.paid_online else ()))
    if f.rated_at is not None:
        rated_date = local_date(f.rated_at).isoformat()
        add(rated_date, "rated", *(("rated_satisfied",) if f.satisfied else ()))

    for a, b in overdue_intervals(f):
        add(local_date(a).isoformat(), OVERDUE_FROM)
        if b is not None:
            add(local_date(b).isoformat(), OVERDUE_UNTIL)
    return cells


def contribution_delta(old: Iterable[Cell], new: Iterable[Cell]) -> dict[Cell, int]:
    """new - old as signed counts, zero entries dropped."""
    delta: Counter[Cell] = Counter(new)
    delta.subtract(Counter(old))
    return {cell: n for cell, n in delta.items() if n}
