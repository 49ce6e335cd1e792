"""Benchmark: one /metrics scrape for a large catalogue; prints figures.

    .venv/bin/python benchmarks/exporter.py [--units 1000] [--dossiers 100000] [--days 400]

Fills a fresh redis-server through the real write path (store.writer, no Kafka)
with ``--days`` of dossiers (default ~13 months) spread over a synthetic
catalogue (1 province, 5% departments, the rest communes), then times full
scrapes (all windows) of the collector, cold (first scrape of a process) and
warm, next to the time to read every counter hash once with a plain pipeline
(the reference measured in the same run).
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
from chiso.exposition import render_registry  # noqa: E402
from chiso.metrics import ChisoCollector, build_registry  # noqa: E402
from chiso.queries import Queries  # noqa: E402
from processors.calendar import WorkingCalendar  # noqa: E402
from processors.units import Unit, UnitCatalogue  # noqa: E402
from store.keys import Keys  # noqa: E402
from store.plan import PlanRules, RawMessage  # noqa: E402
from store.reader import Store  # noqa: E402
from store.writer import BatchApplier  # noqa: E402

VN = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 22, 15, 0, tzinfo=VN)


def catalogue(n: int) -> UnitCatalogue:
    units = [Unit("p", "Tỉnh", None, "province")]
    departments = max(1, n // 20)
    units += [Unit(f"d{i}", f"Sở {i}", "p", "department") for i in range(departments)]
    units += [Unit(f"c{i}", f"Xã {i}", "p", "commune") for i in range(n - 1 - departments)]
    return UnitCatalogue(units)


def event_stream(units: list[str], dossiers: int, seed: int = 5, offset: int = 0, days: int = 400):
    rng = random.Random(seed)
    for i in range(dossiers):
        d = f"X{seed}-{i}"
        t0 = NOW - timedelta(minutes=rng.randrange(0, days * 24 * 60))
        due = t0 + timedelta(days=rng.choice((3, 7, 15)))
        evs = [{"event_id": f"{d}r", "dossier_id": d, "type": "received", "occurred_at": t0.isoformat(),
                "unit_id": rng.choice(units), "procedure_id": "p", "channel": rng.choice(("online", "direct")),
                "online_service": "full", "due_at": due.isoformat(), "digitized": True}]
        if rng.random() < 0.9:
            end = t0 + timedelta(days=rng.uniform(1, 12))
            evs += [{"event_id": f"{d}t", "dossier_id": d, "type": "resolved", "occurred_at": end.isoformat()},
                    {"event_id": f"{d}q", "dossier_id": d, "type": "rated", "occurred_at": end.isoformat(), "rating": "satisfied"}]
        for e in evs:
            yield RawMessage("bench", i % 8, offset, orjson.dumps(e))
            offset += 1


async def fill(url: str, cat: UnitCatalogue, dossiers: int, seed: int = 5, offset: int = 0,
               days: int = 400) -> None:
    r = aioredis.from_url(url)

    async def no_dead_letters(records):
        return None

    applier = BatchApplier(r, Keys(), no_dead_letters, PlanRules(WorkingCalendar()), lambda: NOW)
    units = [u.unit_id for u in cat.all() if u.level != "province"]
    await apply_in_batches(applier, event_stream(units, dossiers, seed, offset, days))
    await r.aclose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--dossiers", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=400, help="the history's length: receptions spread over this many days")
    ap.add_argument("--scrapes", type=int, default=5)
    ap.add_argument("--between", type=int, default=70, help="new dossiers (~200 events) applied between two scrapes")
    ap.add_argument("--windows", default="today,7d,30d,mtd,qtd,ytd,all", help="CHISO_METRICS_WINDOWS")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chiso-bench-"))
    server = start_redis(work)
    try:
        url = f"redis://127.0.0.1:{server.port}/0"
        cat = catalogue(args.units)
        t = time.perf_counter()
        asyncio.run(fill(url, cat, args.dossiers, days=args.days))
        fill_s = time.perf_counter() - t
        client = redis.Redis.from_url(url)
        keys = [k for k in client.scan_iter("chiso:a:*", count=5000)]
        t = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        for k in keys:
            pipe.hgetall(k)
        pipe.execute()
        read_all_s = time.perf_counter() - t

        queries = Queries(Store(client, Keys()), cat)
        collector = ChisoCollector(queries, args.windows.split(","), lambda: NOW)
        registry = build_registry(collector)
        times, size = [], 0
        for i in range(args.scrapes):
            if i:  # steady state: new dossiers between two scrapes
                asyncio.run(fill(url, cat, args.between, seed=100 + i, offset=10_000_000 * i))
            t = time.perf_counter()
            size = len(render_registry(registry))
            times.append(time.perf_counter() - t)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"units                        {args.units:,} ({args.dossiers:,} dossiers over {args.days} days, filled in {fill_s:.1f} s)")
    print(f"counter hashes               {len(keys):,}; reading all once (pipelined HGETALL): {1000 * read_all_s:.0f} ms  <- reference")
    print(f"scrape, windows {args.windows}: first (cold) {1000 * times[0]:.0f} ms; then, with {args.between} new dossiers "
          f"between scrapes, median {1000 * statistics.median(times[1:] or times):.0f} ms")
    print(f"exposition size              {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
