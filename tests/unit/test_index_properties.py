"""index.md, for the pure pipeline: events -> facts -> cells and instants ->
window sums read as of x -> the 21 indicators, compared with tests/reference.py
(index.md read literally, written without processors/) on messy random
histories of dossiers and petitions, for any window, instant and scope."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from processors.facts import dossier_facts
from processors.index import INDICATORS
from processors.lateness import late_at
from processors.petitions import petition_counts, petition_facts, petition_record
from processors.timeutil import local_date
from tests import reference as ref
from tests.gen import dossiers, histories, petitions
from tests.index_pipeline import BASE_DAY, CAL, REF_PROCEDURES, UNITS, VN, appointment, parsed, pipeline_index

SCOPES = {
    "root": (UNITS.subtree("dng"), True),
    "commune": (["dng-p-hai-chau"], False),
    "department": (["dng-stc"], False),
    "unknown": (["unknown-unit"], False),
    "everything": ([u.unit_id for u in UNITS.all()], True),
}


def shifted(events: list[dict], days: int) -> list[dict]:
    """The same history, every instant ``days`` later."""
    out = []
    for e in events:
        e = dict(e)
        for key in ("occurred_at", "due_at"):
            if key in e:
                e[key] = (datetime.fromisoformat(e[key]) + timedelta(days=days)).isoformat()
        out.append(e)
    return out


def instants_near(events: list[dict]) -> list[datetime]:
    """The instants where an answer can change: events, dues, a microsecond either side."""
    out = []
    for e in events:
        for key in ("occurred_at", "due_at"):
            if key in e:
                t = datetime.fromisoformat(e[key])
                out += [t - timedelta(microseconds=1), t, t + timedelta(microseconds=1)]
    return out


@settings(max_examples=400, deadline=None)
@given(events=dossiers("D"), data=st.data())
def test_late_at_is_the_rules(events: list[dict], data: st.DataObject) -> None:
    """late(x) <=> x >= late_at, for x anywhere, boundaries included (index.md §2)."""
    d = ref.RefDossier.of(events)
    if d.r is None:
        return
    f = dossier_facts("D", parsed(events))
    got = late_at(f)
    probes = instants_near(events) + [datetime(2024, 3, 14, tzinfo=VN) + timedelta(hours=h)
                                      for h in data.draw(st.lists(st.integers(-24, 40 * 24), max_size=4))]
    for x in probes:
        assert (got is not None and x >= got) == ref.ref_late(d, x), (x, got)


@settings(max_examples=200, deadline=None)
@given(events=dossiers("D"), data=st.data())
def test_lateness_is_monotone(events: list[dict], data: st.DataObject) -> None:
    d = ref.RefDossier.of(events)
    if d.r is None:
        return
    xs = sorted(instants_near(events) + [datetime(2024, 3, 14, tzinfo=VN) + timedelta(
        hours=data.draw(st.integers(-24, 40 * 24)))])
    seen = False
    for x in xs:
        late = ref.ref_late(d, x)
        assert late or not seen, x
        seen = late


@settings(max_examples=250, deadline=None)
@given(events=histories(max_dossiers=10), pets=petitions(), scope=st.sampled_from(sorted(SCOPES)),
       first_offset=st.integers(-20, 8), span=st.integers(0, 70), now_hours=st.integers(0, 60 * 24),
       now_us=st.sampled_from([0, 1, 999_999]), data=st.data())
def test_indicators_equal_the_reference(events, pets, scope, first_offset, span, now_hours, now_us, data) -> None:
    # Sometimes across the end of March: month buckets then hold instants of April.
    shift = data.draw(st.sampled_from([0, 0, 15, 17]))
    events, pets = shifted(events, shift), shifted(pets, shift)
    units, root = SCOPES[scope]
    first = BASE_DAY + timedelta(days=first_offset)
    last = first + timedelta(days=span)
    now = datetime(2024, 3, 14, tzinfo=VN) + timedelta(hours=now_hours, microseconds=now_us)
    near = instants_near(events + pets)
    if near and data.draw(st.booleans()):  # now exactly at, or a microsecond off, an instant that matters
        now = data.draw(st.sampled_from(near))
    got = pipeline_index(events, pets, units, root, first, last, now)
    x = min(datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=VN), now)
    want = ref.ref_index(ref.group(events), {p: ref.RefPetition.of(e) for p, e in ref.petition_events_of(pets).items()},
                         REF_PROCEDURES, set(units), root, first, last, x, appointment)
    for code, (num, den, ratio, points) in want["indicators"].items():
        ind = got["indicators"][code]
        assert (ind["numerator"], ind["denominator"]) == (num, den), code
        assert ind["ratio"] == (float(ratio) if ratio is not None else None), code
        assert ind["points"] == (float(points) if points is not None else None), code
        if ind["ratio"] is not None and code != "e_certified_copy":
            assert 0 <= ind["ratio"] <= 1, code
        if ind["points"] is not None:
            assert 0 <= ind["points"] <= ind["max"], code
    assert got["groups"] == {g: float(v) for g, v in want["groups"].items()}
    assert got["score"] == float(want["score"])


@settings(max_examples=150, deadline=None)
@given(events=histories(max_dossiers=10), first_offset=st.integers(-3, 8), span=st.integers(0, 20),
       now_hours=st.integers(0, 30 * 24))
def test_counts_roll_up_and_procedures_unite(events, first_offset, span, now_hours) -> None:
    """A parent's counts are the sum of its units'; its procedure counts the union."""
    first = BASE_DAY + timedelta(days=first_offset)
    last = first + timedelta(days=span)
    now = datetime(2024, 3, 14, tzinfo=VN) + timedelta(hours=now_hours)
    parts = ["dng-p-hai-chau", "dng-x-hoa-vang", "dng-stc", "dng-stp"]
    whole = pipeline_index(events, [], parts, False, first, last, now)["indicators"]
    each = [pipeline_index(events, [], [u], False, first, last, now)["indicators"] for u in parts]
    for code in ("dossier_on_time", "dossier_sync", "online_channel", "dossier_satisfaction", "original_result",
                 "reused_data", "personal_store", "citizen_data_dossiers", "online_paid_dossiers"):
        assert whole[code]["numerator"] == sum(e[code]["numerator"] for e in each), code
        assert whole[code]["denominator"] == sum(e[code]["denominator"] for e in each), code
    for code in ("online_service_used", "fee_data_procedures", "citizen_data_procedures", "online_paid_procedures"):
        assert whole[code]["numerator"] <= sum(e[code]["numerator"] for e in each), code
        assert whole[code]["numerator"] >= max(e[code]["numerator"] for e in each), code


def test_every_indicator_is_answered_in_index_order() -> None:
    got = pipeline_index([], [], ["dng-p-hai-chau"], False, BASE_DAY, BASE_DAY, datetime(2024, 3, 20, tzinfo=VN))
    assert list(got["indicators"]) == [s.code for s in INDICATORS]
    assert sum(i["max"] for i in got["indicators"].values()) == 100


def test_petition_counts_against_the_reference_instants() -> None:
    """A petition answered after its limit is late from the limit on, whatever the
    order its events arrive in."""
    received = {"event_id": "p1", "petition_id": "P", "type": "petition_received", "unit_id": "dng-stp",
                "occurred_at": "2024-03-15T08:12:00+07:00"}
    answered = {"event_id": "p2", "petition_id": "P", "type": "petition_resolved",
                "occurred_at": "2024-04-08T09:00:00+07:00"}
    f = petition_facts("P", parsed([answered, received]), CAL)
    assert f.limit == datetime(2024, 4, 5, 17, 0, tzinfo=VN)  # the 15th working day, 17:00
    assert f.late_at == f.limit + timedelta(microseconds=1)
    (_, record) = petition_record(f)
    first = last = date(2024, 3, 15)
    before = petition_counts([record], first, last, ref.epoch_us_of(f.limit))
    after = petition_counts([record], first, last, ref.epoch_us_of(f.limit + timedelta(microseconds=1)))
    assert (before.on_time, before.on_time_of) == (1, 1) and (after.on_time, after.on_time_of) == (0, 1)
    assert local_date(f.received_at) == first and Fraction(after.satisfied, after.received) == 0
