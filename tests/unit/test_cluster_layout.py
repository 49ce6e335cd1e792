"""The Redis Cluster layout without Redis: which keys share a slot, and the one
change sequence made out of the partitions' own (store/change_feed.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.change_feed import FeedHistory
from store.keys import PATTERNS, Keys

TAG = re.compile(r"\{([^}]*)\}")


def hash_tag(key: str) -> str | None:
    """Redis Cluster's rule: the first {...} with something inside decides the slot."""
    m = TAG.search(key)
    return m.group(1) if m and m.group(1) else None


def apply_path_keys(k: Keys) -> list[str]:
    return [k.dossier("D1"), k.petition("P1"), k.petitions("u"), k.counters("u", "2024-03"), k.open,
            k.open_set("u", "overdue"), k.timer, k.outbox, k.asof, k.closed, k.watermarks, k.seq, k.unit_seq,
            k.units, k.years, k.globals, k.procedures_seen, k.applied_at, k.state("fingerprints"), k.route]


def test_every_key_of_a_partition_carries_its_tag_and_nothing_else_is_tagged_on_a_single_node() -> None:
    cluster = Keys("chiso:", 12)
    for p in (0, 7, 11):
        assert {hash_tag(key) for key in apply_path_keys(cluster.shard(p))} == {str(p)}
    assert {hash_tag(cluster.state(n)) for n in ("generation", "rebuilding", "halted", "owners", "partitions")} \
        == {"state"}
    assert {hash_tag(cluster.notify(n)) for n in ("jobs", "due", "seen", "stats")} | \
        {hash_tag(cluster.notify_digest("u"))} == {"n"}
    assert cluster.shard(3).dossier("D1") == "chiso:{3}:d:D1"
    assert [s.prefix for s in cluster.shards] == [f"chiso:{{{p}}}:" for p in range(12)]
    assert cluster.shard_of_field("events:5") == cluster.shard(5)
    with pytest.raises(ValueError, match="outside the 12 partitions"):
        cluster.shard(12)
    single = Keys("chiso:")
    assert single.shards == [single] and single.shard(5) is single
    assert all(hash_tag(key) is None for key in apply_path_keys(single))
    assert single.state("owners") == "chiso:state:owners" and single.notify("jobs") == "chiso:n:jobs"
    assert set(PATTERNS) >= {"partitions"}


def test_every_pattern_builds_its_key_with_the_parameters_in_order_and_refuses_another_count() -> None:
    # the patterns are turned into positional formats once (store/keys.py); this
    # compares each with the named pattern filled by name
    k = Keys("chiso:")
    for name, pattern in PATTERNS.items():
        params = re.findall(r"\{(\w+)\}", pattern)
        values = [f"v{i}-{p}" for i, p in enumerate(params)]
        assert k._key(name, *values) == "chiso:" + pattern.format(**dict(zip(params, values)))
        with pytest.raises(TypeError, match=f"takes {len(params)} parameters"):
            k._key(name, *values, "extra")
    assert k.counters("u1", "2026-11") == "chiso:a:u1:2026-11" and k.open_set("u1", "overdue") == "chiso:o:u1:overdue"


def brute_force(history: list[tuple[int, ...]], changes: dict[str, tuple[int, ...]]) -> dict[str, int]:
    """A unit's number: the first reading (1-based) that had seen, in every
    partition, its last change there."""
    out = {}
    for unit, at in changes.items():
        out[unit] = next(i + 1 for i, v in enumerate(history) if all(v[p] >= at[p] for p in range(len(at))))
    return out


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_the_combined_change_feed_is_exact(data: st.DataObject) -> None:
    partitions = data.draw(st.integers(1, 4))
    feed = FeedHistory()
    seqs = [0] * partitions
    last: dict[str, list[int]] = {}  # unit -> per partition, the sequence of its last change (0: none)
    seen: list[tuple[int, ...]] = []
    reader_at = 0  # what a caching reader saw last
    for _ in range(data.draw(st.integers(1, 12))):
        for _ in range(data.draw(st.integers(0, 4))):  # batches applied between two readings
            p = data.draw(st.integers(0, partitions - 1))
            seqs[p] += 1
            for unit in data.draw(st.sets(st.sampled_from("abcde"), max_size=3)):
                last.setdefault(unit, [0] * partitions)[p] = seqs[p]
        feeds = [(seqs[p], {u: at[p] for u, at in last.items() if at[p]}) for p in range(partitions)]
        number, per_unit = feed.combine(feeds)
        if not seen or seen[-1] != tuple(seqs):
            seen.append(tuple(seqs))
        assert number == len(seen)
        assert per_unit == brute_force(seen, {u: tuple(at) for u, at in last.items()})
        # the reader's question: which units changed since its last reading
        changed = {u for u, n in per_unit.items() if n > reader_at}
        previous = seen[reader_at - 1] if reader_at else (0,) * partitions
        assert changed == {u for u, at in last.items() if any(at[p] > previous[p] for p in range(partitions))}
        reader_at = number
