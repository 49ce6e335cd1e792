"""A seeded, reproducible generator of realistic dossier events (docs/simulator.md).

Pure: no Kafka, no clock, no randomness but the seed. ``Simulator.events_until``
returns the contract's JSON objects (``spec/events.md``) as dicts, ordered by
``occurred_at``, with every instant in RFC 3339 at the calendar's local offset
(+07:00 for Asia/Ho_Chi_Minh).

How it stays reproducible whatever the caller does: the arrivals of one local day
are drawn, and their whole lifecycles planned, from a generator seeded by
``(seed, date)`` alone, the first time a call's ``until`` reaches that day. Events
wait in a heap until ``until`` passes them. So the events depend on the seed, the
units, the calendar, the config and ``start``, never on how the calls are spaced.

Instants are whole epoch seconds (ints) inside this module: cheap to compare, add
and heap-order, and exact.
"""

from __future__ import annotations

import heapq
import math
import random
import zlib
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo

from processors.calendar import WorkingCalendar
from processors.units import Unit

__all__ = [
    "SimConfig", "Simulator", "Procedure", "PROCEDURES", "OfficeTime", "DossierPlan",
    "plan_events", "timed_events", "unit_weight", "unit_procedures", "UnitProfile", "unit_profile",
]

LEVELS = ("full", "partial", "none")
ONE_DAY = timedelta(days=1)
WORKING_DAY_S = 27000  # 7.5 h: the default office day, used only to scale delays
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
MAX_ID_LEN = 64  # dossier_id, unit_id, officer_id, procedure_id (events.md)


# -- procedures -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Procedure:
    """An administrative procedure (thủ tục hành chính) as the simulator uses it.

    ``processing_days``: the legal time limit in working days; the appointment
    (``due_at``) is the end of office hours on that many working days after the
    reception day. ``fee_vnd``: the fee or charge when one is due, 0 for free ones.
    """

    procedure_id: str
    name: str
    processing_days: int
    online_service: str  # full | partial | none: the level the procedure offers
    fee_vnd: int = 0


def _p(code: str, name: str, days: int, level: str, fee: int = 0) -> Procedure:
    return Procedure(code, name, days, level, fee)


# Codes follow the national procedure catalogue (Cơ sở dữ liệu quốc gia về TTHC).
# They, the time limits and the fees are illustrative: taken from public listings
# where we found them, not checked one by one against the current catalogue.
PROCEDURES: dict[str, Procedure] = {p.procedure_id: p for p in (
    # commune level (UBND xã, phường, đặc khu)
    _p("1.001193", "Đăng ký khai sinh", 1, "full"),
    _p("1.000656", "Đăng ký khai tử", 1, "full"),
    _p("1.000894", "Đăng ký kết hôn", 1, "partial"),
    _p("1.004884", "Đăng ký lại khai sinh", 5, "partial"),
    _p("2.000815", "Chứng thực bản sao từ bản chính giấy tờ, văn bản", 1, "partial", 10_000),
    _p("2.000884", "Chứng thực chữ ký trong các giấy tờ, văn bản", 1, "none", 10_000),
    _p("1.001612", "Đăng ký thành lập hộ kinh doanh", 3, "full", 100_000),
    _p("1.009994", "Cấp giấy phép xây dựng nhà ở riêng lẻ", 15, "partial", 75_000),
    _p("1.013831", "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất "
       "(chuyển nhượng, thừa kế, tặng cho)", 10, "partial", 100_000),
    # provincial departments
    _p("1.000122", "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người nước ngoài đang cư trú "
       "tại Việt Nam", 10, "full", 200_000),
    _p("1.000956", "Đăng ký thành lập công ty TNHH một thành viên", 3, "full", 50_000),
    _p("1.004222", "Đăng ký thường trú", 7, "full", 20_000),
    _p("1.004194", "Đăng ký tạm trú", 3, "full", 15_000),
    # Stand-ins for the many procedures not listed above, one per service level, so
    # that every unit offers every level (the config's online_service mix).
    _p("khac.toan-trinh", "Thủ tục hành chính khác (dịch vụ công trực tuyến toàn trình)", 5, "full"),
    _p("khac.mot-phan", "Thủ tục hành chính khác (dịch vụ công trực tuyến một phần)", 7, "partial", 50_000),
    _p("khac.khong", "Thủ tục hành chính khác (không có dịch vụ công trực tuyến)", 10, "none"),
)}

# (procedure, relative frequency) by kind of unit.
COMMUNE_PROCEDURES: tuple[tuple[str, float], ...] = (
    ("1.001193", 8), ("1.000656", 3), ("1.000894", 2), ("1.004884", 0.5),
    ("2.000815", 10), ("2.000884", 5), ("1.001612", 2), ("1.009994", 1.5), ("1.013831", 4),
)
# Departments of the sample catalogue, by the id part after the parent's id.
DEPARTMENT_PROCEDURES: dict[str, tuple[tuple[str, float], ...]] = {
    "snnmt": (("1.013831", 10),),
    "stp": (("1.000122", 10),),
    "stc": (("1.000956", 10),),
    "ca": (("1.004222", 4), ("1.004194", 6)),
    "sxd": (("1.009994", 2),),
}
_FALLBACK = {"full": "khac.toan-trinh", "partial": "khac.mot-phan", "none": "khac.khong"}

# Relative daily arrivals by unit (see unit_weight): the big provincial desks and
# the police see far more dossiers than a mountain commune.
DEPARTMENT_WEIGHTS: dict[str, float] = {
    "ca": 6.0, "snnmt": 6.0, "stp": 2.0, "stc": 2.0, "sxd": 2.0, "snv": 1.5,
    "syt": 1.0, "sgddt": 0.8, "sct": 0.8,
}
# Units that take no dossiers at all: the root (a roll-up only) and Hoàng Sa, a
# commune-level unit with no resident population.
_SILENT_SUFFIXES = ("hoang-sa",)


def _local_part(unit: Unit) -> str:
    """``dng-snnmt`` under ``dng`` -> ``snnmt``."""
    prefix = f"{unit.parent_id}-" if unit.parent_id else ""
    return unit.unit_id[len(prefix):] if unit.unit_id.startswith(prefix) else unit.unit_id


def unit_weight(unit: Unit) -> float:
    """Relative arrival rate of a unit: 0 for the root and uninhabited units."""
    level = unit.level.lower()
    name = unit.name.lower()
    if unit.parent_id is None or level == "province":
        return 0.0
    if any(unit.unit_id.endswith(s) for s in _SILENT_SUFFIXES):
        return 0.0
    if "phục vụ hành chính công" in name or level in ("center", "centre", "pasc"):
        return 8.0  # a Public Administration Service Centre receives for many departments
    if level == "commune":
        if name.startswith("phường"):
            return 1.0
        if name.startswith("đặc khu"):
            return 0.3
        return 0.5
    if level == "department":
        return DEPARTMENT_WEIGHTS.get(_local_part(unit), 0.3)
    return 0.5


def unit_procedures(unit: Unit) -> dict[str, tuple[tuple[Procedure, float], ...]]:
    """The procedures a unit handles, by online service level, with weights."""
    if unit.level.lower() == "commune":
        table = COMMUNE_PROCEDURES
    else:
        table = DEPARTMENT_PROCEDURES.get(_local_part(unit), ())
    out: dict[str, tuple[tuple[Procedure, float], ...]] = {}
    for level in LEVELS:
        chosen = tuple((PROCEDURES[c], w) for c, w in table if PROCEDURES[c].online_service == level)
        out[level] = chosen or ((PROCEDURES[_FALLBACK[level]], 1.0),)
    return out


def bounded_id(base: str, suffix: str) -> str:
    """``base + suffix`` within 64 characters (a long base is shortened with a hash)."""
    if len(base) + len(suffix) <= MAX_ID_LEN:
        return base + suffix
    tag = f"~{zlib.crc32(base.encode()):08x}"
    return base[: MAX_ID_LEN - len(suffix) - len(tag)] + tag + suffix


# -- config -----------------------------------------------------------------------


@dataclass(frozen=True)
class SimConfig:
    """Rates of the simulated province. Defaults are calibrated to Quảng Nam's
    published figures for 15/3-14/6/2024 (docs/simulator.md); shares are of all
    dossiers unless said otherwise."""

    # 105,344 received over the 63 working days of that period.
    dossiers_per_working_day: float = 1672.0
    channel_online: float = 0.732  # published: 77,112 of 105,344
    channel_postal: float = 0.012  # not published: bưu chính công ích is small
    # Shares of dossiers by the procedure's online service level (full, partial, none);
    # not published. With 14 % "none", 85 % of eligible dossiers come online.
    online_service_mix: tuple[float, float, float] = (0.55, 0.31, 0.14)
    fee_share: float = 0.35  # dossiers that owe a fee; not published
    online_payment_share: float = 0.76  # of payments; published: 7.6 / 10 points
    digitized_share: float = 0.75  # published only as the digitisation group, 15.6 / 22
    e_result_share: float = 0.668  # of resolved; (0.75 + 0.668) / 2 * 22 = 15.6
    supplement_probability: float = 0.05  # yêu cầu bổ sung, one round
    pause_probability: float = 0.01  # tạm dừng
    extension_probability: float = 0.03  # gia hạn (due_changed), asked before the due
    late_share: float = 0.08  # of resolved; published: 18.4 / 20 points on time
    apology_share: float = 0.85  # of late dossiers; Decree 61/2018 wants one for each
    rating_share: float = 0.45  # resolved dossiers that get rated
    satisfaction: float = 0.978  # satisfied or very satisfied; published: 17.6 / 18
    very_satisfied_share: float = 0.6  # of the satisfied
    sync_share: float = 0.733  # synced to the national portal; published: 13.2 / 18
    withdrawn_share: float = 0.001  # published: none; kept small but present
    rejected_share: float = 0.002
    source: str = "igate-dng"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.dossiers_per_working_day) and self.dossiers_per_working_day >= 0):
            raise ValueError("dossiers_per_working_day must be a finite number >= 0")
        for name in _SHARE_FIELDS:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        if self.channel_online + self.channel_postal > 1.0:
            raise ValueError("channel_online + channel_postal must not exceed 1")
        if len(self.online_service_mix) != 3 or any(x < 0 for x in self.online_service_mix) or not sum(self.online_service_mix):
            raise ValueError("online_service_mix is three non-negative shares (full, partial, none)")
        if self.withdrawn_share + self.rejected_share > 1.0:
            raise ValueError("withdrawn_share + rejected_share must not exceed 1")


_SHARE_FIELDS = tuple(
    name for name in SimConfig.__dataclass_fields__
    if name not in ("dossiers_per_working_day", "online_service_mix", "source")
)


# -- office time ------------------------------------------------------------------


class OfficeTime:
    """Office periods of the calendar's working days as epoch seconds, and the few
    moves the simulator needs that the calendar (which only measures) does not
    offer: the n-th working day after a date, and an instant plus office time.

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
        """The n-th working day after d (n >= 1), d itself not counted."""
        for _ in range(n):
            d += ONE_DAY
            while not self.periods(d):
                d += ONE_DAY
        return d

    def working_day_before(self, d: date, n: int) -> date:
        """The n-th working day before d (n >= 1)."""
        for _ in range(n):
            d -= ONE_DAY
            while not self.periods(d):
                d -= ONE_DAY
        return d

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


def pick(rng: random.Random, cumulative: Sequence[float]) -> int:
    """Index drawn with weights given as running totals."""
    return min(bisect_right(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:  # normal approximation; exact enough for daily counts
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


# -- a dossier's plan and its events ------------------------------------------------


@dataclass(slots=True)
class DossierPlan:
    """Everything that will happen to one dossier; ``plan_events`` turns it into
    events. Instants are epoch seconds."""

    dossier_id: str
    unit_id: str
    procedure: Procedure
    received_at: int
    channel: str
    due_at: int
    receiver: str
    officer: str
    assigned_at: int
    fee_required: bool = False
    digitized: bool = False
    # (type, at, new due or None): supplement_*, paused/resumed, due_changed
    clock: list[tuple[str, int, int | None]] = field(default_factory=list)
    end: tuple[str, int] | None = None  # (resolved | withdrawn | rejected, at)
    result_electronic: bool = False
    paid: tuple[int, str] | None = None  # (at, online | offline)
    synced_at: int | None = None
    apology_at: int | None = None
    returned_at: int | None = None
    rated: tuple[int, str] | None = None  # (at, rating)

    def effective_due(self) -> int:
        """The due once every clock event has run (the plan never ends paused)."""
        due, paused_since = self.due_at, None
        for kind, at, new_due in self.clock:
            if kind in ("supplement_requested", "paused"):
                paused_since = paused_since if paused_since is not None else at
            elif kind in ("supplement_received", "resumed"):
                if paused_since is not None:
                    due = new_due if new_due is not None else due + (at - paused_since)
                    paused_since = None
            elif paused_since is None and new_due is not None and at <= due:
                due = new_due
        return due

    def busy_until(self) -> int:
        """The last instant before which the result cannot come: assignment and
        every clock event."""
        return max([self.assigned_at, *(at for _, at, _ in self.clock)])


_REASONS = {
    "due_changed": "Gia hạn do cần lấy ý kiến cơ quan phối hợp",
    "rejected": "Hồ sơ không đủ điều kiện giải quyết",
}
# Same-instant events sort by this rank, so ids (numbered in that order) follow time.
_RANK = {t: i for i, t in enumerate((
    "received", "paid", "synced", "assigned", "supplement_requested", "paused",
    "supplement_received", "resumed", "due_changed", "apology_issued", "resolved",
    "withdrawn", "rejected", "returned", "rated",
))}


def plan_events(plan: DossierPlan, office: OfficeTime, source: str) -> list[dict]:
    """The plan's events as contract dicts, in (occurred_at, event_id) order."""
    return [ev for _, ev in timed_events(plan, office, source)]


def timed_events(plan: DossierPlan, office: OfficeTime, source: str) -> list[tuple[int, dict]]:
    """``plan_events`` with each event's instant in epoch seconds."""
    steps: list[tuple[int, str, dict]] = []
    iso = office.iso

    def add(at: int, kind: str, **extra: object) -> None:
        steps.append((at, kind, extra))

    add(plan.received_at, "received", unit_id=plan.unit_id,
        procedure_id=plan.procedure.procedure_id, channel=plan.channel,
        online_service=plan.procedure.online_service, due_at=iso(plan.due_at),
        fee_required=plan.fee_required, digitized=plan.digitized, officer_id=plan.receiver)
    add(plan.assigned_at, "assigned", officer_id=plan.officer)
    for kind, at, new_due in plan.clock:
        if kind == "due_changed":
            add(at, kind, due_at=iso(new_due), reason=_REASONS[kind])  # type: ignore[arg-type]
        elif new_due is not None:
            add(at, kind, due_at=iso(new_due))
        else:
            add(at, kind)
    if plan.paid is not None:
        extra: dict[str, object] = {"method": plan.paid[1]}
        if plan.procedure.fee_vnd:
            extra["amount_vnd"] = plan.procedure.fee_vnd
        add(plan.paid[0], "paid", **extra)
    if plan.synced_at is not None:
        add(plan.synced_at, "synced")
    if plan.end is not None:
        kind, at = plan.end
        if kind == "resolved":
            add(at, kind, result_electronic=plan.result_electronic)
        elif kind == "rejected":
            add(at, kind, reason=_REASONS[kind])
        else:
            add(at, kind)
    if plan.apology_at is not None:
        add(plan.apology_at, "apology_issued")
    if plan.returned_at is not None:
        add(plan.returned_at, "returned")
    if plan.rated is not None:
        add(plan.rated[0], "rated", rating=plan.rated[1])

    steps.sort(key=lambda s: (s[0], _RANK[s[1]]))
    out = []
    for n, (at, kind, extra) in enumerate(steps, start=1):
        ev = {"event_id": f"{plan.dossier_id}-{n:02d}", "dossier_id": plan.dossier_id,
              "type": kind, "occurred_at": iso(at)}
        ev.update(extra)
        ev["source"] = source
        out.append((at, ev))
    return out


# -- lifecycle timing (shared with the scenarios) -------------------------------------


def assign_delay_s(rng: random.Random) -> int:
    """Office time from reception to hand-over to a processing officer."""
    return 300 + int(rng.expovariate(1 / 2400))


def payment_delay_s(rng: random.Random, online: bool) -> int:
    """Wall-clock time from reception to payment: a few minutes at the counter,
    up to a few hours online (citizens pay from home, evenings included)."""
    return 60 + rng.randrange(14400 if online else 1200)


def sync_delay_s(rng: random.Random) -> int:
    """Wall-clock time from reception to publication on the national portal."""
    return 60 + rng.randrange(6 * 3600)


def return_instant(rng: random.Random, office: OfficeTime, resolved_at: int, fast: bool) -> int:
    """The result reaches the applicant: at once when it is electronic or online,
    else at the counter within a few working days."""
    if fast:
        return resolved_at + 60 + rng.randrange(3600)
    return office.add(resolved_at, 600 + int(rng.expovariate(1 / (0.8 * WORKING_DAY_S))))


def rating_instant(rng: random.Random, returned_at: int) -> int:
    return returned_at + 300 + int(rng.expovariate(1 / 30000))


def pick_rating(rng: random.Random, satisfied: bool, very_share: float) -> str:
    if not satisfied:
        return "dissatisfied"
    return "very_satisfied" if rng.random() < very_share else "satisfied"


def add_clock_events(rng: random.Random, office: OfficeTime, plan: DossierPlan,
                     supplement: bool, pause: bool, extension: bool) -> None:
    """Append the clock events asked for, in a fixed order (supplement round, then
    an extension asked in time, then a pause) so each one counts as the contract
    says: an extension only counts when asked before the due and while the clock
    runs, which is when we ask it."""
    cursor = plan.assigned_at
    due = plan.due_at
    if supplement:
        asked = office.add(cursor, 60 + int(rng.uniform(0.1, 0.5) * office.between(cursor, due)))
        back = office.add(asked, int(rng.uniform(0.3, 5.0) * WORKING_DAY_S))
        if rng.random() < 0.5:  # a new appointment counted afresh from the complete file
            new_due = office.due_after(back, plan.procedure.processing_days)
            plan.clock += [("supplement_requested", asked, None), ("supplement_received", back, new_due)]
            due = new_due
        else:  # the deadline slides by the time the file was away
            plan.clock += [("supplement_requested", asked, None), ("supplement_received", back, None)]
            due += back - asked
        cursor = back
    if extension and office.between(cursor, due) > 1200:
        asked = office.add(cursor, 60 + int(rng.uniform(0.2, 0.9) * (office.between(cursor, due) - 600)))
        new_due = office.day_end(office.working_day_after(office.local_date(due), rng.randint(1, 5)))
        plan.clock.append(("due_changed", asked, new_due))
        due, cursor = new_due, asked
    if pause:
        stopped = office.add(cursor, 60 + int(rng.uniform(0.05, 0.4) * office.between(cursor, due)))
        resumed = office.add(stopped, int(rng.uniform(0.5, 8.0) * WORKING_DAY_S))
        plan.clock += [("paused", stopped, None), ("resumed", resumed, None)]


def on_time_instant(rng: random.Random, office: OfficeTime, lo: int, hi: int) -> int:
    """A resolution in (lo, hi] by office time, most of them well before hi (most
    dossiers are resolved early, trước hạn)."""
    span = office.between(lo, hi)
    if span <= 120:
        return max(lo + 1, hi) if hi > lo else lo + 1
    used = 60 + int(rng.betavariate(1.4, 2.2) * (span - 120))
    return office.add(lo, used)


def late_delay_s(rng: random.Random) -> int:
    """Office time past the due: mostly a day or two, sometimes weeks."""
    return 600 + int(rng.expovariate(1 / (1.8 * WORKING_DAY_S)))


# -- the simulator ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitProfile:
    """A unit as the generators see it: arrival weight, procedures by level (with
    running weight totals for drawing), one-stop desk staff and processing officers."""

    unit: Unit
    weight: float
    procedures: dict[str, tuple[tuple[Procedure, float], ...]]
    cumulative: dict[str, list[float]]
    receivers: tuple[str, ...]
    officers: tuple[str, ...]

    def pick_procedure(self, rng: random.Random, level: str) -> Procedure:
        return self.procedures[level][pick(rng, self.cumulative[level])][0]


def unit_profile(unit: Unit) -> UnitProfile:
    w = unit_weight(unit)
    procs = unit_procedures(unit)
    cumulative = {lvl: list(accumulate(x for _, x in procs[lvl])) for lvl in LEVELS}
    staff = max(2, round(3 * w))
    return UnitProfile(
        unit, w, procs, cumulative,
        tuple(bounded_id(unit.unit_id, f".mc{i:02d}") for i in range(1, 3)),
        tuple(bounded_id(unit.unit_id, f".cb{i:02d}") for i in range(1, staff + 1)),
    )


class Simulator:
    """Dossier events of a province, day by day, reproducible from a seed.

    ``start`` is the origin of simulated time: dossiers arrive from then on, and
    none is open before it (start some days before the first ``until`` to warm up
    the open dossiers). ``stop``, when given, ends the arrivals (the dossiers
    already in go on to their end): a finite run. Arrivals follow the calendar's
    working days and office hours; each dossier's whole lifecycle is planned when
    it arrives.
    """

    # Relative arrivals by weekday (Mon..Sun; a make-up Saturday counts as 1).
    WEEKDAY_FACTOR = (1.15, 1.05, 1.0, 0.95, 0.85, 1.0, 1.0)

    def __init__(
        self,
        units: Iterable[Unit],
        seed: int,
        calendar: WorkingCalendar,
        config: SimConfig = SimConfig(),
        *,
        start: datetime,
        stop: datetime | None = None,
    ) -> None:
        for name, value in (("start", start), ("stop", stop)):
            if value is not None and (value.tzinfo is None or value.utcoffset() is None):
                raise ValueError(f"{name} must be time-zone aware")
        self.seed = seed
        self.config = config
        self.office = OfficeTime(calendar)
        self._units = [p for p in map(unit_profile, units) if p.weight > 0]
        if not self._units:
            raise ValueError("no unit takes dossiers (all weights are 0)")
        self._cum_weights = list(accumulate(u.weight for u in self._units))
        self._start = int(math.ceil(start.timestamp()))
        self._stop = int(math.ceil(stop.timestamp())) if stop is not None else None
        self._next_day = self.office.local_date(self._start)
        self._heap: list[tuple[int, str, dict]] = []
        self._derive_rates()

    def _derive_rates(self) -> None:
        """Turn the config's overall shares into the conditional probabilities the
        draws use, so that the overall shares come out as configured."""
        c = self.config
        mix = c.online_service_mix
        total = sum(mix)
        self._level_cum = list(accumulate(mix))
        eligible = (mix[0] + mix[1]) / total
        self._p_online_if_eligible = min(1.0, c.channel_online / eligible) if eligible else 0.0
        not_online = 1.0 - c.channel_online
        self._p_postal_if_not_online = min(1.0, c.channel_postal / not_online) if not_online > 0 else 0.0
        # Share of dossiers on procedures that have a fee at all, and how many of
        # those come online (a fee procedure without online service never does).
        weight_sum = self._cum_weights[-1]
        fee_possible = fee_online = 0.0
        for u in self._units:
            for i, lvl in enumerate(LEVELS):
                procs = u.procedures[lvl]
                w_fee = sum(x for p, x in procs if p.fee_vnd > 0) / sum(x for _, x in procs)
                share = u.weight / weight_sum * mix[i] / total * w_fee
                fee_possible += share
                if lvl != "none":
                    fee_online += share * self._p_online_if_eligible
        self._p_fee_if_possible = min(1.0, c.fee_share / fee_possible) if fee_possible else 0.0
        # Those who submit online mostly pay online; at the counter a quarter use
        # QR codes or card terminals. Solve for the online submitters' rate so that
        # payments come out at online_payment_share overall.
        o = fee_online / fee_possible if fee_possible else 0.0
        self._p_pay_online_counter = min(0.25, c.online_payment_share)
        self._p_pay_online_online = (
            min(1.0, max(0.0, (c.online_payment_share - self._p_pay_online_counter * (1 - o)) / o)) if o else 0.0
        )

    # -- public ------------------------------------------------------------------

    def events_until(self, until: datetime) -> list[dict]:
        """Every event with occurred_at < until not returned before, in
        (occurred_at, event_id) order. A smaller ``until`` than before returns []."""
        if until.tzinfo is None or until.utcoffset() is None:
            raise ValueError("until must be time-zone aware")
        limit = until.timestamp()
        # A day's arrivals are all planned at once; every event of a later day
        # happens at or after that day's midnight, hence not before ``until``.
        while self.office.midnight(self._next_day) < limit:
            if self._stop is None or self.office.midnight(self._next_day) < self._stop:
                self._arrive(self._next_day)
            self._next_day += ONE_DAY
        out = []
        heap = self._heap
        while heap and heap[0][0] < limit:
            out.append(heapq.heappop(heap)[2])
        return out

    # -- generation ----------------------------------------------------------------

    def _arrive(self, d: date) -> None:
        if not self.office.periods(d):
            return
        rng = random.Random(f"chiso-sim:{self.seed}:{d.isoformat()}")
        n = poisson(rng, self.config.dossiers_per_working_day * self.WEEKDAY_FACTOR[d.weekday()])
        arrivals = sorted(
            (self.office.random_instant(rng, d), pick(rng, self._cum_weights)) for _ in range(n)
        )
        seq: dict[int, int] = {}
        stamp = d.strftime("%y%m%d")
        for at, ui in arrivals:
            seq[ui] = seq.get(ui, 0) + 1
            plan = self._plan(rng, self._units[ui], at, f"-{stamp}-{seq[ui]:04d}")
            if at < self._start or (self._stop is not None and at >= self._stop):
                continue  # drawn all the same, so that the others do not depend on start
            for ts, ev in timed_events(plan, self.office, self.config.source):
                heapq.heappush(self._heap, (ts, ev["event_id"], ev))

    def _plan(self, rng: random.Random, u: UnitProfile, at: int, suffix: str) -> DossierPlan:
        c, office = self.config, self.office
        level = LEVELS[pick(rng, self._level_cum)]
        proc = u.pick_procedure(rng, level)
        if level != "none" and rng.random() < self._p_online_if_eligible:
            channel = "online"
        else:
            channel = "postal" if rng.random() < self._p_postal_if_not_online else "direct"
        plan = DossierPlan(
            dossier_id=bounded_id(u.unit.unit_id, suffix),
            unit_id=u.unit.unit_id,
            procedure=proc,
            received_at=at,
            channel=channel,
            due_at=office.due_after(at, proc.processing_days),
            receiver=rng.choice(u.receivers),
            officer=rng.choice(u.officers),
            assigned_at=office.add(at, assign_delay_s(rng)),
            fee_required=proc.fee_vnd > 0 and rng.random() < self._p_fee_if_possible,
            digitized=rng.random() < c.digitized_share,
        )
        if plan.fee_required:
            p_online = self._p_pay_online_online if channel == "online" else self._p_pay_online_counter
            online = rng.random() < p_online
            plan.paid = (at + payment_delay_s(rng, online), "online" if online else "offline")
        if rng.random() < c.sync_share:
            plan.synced_at = at + sync_delay_s(rng)
        add_clock_events(
            rng, office, plan,
            supplement=rng.random() < c.supplement_probability,
            pause=rng.random() < c.pause_probability,
            extension=rng.random() < c.extension_probability,
        )
        due, lo = plan.effective_due(), plan.busy_until()
        outcome = rng.random()
        if outcome < c.withdrawn_share + c.rejected_share:
            kind = "withdrawn" if outcome < c.withdrawn_share else "rejected"
            plan.end = (kind, on_time_instant(rng, office, lo, max(due, lo + 3600)))
            return plan
        late = rng.random() < c.late_share
        if late:
            resolved = office.add(max(due, lo), late_delay_s(rng))
            if rng.random() < c.apology_share:
                plan.apology_at = office.add(due, rng.randrange(max(office.between(due, resolved), 1)))
        else:
            resolved = on_time_instant(rng, office, lo, due)
        plan.end = ("resolved", resolved)
        plan.result_electronic = rng.random() < c.e_result_share
        plan.returned_at = return_instant(rng, office, resolved, plan.result_electronic or channel == "online")
        if rng.random() < c.rating_share:
            satisfied = rng.random() < c.satisfaction
            plan.rated = (rating_instant(rng, plan.returned_at), pick_rating(rng, satisfied, c.very_satisfied_share))
        return plan

