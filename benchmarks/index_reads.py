"""Benchmark: the index's reads and memory, this tree next to an earlier one, same run.

    .venv/bin/python benchmarks/index_reads.py --before /path/to/older/checkout
                     [--units 1000] [--dossiers 100000] [--petitions 2000] [--repeat 7]

For each tree (the older one first, then this one, each in its own process, the
older one importing its own code through PYTHONPATH), a fresh redis-server is
filled through that tree's real write path (store.writer, no Kafka) with a year of
dossiers over a synthetic catalogue (1 province, 5% departments, communes), then:

- /api/v1/kpis for the province, windows 30d and ytd (Queries.kpis, median);
- /api/v1/stake for the province's children, 30d (this tree only);
- a full /metrics scrape of every unit and window (cold, then warm with ~200 new
  events between scrapes);
- Redis bytes per dossier and per petition (used_memory before and after filling).

Prints one table, the two trees side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from batches import apply_in_batches  # benchmarks/ is on sys.path: this script's own folder

ROOT = Path(__file__).resolve().parents[1]
VN = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 22, 15, 0, tzinfo=VN)
PROCEDURES = ("1.001193", "2.000815", "1.001612", "2.001583", "1.004222")


def events(units: list[str], dossiers: int, petitions: int, seed: int, offset: int):
    import orjson

    rng = random.Random(seed)
    for i in range(dossiers):
        d = f"X{seed}-{i}"
        t0 = NOW - timedelta(minutes=rng.randrange(0, 400 * 24 * 60))
        due = t0 + timedelta(days=rng.choice((3, 7, 15)))
        fee = rng.random() < 0.5
        evs = [{"event_id": f"{d}r", "dossier_id": d, "type": "received", "occurred_at": t0.isoformat(),
                "unit_id": rng.choice(units), "procedure_id": rng.choice(PROCEDURES),
                "channel": rng.choice(("online", "online", "direct")), "online_service": "full",
                "due_at": due.isoformat(), "digitized": True, "fee_required": fee,
                "reused_data": rng.random() < 0.5, "citizen_data": rng.random() < 0.6}]
        evs.append({"event_id": f"{d}s", "dossier_id": d, "type": "synced",
                    "occurred_at": (t0 + timedelta(hours=1)).isoformat()})
        if fee:
            evs.append({"event_id": f"{d}p", "dossier_id": d, "type": "paid", "method": "online",
                        "occurred_at": (t0 + timedelta(hours=2)).isoformat()})
        if rng.random() < 0.9:
            end = t0 + timedelta(days=rng.uniform(1, 12))
            evs += [{"event_id": f"{d}t", "dossier_id": d, "type": "resolved", "occurred_at": end.isoformat(),
                     "result_electronic": True},
                    {"event_id": f"{d}q", "dossier_id": d, "type": "rated", "occurred_at": end.isoformat(),
                     "rating": "satisfied"}]
        for e in evs:
            yield ("bench", i % 8, offset, orjson.dumps(e))
            offset += 1
    for i in range(petitions):
        p = f"P{seed}-{i}"
        t0 = NOW - timedelta(minutes=rng.randrange(0, 400 * 24 * 60))
        for kind, at in (("petition_received", t0), ("petition_resolved", t0 + timedelta(days=rng.uniform(1, 25)))):
            e = {"event_id": f"{p}{kind}", "petition_id": p, "type": kind, "occurred_at": at.isoformat()}
            if kind == "petition_received":
                e["unit_id"] = rng.choice(units)
            yield ("bench", i % 8, offset, orjson.dumps(e))
            offset += 1


async def fill(url: str, units: list[str], dossiers: int, petitions: int, seed: int, offset: int) -> None:
    import redis.asyncio as aioredis

    from processors.calendar import WorkingCalendar
    from store import plan
    from store.keys import Keys
    from store.writer import BatchApplier

    r = aioredis.from_url(url)

    async def no_dead_letters(records):
        return None

    rules = plan.PlanRules(WorkingCalendar()) if hasattr(plan, "PlanRules") else WorkingCalendar()
    applier = BatchApplier(r, Keys(), no_dead_letters, rules, lambda: NOW)
    await apply_in_batches(applier, (plan.RawMessage(*m) for m in events(units, dossiers, petitions, seed, offset)))
    await r.aclose()


def measure(args) -> dict:
    """In the tree on sys.path: fill and time. Returns the figures."""
    import redis

    from chiso.embedded import start_redis
    from chiso.exposition import render_registry
    from chiso.metrics import ChisoCollector, build_registry
    from chiso.queries import Queries
    from processors.units import Unit, UnitCatalogue
    from processors.windows import named_window
    from store.keys import Keys
    from store.reader import Store

    units = [Unit("p", "Tỉnh", None, "province")]
    departments = max(1, args.units // 20)
    units += [Unit(f"d{i}", f"Sở {i}", "p", "department") for i in range(departments)]
    units += [Unit(f"c{i}", f"Xã {i}", "p", "commune") for i in range(args.units - 1 - departments)]
    cat = UnitCatalogue(units)
    ids = [u.unit_id for u in units[1:]]
    work = Path(tempfile.mkdtemp(prefix="chiso-bench-"))
    server = start_redis(work)
    out: dict = {}
    try:
        url = f"redis://127.0.0.1:{server.port}/0"
        client = redis.Redis.from_url(url)
        base = client.info("memory")["used_memory"]
        t = time.perf_counter()
        asyncio.run(fill(url, ids, args.dossiers, 0, 5, 0))
        out["fill_s"] = time.perf_counter() - t
        after_dossiers = client.info("memory")["used_memory"]
        asyncio.run(fill(url, ids, 0, args.petitions, 6, 50_000_000))
        after_petitions = client.info("memory")["used_memory"]
        out["bytes_per_dossier"] = (after_dossiers - base) / args.dossiers
        out["bytes_per_petition"] = (after_petitions - after_dossiers) / max(args.petitions, 1)

        kwargs = {}
        import inspect

        if "clock" in inspect.signature(Queries).parameters:
            kwargs["clock"] = lambda: NOW
        q = Queries(Store(client, Keys()), cat, **kwargs)
        today = NOW.astimezone(VN).date()
        for name in ("30d", "ytd"):
            window = named_window(name, today)
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                q.kpis("p", window)
                times.append(time.perf_counter() - t)
            out[f"kpis_{name}_ms"] = 1000 * statistics.median(times)
        if hasattr(q, "stake"):
            window = named_window("30d", today)
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                q.stake("p", None, window)
                times.append(time.perf_counter() - t)
            out["stake_30d_ms"] = 1000 * statistics.median(times)
        registry = build_registry(ChisoCollector(q, ["today", "7d", "30d", "mtd", "qtd", "ytd", "all"], lambda: NOW))
        scrapes = []
        for i in range(4):
            if i:
                asyncio.run(fill(url, ids, 70, 0, 100 + i, 90_000_000 + 1_000_000 * i))
            t = time.perf_counter()
            render_registry(registry)
            scrapes.append(time.perf_counter() - t)
        out["scrape_cold_ms"] = 1000 * scrapes[0]
        out["scrape_warm_ms"] = 1000 * statistics.median(scrapes[1:])
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return out


def run_tree(tree: Path, args) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", "--units", str(args.units),
           "--dossiers", str(args.dossiers), "--petitions", str(args.petitions), "--repeat", str(args.repeat)]
    done = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", type=Path, help="an older checkout to measure first, in the same run")
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--dossiers", type=int, default=100_000)
    ap.add_argument("--petitions", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args)))
        return
    results = {}
    if args.before:
        results["before"] = run_tree(args.before.resolve(), args)
    results["this tree"] = run_tree(ROOT, args)
    rows = [("kpis, province, 30d (ms)", "kpis_30d_ms"), ("kpis, province, ytd (ms)", "kpis_ytd_ms"),
            ("stake, province's children, 30d (ms)", "stake_30d_ms"),
            ("/metrics, all units x 7 windows, cold (ms)", "scrape_cold_ms"),
            ("/metrics, warm (~200 events between) (ms)", "scrape_warm_ms"),
            ("Redis bytes per dossier", "bytes_per_dossier"), ("Redis bytes per petition", "bytes_per_petition"),
            ("fill, dossiers through the write path (s)", "fill_s")]
    print(f"{args.units:,} units, {args.dossiers:,} dossiers, {args.petitions:,} petitions")
    print(f"{'':46}" + "".join(f"{name:>14}" for name in results))
    for label, key in rows:
        cells = "".join(f"{results[n].get(key, float('nan')):>14,.1f}" for n in results)
        print(f"{label:46}{cells}")


if __name__ == "__main__":
    main()
