"""Bounded memory (store/retention.py) over a real Redis, through the real write
path (store/writer.py BatchApplier): closed dossiers' snapshots become tombstones
after the retention, the counters never move, and a later event for an expired
dossier is dead-lettered with reason ``expired`` instead of being counted again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import orjson
import pytest
import redis
import redis.asyncio as aioredis

from processors.calendar import WorkingCalendar
from processors.events import Event, event_from_dict
from processors.facts import dossier_facts
from processors.measures import MEASURES
from store.keys import Keys
from store.plan import PlanRules, RawMessage
from store.reader import Store
from store.retention import TOMBSTONE, RetentionSweeper
from store.writer import BatchApplier
from tests import reference as ref
from tests.gen import BASE, history

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)


class Clock:
    """The injected domain clock (what CHISO_NOW fixes), moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class Harness:
    """One key prefix on the shared redis-server: the real applier and sweeper,
    the dead letters they send, and reads of everything they wrote."""

    def __init__(self, url: str, retention_days: int = 180, grace_s: int = 0) -> None:
        self.url = url
        self.keys = Keys(f"r{uuid.uuid4().hex[:8]}:")
        self.clock = Clock(BASE)
        self.retention_days = retention_days
        self.grace_s = grace_s
        self.batch = 7  # small: the sweep's batches are exercised
        self.dead_letters: list[dict] = []
        self.offset = 0
        self.sync = redis.Redis.from_url(url)

    async def _run(self, step):
        r = aioredis.from_url(self.url)
        try:
            return await step(r)
        finally:
            await r.aclose()

    def apply(self, events: list[dict]) -> None:
        async def send(records: list[dict]) -> None:
            self.dead_letters.extend(records)

        msgs = []
        for e in events:
            msgs.append(RawMessage("in", 0, self.offset, orjson.dumps(e)))
            self.offset += 1

        async def step(r):
            await BatchApplier(r, self.keys, send, PlanRules(WorkingCalendar()), self.clock).apply(msgs)
        asyncio.run(self._run(step))

    def sweep(self) -> int:
        async def step(r):
            return await RetentionSweeper(r, self.keys, self.clock, self.retention_days,
                                          grace_s=self.grace_s, batch=self.batch).sweep()
        return asyncio.run(self._run(step))

    def snapshot(self, dossier_id: str) -> bytes | None:
        return self.sync.get(self.keys.dossier(dossier_id))

    def closed(self) -> dict[str, float]:
        return {m.decode(): s for m, s in self.sync.zrange(self.keys.closed, 0, -1, withscores=True)}

    def counters(self) -> dict:
        """Every counter: per unit and bucket, the globals, units and years."""
        out: dict = {}
        for key in self.sync.scan_iter(match=self.keys.prefix + "a:*", count=1000):
            out[key] = self.sync.hgetall(key)
        out["g"] = self.sync.hgetall(self.keys.globals)
        out["units"] = self.sync.smembers(self.keys.units)
        out["years"] = self.sync.smembers(self.keys.years)
        return out

    def everything(self) -> dict:
        """The whole keyspace of this prefix, values only (not the TTLs)."""
        out = {}
        for key in self.sync.scan_iter(match=self.keys.prefix + "*", count=1000):
            out[key] = self.sync.dump(key)
        return out

    def measures(self, lo: date, hi: date) -> dict[str, int]:
        store = Store(self.sync, self.keys)
        got = store.sum_ranges(store.seen_units(), [(lo, hi)])[0]
        return {m: got[m] for m in MEASURES}


@pytest.fixture
def redis_url(services) -> Iterator[str]:
    yield f"redis://127.0.0.1:{services[1].port}/0"


def ev(dossier: str, n: int, kind: str, at: datetime, **extra) -> dict:
    return {"event_id": f"{dossier}-{n}", "dossier_id": dossier, "type": kind, "occurred_at": at.isoformat(),
            "source": "test", **extra}


def received(dossier: str, at: datetime) -> dict:
    return ev(dossier, 1, "received", at, unit_id="dng-sxd", procedure_id="1.009994", channel="online",
              online_service="full", due_at=(at + 5 * DAY).isoformat())


def reference(events: list[dict], lo: date, hi: date) -> dict[str, int]:
    want = ref.measures(ref.group(events), None, ref.dates_between(lo, hi))
    return {m: want.get(m, 0) for m in MEASURES}


def test_a_late_event_for_an_expired_dossier_is_dead_lettered(redis_url: str) -> None:
    h = Harness(redis_url, retention_days=180)
    t0 = BASE
    old = [received("OLD", t0), ev("OLD", 2, "resolved", t0 + 2 * DAY)]            # ends at t0 + 2 days
    recent = [received("NEW", t0), ev("NEW", 2, "withdrawn", t0 + 100 * DAY)]     # ends 98 days later
    still_open = [received("OPEN", t0)]
    applied = old + recent + still_open
    h.clock.at = t0 + 3 * DAY
    h.apply(applied)
    assert h.closed() == {"OLD": (t0 + 2 * DAY).timestamp(), "NEW": (t0 + 100 * DAY).timestamp()}
    # the per-dossier structures of a closed dossier are already gone; only its snapshot remains
    assert h.sync.hget(h.keys.open, "OLD") is None and h.sync.zscore(h.keys.timer, "OLD") is None
    before = h.counters()
    # the portal's reception candidates of a dossier (store/keys.py: grow only) go with its snapshot
    h.sync.sadd(h.keys.receptions("OLD"), "candidate")

    h.clock.at = t0 + 2 * DAY + 180 * DAY - timedelta(seconds=1)  # not yet: the retention is not over
    assert h.sweep() == 0
    h.clock.at = t0 + 2 * DAY + 180 * DAY  # OLD ended exactly 180 days ago
    assert h.sweep() == 1
    assert h.snapshot("OLD") == TOMBSTONE
    assert not h.sync.exists(h.keys.receptions("OLD"))
    ttl_days = h.sync.pttl(h.keys.dossier("OLD")) / 86_400_000
    assert 179.9 < ttl_days <= 180  # the tombstone itself is kept another retention period
    assert h.closed() == {"NEW": (t0 + 100 * DAY).timestamp()}
    assert h.snapshot("NEW") != TOMBSTONE and h.snapshot("OPEN") != TOMBSTONE
    assert h.counters() == before, "the sweep never changes a counter"
    assert h.sweep() == 0 and h.counters() == before

    # A late rating and a late second reception of OLD: applied against an empty
    # state they would count a new reception; they are dead-lettered instead.
    late = [ev("OLD", 3, "rated", t0 + 5 * DAY, rating="dissatisfied"), ev("OLD", 4, "received", t0 + 4 * DAY,
            unit_id="dng-sxd", procedure_id="1.009994", channel="direct", online_service="full",
            due_at=(t0 + 9 * DAY).isoformat())]
    # A late event of NEW, not expired, is applied as usual.
    late_new = [ev("NEW", 3, "rated", t0 + 101 * DAY, rating="satisfied")]
    h.apply(late + late_new)
    assert [d["reason"] for d in h.dead_letters] == ["expired", "expired"]
    assert [orjson.loads(d["raw"])["event_id"] for d in h.dead_letters] == ["OLD-3", "OLD-4"]
    assert "OLD" in h.dead_letters[0]["detail"]
    after = h.counters()
    assert after["g"].pop(b"inv:expired") == b"2"
    before["g"].pop(b"ev:rated", None)
    after["g"].pop(b"ev:rated", None)
    assert h.snapshot("OLD") == TOMBSTONE
    lo, hi = t0.date() - DAY, t0.date() + 400 * DAY
    # the reference excludes the expired events: the numbers are those of what was applied
    assert h.measures(lo, hi) == reference(applied + late_new, lo, hi)
    assert h.measures(lo, hi) != reference(applied + late + late_new, lo, hi)
    # redelivering the same messages changes nothing (watermark), not even the dead-letter count
    h.offset -= 3
    h.apply(late + late_new)
    assert h.counters()["g"][b"inv:expired"] == b"2"


def petition_ev(petition: str, n: int, kind: str, at: datetime, **extra) -> dict:
    return {"event_id": f"{petition}-{n}", "petition_id": petition, "type": kind, "occurred_at": at.isoformat(),
            "source": "test", **extra}


def test_an_answered_petition_is_swept_and_keeps_its_record(redis_url: str) -> None:
    """Petitions follow the dossiers' rule, their first answer being their end:
    the snapshot becomes a tombstone, the record the petition indicators read
    stays, and a later event for it is dead-lettered ``expired``."""
    h = Harness(redis_url, retention_days=180)
    t0 = BASE
    old = [petition_ev("P-OLD", 1, "petition_received", t0, unit_id="dng-sxd"),
           petition_ev("P-OLD", 2, "petition_resolved", t0 + 2 * DAY)]
    recent = [petition_ev("P-NEW", 1, "petition_received", t0, unit_id="dng-sxd", due_at=(t0 + 200 * DAY).isoformat()),
              petition_ev("P-NEW", 2, "petition_resolved", t0 + 100 * DAY),
              petition_ev("P-NEW", 3, "petition_resolved", t0 + 120 * DAY)]  # a second answer: the first one counts
    unanswered = [petition_ev("P-OPEN", 1, "petition_received", t0, unit_id="dng-sxd"),
                  petition_ev("P-OPEN", 2, "petition_rated", t0 + DAY, rating="satisfied")]
    h.clock.at = t0 + 3 * DAY
    h.apply(old + recent + unanswered)
    petitions_closed = {m.decode(): s for m, s in
                        h.sync.zrange(h.keys.closed_petitions, 0, -1, withscores=True)}
    assert petitions_closed == {"P-OLD": (t0 + 2 * DAY).timestamp(), "P-NEW": (t0 + 100 * DAY).timestamp()}
    assert h.closed() == {}, "petitions are not in the dossiers' closed set"
    records = h.sync.hgetall(h.keys.petitions("dng-sxd"))
    assert set(records) == {b"P-OLD", b"P-NEW", b"P-OPEN"}
    before = h.counters()

    h.clock.at = t0 + 2 * DAY + 180 * DAY - timedelta(seconds=1)
    assert h.sweep() == 0
    h.clock.at = t0 + 2 * DAY + 180 * DAY
    assert h.sweep() == 1
    assert h.sync.get(h.keys.petition("P-OLD")) == TOMBSTONE
    assert 179.9 < h.sync.pttl(h.keys.petition("P-OLD")) / 86_400_000 <= 180
    assert h.sync.get(h.keys.petition("P-NEW")) not in (None, TOMBSTONE)
    assert h.sync.get(h.keys.petition("P-OPEN")) not in (None, TOMBSTONE)
    assert h.sync.zrange(h.keys.closed_petitions, 0, -1) == [b"P-NEW"]
    assert h.sync.hgetall(h.keys.petitions("dng-sxd")) == records, "the indicators' records stay"
    assert h.counters() == before and h.sweep() == 0

    # a late rating and reopening of P-OLD: dead-lettered, its record unchanged;
    # a late rating of P-NEW (not expired) is applied and changes its record
    h.apply([petition_ev("P-OLD", 3, "petition_rated", t0 + 5 * DAY, rating="dissatisfied"),
             petition_ev("P-OLD", 4, "petition_reopened", t0 + 6 * DAY),
             petition_ev("P-NEW", 4, "petition_rated", t0 + 101 * DAY, rating="dissatisfied")])
    assert [(d["reason"], orjson.loads(d["raw"])["event_id"]) for d in h.dead_letters] == [
        ("expired", "P-OLD-3"), ("expired", "P-OLD-4")]
    assert "petition 'P-OLD' was answered" in h.dead_letters[0]["detail"]
    assert h.counters()["g"][b"inv:expired"] == b"2"
    after = h.sync.hgetall(h.keys.petitions("dng-sxd"))
    assert after[b"P-OLD"] == records[b"P-OLD"] and after[b"P-OPEN"] == records[b"P-OPEN"]
    assert after[b"P-NEW"] != records[b"P-NEW"]


def _closed_reference(events: list[dict]) -> dict[str, float]:
    by: dict[str, list[Event]] = {}
    for e in events:
        parsed = event_from_dict(e)
        assert isinstance(parsed, Event)
        by.setdefault(e["dossier_id"], []).append(parsed)
    out = {}
    for d, evs in by.items():
        f = dossier_facts(d, evs)
        if f.end_at is not None:
            out[d] = f.end_at.timestamp()
    return out


@pytest.mark.parametrize("seed", [3, 11, 29])
def test_the_sweep_is_idempotent_and_never_changes_a_counter(redis_url: str, seed: int) -> None:
    h = Harness(redis_url, retention_days=2)
    events = history(seed, 60)
    h.clock.at = BASE + 3 * DAY
    for i in range(0, len(events), 37):  # several batches: snapshots are read back and updated
        h.apply(events[i:i + 37])
    closed = _closed_reference(events)
    assert closed and h.closed() == pytest.approx(closed)
    assert h.counters()["g"].get(b"inv:expired") is None
    counters = h.counters()
    swept_total = 0
    for days in range(0, 14):
        h.clock.at = BASE + days * DAY
        cutoff = (h.clock.at - 2 * DAY).timestamp()
        swept = h.sweep()
        due = {d for d, end in closed.items() if end <= cutoff}
        swept_total += swept
        assert swept_total == len(due)
        assert {d for d in closed if h.snapshot(d) == TOMBSTONE} == due
        assert set(h.closed()) == set(closed) - due
        assert h.counters() == counters
        whole = h.everything()
        assert h.sweep() == 0
        assert h.everything() == whole, "a second sweep at the same instant changes nothing"
    assert swept_total == len(closed)
    # the dossiers that never closed keep their snapshots
    for d in {e["dossier_id"] for e in events} - set(closed):
        assert h.snapshot(d) not in (None, TOMBSTONE)


def test_a_snapshot_in_use_is_left_for_a_later_run(redis_url: str) -> None:
    """A replay delivers a dossier's events faster than their dates pass: a
    snapshot accessed within the grace is not swept, and the sweep goes on past it."""
    h = Harness(redis_url, retention_days=1, grace_s=3600)
    h.batch = 1
    h.clock.at = BASE + DAY
    h.apply([received("A", BASE), ev("A", 2, "rejected", BASE + DAY)])
    # C: the same snapshot, idle for two hours (RESTORE sets the idle time), ended after A
    h.sync.restore(h.keys.dossier("C"), 0, h.sync.dump(h.keys.dossier("A")), idletime=7200)
    h.sync.zadd(h.keys.closed, {"C": (BASE + DAY).timestamp() + 1})
    h.clock.at = BASE + 3 * DAY
    assert h.sync.object("idletime", h.keys.dossier("A")) < 3600
    assert h.sweep() == 1
    assert h.snapshot("A") != TOMBSTONE and set(h.closed()) == {"A"}
    assert h.snapshot("C") == TOMBSTONE
    h.grace_s = 0
    assert h.sweep() == 1
    assert h.snapshot("A") == TOMBSTONE and h.closed() == {}


def test_retention_zero_keeps_every_snapshot(redis_url: str) -> None:
    h = Harness(redis_url, retention_days=0)
    h.clock.at = BASE + DAY
    h.apply([received("A", BASE), ev("A", 2, "stopped", BASE + DAY)])
    h.clock.at = BASE + 10_000 * DAY
    assert h.sweep() == 0
    assert h.snapshot("A") != TOMBSTONE and "A" in h.closed()


def test_the_worker_sweeps_and_dead_letters_late_events_end_to_end(make_stack) -> None:
    """The real worker process: CHISO_RETENTION_DAYS reaches its timer's sweep, and a
    late event for the swept dossier lands on the DLQ topic with reason `expired`,
    counted on /metrics, while the API's numbers stay those of the applied events."""
    import time

    from sources.producers import key_of, make_producer
    from tests.integration.test_pipeline import metric_samples, read_topic
    from tests.stack import stop_group

    stack = make_stack(now=(BASE + 100 * DAY).isoformat())
    stack.env["CHISO_RETENTION_DAYS"] = "30"
    keys = Keys(stack.settings.redis_prefix)

    def send(events: list[dict]) -> None:
        producer = make_producer(stack.settings.kafka)
        for e in events:
            value = orjson.dumps(e)
            producer.send(stack.settings.events_topic, key=key_of(value), value=value)
        producer.flush()
        producer.close()

    def wait_for(condition, what: str, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, f"{what} within {timeout_s:.0f} s\n{stack.logs()}"
            time.sleep(0.2)

    old = [received("OLD", BASE), ev("OLD", 2, "resolved", BASE + DAY)]
    stack.start("server")
    stack.start("worker")
    send(old)
    stack.wait_ready()
    wait_for(lambda: stack.redis.zscore(keys.closed, "OLD") is not None, "OLD in the closed set")
    # Written less than a day ago (the grace): no sweep of this worker touches it.
    assert stack.redis.get(keys.dossier("OLD")) not in (None, TOMBSTONE)
    kpis = stack.http.get("/api/v1/kpis", params={"window": "all"}).json()["measures"]
    assert kpis["received"] == 1 and kpis["resolved"] == 1
    stop_group(stack.procs.pop("worker"))
    # Age the snapshot by two days (RESTORE sets the idle time), then restart: the
    # first timer tick sweeps.
    blob = stack.redis.dump(keys.dossier("OLD"))
    stack.redis.restore(keys.dossier("OLD"), 0, blob, replace=True, idletime=2 * 86_400)
    stack.start("worker")
    # (reading the snapshot would make it fresh again: wait on the closed set)
    wait_for(lambda: stack.redis.zscore(keys.closed, "OLD") is None, "OLD swept by the worker's timer")
    assert stack.redis.get(keys.dossier("OLD")) == TOMBSTONE

    send([ev("OLD", 3, "rated", BASE + 2 * DAY, rating="satisfied"),
          ev("OLD", 4, "received", BASE + 2 * DAY, unit_id="dng-sxd", procedure_id="1.009994",
             channel="direct", online_service="full", due_at=(BASE + 9 * DAY).isoformat())])
    stack.wait_ready()
    letters = [orjson.loads(r.value) for r in read_topic(stack.settings.kafka, stack.settings.dlq_topic, 2)]
    assert sorted((d["reason"], orjson.loads(d["raw"])["event_id"]) for d in letters) == [
        ("expired", "OLD-3"), ("expired", "OLD-4")]
    wait_for(lambda: metric_samples(stack).get(("dvc_events_invalid_total", (("reason", "expired"),))) == 2,
             "dvc_events_invalid_total{reason=expired} == 2", 60)
    assert stack.http.get("/api/v1/kpis", params={"window": "all"}).json()["measures"] == kpis
