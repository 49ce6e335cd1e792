"""processors/windows.py ``buckets``: the buckets a reader sums for a range of
dates must cover exactly those dates (each once), only in the years that hold
data, and use a month bucket only when the month ends by the cutoff (month
buckets keep as-of inputs undated, right only as of their end or later)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from processors.windows import bucket_end, bucket_levels, buckets

DATES = st.dates(min_value=date(2019, 1, 1), max_value=date(2028, 12, 31))


def covered(bucket: str) -> list[date]:
    first = date.fromisoformat(bucket if len(bucket) == 10 else f"{bucket}-01")
    last = date.fromisoformat(bucket_end(bucket))
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@given(start=DATES, end=DATES, years=st.sets(st.integers(2018, 2029)), cutoff=st.one_of(st.none(), DATES))
def test_buckets_cover_the_range_exactly_once(start, end, years, cutoff) -> None:
    chosen = buckets(start, end, years, cutoff)
    days = [d for b in chosen for d in covered(b)]
    assert len(days) == len(set(days))  # no date counted twice
    wanted = {start + timedelta(days=i) for i in range((end - start).days + 1)} if start <= end else set()
    assert set(days) == {d for d in wanted if d.year in years}
    complete_by = end if cutoff is None else min(end, cutoff)
    for b in chosen:
        assert len(b) in (7, 10)  # a day or a month: no year bucket is written
        if len(b) == 7:
            assert bucket_end(b) <= complete_by.isoformat()


def test_a_whole_year_is_read_as_its_months() -> None:
    assert buckets(date(2024, 1, 1), date(2024, 12, 31), [2024]) == [f"2024-{m:02d}" for m in range(1, 13)]
    # cut on 2024-03-15: the months after February are read day by day
    got = buckets(date(2024, 1, 1), date(2024, 3, 20), [2024], date(2024, 3, 15))
    assert got[:2] == ["2024-01", "2024-02"] and got[2:] == [f"2024-03-{d:02d}" for d in range(1, 21)]


def test_a_cell_is_counted_in_its_day_and_month() -> None:
    assert bucket_levels("2024-02-29") == ("2024-02-29", "2024-02")
