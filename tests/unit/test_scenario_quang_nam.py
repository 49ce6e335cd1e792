"""The Quảng Nam 15/3-14/6/2024 scenario reproduces the published figures.

The figures are computed the way the batch reference does (spec/README.md): each
dossier's events -> ``dossier_facts`` -> contribution cells, summed per local date
over all units -> ``period_report`` and ``index``. Nothing but ``processors`` is
used to count, so this also checks the scenario against the domain code.

Source of the figures: a 2024 provincial report on Quảng Nam's service index
(Bộ chỉ số phục vụ người dân, doanh nghiệp), period 15/3/2024-14/6/2024.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time

import pytest

from processors.calendar import WorkingCalendar
from processors.events import Event, event_from_dict
from processors.facts import dossier_facts
from processors.index import index
from processors.measures import MEASURES, contribution
from processors.report import period_report
from processors.timeutil import LOCAL_TZ
from sources.scenarios import quang_nam_2024q2 as qn

FROM, TO = qn.FROM.isoformat(), qn.TO.isoformat()  # 2024-03-15, 2024-06-14
CAL = WorkingCalendar()


@dataclass
class Totals:
    report: dict[str, int]
    measures: dict[str, int]
    index: dict
    dossiers: int
    events: int
    invalid: list[str]
    outside_office: list[str]
    units: Counter
    content: int  # order-independent digest of every event


def _in_office_hours(at: datetime) -> bool:
    local = at.astimezone(LOCAL_TZ)
    if not CAL.is_working_day(local.date()):
        return False
    t = local.time().replace(tzinfo=None)
    return any(s <= t < e for s, e in CAL.config.office_hours)


def _content(ev: dict) -> int:
    return hash(tuple(ev.items()))


def aggregate(scenario: qn.Scenario) -> Totals:
    before: Counter[str] = Counter()  # dates < from
    period: Counter[str] = Counter()  # from..to
    through: Counter[str] = Counter()  # dates <= to
    invalid, outside, units = [], [], Counter()
    n_events = n_dossiers = content = 0
    for evs in scenario.dossiers():
        n_dossiers += 1
        n_events += len(evs)
        parsed = []
        for raw in evs:
            content += _content(raw)
            ev = event_from_dict(raw)
            if not isinstance(ev, Event):
                invalid.append(f"{raw.get('event_id')}: {ev}")
                continue
            parsed.append(ev)
            if ev.type == "received":
                units[ev.get("unit_id")] += 1
                if not _in_office_hours(ev.occurred_at):
                    outside.append(ev.event_id)
        facts = dossier_facts(evs[0]["dossier_id"], parsed)
        for _unit, day, field in contribution(facts):
            if day < FROM:
                before[field] += 1
            elif day <= TO:
                period[field] += 1
            if day <= TO:
                through[field] += 1
    measures = {m: period.get(m, 0) for m in MEASURES}
    return Totals(
        report=period_report(before, period, through, TO),
        measures=measures,
        index=index(measures),
        dossiers=n_dossiers,
        events=n_events,
        invalid=invalid,
        outside_office=outside,
        units=units,
        content=content % 2**64,
    )


@pytest.fixture(scope="module")
def scenario() -> qn.Scenario:
    return qn.Scenario()


@pytest.fixture(scope="module")
def totals(scenario: qn.Scenario) -> Totals:
    return aggregate(scenario)


def test_period_report_is_the_published_one(totals: Totals) -> None:
    r = totals.report
    assert r["carried_over"] == 8_351
    assert r["received"] == 105_344
    assert r["received_online"] == 77_112
    assert round(100 * r["received_online"] / r["received"], 1) == 73.2
    assert r["to_process"] == 113_695
    assert r["resolved"] == 104_126
    assert r["in_progress"] == 9_569
    assert r["withdrawn"] + r["rejected"] == 0
    # Not published, but they must add up.
    assert r["received_online"] + r["received_direct"] + r["received_postal"] == r["received"]
    assert r["resolved_early"] + r["resolved_on_time"] + r["resolved_late"] == r["resolved"]
    assert r["in_progress_overdue"] + r["in_progress_not_due"] == r["in_progress"]


@pytest.mark.parametrize(("group", "points"), sorted(qn.PUBLISHED_POINTS.items()))
def test_index_groups_are_the_published_ones(totals: Totals, group: str, points: float) -> None:
    assert totals.index["index"]["groups"][group] == pytest.approx(points, abs=0.05)


def test_online_service_is_our_stated_choice(totals: Totals) -> None:
    # Not in the report: 77,112 online of 90,720 eligible receptions = 85 %.
    m = totals.measures
    assert m["received_online_eligible"] == qn.ONLINE_ELIGIBLE
    assert m["received_online_eligible_online"] == 77_112
    assert totals.index["index"]["groups"]["online_service"] == pytest.approx(10.2, abs=1e-9)


def test_counts_behind_the_points(totals: Totals) -> None:
    t = qn.targets()
    m = totals.measures
    assert m["received_synced"] == t["received_synced"] == 77_252
    assert m["resolved_early"] + m["resolved_on_time"] == t["resolved_on_time_or_early"] == 95_796
    assert m["received_digitized"] == 79_008
    assert m["resolved_e_result"] == t["resolved_e_result"] == 69_575
    assert m["paid"] > 0 and m["rated"] > 0


def test_every_event_is_valid_and_every_reception_in_office_hours(totals: Totals) -> None:
    assert totals.invalid == []
    assert totals.outside_office == []
    assert totals.dossiers == 113_695  # carried over + received: no other dossier
    assert totals.events < 8 * totals.dossiers  # "~115k dossiers x few events"


def test_units_are_quang_nam_ones_and_the_root_gets_nothing(totals: Totals) -> None:
    allowed = {u.unit_id for u in qn.scenario_units()}
    assert set(totals.units) <= allowed
    assert "dng" not in totals.units
    assert not set(totals.units) & qn.FORMER_DA_NANG
    # big desks see more than a mountain commune
    assert totals.units["dng-snnmt"] > 5 * totals.units["dng-x-tra-leng"] > 0


def test_a_fresh_event_stream_is_time_ordered_and_holds_the_same_events(totals: Totals) -> None:
    # events() builds the scenario anew: equal content also shows it is deterministic.
    previous: tuple[datetime, str] | None = None
    count = content = 0
    first = None
    for ev in qn.events():
        key = (datetime.fromisoformat(ev["occurred_at"]), ev["event_id"])
        assert previous is None or previous < key
        previous = key
        count += 1
        content += _content(ev)
        first = first or ev
    assert count == totals.events
    assert content % 2**64 == totals.content
    # the stream opens with the oldest carried-over dossier
    assert first is not None and first["type"] == "received" and first["occurred_at"] < FROM


def test_offsets_are_local(scenario: qn.Scenario) -> None:
    evs = next(iter(scenario.dossiers()))
    for ev in evs:
        assert ev["occurred_at"].endswith("+07:00")
    assert datetime.fromisoformat(evs[0]["due_at"]).time() == time(17, 0)
