"""Working-time calendar: office seconds between two instants (spec: calendar.md).

Pure: no clock, no environment, no I/O. Every instant must be time-zone aware.

Internally instants are integer microseconds since the Unix epoch, so sums are exact
and `working_time_s` is additive to the microsecond; seconds are only produced at the
API boundary. Per local year we precompute each day's office intervals and a running
total, so a span of years costs one lookup per year plus two partial days.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

__all__ = ["CalendarConfig", "WorkingCalendar"]

COUNTRY = "VN"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_US_PER_S = 1_000_000
_HOLIDAY_CLASS = holidays.VN
# The package's Vietnamese data covers these years; outside them we would silently treat
# every weekday as working, and a garbage instant (year 9999) would make us build
# thousands of years of tables. Refusing is safer for a stream processor.
MIN_YEAR: int = _HOLIDAY_CLASS.start_year
MAX_YEAR: int = _HOLIDAY_CLASS.end_year


@dataclass(frozen=True)
class CalendarConfig:
    timezone: str = "Asia/Ho_Chi_Minh"
    office_hours: tuple[tuple[time, time], ...] = (
        (time(7, 30), time(11, 30)),
        (time(13, 30), time(17, 0)),
    )
    extra_holidays: frozenset[date] = frozenset()  # days added as non-working
    removed_holidays: frozenset[date] = frozenset()  # public holidays that are worked anyway
    extra_working_days: frozenset[date] = frozenset()  # make-up Saturdays etc.
    warning_threshold_s: float = 27000.0  # one working day = 7.5 h of office time

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # fail at load time on a misspelt zone, not mid-stream
        if not self.office_hours:
            # With no office time, "nearing due from" would have no answer.
            raise ValueError("office_hours must hold at least one period")
        previous_end: time | None = None
        for start, end in self.office_hours:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("office hours are local wall-clock times, without tzinfo")
            if not start < end:
                raise ValueError(f"office period {start}-{end} must start before it ends")
            if previous_end is not None and start < previous_end:
                raise ValueError("office periods must be sorted and must not overlap")
            previous_end = end
        # A day listed both ways is a settings mistake; refuse rather than guess.
        if self.extra_holidays & self.extra_working_days:
            raise ValueError("a day is both in extra_holidays and extra_working_days")
        if self.extra_holidays & self.removed_holidays:
            raise ValueError("a day is both in extra_holidays and removed_holidays")
        if not (
            math.isfinite(self.warning_threshold_s) and self.warning_threshold_s >= 0
        ):
            raise ValueError("warning_threshold_s must be a finite number >= 0")


@dataclass(frozen=True)
class _Year:
    """Precomputed office time of one local year."""

    year: int
    first_ordinal: int  # date.toordinal() of 1 January
    # Office intervals of each day, as [start_us, end_us) epoch microseconds.
    intervals: tuple[tuple[tuple[int, int], ...], ...]
    # cumulative[i] = office microseconds in days 0..i-1; cumulative[-1] is the year's total.
    cumulative: tuple[int, ...]


def _to_us(t: datetime) -> int:
    return (t - _EPOCH) // _US


def _require_aware(t: datetime, name: str) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be time-zone aware, got naive {t!r}")


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(
            f"year {year} is outside the holiday data ({MIN_YEAR}-{MAX_YEAR})"
        )


_ONE_DAY = timedelta(days=1)


class WorkingCalendar:
    """Working days and office time of a Vietnamese public office."""

    def __init__(self, config: CalendarConfig = CalendarConfig()) -> None:
        self.config = config
        self._zone = ZoneInfo(config.timezone)
        self._years: dict[int, _Year] = {}
        # (year, language) -> {date: name}; loaded lazily, names are rarely asked for.
        self._names: dict[tuple[int, str], dict[date, str]] = {}
        self._workday_weekends: dict[int, frozenset[date]] = {}

    # -- days -----------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        if isinstance(d, datetime):
            # A datetime's date depends on its zone; make the caller choose it.
            raise TypeError("pass a local date, not a datetime")
        _check_year(d.year)
        c = self.config
        if d in c.extra_working_days:
            return True
        if d in c.extra_holidays:
            return False
        if d in self._public_holidays(d.year, "vi") and d not in c.removed_holidays:
            return False
        if d.weekday() >= 5:
            # Saturdays the government swapped with a weekday off (e.g. 4/5/2024).
            return d in self._package_workdays(d.year)
        return True

    def working_day_after(self, d: date, n: int) -> date:
        """The n-th working day after d (n >= 1), d itself not counted."""
        for _ in range(n):
            d += _ONE_DAY
            while not self.is_working_day(d):
                d += _ONE_DAY
        return d

    def working_day_before(self, d: date, n: int) -> date:
        """The n-th working day before d (n >= 1), d itself not counted."""
        for _ in range(n):
            d -= _ONE_DAY
            while not self.is_working_day(d):
                d -= _ONE_DAY
        return d

    def office_end(self, d: date) -> datetime:
        """The end of the last office period of local date d (17:00 by default)."""
        return datetime.combine(d, self.config.office_hours[-1][1], self._zone)

    def local_date(self, at: datetime) -> date:
        _require_aware(at, "at")
        return at.astimezone(self._zone).date()

    def appointment(self, at: datetime, working_days: int) -> datetime:
        """The end of office hours on the n-th working day after the local date of
        ``at``: how procedures and petitions set their time limit (a petition
        received Friday 15/3/2024 with 15 working days is due 17:00 on 5/4/2024)."""
        return self.office_end(self.working_day_after(self.local_date(at), max(working_days, 1)))

    def holiday_name(self, d: date, language: str = "vi") -> str | None:
        """The public holiday's name, or None (also for removed and for extra holidays,
        which have no official name)."""
        if isinstance(d, datetime):
            raise TypeError("pass a local date, not a datetime")
        _check_year(d.year)
        if d in self.config.removed_holidays:
            return None
        return self._public_holidays(d.year, language).get(d)

    def _public_holidays(self, year: int, language: str) -> dict[date, str]:
        lang = {"en": "en_US"}.get(language, language)
        if lang not in _HOLIDAY_CLASS.supported_languages:
            raise ValueError(f"unsupported language {language!r}")
        key = (year, lang)
        names = self._names.get(key)
        if names is None:
            self._load(year, lang)
            names = self._names[key]
        return names

    def _package_workdays(self, year: int) -> frozenset[date]:
        if year not in self._workday_weekends:
            self._load(year, "vi")
        return self._workday_weekends[year]

    def _load(self, year: int, language: str) -> None:
        # A swap can cross New Year (31/12/2018 off, worked on 5/1/2019; 2/1/2015 off,
        # worked on 27/12/2014), so ask for the neighbours and keep this year's dates.
        # `language` is always explicit: without it the package follows $LANG.
        years = [y for y in (year - 1, year, year + 1) if MIN_YEAR <= y <= MAX_YEAR]
        h = holidays.country_holidays(COUNTRY, years=years, language=language)
        self._names[(year, language)] = {d: n for d, n in h.items() if d.year == year}
        self._workday_weekends[year] = frozenset(
            d for d in h.weekend_workdays if d.year == year
        )

    # -- office time ----------------------------------------------------------

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is not None:
            return cached
        _check_year(year)
        first = date(year, 1, 1)
        n_days = (date(year + 1, 1, 1) - first).days
        intervals: list[tuple[tuple[int, int], ...]] = []
        cumulative = [0]
        for i in range(n_days):
            d = first + timedelta(days=i)
            day: tuple[tuple[int, int], ...] = ()
            if self.is_working_day(d):
                day = tuple(
                    self._office_interval(d, start, end)
                    for start, end in self.config.office_hours
                )
            intervals.append(day)
            cumulative.append(cumulative[-1] + sum(e - s for s, e in day))
        built = _Year(year, first.toordinal(), tuple(intervals), tuple(cumulative))
        self._years[year] = built
        return built

    def _office_interval(self, d: date, start: time, end: time) -> tuple[int, int]:
        # Through the zone rather than a fixed offset, so that a zone with daylight
        # saving would still get each period's real length.
        s = _to_us(datetime.combine(d, start, self._zone))
        return s, max(s, _to_us(datetime.combine(d, end, self._zone)))

    def _locate(self, t: datetime) -> tuple[_Year, int, int]:
        """(its local year, index of its local day in that year, epoch microseconds)."""
        local = t.astimezone(self._zone)
        y = self._year(local.year)
        return y, local.toordinal() - y.first_ordinal, _to_us(t)

    def _since_new_year_us(self, t: datetime) -> tuple[int, int]:
        """(local year of t, office microseconds from its local 1 January 00:00 to t)."""
        y, i, t_us = self._locate(t)
        partial = sum(min(e, t_us) - s for s, e in y.intervals[i] if s < t_us)
        return y.year, y.cumulative[i] + partial

    def _working_time_us(self, a: datetime, b: datetime) -> int:
        _require_aware(a, "a")
        _require_aware(b, "b")
        if a >= b:
            return 0
        year_a, before_a = self._since_new_year_us(a)
        year_b, before_b = self._since_new_year_us(b)
        whole_years = sum(self._year(y).cumulative[-1] for y in range(year_a, year_b))
        return whole_years + before_b - before_a

    def working_time_s(self, a: datetime, b: datetime) -> float:
        """Office seconds on working days between instants a and b; 0 when a >= b."""
        return self._working_time_us(a, b) / _US_PER_S

    # -- nearing due ----------------------------------------------------------

    def _threshold_us(self, threshold_s: float | None) -> int:
        s = self.config.warning_threshold_s if threshold_s is None else threshold_s
        if not (math.isfinite(s) and s >= 0):
            raise ValueError("threshold_s must be a finite number >= 0")
        # The largest n with n / 1e6 <= s, so that comparing integer microseconds agrees
        # exactly with comparing working_time_s(...) <= s in floats (s * 1e6 may round).
        n = math.floor(s * _US_PER_S)
        while n / _US_PER_S > s:
            n -= 1
        while (n + 1) / _US_PER_S <= s:
            n += 1
        return n

    def is_nearing_due(self, now: datetime, due: datetime) -> bool:
        """Working time left until `due` is within the warning threshold.

        The caller decides overdue and paused first (kpis.md §8); past `due` this is
        simply True because no working time is left.
        """
        return self._working_time_us(now, due) <= self._threshold_us(None)

    def nearing_due_from(
        self, due: datetime, threshold_s: float | None = None
    ) -> datetime:
        """The earliest instant t with working_time_s(t, due) <= threshold.

        Working time to `due` only shrinks inside office hours, so t is inside an office
        period or at its end: with threshold 0 it is the end of the last office period
        at or before `due` (or `due` itself inside office time). If an office period
        exactly uses up the threshold, t is the end of the period before it, since
        the closed office time in between does not count. Returned in due's tzinfo.
        """
        _require_aware(due, "due")
        remaining = self._threshold_us(threshold_s)
        y, i, due_us = self._locate(due)

        # The due day itself, up to `due`.
        for s, e in reversed(y.intervals[i]):
            e = min(e, due_us)
            if e <= s:
                continue
            if e - s > remaining:
                return self._from_us(e - remaining, due)
            remaining -= e - s

        # Earlier days: find, by bisection on the running totals, the latest day whose
        # office time is not entirely used up by what remains; skip whole years at once.
        end = i  # days [0, end) of year y are still to walk
        while True:
            target = y.cumulative[end] - remaining
            k = bisect_left(y.cumulative, target, 0, end + 1) - 1
            if k >= 0:
                remaining -= y.cumulative[end] - y.cumulative[k + 1]
                for s, e in reversed(y.intervals[k]):
                    if e - s > remaining:
                        return self._from_us(e - remaining, due)
                    remaining -= e - s
                raise AssertionError("running totals and intervals disagree")
            remaining -= y.cumulative[end]
            # _year raises ValueError once we walk off the holiday data.
            y = self._year(y.year - 1)
            end = len(y.intervals)

    @staticmethod
    def _from_us(t_us: int, like: datetime) -> datetime:
        return (_EPOCH + t_us * _US).astimezone(like.tzinfo)
