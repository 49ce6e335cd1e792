"""When the daily digest goes (pure): at ``digest_at`` local time on working days
(processors/calendar.py: weekends, public holidays and make-up Saturdays), and
only inside office hours. A digest missed while the notifier was down goes when
the office next opens; it is never sent at night or on a holiday."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from processors.calendar import WorkingCalendar

_ONE_DAY = timedelta(days=1)


def _zone(calendar: WorkingCalendar) -> ZoneInfo:
    return ZoneInfo(calendar.config.timezone)


def in_office(at: datetime, calendar: WorkingCalendar) -> bool:
    local = at.astimezone(_zone(calendar))
    return calendar.is_working_day(local.date()) and inside_office_hours(local.time(), calendar)


def _at(d: date, t: time, calendar: WorkingCalendar) -> datetime:
    return datetime.combine(d, t, tzinfo=_zone(calendar))


def inside_office_hours(t: time, calendar: WorkingCalendar) -> bool:
    return any(start <= t < end for start, end in calendar.config.office_hours)


def next_digest_at(after: datetime, digest_at: time, calendar: WorkingCalendar) -> datetime:
    """The first digest instant strictly after ``after``."""
    d = after.astimezone(_zone(calendar)).date()
    while True:
        if calendar.is_working_day(d):
            at = _at(d, digest_at, calendar)
            if at > after:
                return at
        d += _ONE_DAY


def first_digest_at(now: datetime, digest_at: time, calendar: WorkingCalendar) -> datetime:
    """At the notifier's first start: today's digest if it is due and the office
    is open, else the next one."""
    today = _at(now.astimezone(_zone(calendar)).date(), digest_at, calendar)
    if today <= now and in_office(now, calendar):
        return today
    return next_digest_at(now, digest_at, calendar)
