"""The Quảng Nam 15/3-14/6/2024 scenario reproduces the published figures.

Counted twice, without Redis: the way the system counts (each dossier's events
-> ``dossier_facts`` -> contribution cells summed per unit over the window's
dates, read as of the end of 14/6 -> ``period_report`` and ``index_of`` with the
scenario's catalogue), and by the separate batch reference (tests/reference.py).
Both must give every group exactly at its published value to 2 decimals, the
score 80.1 and the band "good".

Source of the figures: a 2024 provincial report on Quảng Nam's service index
(Bộ chỉ số phục vụ người dân, doanh nghiệp), period 15/3/2024-14/6/2024.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from fractions import Fraction
from pathlib import Path

import pytest

from processors.asof import as_of, procedure_sets, reduce_fields
from processors.calendar import WorkingCalendar
from processors.events import Event, event_from_dict
from processors.facts import dossier_facts
from processors.index import IndexConfig
from processors.index_inputs import ScopeInputs, index_of
from processors.measures import contribution, named_cells
from processors.petitions import petition_counts, petition_facts, petition_record
from processors.report import period_report
from processors.timeutil import LOCAL_TZ
from sources.scenarios import SCENARIOS
from sources.scenarios import quang_nam_2024q2 as qn
from tests import reference as ref
from tests.index_pipeline import ref_procedures

FROM, TO = qn.FROM.isoformat(), qn.TO.isoformat()  # 2024-03-15, 2024-06-14
CAL = WorkingCalendar()
UNITS = qn.unit_catalogue()
PROCEDURES = qn.procedure_catalogue(UNITS)
X = datetime(2024, 6, 15, tzinfo=LOCAL_TZ)  # the window's as-of instant: the end of 14/6
INDEX_CONFIG = IndexConfig(e_certified_copy_share=float(qn.SETTINGS["CHISO_INDEX__E_CERTIFIED_COPY_SHARE"]))


@dataclass
class Totals:
    report: dict[str, int]
    index: dict
    dossiers: int
    petitions: int
    events: int
    invalid: list[str]
    outside_office: list[str]
    units: Counter
    received: list[dict]  # every dossier's `received` event
    content: int  # order-independent digest of every event


def _in_office_hours(at: datetime) -> bool:
    local = at.astimezone(LOCAL_TZ)
    if not CAL.is_working_day(local.date()):
        return False
    t = local.time().replace(tzinfo=None)
    return any(s <= t < e for s, e in CAL.config.office_hours)


def _content(ev: dict) -> int:
    return hash(tuple(ev.items()))


def _parsed(evs: list[dict], invalid: list[str]) -> list[Event]:
    out = []
    for raw in evs:
        ev = event_from_dict(raw)
        if isinstance(ev, Event):
            out.append(ev)
        else:
            invalid.append(f"{raw.get('event_id')}: {ev}")
    return out


def aggregate(scenario: qn.Scenario) -> Totals:
    """What the store and the read side compute for the window, without Redis."""
    before: Counter[str] = Counter()  # all units, dates < from
    period: Counter[str] = Counter()  # from..to
    through: Counter[str] = Counter()  # dates <= to
    per_unit: dict[str, Counter[str]] = {}
    invalid: list[str] = []
    outside: list[str] = []
    units: Counter[str] = Counter()
    received: list[dict] = []
    n_events = n_dossiers = n_petitions = content = 0
    for evs in scenario.dossiers():
        n_dossiers += 1
        n_events += len(evs)
        content += sum(_content(raw) for raw in evs)
        parsed = _parsed(evs, invalid)
        for ev in parsed:
            if ev.type == "received":
                units[ev.get("unit_id")] += 1
                received.append(ev.data)
                if not _in_office_hours(ev.occurred_at):
                    outside.append(ev.event_id)
        for unit, day, field in named_cells(contribution(dossier_facts(evs[0]["dossier_id"], parsed)).cells):
            if day < FROM:
                before[field] += 1
            elif day <= TO:
                period[field] += 1
                per_unit.setdefault(unit, Counter())[field] += 1
            if day <= TO:
                through[field] += 1
    records = []
    for evs in scenario.petitions():
        n_petitions += 1
        n_events += len(evs)
        content += sum(_content(raw) for raw in evs)
        placed = petition_record(petition_facts(evs[0]["petition_id"], _parsed(evs, invalid), CAL))
        assert placed is not None
        records.append(placed[1])
    reading = as_of(qn.TO, X + timedelta(days=60))
    assert reading.x == X and not reading.running
    all_units = [u.unit_id for u in UNITS.all()]
    reduced = {u: reduce_fields(per_unit.get(u, Counter()), reading.cutoff) for u in all_units}
    fields: Counter[str] = Counter()
    for u in all_units:
        fields.update(reduced[u])
    inputs = ScopeInputs(fields, {u: procedure_sets(reduced[u]) for u in all_units},
                         petition_counts(records, qn.FROM, qn.TO, reading.x_us), all_units, root=True)
    return Totals(
        report=period_report(before, period, through, TO),
        index=index_of(inputs, PROCEDURES, qn.FROM, qn.TO, INDEX_CONFIG),
        dossiers=n_dossiers, petitions=n_petitions, events=n_events, invalid=invalid,
        outside_office=outside, units=units, received=received, content=content % 2**64,
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
def test_each_group_is_exactly_the_published_one(totals: Totals, group: str, points: float) -> None:
    # Groups are sums of indicator points rounded to 2 decimals: exactly 18.40, not "about".
    assert Fraction(totals.index["groups"][group]).limit_denominator(100) == Fraction(str(points))
    assert totals.index["groups"][group] == pytest.approx(points, abs=1e-9)


def test_score_and_band_are_the_published_ones(totals: Totals) -> None:
    assert totals.index["score"] == pytest.approx(qn.PUBLISHED_SCORE, abs=1e-9) == 80.1
    assert totals.index["band"] == qn.PUBLISHED_BAND == "good"


def test_the_counts_behind_the_points(totals: Totals) -> None:
    """Every indicator's numerator and denominator is the stated choice."""
    t = qn.targets()
    n = 105_344
    got = {code: (ind["numerator"], ind["denominator"]) for code, ind in totals.index["indicators"].items()}
    assert got == {
        # the catalogue (quang_nam_2024q2_procedures.csv)
        "publish_on_time": (13, 18), "public_update_on_time": (14, 18), "public_content_full": (87, 100),
        "online_catalogue": (40, 100), "online_service_used": (7, 40),
        "online_paid_procedures": (t["paid_online_procedures"], 44), "fee_data_procedures": (40, 44),
        "citizen_data_procedures": (t["citizen_data_procedures"], 90),
        # the dossiers received in the period, as of the end of 14/6
        "dossier_sync": (t["synced"], n), "dossier_on_time": (t["in_time"], n), "online_channel": (77_112, n),
        "online_paid_dossiers": (t["paid_online"], t["fee_required"]),
        "dossier_satisfaction": (got["dossier_satisfaction"][0], n),
        "original_result": (t["e_result"], n), "digitized_with_result": (t["digitized_e_result"], n),
        "reused_data": (t["reused"], n), "personal_store": (t["personal_store"], n),
        "citizen_data_dossiers": (t["citizen_data"], n),
        # the petitions: 218 received in the period, 12 carried in and answered in it
        "petition_on_time": (226, 230), "petition_satisfaction": (207, 218),
        "e_certified_copy": (None, None),
    }
    # Late, dissatisfied or complained about: well under the 10 % that would cost points.
    assert got["dossier_satisfaction"][0] >= 0.905 * n
    assert totals.index["indicators"]["dossier_satisfaction"]["points"] == 6.0


def test_the_independent_reference_gives_the_same_points(scenario: qn.Scenario, totals: Totals) -> None:
    dossiers = {evs[0]["dossier_id"]: ref.RefDossier.of(evs) for evs in scenario.dossiers()}
    petitions = {evs[0]["petition_id"]: ref.RefPetition.of(evs) for evs in scenario.petitions()}
    procedures = ref_procedures(Path(qn.PROCEDURES_PATH).read_text("utf-8"), UNITS)
    got = ref.ref_index(dossiers, petitions, procedures, {u.unit_id for u in UNITS.all()}, True,
                        qn.FROM, qn.TO, X, lambda at: CAL.appointment(at, 15))
    assert {g: float(v) for g, v in got["groups"].items()} == totals.index["groups"]
    assert float(got["score"]) == totals.index["score"]


def test_dossiers_follow_the_catalogue(totals: Totals) -> None:
    """Each dossier is for a procedure that applies to its unit, at the
    catalogue's online level; fees only on fee procedures, citizen data only on
    citizen procedures; exactly the scenario's dossiers per procedure."""
    per_procedure: Counter[str] = Counter()
    for r in totals.received:
        p = PROCEDURES.get(r["procedure_id"])
        assert p is not None, r
        assert r["procedure_id"] in PROCEDURES.of_unit(r["unit_id"]), r
        assert r["online_service"] == p.online_service
        assert not r["fee_required"] or p.fee_required
        assert not r["citizen_data"] or p.citizen
        assert r["channel"] != "online" or p.online
        if r["occurred_at"] >= FROM:
            per_procedure[r["procedure_id"]] += 1
    design = {row.procedure_id: int(row.extra["scenario_received"]) for row in PROCEDURES.all()}
    assert per_procedure == +Counter(design)


def test_every_event_is_valid_and_every_reception_in_office_hours(totals: Totals) -> None:
    assert totals.invalid == []
    assert totals.outside_office == []
    assert totals.dossiers == 113_695  # carried over + received: no other dossier
    assert totals.petitions == 230
    assert totals.events < 8 * totals.dossiers


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
    for ev in SCENARIOS["quang-nam-2024q2"].events():
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
