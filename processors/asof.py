"""Reading as-of inputs for a window (index.md §1): what passed by its instant x.

A window's as-of instant x is the end of its last date (the next day 00:00
local), or *now* if that is earlier. A dossier's as-of input (late, synced,
paid online…) counts once its instant t <= x. Counters keep each such input as
a field ``name@D`` with D = the local date of (t - 1 us) (measures.py), so:

- a window that has ended (x = end of its last date b) counts the fields with
  D <= b: exactly the instants t <= x;
- a running window (x = now, on local date T) counts the fields with D < T
  (instants up to today's midnight) plus, from the stored *instants*, those in
  (today 00:00, now]; instants later today wait for the clock.

The same functions serve the store's reader and the tests, so the Lua mirror of
``reduce_fields`` (store/lua/sum_windows.lua) is checked against them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from processors.measures import ASOF_SEPARATOR, PROCEDURE_FIELDS, parse_instant_member
from processors.timeutil import epoch_us, local_date, local_midnight

ONE_DAY = timedelta(days=1)
PETITION_INSTANT = "pt."  # petitions' instants only say when a cache is stale


@dataclass(frozen=True, slots=True)
class AsOf:
    """How a window's as-of inputs are read."""

    x: datetime                  # the as-of instant
    cutoff: date                 # as-of fields with D <= cutoff count
    today_from_us: int | None    # running window: instants in (today_from, x] count too
    x_us: int

    @property
    def running(self) -> bool:
        return self.today_from_us is not None


def as_of(last: date, now: datetime) -> AsOf:
    """The as-of reading of a window whose last date is ``last``."""
    end = local_midnight(last + ONE_DAY) if last < date.max else None
    if end is not None and end <= now:
        return AsOf(end, last, None, epoch_us(end))
    today = local_date(now)
    midnight = local_midnight(today)
    return AsOf(now, today - ONE_DAY, epoch_us(midnight), epoch_us(now))


def reduce_fields(fields: Mapping[str, int], cutoff: date) -> Counter[str]:
    """Plain fields as they are; ``name@D`` summed into ``name`` when D <= cutoff
    (dates compare as their ISO text)."""
    limit = cutoff.isoformat()
    out: Counter[str] = Counter()
    for field, n in fields.items():
        at = field.rfind(ASOF_SEPARATOR)
        if at == -1:
            out[field] += n
        elif field[at + 1:] <= limit:
            out[field[:at]] += n
    return out


@dataclass(frozen=True, slots=True)
class TodayInstant:
    name: str
    unit: str
    received_on: date
    key: str


def parse_today(members: Iterable[bytes | str]) -> list[TodayInstant]:
    out = []
    for member in members:
        name, unit, r_date, key = parse_instant_member(member)
        out.append(TodayInstant(name, unit, date.fromisoformat(r_date), key))
    return out


def add_today(per_unit: dict[str, Counter[str]], today: Iterable[TodayInstant], first: date, last: date) -> None:
    """Add today's passed instants (already limited to (today 00:00, x]) of the
    dossiers received in first..last to each unit's reduced fields. A procedure
    input (``pp|<procedure>``) adds its name, which is all a procedure count needs."""
    for t in today:
        if t.unit in per_unit and first <= t.received_on <= last and not t.name.startswith(PETITION_INSTANT):
            per_unit[t.unit][t.name] += 1


def procedure_sets(fields: Mapping[str, int]) -> dict[str, set[str]]:
    """{kind: procedure ids with at least one such dossier} from reduced fields."""
    out: dict[str, set[str]] = {kind: set() for kind in PROCEDURE_FIELDS}
    for field, n in fields.items():
        kind, sep, procedure = field.partition("|")
        if sep and n > 0 and kind in out:
            out[kind].add(procedure)
    return out
