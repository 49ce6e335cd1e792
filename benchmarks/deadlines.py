"""Benchmark of the deadline engine with many open dossiers; prints figures.

    .venv/bin/python benchmarks/deadlines.py [--open 1000000]

Fills a fresh redis-server through the real write path (store.writer) with open
dossiers (a `received` each, dues spread over the coming weeks), then measures:
- Redis memory per open dossier: all of it, and the open-state structures alone;
- one timer tick with nothing due (the common case) and with 1,000 due transitions;
- the open-state counts of the province (every unit) and of one unit, as
  `/api/v1/open` computes them, next to a single ZCARD round trip (the reference).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import redis
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from batches import apply_in_batches  # noqa: E402 - this script's own folder

from chiso.embedded import start_redis  # noqa: E402
from chiso.queries import Queries  # noqa: E402
from chiso.settings import sample_units_path  # noqa: E402
from processors.calendar import WorkingCalendar  # noqa: E402
from processors.units import UnitCatalogue  # noqa: E402
from store.keys import Keys  # noqa: E402
from store.plan import PlanRules, RawMessage  # noqa: E402
from store.reader import Store  # noqa: E402
from store.timer import DeadlineTimer  # noqa: E402
from store.writer import BatchApplier  # noqa: E402

VN = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=VN)  # a Monday morning


async def fill(url: str, units: list[str], n: int) -> float:
    r = aioredis.from_url(url)

    async def no_dead_letters(_):
        return None

    applier = BatchApplier(r, Keys(), no_dead_letters, PlanRules(WorkingCalendar()), lambda: NOW)
    rng = random.Random(3)

    def messages():
        for i in range(n):
            t0 = NOW - timedelta(hours=rng.randrange(1, 24 * 20))
            due = NOW + timedelta(hours=rng.randrange(-48, 24 * 30))
            e = {"event_id": f"o{i}", "dossier_id": f"OPEN-{i:07d}", "type": "received", "occurred_at": t0.isoformat(),
                 "unit_id": rng.choice(units), "procedure_id": "1.009994", "channel": "online",
                 "online_service": "full", "due_at": due.isoformat()}
            yield RawMessage("bench", i % 8, i, orjson.dumps(e))

    started = time.perf_counter()
    await apply_in_batches(applier, messages())
    await r.aclose()
    return time.perf_counter() - started


async def ticks(url: str, later: datetime) -> tuple[float, int, float]:
    r = aioredis.from_url(url)
    idle = DeadlineTimer(r, Keys(), WorkingCalendar(), lambda: NOW)
    samples = []
    for _ in range(20):
        t = time.perf_counter()
        await idle.tick()
        samples.append(time.perf_counter() - t)
    busy = DeadlineTimer(r, Keys(), WorkingCalendar(), lambda: later, batch=1000)
    t = time.perf_counter()
    moved = await busy.tick(max_batches=1)
    batch_s = time.perf_counter() - t
    await r.aclose()
    return statistics.median(samples), moved, batch_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--open", type=int, default=1_000_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chiso-bench-"))
    server = start_redis(work)
    try:
        url = f"redis://127.0.0.1:{server.port}/0"
        catalogue = UnitCatalogue.from_path(sample_units_path())
        units = [u.unit_id for u in catalogue.all() if u.level != "province"]
        client = redis.Redis.from_url(url)
        base = client.info("memory")["used_memory"]
        fill_s = asyncio.run(fill(url, units, args.open))
        used = client.info("memory")["used_memory"] - base
        k = Keys()
        open_n = client.hlen(k.open)
        structures = client.memory_usage(k.open, samples=0) + client.memory_usage(k.timer, samples=0)
        for key in client.scan_iter(f"{k.prefix}o:*", count=1000):
            structures += client.memory_usage(key, samples=0) or 0
        idle_s, moved, batch_s = asyncio.run(ticks(url, NOW + timedelta(hours=30)))
        queries = Queries(Store(client, k), catalogue)
        t = time.perf_counter()
        for _ in range(5):
            province = queries.open_now("dng", "subtree", NOW)
        province_s = (time.perf_counter() - t) / 5
        t = time.perf_counter()
        for _ in range(20):
            queries.open_now("dng-sxd", "self", NOW)
        unit_s = (time.perf_counter() - t) / 20
        t = time.perf_counter()
        for _ in range(20):
            client.zcard(k.open_set("dng-sxd", "overdue"))
        ref_s = (time.perf_counter() - t) / 20
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"open dossiers                    {open_n:,} (filled through store.writer in {fill_s:.0f} s)")
    print(f"Redis per open dossier           {used / open_n:,.0f} B in all (events, counters, open state); open-state structures {structures / open_n:,.0f} B")
    print(f"timer tick, nothing due          {1000 * idle_s:.2f} ms")
    print(f"timer, one batch of transitions  {moved:,} dossiers moved in {1000 * batch_s:.0f} ms")
    print(f"open counts, province subtree    {1000 * province_s:.1f} ms  (open={province['open']:,})")
    print(f"open counts, one unit            {1000 * unit_s:.2f} ms;  one ZCARD round trip {1000 * ref_s:.2f} ms <- reference")


if __name__ == "__main__":
    main()
