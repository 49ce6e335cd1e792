"""The period report (kpis.md §7) from summed counters.

With start = ``from`` 00:00 and end = the day after ``to`` 00:00 (local), every
line is a sum of stored counters (``measures.py``):

- carried_over = Σ(received − closed) over dates before ``from``
- in_progress  = Σ(received − closed) over dates up to ``to``
- in_progress_overdue = Σ(od+ − od-) over dates up to ``to``
- resolved… / withdrawn / rejected = the measure over from..to, minus the rare
  dossiers whose T lies in the period but whose reception lies after it.
"""

from __future__ import annotations

from collections.abc import Mapping

from processors.measures import ANOMALY_PREFIX, CLOSED, OVERDUE_FROM, OVERDUE_UNTIL

END_LINES = ("resolved", "resolved_early", "resolved_on_time", "resolved_late", "withdrawn", "rejected")
REPORT_KEYS = (
    "carried_over", "received", "received_online", "received_direct", "received_postal",
    "to_process", "resolved", "resolved_early", "resolved_on_time", "resolved_late",
    "withdrawn", "rejected", "in_progress", "in_progress_overdue", "in_progress_not_due",
)


def _received_after(fields: Mapping[str, int], to_iso: str) -> dict[str, int]:
    """Per line: dossiers ended in the period but received after ``to``."""
    out: dict[str, int] = {}
    for name, n in fields.items():
        if name.startswith(ANOMALY_PREFIX):
            _, line, r_date = name.split("|", 2)
            if r_date > to_iso:
                out[line] = out.get(line, 0) + n
    return out


def period_report(
    before: Mapping[str, int], period: Mapping[str, int], through: Mapping[str, int], to_iso: str
) -> dict[str, int]:
    """``before``: counters summed over dates < from; ``period``: from..to;
    ``through``: dates <= to."""
    late_received = _received_after(period, to_iso)
    r: dict[str, int] = {
        "carried_over": before.get("received", 0) - before.get(CLOSED, 0),
        "received": period.get("received", 0),
        "received_online": period.get("received_online", 0),
        "received_direct": period.get("received_direct", 0),
        "received_postal": period.get("received_postal", 0),
    }
    r["to_process"] = r["carried_over"] + r["received"]
    for line in END_LINES:
        r[line] = period.get(line, 0) - late_received.get(line, 0)
    r["in_progress"] = through.get("received", 0) - through.get(CLOSED, 0)
    r["in_progress_overdue"] = through.get(OVERDUE_FROM, 0) - through.get(OVERDUE_UNTIL, 0)
    r["in_progress_not_due"] = r["in_progress"] - r["in_progress_overdue"]
    return {k: r[k] for k in REPORT_KEYS}
