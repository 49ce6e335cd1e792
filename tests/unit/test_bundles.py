"""Bundled cells (processors/measures.py): the plain fields a dossier contributes
on one date are one ``+<codes>`` cell. Expanded, they must be exactly the named
cells, and counters written before bundles existed (named cells) must add up with
bundled ones to the same numbers, whichever way a dossier was stored."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors import measures
from processors.dossier_update import DossierState, apply_events
from processors.facts import dossier_facts
from processors.measures import (
    BUNDLE_PREFIX,
    BUNDLED,
    MEASURES,
    UnknownBundle,
    contribution,
    expand_fields,
    named_cells,
)
from tests.gen import dossiers
from tests.index_pipeline import parsed


@contextmanager
def without_bundles() -> Iterator[None]:
    """contribution() as it was before bundles: every field its own cell."""
    kept = measures.BUNDLED
    measures.BUNDLED = {}
    try:
        yield
    finally:
        measures.BUNDLED = kept


def per_bucket(cells) -> dict[tuple[str, str], Counter[str]]:
    out: dict[tuple[str, str], Counter[str]] = {}
    for unit, day, field in cells:
        out.setdefault((unit, day), Counter())[field] += 1
    return out


def test_the_codes_name_distinct_fields_the_counters_know() -> None:
    assert len(set(BUNDLED.values())) == len(BUNDLED)
    assert all(len(code) == 1 and code != BUNDLE_PREFIX for code in BUNDLED.values())
    assert set(MEASURES) <= set(BUNDLED)


@settings(max_examples=300, deadline=None)
@given(events=dossiers("D"))
def test_bundled_cells_expand_to_exactly_the_named_ones(events: list[dict]) -> None:
    facts = dossier_facts("D", parsed(events))
    bundled = contribution(facts)
    with without_bundles():
        named = contribution(facts)
    assert not any(field.startswith(BUNDLE_PREFIX) for _, _, field in named.cells)
    assert Counter(named_cells(bundled.cells)) == Counter(named.cells)
    assert bundled.instants == named.instants
    for (unit, day), fields in per_bucket(bundled.cells).items():
        # one bundle at most per date, two codes or more, one spelling (sorted)
        bundles = [f for f in fields if f.startswith(BUNDLE_PREFIX)]
        assert len(bundles) <= 1 and all(n == 1 for f, n in fields.items() if f in bundles)
        for f in bundles:
            assert len(f) >= 3 and list(f[1:]) == sorted(f[1:])
            assert not any(other in BUNDLED for other in fields), fields  # no named field left beside it
        assert expand_fields(fields) == per_bucket(named.cells)[(unit, day)]


@settings(max_examples=200, deadline=None)
@given(events=dossiers("D"), cut=st.integers(0, 12))
def test_a_dossier_stored_with_named_cells_retracts_them_exactly(events: list[dict], cut: int) -> None:
    """A state written before bundles holds named cells, and the counters hold
    them too: the next update's delta (bundled new minus named old) leaves
    counters that expand to the whole history's named cells."""
    first, rest = parsed(events[:cut]), parsed(events[cut:])
    with without_bundles():
        before = apply_events("D", DossierState(), first)
    counters: Counter = Counter(before.delta)
    after = apply_events("D", before.state, rest)
    counters.update(after.delta)
    with without_bundles():
        whole = contribution(dossier_facts("D", parsed(events))) if events else None
    want = per_bucket(whole.cells) if whole else {}
    got = per_bucket(cell for cell, n in (+counters).items() for _ in range(n))
    assert {b: expand_fields(f) for b, f in got.items()} == want
    assert all(n >= 0 for n in counters.values())


def test_expansion_is_linear_and_takes_json_numbers() -> None:
    named = {"received": 3, "closed": 1, "ix.late@2024-03-01": 2}
    bundles = {"+aeu": 2, "+qr": 1.0}
    assert expand_fields({**named, **bundles}) == Counter(
        {"received": 5, "closed": 3, "received_online_eligible": 2, "paid": 1, "paid_online": 1,
         "ix.late@2024-03-01": 2})
    assert all(type(n) is int for n in expand_fields(bundles).values())
    assert named_cells([("u", "2024-03-01", "+ab"), ("u", "2024-03-01", "od+")]) == [
        ("u", "2024-03-01", "received"), ("u", "2024-03-01", "received_online"), ("u", "2024-03-01", "od+")]


def test_a_code_this_version_does_not_know_stops_the_read_with_what_to_do() -> None:
    unknown = next(c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in BUNDLED.values())
    with pytest.raises(UnknownBundle, match="newer version.*chiso rebuild"):
        expand_fields({f"+a{unknown}": 1})
    with pytest.raises(UnknownBundle):
        named_cells([("u", "2024-03-01", f"+{unknown}")])
