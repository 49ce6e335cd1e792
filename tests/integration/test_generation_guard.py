"""A halt or a flush decided on what a worker saw acts only on the state it
saw (store/identity.py StateIdentity.halt, flush(expect=...)): after another
flush (`chiso rebuild`) it writes nothing. On one redis-server here; on a
Redis Cluster in tests/integration/test_redis_cluster.py."""

from __future__ import annotations

import uuid

import pytest

from store.identity import StateIdentity
from store.keys import Keys
from tests.integration.test_pipeline import messy_feed
from tests.integration.test_pipelined_apply import partitioned
from tests.integration.test_rules_guard import OLD, _applier, snapshot, with_clients

pytestmark = pytest.mark.integration


async def stale_generation_writes_nothing(r, client, keys: Keys) -> None:
    """``r``: an asyncio client, ``client`` a sync one (the snapshots)."""
    identity = StateIdentity(r, keys)
    _, values = messy_feed(seed=63, dossiers=60)
    await _applier(r, keys, OLD, 10**9).apply(partitioned(values, max(3, keys.partitions)))
    seen = await identity.generation()
    assert await identity.halt("current generation", seen) is True
    assert await identity.halted() == "current generation"

    current = await identity.flush("test: chiso rebuild", OLD.fingerprint())  # clears the halt
    assert current != seen and await identity.halted() is None
    await _applier(r, keys, OLD, 10**9).apply(partitioned(values, max(3, keys.partitions)))
    before = snapshot(client, keys)
    assert await identity.halt("seen before the rebuild", seen) is False
    assert await identity.flush("seen before the rebuild", OLD.fingerprint(), expect=seen) is None
    assert snapshot(client, keys) == before  # nothing deleted
    assert await identity.halted() is None
    assert await identity.generation() == current

    again = await identity.flush("seen now", OLD.fingerprint(), expect=current)
    assert again not in (None, current) and await identity.generation() == again
    assert snapshot(client, keys) != before


def test_a_stale_halt_or_flush_writes_nothing(services) -> None:
    with_clients(services, lambda r, client: stale_generation_writes_nothing(
        r, client, Keys(f"gen{uuid.uuid4().hex[:6]}:")))
