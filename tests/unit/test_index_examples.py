"""Worked examples of index.md, each small enough to check by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from processors.facts import dossier_facts
from processors.index import IndexConfig, round_half_up
from processors.lateness import late_at
from processors.rules import CountingRules
from tests.index_pipeline import VN, parsed, pipeline_index

UNIT = "dng-p-hai-chau"   # a commune of the sample catalogue
DAY = date(2024, 3, 18)   # a Monday
US = timedelta(microseconds=1)


def at(hh: int, mm: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=VN)


def iso(t: datetime) -> str:
    return t.isoformat()


def received(d: str, when: datetime, due: datetime, **extra) -> dict:
    return {"event_id": f"{d}-r", "dossier_id": d, "type": "received", "occurred_at": iso(when), "unit_id": UNIT,
            "procedure_id": "1.001193", "channel": "direct", "online_service": "full", "due_at": iso(due), **extra}


def event(d: str, kind: str, when: datetime, n: int = 1, **extra) -> dict:
    return {"event_id": f"{d}-{kind}-{n}", "dossier_id": d, "type": kind, "occurred_at": iso(when), **extra}


def index(events: list[dict], now: datetime, pets: list[dict] = (), **kw) -> dict:
    return pipeline_index(events, list(pets), [UNIT], False, DAY, DAY, now, **kw)


def points(answer: dict, code: str) -> float | None:
    return answer["indicators"][code]["points"]


def test_a_unit_with_no_dossiers() -> None:
    """Timeliness 0 (den = 0 gives 0), petitions 6 + 6 (den = 0 gives full
    points), the dossier-ratio indicators null; the score is never rescaled."""
    got = index([], at(17))
    assert got["groups"]["timeliness"] == 0 and points(got, "dossier_on_time") == 0
    assert points(got, "petition_on_time") == 6 and points(got, "petition_satisfaction") == 6
    assert points(got, "dossier_satisfaction") == 0
    for code in ("dossier_sync", "original_result", "digitized_with_result", "reused_data", "personal_store",
                 "citizen_data_dossiers"):
        assert got["indicators"][code]["ratio"] is None and points(got, code) is None, code
    assert got["groups"]["satisfaction"] == 12
    assert got["score"] == sum(got["groups"].values())


def test_an_open_dossier_turns_late_when_x_passes_its_due() -> None:
    due = at(16)
    events = [received("A", at(8), due)]
    in_time = index(events, due)           # x = the due itself: not after it
    late = index(events, due + US)         # a microsecond later: late
    assert in_time["indicators"]["dossier_on_time"]["numerator"] == 1 and points(in_time, "dossier_on_time") == 20
    assert late["indicators"]["dossier_on_time"]["numerator"] == 0 and points(late, "dossier_on_time") == 0
    assert late_at(dossier_facts("A", parsed(events))) == due + US
    # Due tomorrow 10:00: a window ending today counts it in time (x = midnight),
    # one ending tomorrow, late; both read long after.
    tomorrow = [received("A2", at(8), at(10, day=DAY + timedelta(days=1)))]
    later = at(20, day=DAY + timedelta(days=3))
    assert pipeline_index(tomorrow, [], [UNIT], False, DAY, DAY, later)["indicators"]["dossier_on_time"]["numerator"] == 1
    assert pipeline_index(tomorrow, [], [UNIT], False, DAY, DAY + timedelta(days=1), later)[
        "indicators"]["dossier_on_time"]["numerator"] == 0


def test_a_pending_supplement_freezes_the_clock() -> None:
    """Paused for a supplement before the due: the due slides, not late while
    paused; requested after the due: late."""
    due = at(12)
    paused = [received("B", at(8), due), event("B", "supplement_requested", at(10))]
    assert index(paused, at(17))["indicators"]["dossier_on_time"]["numerator"] == 1
    assert late_at(dossier_facts("B", parsed(paused))) is None
    # The supplement comes back at 15:00: 2 h of the clock were left, so due 17:00.
    back = [*paused, event("B", "supplement_received", at(15))]
    assert late_at(dossier_facts("B", parsed(back))) == at(17) + US
    requested_late = [received("C", at(8), due), event("C", "supplement_requested", at(13))]
    assert late_at(dossier_facts("C", parsed(requested_late))) == due + US


def test_two_supplement_requests_make_a_dossier_late() -> None:
    events = [received("D", at(8), at(17, day=DAY + timedelta(days=5))),
              event("D", "supplement_requested", at(9)), event("D", "supplement_received", at(10)),
              event("D", "supplement_requested", at(11), n=2)]
    assert late_at(dossier_facts("D", parsed(events))) == at(11)
    assert index(events, at(10, 59))["indicators"]["dossier_on_time"]["numerator"] == 1
    assert index(events, at(11))["indicators"]["dossier_on_time"]["numerator"] == 0
    off = CountingRules(second_supplement_is_late=False)
    assert late_at(dossier_facts("D", parsed(events)), off) is None
    assert index(events, at(17), rules=off)["indicators"]["dossier_on_time"]["numerator"] == 1


def many(n: int, flag: str, k: int, **extra) -> list[dict]:
    """n dossiers received on DAY, k of them with ``flag``."""
    return [received(f"N{i}", at(8), at(17, day=DAY + timedelta(days=10)), **{flag: i < k}, **extra)
            for i in range(n)]


@pytest.mark.parametrize("satisfied, expected", [(9, 6.0), (10, 6.0), (4, 6 * 0.4 / 0.9)])
def test_dossier_satisfaction_is_capped_at_90_percent(satisfied: int, expected: float) -> None:
    events = many(10, "digitized", 0)
    events += [event(f"N{i}", "rated", at(9), rating="dissatisfied") for i in range(satisfied, 10)]
    got = index(events, at(17))
    assert got["indicators"]["dossier_satisfaction"]["numerator"] == satisfied
    assert points(got, "dossier_satisfaction") == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("reused, expected", [(8, 2.0), (10, 2.0), (4, 1.0), (0, 0.0)])
def test_reused_data_scores_full_from_80_percent(reused: int, expected: float) -> None:
    got = index(many(10, "reused_data", reused), at(17))
    assert points(got, "reused_data") == expected


def test_payment_procedure_indicators_cap_at_2() -> None:
    """min(2, 2.5r): the commune's fee procedures in the test catalogue are
    2.000815 and 1.001612; one of the two with online payment is r = 0.5 -> 1.25."""
    paid = [received("P1", at(8), at(17, day=DAY + timedelta(days=9)), procedure_id="2.000815", fee_required=True),
            event("P1", "paid", at(9), method="online")]
    got = index(paid, at(17))
    assert got["indicators"]["online_paid_procedures"]["numerator"] == 1
    assert got["indicators"]["online_paid_procedures"]["denominator"] == 2
    assert points(got, "online_paid_procedures") == 1.25
    both = paid + [received("P2", at(8), at(17, day=DAY + timedelta(days=9)), procedure_id="1.001612",
                            fee_required=True), event("P2", "paid", at(10), method="online")]
    assert points(index(both, at(17)), "online_paid_procedures") == 2.0
    assert points(index(both, at(17)), "fee_data_procedures") == 2.0
    assert points(index(both, at(9, 30)), "online_paid_procedures") == 1.25  # P2 paid at 10:00


def test_an_instant_exactly_at_now_has_passed() -> None:
    """t <= x: a sync at exactly *now* counts in a running window."""
    events = [received("S", at(8), at(17, day=DAY + timedelta(days=5))), event("S", "synced", at(10))]
    assert index(events, at(10))["indicators"]["dossier_sync"]["numerator"] == 1
    assert index(events, at(10) - US)["indicators"]["dossier_sync"]["numerator"] == 0


def test_groups_round_each_indicator_half_up() -> None:
    from fractions import Fraction

    assert round_half_up(Fraction(1, 8)) == Fraction(13, 100)    # 0.125 -> 0.13
    assert round_half_up(Fraction(2675, 1000)) == Fraction(268, 100)
    assert round_half_up(Fraction(20, 3)) == Fraction(667, 100)


def test_online_catalogue_is_scored_for_the_root_only() -> None:
    got = index([], at(17))
    assert got["indicators"]["online_catalogue"]["denominator"] > 0 and points(got, "online_catalogue") == 0
    config = IndexConfig(online_catalogue_root_only=False)
    assert points(index([], at(17), config=config), "online_catalogue") > 0
