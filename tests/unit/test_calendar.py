"""Working-time calendar (spec: calendar.md). Instants are written out in full, with
their offset; timelines in comments are local time (Asia/Ho_Chi_Minh, UTC+07:00)."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.calendar import CalendarConfig, WorkingCalendar

VN = ZoneInfo("Asia/Ho_Chi_Minh")
UTC = UTC
DAY_S = 7.5 * 3600  # default office time of one working day
CAL = WorkingCalendar()


def whole_days_s(cal: WorkingCalendar, first: date, last: date) -> float:
    """Office seconds from local midnight of `first` to local midnight after `last`."""
    start = datetime(first.year, first.month, first.day, tzinfo=VN)
    end = datetime(last.year, last.month, last.day, tzinfo=VN) + timedelta(days=1)
    return cal.working_time_s(start, end)


# -- one day, boundaries -------------------------------------------------------


def test_a_working_day_holds_seven_and_a_half_hours() -> None:
    # Tue 4/3/2025: 07:30-11:30 and 13:30-17:00
    assert whole_days_s(CAL, date(2025, 3, 4), date(2025, 3, 4)) == DAY_S


@pytest.mark.parametrize(
    ("a", "b", "expected_s"),
    [
        # before opening -> inside the morning: 07:30-09:00
        (datetime(2025, 3, 4, 6, 0, tzinfo=VN), datetime(2025, 3, 4, 9, 0, tzinfo=VN), 5400),
        # inside morning -> inside lunch break: 10:00-11:30
        (datetime(2025, 3, 4, 10, 0, tzinfo=VN), datetime(2025, 3, 4, 12, 0, tzinfo=VN), 5400),
        # lunch break -> lunch break
        (datetime(2025, 3, 4, 11, 45, tzinfo=VN), datetime(2025, 3, 4, 13, 15, tzinfo=VN), 0),
        # lunch -> after closing: 13:30-17:00
        (datetime(2025, 3, 4, 12, 0, tzinfo=VN), datetime(2025, 3, 4, 20, 0, tzinfo=VN), 12600),
        # exactly the boundaries
        (datetime(2025, 3, 4, 7, 30, tzinfo=VN), datetime(2025, 3, 4, 17, 0, tzinfo=VN), DAY_S),
        # after closing -> before opening next day
        (datetime(2025, 3, 4, 17, 0, tzinfo=VN), datetime(2025, 3, 5, 7, 30, tzinfo=VN), 0),
        # sub-second precision: 10:00:00.25 -> 10:00:01
        (
            datetime(2025, 3, 4, 10, 0, 0, 250_000, tzinfo=VN),
            datetime(2025, 3, 4, 10, 0, 1, tzinfo=VN),
            0.75,
        ),
    ],
)
def test_instants_before_inside_and_after_office_periods(
    a: datetime, b: datetime, expected_s: float
) -> None:
    assert CAL.working_time_s(a, b) == expected_s


def test_zero_when_a_is_not_before_b() -> None:
    a = datetime(2025, 3, 4, 10, 0, tzinfo=VN)
    assert CAL.working_time_s(a, a) == 0
    assert CAL.working_time_s(a + timedelta(hours=1), a) == 0


def test_utc_inputs_crossing_local_midnight() -> None:
    # 10:00Z = 17:00 local Tue 4/3 (closing); 01:00Z = 08:00 local Wed 5/3
    #   local: Tue 17:00 ... midnight ... Wed 07:30 [==08:00  -> 30 min
    a = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
    b = datetime(2025, 3, 5, 1, 0, tzinfo=UTC)
    assert CAL.working_time_s(a, b) == 1800
    # 18:00Z Mon 3/3 is already 01:00 local Tue 4/3: the whole of Tuesday counts
    assert CAL.working_time_s(
        datetime(2025, 3, 3, 18, 0, tzinfo=UTC), datetime(2025, 3, 4, 17, 0, tzinfo=UTC)
    ) == DAY_S


def test_weekend_holds_no_working_time() -> None:
    # Fri 7/3/2025 16:00 [== 17:00]  Sat  Sun  Mon 10/3 [07:30 == 08:00]
    assert CAL.is_working_day(date(2025, 3, 7))
    assert not CAL.is_working_day(date(2025, 3, 8))
    assert not CAL.is_working_day(date(2025, 3, 9))
    assert CAL.working_time_s(
        datetime(2025, 3, 7, 16, 0, tzinfo=VN), datetime(2025, 3, 10, 8, 0, tzinfo=VN)
    ) == 3600 + 1800
    assert whole_days_s(CAL, date(2025, 3, 8), date(2025, 3, 9)) == 0


# -- public holidays -------------------------------------------------------------


def test_tet_2025() -> None:
    # The package gives Mon 27/1 ("29 Tết", observed for Sat 1/2) .. Sat 1/2 (mùng 4);
    # Tue 28/1 is Giao thừa. Officials were off Sat 25/1 .. Sun 2/2.
    # Fri 24/1 16:00 [==17:00] | Sat 25 .. Sun 2/2: no office | Mon 3/2 [07:30==08:00]
    for day in range(27, 32):
        assert not CAL.is_working_day(date(2025, 1, day))
    assert CAL.is_working_day(date(2025, 1, 24))
    assert CAL.is_working_day(date(2025, 2, 3))
    assert CAL.holiday_name(date(2025, 1, 28)) == "Giao thừa Tết Nguyên Đán"
    assert CAL.holiday_name(date(2025, 1, 29)) == "Tết Nguyên Đán"
    assert CAL.holiday_name(date(2025, 1, 29), language="en") == "Lunar New Year"
    assert CAL.holiday_name(date(2025, 2, 1)) == "Mùng bốn Tết Nguyên Đán"
    assert CAL.working_time_s(
        datetime(2025, 1, 24, 16, 0, tzinfo=VN), datetime(2025, 2, 3, 8, 0, tzinfo=VN)
    ) == 3600 + 1800


def test_tet_2026() -> None:
    # Mon 16/2 (Giao thừa) .. Fri 20/2 (mùng 4): a whole working week off.
    for day in range(16, 21):
        assert not CAL.is_working_day(date(2026, 2, day))
    assert CAL.holiday_name(date(2026, 2, 17)) == "Tết Nguyên Đán"
    assert CAL.working_time_s(
        datetime(2026, 2, 13, 17, 0, tzinfo=VN), datetime(2026, 2, 23, 7, 30, tzinfo=VN)
    ) == 0
    assert whole_days_s(CAL, date(2026, 2, 9), date(2026, 2, 22)) == 5 * DAY_S


def test_hung_kings_day() -> None:
    # 10/3 lunar: Mon 7/4/2025; in 2026 it is Sun 26/4, observed on Mon 27/4.
    assert not CAL.is_working_day(date(2025, 4, 7))
    assert CAL.holiday_name(date(2025, 4, 7)) == "Ngày Giỗ Tổ Hùng Vương"
    assert CAL.holiday_name(date(2026, 4, 26)) == "Ngày Giỗ Tổ Hùng Vương"
    assert CAL.holiday_name(date(2026, 4, 27)) == "Ngày Giỗ Tổ Hùng Vương (nghỉ bù)"
    assert not CAL.is_working_day(date(2026, 4, 27))
    # Fri 24/4/2026 17:00 | Sat Sun Mon(observed) | Tue 28/4 07:30
    assert CAL.working_time_s(
        datetime(2026, 4, 24, 17, 0, tzinfo=VN), datetime(2026, 4, 28, 7, 30, tzinfo=VN)
    ) == 0


def test_reunification_and_labour_day_with_swapped_saturdays() -> None:
    # 2025: Wed 30/4, Thu 1/5 and Fri 2/5 (swapped with Sat 26/4, which is worked)
    assert [CAL.is_working_day(date(2025, 4, d)) for d in (26, 28, 29, 30)] == [
        True, True, True, False,
    ]
    assert not CAL.is_working_day(date(2025, 5, 1))
    assert not CAL.is_working_day(date(2025, 5, 2))
    assert CAL.holiday_name(date(2025, 5, 2)) == "Ngày nghỉ (thay cho ngày 26/04/2025)"
    # Sat 26/4 .. Sun 4/5/2025: Sat 26, Mon 28, Tue 29
    assert whole_days_s(CAL, date(2025, 4, 26), date(2025, 5, 4)) == 3 * DAY_S
    # 2024: Mon 29/4 (swapped with Sat 4/5), Tue 30/4, Wed 1/5
    assert [CAL.is_working_day(date(2024, 4, d)) for d in (29, 30)] == [False, False]
    assert not CAL.is_working_day(date(2024, 5, 1))
    assert CAL.is_working_day(date(2024, 5, 4))


def test_national_day_with_its_adjacent_day() -> None:
    # 2/9 plus one adjacent day (Labor Code 2019, since 2021)
    assert not CAL.is_working_day(date(2024, 9, 2))  # Mon
    assert not CAL.is_working_day(date(2024, 9, 3))  # Tue
    assert not CAL.is_working_day(date(2025, 9, 1))  # Mon
    assert not CAL.is_working_day(date(2025, 9, 2))  # Tue
    assert CAL.holiday_name(date(2025, 9, 2)) == "Quốc khánh"
    # 2026: Mon 31/8 (swapped with Sat 22/8), Tue 1/9, Wed 2/9
    assert CAL.is_working_day(date(2026, 8, 22))
    assert [CAL.is_working_day(date(2026, 9, d)) for d in (1, 2, 3, 4)] == [
        False, False, True, True,
    ]
    assert whole_days_s(CAL, date(2026, 8, 31), date(2026, 9, 6)) == 2 * DAY_S


# -- settings --------------------------------------------------------------------


def test_make_up_saturday_from_settings() -> None:
    # A province works Sat 15/2/2025 (not in the package).
    assert not CAL.is_working_day(date(2025, 2, 15))
    cal = WorkingCalendar(CalendarConfig(extra_working_days=frozenset({date(2025, 2, 15)})))
    assert cal.is_working_day(date(2025, 2, 15))
    assert whole_days_s(cal, date(2025, 2, 15), date(2025, 2, 16)) == DAY_S
    # Fri 14/2 17:00 | Sat 15 [07:30 ===== 17:00] | Sun | Mon 17/2 07:30
    assert cal.working_time_s(
        datetime(2025, 2, 14, 17, 0, tzinfo=VN), datetime(2025, 2, 17, 7, 30, tzinfo=VN)
    ) == DAY_S


def test_extra_working_day_wins_over_a_public_holiday() -> None:
    cal = WorkingCalendar(CalendarConfig(extra_working_days=frozenset({date(2025, 4, 30)})))
    assert cal.is_working_day(date(2025, 4, 30))


def test_removed_holiday_is_worked() -> None:
    cal = WorkingCalendar(CalendarConfig(removed_holidays=frozenset({date(2025, 5, 2)})))
    assert cal.is_working_day(date(2025, 5, 2))
    assert cal.holiday_name(date(2025, 5, 2)) is None
    assert whole_days_s(cal, date(2025, 5, 2), date(2025, 5, 2)) == DAY_S
    # Removing a holiday on a Saturday leaves an ordinary Saturday.
    cal = WorkingCalendar(CalendarConfig(removed_holidays=frozenset({date(2025, 2, 1)})))
    assert not cal.is_working_day(date(2025, 2, 1))


def test_extra_holiday() -> None:
    cal = WorkingCalendar(CalendarConfig(extra_holidays=frozenset({date(2025, 12, 31)})))
    assert CAL.is_working_day(date(2025, 12, 31))
    assert not cal.is_working_day(date(2025, 12, 31))
    assert cal.holiday_name(date(2025, 12, 31)) is None
    # Mon 29/12 Tue 30/12 [Wed 31/12 extra] [Thu 1/1 New Year] Fri 2/1 Sat Sun
    assert whole_days_s(cal, date(2025, 12, 29), date(2026, 1, 4)) == 3 * DAY_S
    # It also cancels a make-up Saturday the package knows about.
    cal = WorkingCalendar(CalendarConfig(extra_holidays=frozenset({date(2025, 4, 26)})))
    assert not cal.is_working_day(date(2025, 4, 26))


def test_custom_office_hours() -> None:
    cal = WorkingCalendar(
        CalendarConfig(office_hours=((time(8, 0), time(16, 0)),), warning_threshold_s=8 * 3600)
    )
    assert whole_days_s(cal, date(2025, 3, 4), date(2025, 3, 4)) == 8 * 3600
    # no lunch break: 11:00-14:00 counts in full
    assert cal.working_time_s(
        datetime(2025, 3, 4, 11, 0, tzinfo=VN), datetime(2025, 3, 4, 14, 0, tzinfo=VN)
    ) == 3 * 3600
    # one working day before Mon 10/3 10:00 is Fri 7/3 10:00 again
    assert cal.nearing_due_from(datetime(2025, 3, 10, 10, 0, tzinfo=VN)) == datetime(
        2025, 3, 7, 10, 0, tzinfo=VN
    )


def test_other_time_zone_setting() -> None:
    cal = WorkingCalendar(CalendarConfig(timezone="Asia/Bangkok"))  # also UTC+07:00
    assert cal.working_time_s(
        datetime(2025, 3, 4, 0, 30, tzinfo=UTC), datetime(2025, 3, 4, 1, 30, tzinfo=UTC)
    ) == 3600


@pytest.mark.parametrize(
    "kwargs",
    [
        {"office_hours": ()},
        {"office_hours": ((time(12, 0), time(8, 0)),)},
        {"office_hours": ((time(8, 0), time(12, 0)), (time(11, 0), time(13, 0)))},
        {"office_hours": ((time(8, 0, tzinfo=UTC), time(12, 0)),)},
        {"extra_holidays": frozenset({date(2025, 3, 1)}),
         "extra_working_days": frozenset({date(2025, 3, 1)})},
        {"extra_holidays": frozenset({date(2025, 4, 30)}),
         "removed_holidays": frozenset({date(2025, 4, 30)})},
        {"warning_threshold_s": -1.0},
        {"warning_threshold_s": float("nan")},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        CalendarConfig(**kwargs)  # type: ignore[arg-type]


# -- misuse ------------------------------------------------------------------------


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2025, 3, 4, 10, 0)
    aware = datetime(2025, 3, 4, 10, 0, tzinfo=VN)
    with pytest.raises(ValueError):
        CAL.working_time_s(naive, aware)
    with pytest.raises(ValueError):
        CAL.working_time_s(aware, naive)
    with pytest.raises(ValueError):
        CAL.nearing_due_from(naive)
    with pytest.raises(ValueError):
        CAL.is_nearing_due(naive, aware)


def test_dates_not_datetimes_and_known_languages_only() -> None:
    with pytest.raises(TypeError):
        CAL.is_working_day(datetime(2025, 3, 4, 10, 0, tzinfo=VN))
    with pytest.raises(ValueError):
        CAL.holiday_name(date(2025, 1, 29), language="fr")
    assert CAL.holiday_name(date(2025, 3, 4)) is None


def test_years_without_holiday_data_are_refused() -> None:
    # The package covers 1901-2100; past that every weekday would silently count.
    with pytest.raises(ValueError):
        CAL.working_time_s(
            datetime(2025, 1, 1, tzinfo=VN), datetime(2101, 1, 2, tzinfo=VN)
        )
    with pytest.raises(ValueError):
        CAL.is_working_day(date(1900, 6, 1))


# -- nearing due -----------------------------------------------------------------


def test_due_monday_morning_is_nearly_due_on_friday_afternoon() -> None:
    # calendar.md's example, due Mon 10/3/2025 10:00:
    #   Fri 7/3   07:30 [=== 10:00 =====] 11:30   13:30 [=== 14:00 ====] 17:00
    #   Sat, Sun  (no office)
    #   Mon 10/3  07:30 [=====] 10:00 due
    # Working time left from Fri 10:00 = 1.5 + 3.5 + 2.5 h = 7.5 h = the threshold.
    due = datetime(2025, 3, 10, 10, 0, tzinfo=VN)
    friday_afternoon = datetime(2025, 3, 7, 14, 0, tzinfo=VN)
    thursday_afternoon = datetime(2025, 3, 6, 14, 0, tzinfo=VN)
    assert CAL.working_time_s(friday_afternoon, due) == 3 * 3600 + 2.5 * 3600
    assert CAL.is_nearing_due(friday_afternoon, due)
    assert not CAL.is_nearing_due(thursday_afternoon, due)
    assert CAL.nearing_due_from(due) == datetime(2025, 3, 7, 10, 0, tzinfo=VN)
    # the answer keeps the caller's offset
    due_utc = due.astimezone(UTC)
    assert CAL.nearing_due_from(due_utc).tzinfo is UTC
    assert CAL.nearing_due_from(due_utc) == datetime(2025, 3, 7, 3, 0, tzinfo=UTC)


def test_nearing_due_from_with_zero_threshold() -> None:
    # due inside office time -> due itself
    due = datetime(2025, 3, 10, 10, 0, tzinfo=VN)
    assert CAL.nearing_due_from(due, 0) == due
    # due in the lunch break -> the end of the morning
    assert CAL.nearing_due_from(datetime(2025, 3, 10, 12, 0, tzinfo=VN), 0) == datetime(
        2025, 3, 10, 11, 30, tzinfo=VN
    )
    # due Monday before opening -> Friday's closing
    assert CAL.nearing_due_from(datetime(2025, 3, 10, 7, 0, tzinfo=VN), 0) == datetime(
        2025, 3, 7, 17, 0, tzinfo=VN
    )


def test_nearing_due_from_is_the_earliest_instant() -> None:
    # Due Mon 10/3/2025 11:30, threshold 4 h = the whole Monday morning.
    #   Fri 7/3 ... 17:00] | Sat Sun | Mon [07:30 ==== 11:30] due
    # From Mon 07:30 back to Fri 17:00 there is no office time, so the earliest instant
    # with 4 h left is Friday's closing.
    due = datetime(2025, 3, 10, 11, 30, tzinfo=VN)
    t = CAL.nearing_due_from(due, 4 * 3600)
    assert t == datetime(2025, 3, 7, 17, 0, tzinfo=VN)
    assert CAL.working_time_s(t, due) == 4 * 3600
    assert CAL.working_time_s(t - timedelta(microseconds=1), due) > 4 * 3600


def test_nearing_due_from_over_tet() -> None:
    # Due Mon 23/2/2026 09:00; the week before is Tết. 7.5 h back:
    #   Fri 13/2 [07:30 .. 11:30] [13:30 ====== 17:00] | Tết week | Mon 23/2 [07:30 == 09:00]
    # 1.5 h on Monday, 3.5 h Friday afternoon, 2.5 h Friday morning -> Fri 09:00.
    due = datetime(2026, 2, 23, 9, 0, tzinfo=VN)
    assert CAL.nearing_due_from(due) == datetime(2026, 2, 13, 9, 0, tzinfo=VN)


def test_nearing_due_from_far_back() -> None:
    # 250 working days before 2026-01-01 00:00 crosses a whole year.
    due = datetime(2026, 1, 1, 0, 0, tzinfo=VN)
    t = CAL.nearing_due_from(due, 250 * DAY_S)
    assert CAL.working_time_s(t, due) == 250 * DAY_S
    assert t == datetime(2024, 12, 31, 17, 0, tzinfo=VN)  # 2025 holds exactly 250 days


def test_overdue_is_nearing_due_too() -> None:
    # The caller classifies overdue first; no working time is left either way.
    due = datetime(2025, 3, 10, 10, 0, tzinfo=VN)
    assert CAL.is_nearing_due(due + timedelta(days=1), due)


# -- properties ------------------------------------------------------------------

# Offsets the same instants may be written in, whole minutes as RFC 3339 allows.
offsets = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))

# Arbitrary instants 2023-2027, and instants at or next to an office boundary.
random_instants = st.datetimes(
    min_value=datetime(2023, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
boundary_instants = st.builds(
    lambda d, t, nudge_us: datetime.combine(d, t, VN) + timedelta(microseconds=nudge_us),
    st.dates(min_value=date(2023, 1, 1), max_value=date(2027, 12, 31)),
    st.sampled_from([time(0), time(7, 30), time(11, 30), time(13, 30), time(17, 0)]),
    st.sampled_from([-1, 0, 1]),
)
instants = st.one_of(random_instants, boundary_instants)


@st.composite
def short_spans(draw: st.DrawFn) -> tuple[datetime, datetime]:
    a = draw(instants)
    return a, a + draw(st.timedeltas(timedelta(0), timedelta(days=3)))


VN_HOLIDAYS = holidays.country_holidays("VN", years=range(2022, 2029), language="vi")


def reference_working_s(a: datetime, b: datetime) -> float:
    """Slow and obvious: step minute by minute (office boundaries are whole minutes)."""
    total = timedelta(0)
    t = a
    while t < b:
        step_end = min(b, t.replace(second=0, microsecond=0) + timedelta(minutes=1))
        local = t.astimezone(VN)
        d = local.date()
        working_day = (d.weekday() < 5 and d not in VN_HOLIDAYS) or (
            d in VN_HOLIDAYS.weekend_workdays
        )
        if working_day and (
            time(7, 30) <= local.time() < time(11, 30) or time(13, 30) <= local.time() < time(17)
        ):
            total += step_end - t
        t = step_end
    return total / timedelta(seconds=1)


@settings(max_examples=60, deadline=None)
@given(short_spans())
def test_matches_the_minute_stepping_reference(span: tuple[datetime, datetime]) -> None:
    a, b = span
    assert CAL.working_time_s(a, b) == pytest.approx(reference_working_s(a, b), abs=1e-6)


@given(instants, instants, instants)
def test_additive(x: datetime, y: datetime, z: datetime) -> None:
    a, b, c = sorted((x, y, z))
    assert CAL.working_time_s(a, c) == pytest.approx(
        CAL.working_time_s(a, b) + CAL.working_time_s(b, c), abs=1e-6
    )


@given(instants, instants)
def test_non_negative_zero_backwards_and_within_wall_time(a: datetime, b: datetime) -> None:
    wt = CAL.working_time_s(a, b)
    assert wt >= 0
    if a >= b:
        assert wt == 0
    else:
        assert wt <= (b - a).total_seconds() + 1e-6


@given(instants, instants, offsets, offsets)
def test_invariant_to_the_offset_instants_are_written_in(
    a: datetime, b: datetime, offset_a: timezone, offset_b: timezone
) -> None:
    assert CAL.working_time_s(a.astimezone(offset_a), b.astimezone(offset_b)) == (
        CAL.working_time_s(a, b)
    )


@given(instants, st.integers(0, 10 * int(DAY_S) * 10**6), offsets)
def test_nearing_due_from_is_exact(due: datetime, threshold_us: int, offset: timezone) -> None:
    due = due.astimezone(offset)
    threshold_s = threshold_us / 1e6
    t = CAL.nearing_due_from(due, threshold_s)
    assert t <= due
    assert CAL.working_time_s(t, due) == threshold_s
    assert CAL.working_time_s(t - timedelta(microseconds=1), due) > threshold_s
    assert CAL.working_time_s(t - timedelta(seconds=1), due) > threshold_s


@given(instants, instants)
def test_is_nearing_due_agrees_with_nearing_due_from(now: datetime, due: datetime) -> None:
    nearing = CAL.is_nearing_due(now, due)
    assert nearing == (CAL.working_time_s(now, due) <= CAL.config.warning_threshold_s)
    assert nearing == (now >= CAL.nearing_due_from(due))


@given(instants, st.floats(0, 1e7, allow_nan=False))
def test_float_thresholds_are_respected(due: datetime, threshold_s: float) -> None:
    t = CAL.nearing_due_from(due, threshold_s)
    assert CAL.working_time_s(t, due) <= threshold_s
    assert CAL.working_time_s(t - timedelta(microseconds=1), due) > threshold_s


# -- speed -----------------------------------------------------------------------


def test_long_spans_are_fast_after_warm_up() -> None:
    a = datetime(2001, 5, 17, 9, 13, tzinfo=VN)
    b = datetime(2029, 11, 2, 15, 47, tzinfo=UTC)
    CAL.working_time_s(a, b)  # builds the per-year tables once
    CAL.nearing_due_from(b, 5_000 * DAY_S)
    n = 2_000
    started = clock.perf_counter()
    for _ in range(n):
        CAL.working_time_s(a, b)
        CAL.nearing_due_from(b, 5_000 * DAY_S)
    per_call_s = (clock.perf_counter() - started) / (2 * n)
    assert per_call_s < 1e-3, per_call_s  # measured ~10-20 µs on 2 cores


def test_working_day_moves_and_the_appointment() -> None:
    cal = WorkingCalendar()
    # Fri 15/3/2024 + 1 working day = Mon 18/3; before Mon 18/3 by 1 = Fri 15/3.
    assert cal.working_day_after(date(2024, 3, 15), 1) == date(2024, 3, 18)
    assert cal.working_day_before(date(2024, 3, 18), 1) == date(2024, 3, 15)
    # Over Giỗ Tổ (Thu 18/4/2024) and 29/4–1/5/2024 (Sat 4/5 worked instead of Mon 29/4).
    assert cal.working_day_after(date(2024, 4, 17), 1) == date(2024, 4, 19)
    assert cal.working_day_after(date(2024, 4, 26), 1) == date(2024, 5, 2)
    assert cal.working_day_after(date(2024, 5, 3), 1) == date(2024, 5, 4)
    # A petition received Fri 15/3/2024 08:12 with 15 working days: 17:00 on Fri 5/4/2024.
    received = datetime(2024, 3, 15, 8, 12, tzinfo=VN)
    assert cal.appointment(received, 15) == datetime(2024, 4, 5, 17, 0, tzinfo=VN)
    # The local date decides: 23:30 UTC on the 14th is already the 15th in Hà Nội.
    assert cal.appointment(datetime(2024, 3, 14, 23, 30, tzinfo=UTC), 15) == datetime(2024, 4, 5, 17, 0, tzinfo=VN)
