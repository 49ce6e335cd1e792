"""Local dates: every date in the contract is a calendar date in Asia/Ho_Chi_Minh."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# Vietnam has kept UTC+07:00 without daylight saving since 1975; a fixed offset
# makes the hot path (one conversion per dated measure) cheaper than zoneinfo.
_LOCAL_OFFSET = timezone(timedelta(hours=7))


# One timezone object per UTC offset. datetime.fromisoformat makes a new one for
# every instant it parses, and on CPython 3.11 comparing (or subtracting) two
# aware datetimes whose tzinfo objects differ costs ~2-4 µs against ~0.2 µs when
# they are the same object; astimezone to the same object is a no-op. Instants
# parsed from events are put on these shared objects (same offset, same value).
_SHARED_OFFSETS: dict[timedelta | None, timezone] = {timedelta(0): UTC, timedelta(hours=7): _LOCAL_OFFSET}


def shared_offset(at: datetime) -> datetime:
    """``at`` with its fixed offset as the shared timezone object of that offset."""
    offset = at.utcoffset()
    tz = _SHARED_OFFSETS.get(offset)
    if tz is None:
        if offset is None:
            return at
        tz = _SHARED_OFFSETS.setdefault(offset, timezone(offset))
    return at if at.tzinfo is tz else at.replace(tzinfo=tz)


def local_date(at: datetime) -> date:
    return at.astimezone(_LOCAL_OFFSET).date()


def local_midnight(d: date) -> datetime:
    """The instant a local date starts."""
    return datetime.combine(d, time(0), tzinfo=_LOCAL_OFFSET)


def iso_instant(at: datetime) -> str:
    """RFC 3339 in local time, seconds precision unless sub-second is present."""
    return at.astimezone(_LOCAL_OFFSET).isoformat()


def fixed_or_system_clock(fixed: datetime | None) -> Callable[[], datetime]:
    """*now*: a fixed instant (CHISO_NOW, for reproducible runs) or the real clock."""
    if fixed is not None:
        return lambda: fixed
    return lambda: datetime.now(UTC)


_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_EPOCH_IN: dict[object, datetime] = {}


def epoch_us(t: datetime) -> int:
    """Microseconds since the epoch: exact as a Redis sorted-set score (< 2**53).
    For a fixed-offset t the epoch is taken in t's own timezone object (see
    ``shared_offset``), which makes the subtraction plain field arithmetic; only
    for a fixed offset: a zone's offset may differ between 1970 and t (Saigon
    was UTC+08:00 then), and same-tzinfo subtraction ignores offsets."""
    tz = t.tzinfo
    if type(tz) is not timezone:
        return (t - _EPOCH) // _US
    epoch = _EPOCH_IN.get(tz)
    if epoch is None:
        epoch = _EPOCH_IN.setdefault(tz, _EPOCH.astimezone(tz))
    return (t - epoch) // _US


def from_epoch_us(us: int) -> datetime:
    return _EPOCH + us * _US
