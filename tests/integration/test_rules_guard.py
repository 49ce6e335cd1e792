"""The apply script refuses a batch planned with other counting rules than the
state's (store/lua/apply.lua): a worker that was already running when
`chiso rebuild` recorded new rules writes nothing more, whether its batch is
written in one piece or in pipelined chunks, on one node or on a Redis Cluster
(tests/integration/test_redis_cluster.py). Its deadline timer, which needs no
event to write, is refused the same way (store/lua/transition.lua). Real
redis-server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
import redis
import redis.asyncio as aioredis

from processors.calendar import WorkingCalendar
from processors.rules import CountingRules
from store.identity import StateIdentity
from store.keys import Keys
from store.layout import RulesMismatch
from store.plan import PlanRules
from store.timer import DeadlineTimer
from store.writer import BatchApplier
from tests.integration.test_pipeline import messy_feed
from tests.integration.test_pipelined_apply import Recording, partitioned
from tests.integration.test_workers import CAS_NOW, state_snapshot

pytestmark = pytest.mark.integration

OLD = CountingRules()
NEW = CountingRules(sync_max_delay=timedelta(hours=48))


def _applier(r, keys: Keys, rules: CountingRules, chunk: int) -> BatchApplier:
    return BatchApplier(r, keys, Recording(), PlanRules(WorkingCalendar(), rules), lambda: CAS_NOW,
                        pipeline_chunk=chunk)


def snapshot(client, keys: Keys) -> list[dict]:
    return [state_snapshot(client, shard.prefix) for shard in keys.shards]


async def refused_after_a_rebuild(r, client, keys: Keys, chunk: int) -> None:
    """Apply half the feed with OLD, flush with NEW as `chiso rebuild` does; the
    OLD applier's next batch raises and leaves Redis as it was; a NEW applier
    writes it. ``r``: an asyncio client, ``client`` a sync one (the snapshots)."""
    _, values = messy_feed(seed=61, dossiers=120)
    messages = partitioned(values, max(3, keys.partitions))
    first, rest = messages[: len(messages) // 2], messages[len(messages) // 2:]
    old = _applier(r, keys, OLD, chunk)
    await old.apply(first)
    for shard in keys.shards:  # recorded by the first write (on a cluster: each partition's copy)
        assert await r.get(shard.state("rules")) == OLD.fingerprint().encode()

    await StateIdentity(r, keys).flush("test: new rules", NEW.fingerprint())
    before = snapshot(client, keys)
    with pytest.raises(RulesMismatch) as refused:
        await old.apply(rest)
    assert NEW.fingerprint() in str(refused.value) and OLD.fingerprint() in str(refused.value)
    assert snapshot(client, keys) == before  # nothing written

    result = await _applier(r, keys, NEW, chunk).apply(first + rest)
    assert result.accepted > 0
    assert snapshot(client, keys) != before


@pytest.mark.parametrize("chunk", [10**9, 50], ids=["one-write", "pipelined"])
def test_a_batch_planned_with_other_rules_than_the_state_writes_nothing(services, chunk: int) -> None:
    with_clients(services, lambda r, client: refused_after_a_rebuild(
        r, client, Keys(f"rules{uuid.uuid4().hex[:6]}:"), chunk))


def with_clients(services, body) -> None:
    """Run ``await body(r, client)`` with an asyncio and a sync client of the
    test Redis, both closed after."""
    url = f"redis://127.0.0.1:{services[1].port}/0"
    client = redis.Redis.from_url(url)

    async def run() -> None:
        r = aioredis.from_url(url)
        try:
            await body(r, client)
        finally:
            await r.aclose()

    try:
        asyncio.run(run())
    finally:
        client.close()


def test_a_deadline_timer_with_other_rules_than_the_state_moves_nothing(services) -> None:
    """After a rebuild with NEW rules and a NEW worker's apply, the OLD worker's
    timer (states computed with OLD rules) is refused and writes nothing; the
    NEW worker's timer moves the same dossiers."""
    keys = Keys(f"rulest{uuid.uuid4().hex[:6]}:")
    later = CAS_NOW + timedelta(days=30)  # deadlines have passed: the timer has work

    async def run(r, client) -> None:
        _, values = messy_feed(seed=62, dossiers=120)
        messages = partitioned(values, 3)
        await _applier(r, keys, OLD, 10**9).apply(messages)
        await StateIdentity(r, keys).flush("test: new rules", NEW.fingerprint())
        await _applier(r, keys, NEW, 10**9).apply(messages)  # the new worker fills it again
        due = await r.zcount(keys.timer, "-inf", later.timestamp())
        assert due > 0

        before = snapshot(client, keys)
        old_timer = DeadlineTimer(r, keys, WorkingCalendar(), lambda: later, rules=OLD)
        with pytest.raises(RulesMismatch) as refused:
            await old_timer.tick()
        assert NEW.fingerprint() in str(refused.value) and OLD.fingerprint() in str(refused.value)
        assert snapshot(client, keys) == before  # nothing written

        moved = await DeadlineTimer(r, keys, WorkingCalendar(), lambda: later, rules=NEW).tick()
        assert moved > 0
        assert snapshot(client, keys) != before

    with_clients(services, run)
