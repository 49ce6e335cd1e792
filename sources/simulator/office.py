"""Office time as epoch seconds: a fast view of the working calendar for the simulator."""

from __future__ import annotations

import random
from datetime import date, datetime
from itertools import accumulate
from zoneinfo import ZoneInfo

from processors.calendar import WorkingCalendar
from sources.simulator.draw import pick
from sources.simulator.procedures import _EPOCH_ORDINAL, ONE_DAY

# -- office time ------------------------------------------------------------------


class OfficeTime:
    """Office periods of the calendar's working days as epoch seconds: the
    calendar's moves (``WorkingCalendar.working_day_after``, ``appointment``) in
    the integer form the simulator's heap runs on, plus an instant plus office time.

    ``between`` agrees with ``WorkingCalendar.working_time_s`` (a unit test checks
    it) but runs on running totals of whole days, since the scenarios ask it a few
    hundred thousand times.
    """

    def __init__(self, calendar: WorkingCalendar) -> None:
        self.calendar = calendar
        self.zone = ZoneInfo(calendar.config.timezone)
        self._periods: dict[date, tuple[tuple[int, int], ...]] = {}
        self._offsets: dict[int, int | None] = {}  # hour since epoch -> UTC offset (s)
        self._prefixes: dict[int, str] = {}  # local day number -> "YYYY-MM-DDT"
        self._suffixes: dict[int, str] = {}  # offset (s) -> "+07:00"
        self._dues: dict[tuple[int, int], int] = {}  # (day number, working days) -> due
        # Day table from a day number on: (office seconds of the days before, periods).
        self._cum_origin = 0
        self._cum: list[tuple[int, tuple[tuple[int, int], ...]]] = []

    def periods(self, d: date) -> tuple[tuple[int, int], ...]:
        """The office periods of local date d, empty on a day off."""
        got = self._periods.get(d)
        if got is None:
            got = ()
            if self.calendar.is_working_day(d):
                got = tuple(
                    (int(datetime.combine(d, s, self.zone).timestamp()),
                     int(datetime.combine(d, e, self.zone).timestamp()))
                    for s, e in self.calendar.config.office_hours
                )
            self._periods[d] = got
        return got

    # -- instants as local dates and text ------------------------------------------

    def _offset(self, ts: int) -> int | None:
        """The zone's UTC offset at ts, or None within an hour in which it changes."""
        hour = ts // 3600
        got = self._offsets.get(hour, -1)
        if got == -1:
            first = datetime.fromtimestamp(hour * 3600, self.zone).utcoffset()
            last = datetime.fromtimestamp(hour * 3600 + 3599, self.zone).utcoffset()
            got = int(first.total_seconds()) if first == last and first is not None else None
            self._offsets[hour] = got
        return got

    def local_date(self, ts: int) -> date:
        off = self._offset(ts)
        if off is None:
            return datetime.fromtimestamp(ts, self.zone).date()
        return date.fromordinal(_EPOCH_ORDINAL + (ts + off) // 86400)

    def instant(self, ts: int) -> datetime:
        return datetime.fromtimestamp(ts, self.zone)

    def iso(self, ts: int) -> str:
        """RFC 3339 at the zone's offset, whole seconds: 2024-03-15T08:12:00+07:00."""
        off = self._offset(ts)
        if off is None:
            return datetime.fromtimestamp(ts, self.zone).isoformat()
        day, sec = divmod(ts + off, 86400)
        prefix = self._prefixes.get(day)
        if prefix is None:
            prefix = self._prefixes[day] = date.fromordinal(_EPOCH_ORDINAL + day).isoformat() + "T"
        suffix = self._suffixes.get(off)
        if suffix is None:
            sign, mag = ("+", off) if off >= 0 else ("-", -off)
            suffix = self._suffixes[off] = f"{sign}{mag // 3600:02d}:{mag // 60 % 60:02d}"
        return f"{prefix}{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}{suffix}"

    def midnight(self, d: date) -> int:
        return int(datetime.combine(d, datetime.min.time(), self.zone).timestamp())

    # -- office time --------------------------------------------------------------------

    def _day_number(self, ts: int) -> int:
        """The local date of ts as days since 1970-01-01."""
        off = self._offset(ts)
        if off is None:
            return datetime.fromtimestamp(ts, self.zone).date().toordinal() - _EPOCH_ORDINAL
        return (ts + off) // 86400

    def _day(self, day: int) -> tuple[int, tuple[tuple[int, int], ...]]:
        """(office seconds of the days from the origin to this one, its periods)."""
        k = day - self._cum_origin
        table = self._cum
        if 0 <= k < len(table):
            return table[k]
        if not table or k < 0:
            self._cum_origin = day - 366  # rebuild with room to go back
            table = self._cum = []
            k = 366
        while len(table) <= k:
            periods = self.periods(date.fromordinal(_EPOCH_ORDINAL + self._cum_origin + len(table)))
            before = table[-1][0] + sum(e - s for s, e in table[-1][1]) if table else 0
            table.append((before, periods))
        return table[k]

    def _office_before(self, ts: int) -> int:
        before, periods = self._day(self._day_number(ts))
        for s, e in periods:
            if s >= ts:
                break
            before += (e if e < ts else ts) - s
        return before

    def between(self, a: int, b: int) -> int:
        """Office seconds in [a, b); 0 when a >= b."""
        if a >= b:
            return 0
        before_a = self._office_before(a)  # may move the origin back: take it first
        return self._office_before(b) - before_a

    def add(self, ts: int, seconds: int) -> int:
        """The instant after ``seconds`` of office time from ts (from the next
        office period's start when ts is outside office hours)."""
        day = self._day_number(ts)
        for _ in range(3700):  # ten years of days: bad input, not a long deadline
            for s, e in self._day(day)[1]:
                if e <= ts:
                    continue
                start = s if s > ts else ts
                if seconds <= e - start:
                    return start + seconds
                seconds -= e - start
            day += 1
        raise ValueError("no office time within ten years")

    def working_days(self, first: date, last: date) -> list[date]:
        out, d = [], first
        while d <= last:
            if self.periods(d):
                out.append(d)
            d += ONE_DAY
        return out

    def working_day_after(self, d: date, n: int) -> date:
        return self.calendar.working_day_after(d, n)

    def working_day_before(self, d: date, n: int) -> date:
        return self.calendar.working_day_before(d, n)

    def day_end(self, d: date) -> int:
        return self.periods(d)[-1][1]

    def due_after(self, ts: int, days: int) -> int:
        """The appointment: end of office hours on the days-th working day after
        the local date of ts (the example in events.md: Fri 08:12 + 5 -> next Fri 17:00)."""
        key = (self._day_number(ts), days)
        due = self._dues.get(key)
        if due is None:
            due = self._dues[key] = self.day_end(self.working_day_after(self.local_date(ts), max(days, 1)))
        return due

    def random_instant(self, rng: random.Random, d: date) -> int:
        """A reception instant on working day d: uniform within office hours, the
        first period a little busier (queues form in the morning)."""
        periods = self.periods(d)
        weights = [(e - s) * (1.3 if i == 0 else 1.0) for i, (s, e) in enumerate(periods)]
        s, e = periods[pick(rng, list(accumulate(weights)))]
        return s + rng.randrange(max(e - s, 1))


