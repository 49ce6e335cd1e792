"""The invariants of kpis.md, for the pure pipeline: facts -> cells -> counters.

Every test compares processors/ with tests/reference.py, a separate, naive batch
computation of the spec, on messy random histories (tests/gen.py)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.dossier_update import DossierState, apply_events
from processors.facts import dossier_facts
from processors.index import ratios
from processors.measures import MEASURES, contribution, named_cells
from processors.report import period_report
from store.codecs import decode_dossier, encode_dossier
from tests import reference as ref
from tests.gen import dossier_events, dossiers, histories, history
from tests.index_pipeline import parsed


def cells_of(events: list[dict]) -> list[tuple[str, str, str]]:
    by: dict[str, list[dict]] = {}
    for e in events:
        by.setdefault(e["dossier_id"], []).append(e)
    cells = []
    for d, evs in by.items():
        cells.extend(named_cells(contribution(dossier_facts(d, parsed(evs))).cells))
    return cells


def summed(cells, units: set[str] | None, lo: date | None, hi: date) -> Counter[str]:
    total: Counter[str] = Counter()
    for unit, day, field in cells:
        if not unit or (units is not None and unit not in units):
            continue
        d = date.fromisoformat(day)
        if (lo is None or d >= lo) and d <= hi:
            total[field] += 1
    return total


@settings(max_examples=300, deadline=None)
@given(events=dossiers("D"), data=st.data())
def test_facts_ignore_order_and_duplicates(events: list[dict], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(events))
    dups = data.draw(st.lists(st.sampled_from(events), max_size=5)) if events else []
    a = dossier_facts("D", parsed(events))
    b = dossier_facts("D", parsed(list(shuffled) + dups))
    assert a == b
    assert contribution(a) == contribution(b)


@settings(max_examples=300, deadline=None)
@given(raw=dossiers("D"), data=st.data())
def test_incremental_deltas_sum_to_the_batch_contribution(raw: list[dict], data: st.DataObject) -> None:
    """Applying events in any chunks, with redeliveries, the applied deltas add up
    to exactly the contribution of the whole set (what the stream relies on)."""
    events = parsed(raw)
    order = data.draw(st.permutations(events))
    redelivered = data.draw(st.lists(st.sampled_from(events), max_size=4)) if events else []
    stream = list(order) + redelivered
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=4)))
    state = DossierState()
    applied: Counter = Counter()
    instants: dict[bytes, int] = {}  # what the sorted set holds
    for lo, hi in zip([0, *cuts], [*cuts, len(stream)]):
        update = apply_events("D", state, stream[lo:hi])
        applied.update(update.delta)
        for member in update.instants_removed:
            instants.pop(member, None)
        instants.update(update.instants_added)
        state = decode_dossier(encode_dossier(update.state))  # survives the Redis round trip
    applied = +applied
    whole = contribution(dossier_facts("D", events)) if events else None
    assert applied == (Counter(whole.cells) if whole else Counter())
    assert instants == (dict(whole.instants) if whole else {})


@settings(max_examples=120, deadline=None)
@given(events=histories(max_dossiers=12), span=st.integers(0, 12), offset=st.integers(-3, 10))
def test_measures_and_ratios_equal_the_reference(events: list[dict], span: int, offset: int) -> None:
    cells = cells_of(events)
    dossiers = ref.group(events)
    lo = date(2024, 3, 14) + timedelta(days=offset)
    hi = lo + timedelta(days=span)
    for units in (None, {"dng-sxd"}, {"dng-p-hai-chau", "unknown-unit"}):
        got = summed(cells, units, lo, hi)
        want = ref.measures(dossiers, units, ref.dates_between(lo, hi))
        assert {m: got[m] for m in MEASURES} == {m: want.get(m, 0) for m in MEASURES}
        answer = ratios({m: got[m] for m in MEASURES})
        for k, v in ref.ratios_of(want).items():
            assert answer[k] == (pytest.approx(v) if v is not None else None)


@settings(max_examples=150, deadline=None)
@given(events=histories(max_dossiers=15), span=st.integers(0, 8), offset=st.integers(-3, 10))
def test_period_report_equals_the_reference(events: list[dict], span: int, offset: int) -> None:
    cells = cells_of(events)
    dossiers = ref.group(events)
    start = date(2024, 3, 14) + timedelta(days=offset)
    end = start + timedelta(days=span)
    for units in (None, {"dng-stp"}, {"dng-x-hoa-vang", "dng-sxd"}):
        got = period_report(
            summed(cells, units, None, start - timedelta(days=1)),
            summed(cells, units, start, end),
            summed(cells, units, None, end),
            end.isoformat(),
        )
        want = ref.report(dossiers, units, start, end)
        assert got == {k: want.get(k, 0) for k in got}


def test_orphans_count_only_until_their_reception_arrives() -> None:
    evs = history(7, dossiers=1)[:0] + dossier_events(random.Random(3), "O")
    received = [e for e in evs if e["type"] == "received"]
    others = [e for e in evs if e["type"] != "received"]
    assert received, "seed 3 must give a dossier with a reception"
    orphan = dossier_facts("O", parsed(others))
    assert orphan.orphan and contribution(orphan).cells == [("", "", "orphans")]
    full = dossier_facts("O", parsed(others + received))
    assert not full.orphan and ("", "", "orphans") not in contribution(full).cells
