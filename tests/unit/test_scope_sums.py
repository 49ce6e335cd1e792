"""The exporter's subtree sums (chiso/kpi_blocks.py ScopeSum) applied as
differences stay equal to the sum made from scratch, whatever the order of the
changes: counters, petition counts and the distinct-procedure counts."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from chiso.kpi_blocks import EMPTY_PART, ScopeSum, UnitPart
from processors.index_inputs import ACTIVE_KINDS
from processors.petitions import PetitionCounts

UNITS = ("a", "b", "c")
PROCEDURES = ("p1", "p2", "p3")

parts = st.builds(
    lambda fields, petitions, active: UnitPart(Counter(fields), PetitionCounts(*petitions),
                                               {kind: frozenset(active.get(kind, ())) for kind in ACTIVE_KINDS}),
    st.dictionaries(st.sampled_from(("received", "resolved", "ix.late", "po|p1")), st.integers(-3, 5), max_size=4),
    st.tuples(*(st.integers(0, 4) for _ in range(4))),
    st.dictionaries(st.sampled_from(tuple(ACTIVE_KINDS)), st.sets(st.sampled_from(PROCEDURES)), max_size=4),
)


def from_scratch(current: dict[str, UnitPart]) -> ScopeSum:
    total = ScopeSum()
    for part in current.values():
        total.add(part, 1)
    return total


@given(st.lists(st.tuples(st.sampled_from(UNITS), st.one_of(st.none(), parts)), max_size=25))
def test_differences_applied_in_any_order_equal_the_sum_from_scratch(changes) -> None:
    kept = ScopeSum()
    current: dict[str, UnitPart] = {}
    for unit, new in changes:
        kept.add(current.get(unit, EMPTY_PART), -1)
        kept.add(new or EMPTY_PART, 1)
        if new is None:
            current.pop(unit, None)
        else:
            current[unit] = new
    fresh = from_scratch(current)
    assert kept == fresh
    # what the indicators read: plain sums, and distinct procedures over the units
    for name in ("received", "resolved", "ix.late", "po|p1"):
        assert kept.fields.get(name, 0) == sum(p.fields.get(name, 0) for p in current.values())
    assert kept.petitions == tuple(sum(getattr(p.petitions, f) for p in current.values())
                                   for f in ("on_time", "on_time_of", "satisfied", "received"))
    for kind in ACTIVE_KINDS:
        assert set(kept.active[kind]) == set().union(*(p.active[kind] for p in current.values()))
