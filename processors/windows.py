"""Windows (kpis.md §5) and how a date range is covered by stored buckets.

Counters are stored at three granularities: a local date (``2024-03-15``), a
month (``2024-03``) and a year (``2024``). Any range of dates is then the sum of
at most ~60 day buckets, ~22 month buckets and the years in between, whatever
its length: ``all`` costs as little as ``today``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

WINDOW_NAMES = ("today", "7d", "30d", "mtd", "qtd", "ytd", "all")
MIN_DATE = date(1, 1, 1)
MAX_DATE = date(9999, 12, 31)


@dataclass(frozen=True, slots=True)
class Window:
    name: str | None  # None for explicit from/to
    start: date       # inclusive
    end: date         # inclusive

    def as_json(self) -> dict:
        if self.name == "all":  # unbounded: no dates to show
            return {"name": "all", "from": None, "to": None}
        return {"name": self.name, "from": self.start.isoformat(), "to": self.end.isoformat()}


def named_window(name: str, today: date) -> Window:
    if name == "today":
        return Window(name, today, today)
    if name == "7d":
        return Window(name, today - timedelta(days=6), today)
    if name == "30d":
        return Window(name, today - timedelta(days=29), today)
    if name == "mtd":
        return Window(name, today.replace(day=1), today)
    if name == "qtd":
        return Window(name, date(today.year, 3 * ((today.month - 1) // 3) + 1, 1), today)
    if name == "ytd":
        return Window(name, date(today.year, 1, 1), today)
    if name == "all":
        # Events may be dated in the future (bad clocks); "all" means all of them.
        return Window(name, MIN_DATE, MAX_DATE)
    raise ValueError(f"unknown window {name!r}; expected one of {', '.join(WINDOW_NAMES)}")


def _month_end(year: int, month: int) -> date:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _within_year(start: date, end: date) -> list[str]:
    """Buckets for start..end inside one calendar year."""
    if start == date(start.year, 1, 1) and end == date(start.year, 12, 31):
        return [f"{start.year:04d}"]
    out: list[str] = []
    d = start
    while d <= end:
        month_end = _month_end(d.year, d.month)
        if d.day == 1 and month_end <= end:
            out.append(d.isoformat()[:7])
            d = month_end
        else:
            out.append(d.isoformat())
        if d >= end:
            break
        d += timedelta(days=1)
    return out


def buckets(start: date, end: date, years: Iterable[int]) -> list[str]:
    """Bucket names whose union is exactly the dates start..end (inclusive),
    restricted to ``years``, the years that hold any data (so that ``all`` and
    prefix sums cost a handful of buckets)."""
    out: list[str] = []
    if start > end:
        return out
    for year in sorted(y for y in set(years) if start.year <= y <= end.year):
        out.extend(_within_year(max(start, date(year, 1, 1)), min(end, date(year, 12, 31))))
    return out


def bucket_levels(day: str) -> tuple[str, str, str]:
    """The day, month and year buckets a cell dated ``YYYY-MM-DD`` is counted in."""
    return day, day[:7], day[:4]
