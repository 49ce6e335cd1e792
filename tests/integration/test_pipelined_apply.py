"""A large batch is written in chunks, each planned while Redis runs the script
of the one before (store/writer.py ``_apply_pipelined``), against a real Redis.

The judge is the same applier writing every batch in one piece: the chunks
must leave exactly the same numbers, event sets, watermarks and open states,
and send each dead letter once; and when a chunk in flight loses a
compare-and-set race, it and the chunks planned behind it must be planned
again, never written from a stale plan."""

from __future__ import annotations

import asyncio
import uuid
import zlib

import orjson
import pytest
import redis
import redis.asyncio as aioredis

from processors.calendar import WorkingCalendar
from sources.producers import key_of
from store.keys import Keys
from store.plan import PlanRules, RawMessage
from store.writer import BatchApplier
from tests.gen import history
from tests.integration.test_pipeline import messy_feed
from tests.integration.test_workers import CAS_NOW, OVERLAPS, racing_batches, state_snapshot

pytestmark = pytest.mark.integration


def partitioned(values: list[bytes], partitions: int) -> list[RawMessage]:
    """As the producer places them: a dossier's messages on one partition, in order."""
    offsets = [0] * partitions
    out = []
    for v in values:
        p = zlib.crc32(key_of(v) or b"") % partitions
        out.append(RawMessage("t", p, offsets[p], v))
        offsets[p] += 1
    return out


class Recording:
    """The dead letters an applier sent, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, int, str]] = []

    async def __call__(self, records: list[dict]) -> None:
        self.sent += [(r["topic"], r["partition"], r["offset"], r["reason"]) for r in records]


def _applier(r: aioredis.Redis, prefix: str, chunk: int, dead_letters: Recording) -> BatchApplier:
    return BatchApplier(r, Keys(prefix), dead_letters, PlanRules(WorkingCalendar()), lambda: CAS_NOW,
                        pipeline_chunk=chunk)


@pytest.fixture
def url(services) -> str:
    return f"redis://127.0.0.1:{services[1].port}/0"


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_chunks_written_in_a_pipeline_equal_one_write(url: str, chunk: int) -> None:
    _, values = messy_feed(seed=41 + chunk, dossiers=300)
    messages = partitioned(values, 3)
    batches = [messages[i:i + 400] for i in range(0, len(messages), 400)]
    piped, whole = f"piped{uuid.uuid4().hex[:6]}:", f"whole{uuid.uuid4().hex[:6]}:"
    piped_dl, whole_dl = Recording(), Recording()

    async def run() -> int:
        r = aioredis.from_url(url)
        try:
            pipelined = _applier(r, piped, chunk, piped_dl)
            one_write = _applier(r, whole, 10**9, whole_dl)
            retries = 0
            for batch in batches:
                retries += (await pipelined.apply(batch)).retries
                await one_write.apply(batch)
            for batch in batches[:2]:  # a redelivery changes nothing, either way
                retries += (await pipelined.apply(batch)).retries
            return retries
        finally:
            await r.aclose()

    # no race here: each chunk's plan, made on top of the chunks still being
    # written, expected exactly what Redis held when its script ran
    assert asyncio.run(run()) == 0
    sync = redis.Redis.from_url(url)
    got, want = numbers_of(state_snapshot(sync, piped)), numbers_of(state_snapshot(sync, whole))
    assert got and got == want
    assert piped_dl.sent and sorted(piped_dl.sent) == sorted(whole_dl.sent)
    assert len(set(piped_dl.sent)) == len(piped_dl.sent)  # each dead letter once


def numbers_of(snapshot: dict) -> dict:
    """A snapshot as the numbers see it. Two things depend on where batches
    are cut, as fetch boundaries always did, and are left out: a counter field
    at 0 (a count one chunk adds and a later one takes back; one write summing
    both leaves no field, or no hash), and which alerts an open dossier has had (a state
    such as overdue that only an intermediate write saw was alerted,
    store/lua/set_open.lua)."""
    out = {}
    for name, value in snapshot.items():
        if name == "open":
            value = {d: _without_alerted(v) for d, v in value.items()}
        elif isinstance(value, dict):
            value = {f: v for f, v in value.items() if v != b"0"}
            if not value:
                continue
        out[name] = value
    return out


def _without_alerted(record: bytes) -> list:
    unit, state, no_apology, _alerted, info = orjson.loads(record)
    return [unit, state, no_apology, info]


class RacedInFlight(BatchApplier):
    """A pipelined applier whose first script is preceded by a rival's write:
    the chunk in flight loses the compare-and-set while the next chunk has
    already been planned on top of it."""

    def __init__(self, *args, rival: BatchApplier, rival_batch: list[RawMessage], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rival, self.rival_batch = rival, rival_batch
        self.outcomes: list[int] = []

    async def _run(self, plan, keys) -> int:
        if not self.outcomes:
            await self.rival.apply(self.rival_batch)
        outcome = await super()._run(plan, keys)
        self.outcomes.append(outcome)
        return outcome


@pytest.mark.parametrize("overlap", OVERLAPS)
def test_a_chunk_in_flight_that_loses_a_race_is_planned_again(url: str, overlap: str) -> None:
    # the rival writes the racer's first chunks (same partition) or the same
    # dossiers from another partition, before the racer's first script runs
    rival_batch, batch, expected = racing_batches(history(43, 120), overlap)
    race, alone = f"race{uuid.uuid4().hex[:6]}:", f"alone{uuid.uuid4().hex[:6]}:"

    async def run() -> tuple[int, list[int]]:
        r = aioredis.from_url(url)
        try:
            rival = _applier(r, race, 10**9, Recording())
            racer = RacedInFlight(r, Keys(race), Recording(), PlanRules(WorkingCalendar()), lambda: CAS_NOW,
                                  pipeline_chunk=20, rival=rival, rival_batch=rival_batch)
            result = await racer.apply(batch)
            reference = _applier(r, alone, 10**9, Recording())
            await reference.apply(rival_batch)
            await reference.apply(batch)
            return result.retries, racer.outcomes
        finally:
            await r.aclose()

    retries, outcomes = asyncio.run(run())
    assert outcomes[0] == expected and retries >= 1, outcomes
    assert outcomes[-1] == 1 and len(outcomes) > 2, outcomes  # the later chunks were written after the retry
    sync = redis.Redis.from_url(url)
    raced, reference = numbers_of(state_snapshot(sync, race)), numbers_of(state_snapshot(sync, alone))
    assert raced and raced == reference
