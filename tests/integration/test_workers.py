"""Two and more stream workers in one consumer group, and the compare-and-set
retry path of the apply script, against the real broker and Redis.

Waits are conclusive: a condition (messages applied, /readyz) with a generous
deadline, never a sleep. Tansu's group join takes ~8-11 s and a SIGKILLed
member holds its partitions until the session timeout; both only make the
waits longer."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta, timezone

import orjson
import pytest
import redis
import redis.asyncio as aioredis

from processors.calendar import WorkingCalendar
from store.codecs import decode_dossier
from store.keys import Keys
from store.plan import PlanRules, RawMessage
from store.writer import BatchApplier
from tests.gen import history
from tests.integration.test_pipeline import (
    applied_messages,
    assert_event_counters,
    assert_matches_reference,
    messy_feed,
    send,
)

pytestmark = pytest.mark.integration

NOW = "2024-03-20T15:00:00+07:00"


def wait_applied(stack, at_least: int, timeout_s: float = 300) -> int:
    deadline = time.monotonic() + timeout_s
    while (done := applied_messages(stack)) < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
    return done


def test_two_workers_every_number_equals_the_reference(make_stack) -> None:
    stack = make_stack(now=NOW)
    events, messages = messy_feed(seed=21, dossiers=1500)
    stack.start("server")
    stack.start("worker-1")
    stack.start("worker-2")
    send(stack, messages)
    stack.wait_ready(timeout_s=300)
    assert_matches_reference(stack, events)
    assert_event_counters(stack, events, messages)


def test_a_worker_joining_and_one_sigkilled_mid_feed_change_no_number(make_stack) -> None:
    """worker-2 joins while worker-1 is applying (a rebalance mid-batch);
    later worker-1 is SIGKILLed (its partitions wait for the session timeout,
    then move to worker-2, which re-reads from the committed offsets)."""
    stack = make_stack(now=NOW)
    events, messages = messy_feed(seed=22, dossiers=4000)
    stack.start("server")
    stack.start("worker-1")
    send(stack, messages)
    assert wait_applied(stack, len(messages) // 10) < len(messages), "worker-1 finished before worker-2 joined"
    stack.start("worker-2")
    killed_at = wait_applied(stack, len(messages) // 2)
    stack.kill("worker-1")
    assert killed_at < len(messages), "the feed was applied before worker-1 could be killed"
    stack.wait_ready(timeout_s=400)
    assert_matches_reference(stack, events)
    assert_event_counters(stack, events, messages)  # no double counts, even of duplicates


# --- the compare-and-set retry path, on purpose --------------------------------

CAS_NOW = datetime(2024, 3, 20, 15, 0, tzinfo=timezone(timedelta(hours=7)))


async def _no_dead_letters(_records: list[dict]) -> None:
    return None


def _applier(r: aioredis.Redis, prefix: str) -> BatchApplier:
    return BatchApplier(r, Keys(prefix), _no_dead_letters, PlanRules(WorkingCalendar()), lambda: CAS_NOW)


class Interleaved(BatchApplier):
    """A BatchApplier whose first read is followed by another applier's write:
    the race two workers have during a rebalance, made to happen every time."""

    def __init__(self, *args, rival: BatchApplier, rival_batch: list[RawMessage], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rival, self.rival_batch, self.raced = rival, rival_batch, False

    async def _plan(self, decoded):
        plan = await super()._plan(decoded)
        if not self.raced:
            self.raced = True
            await self.rival.apply(self.rival_batch)
        return plan


def state_snapshot(r: redis.Redis, prefix: str) -> dict:
    """What the numbers are made of: counters, globals, watermarks, open
    states, and each dossier's event set."""
    out: dict = {}
    for key in r.scan_iter(f"{prefix}*", count=1000):
        name = key.decode()[len(prefix):]
        if name.startswith("a:") or name in ("g", "wm", "open", "asof"):
            kind = r.type(key).decode()
            out[name] = (r.hgetall(key) if kind == "hash" else r.zrange(key, 0, -1, withscores=True))
        elif name.startswith("d:"):
            out[name] = sorted(decode_dossier(r.get(key)).events)
    return out


OVERLAPS = ["same partition (watermark moved: -1)", "other partition (dossier moved: -2)"]


def racing_batches(events: list[dict], overlap: str) -> tuple[list[RawMessage], list[RawMessage], int]:
    """(the rival's batch, the racer's batch, the racer's first script outcome
    when the rival writes first). A dossier's events are split between the two
    batches, so both touch it."""
    raw = [orjson.dumps(e) for e in events]
    first, second = raw[::2], raw[1::2]
    if overlap.startswith("same"):
        # one partition: the rival applies offsets 0..k-1 that the racer also
        # read; the racer must skip them after its retry.
        return ([RawMessage("t", 0, i, v) for i, v in enumerate(first)],
                [RawMessage("t", 0, i, v) for i, v in enumerate(first + second)], -1)
    return ([RawMessage("t", 1, i, v) for i, v in enumerate(first)],
            [RawMessage("t", 0, i, v) for i, v in enumerate(second)], -2)


@pytest.mark.parametrize("overlap", OVERLAPS)
def test_racing_appliers_retry_and_count_every_event_once(services, overlap: str) -> None:
    url = f"redis://127.0.0.1:{services[1].port}/0"
    rival_batch, batch, expected_outcome = racing_batches(history(31, 150), overlap)
    race, alone = f"race{uuid.uuid4().hex[:6]}:", f"alone{uuid.uuid4().hex[:6]}:"

    async def run() -> tuple[int, list]:
        r = aioredis.from_url(url)
        try:
            rival = _applier(r, race)
            # one write for the whole batch: the serial path (chunks written
            # in a pipeline race in test_pipelined_apply.py)
            racer = Interleaved(r, Keys(race), _no_dead_letters, PlanRules(WorkingCalendar()), lambda: CAS_NOW,
                                pipeline_chunk=10**9, rival=rival, rival_batch=rival_batch)
            outcomes: list = []
            script = racer._script

            async def recording(*args, **kwargs):
                outcome = await script(*args, **kwargs)
                outcomes.append(outcome)
                return outcome

            racer._script = recording
            result = await racer.apply(batch)
            # the same messages, one applier, no race: the reference state
            reference = _applier(r, alone)
            await reference.apply(rival_batch)
            await reference.apply(batch)
            return result.retries, outcomes
        finally:
            await r.aclose()

    retries, outcomes = asyncio.run(run())
    assert retries >= 1 and outcomes[0] == expected_outcome and outcomes[-1] == 1, outcomes
    sync = redis.Redis.from_url(url)
    raced, reference = state_snapshot(sync, race), state_snapshot(sync, alone)
    assert raced and raced == reference
