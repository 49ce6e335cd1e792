"""Reading what the index needs for many units and windows at once: each unit's
counters summed over each window with the as-of fields reduced at the window's
instant (sum_windows.lua), today's passed instants for running windows, and
the petition counts (processors/asof.py explains the as-of reading)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from processors.asof import AsOf, add_today, as_of, parse_today
from processors.index_inputs import UnitWindow
from processors.petitions import PetitionCounts, petition_counts
from store.reader import Store


def read_unit_windows(store: Store, units: Sequence[str], windows: Sequence[tuple[date, date]],
                      now: datetime) -> tuple[list[AsOf], dict[str, list[UnitWindow]]]:
    """(the windows' as-of readings, per unit with data its UnitWindow per window)."""
    readings = [as_of(last, now) for _, last in windows]
    units = list(units)
    if not units:
        return readings, {}
    sums = store.window_sums(units, list(windows), [r.cutoff for r in readings])
    out = {u: [UnitWindow(fields) for fields in per_window] for u, per_window in sums.items()}
    running = [r for r in readings if r.running]
    if running:
        today = parse_today(store.asof_between(running[0].today_from_us, running[0].x_us))
        for wi, ((first, last), reading) in enumerate(zip(windows, readings)):
            if reading.running:
                add_today({u: out[u][wi].fields for u in out}, today, first, last)
    for unit, records in store.petition_records(units).items():
        for wi, ((first, last), reading) in enumerate(zip(windows, readings)):
            counts = petition_counts(records, first, last, reading.x_us)
            if counts != PetitionCounts():
                out.setdefault(unit, [UnitWindow() for _ in windows])[wi].petitions = counts
    return readings, out
