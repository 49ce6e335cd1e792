"""The pure parts of state identity (store/identity.py, chiso/readiness.py)."""

from __future__ import annotations

import fnmatch

import pytest

from chiso.readiness import state_problems
from store.identity import GapGuard, LogGap, StateStatus, batch_fingerprints, derived_globs, edge_offsets, fingerprint
from store.keys import PATTERNS, Keys
from store.plan import RawMessage

pytestmark = pytest.mark.unit


def msgs(partition: int, *offsets: int, topic: str = "ev") -> list[RawMessage]:
    return [RawMessage(topic, partition, o, f"v{o}".encode()) for o in offsets]


def test_edge_offsets_per_partition_whatever_the_order() -> None:
    # what a worker records as applied (streams/positions.py): the highest
    # offset of each (topic, partition), not the last one seen; the gap check
    # looks at the lowest
    batch = msgs(0, 5, 9, 7) + msgs(1, 0) + msgs(0, 8) + msgs(1, 3, topic="other")
    assert edge_offsets(batch) == {("ev", 0): 9, ("ev", 1): 0, ("other", 1): 3}
    assert edge_offsets(batch, lowest=True) == {("ev", 0): 5, ("ev", 1): 0, ("other", 1): 3}
    assert edge_offsets([]) == {}


def test_a_batch_that_continues_the_watermark_passes() -> None:
    GapGuard().check(msgs(0, 5, 6, 7) + msgs(1, 0, 1), {"ev:0": 4, "ev:1": -1})
    GapGuard().check(msgs(0, 3, 4, 5), {"ev:0": 4})  # redelivery: skipped later, not a hole


def test_a_batch_past_the_watermark_is_a_gap() -> None:
    with pytest.raises(LogGap) as caught:
        GapGuard().check(msgs(0, 9, 10) + msgs(1, 0), {"ev:0": 4, "ev:1": -1})
    assert caught.value.gaps == {("ev", 0): (4, 9)}
    with pytest.raises(LogGap):  # nothing applied: must start at the partition's start
        GapGuard().check(msgs(2, 100), {"ev:2": -1})


def test_the_first_available_offset_is_not_a_gap() -> None:
    guard = GapGuard({"ev:2": 100})  # retention deleted 0..99
    guard.check(msgs(2, 100, 101), {"ev:2": -1})
    with pytest.raises(LogGap):
        guard.check(msgs(2, 101), {"ev:2": -1})


def test_fingerprints_are_of_the_record_at_each_new_watermark() -> None:
    batch = msgs(0, 5, 6) + msgs(1, 2)
    got = batch_fingerprints(batch, [("ev:0", 4, 6), ("ev:1", 1, 2)])
    assert got == [("ev:0", fingerprint(b"v6")), ("ev:1", fingerprint(b"v2"))]
    assert fingerprint(b"a") != fingerprint(b"b") and len(fingerprint(None)) == 16


def test_a_rebuild_deletes_exactly_the_derived_keys() -> None:
    assert derived_globs(Keys("t[1]*:"))[0] == "t\\[1\\]\\*:d:*"  # Redis glob escapes
    keys = Keys("t1:")
    globs = derived_globs(keys)
    deleted = [keys.dossier("D1"), keys.counters("u", "2024-03"), keys.watermarks, keys.state("fingerprints"),
               keys.open_set("u", "overdue"), keys.petition("P1"), keys.petitions("u"), keys.asof, keys.timer,
               keys.globals, keys.units, keys.years, keys.open, keys.applied_at]
    kept = [keys.seq, keys.unit_seq, keys.outbox, keys.alerts_pos, keys.notify("jobs"), keys.receptions("D1"),
            keys.state("generation"), keys.state("rebuilding"), keys.state("owners"), keys.publisher,
            "t1:dvcqg:unknown", "other:d:D1"]
    for key in deleted:
        assert any(fnmatch.fnmatchcase(key, g) for g in globs), key
    for key in kept:
        assert not any(fnmatch.fnmatchcase(key, g) for g in globs), key
    assert "fingerprints" in PATTERNS


def status(**kw) -> StateStatus:
    return StateStatus(**({"generation": "g", "rebuilding": None, "halted": None, "owners": {}, "watermarks": {}} | kw))


def test_readiness_problems() -> None:
    owned = {p: {"worker": "w", "until": 100.0} for p in (0, 1)}
    assert state_problems("ev", [0, 1], status(owners=owned), now=50.0) == []
    assert state_problems("ev", [0, 1], status(owners=owned), now=150.0) == ["no worker applies partitions [0, 1] of ev"]
    assert state_problems("ev", [0, 1], status(owners={0: owned[0]}), now=50.0) == ["no worker applies partitions [1] of ev"]
    halted = state_problems("ev", [0, 1], status(owners=owned, halted={"reason": "gone"}), now=50.0)
    assert halted and halted[0].startswith("halted: gone")
    rebuilding = {"reason": "r", "targets": {"ev:0": 9}}
    assert state_problems("ev", [0, 1], status(owners=owned, rebuilding=rebuilding, watermarks={"ev:0": 8}), 50.0) \
        == ["rebuilding: r"]
    assert state_problems("ev", [0, 1], status(owners=owned, rebuilding=rebuilding, watermarks={"ev:0": 9}), 50.0) == []
