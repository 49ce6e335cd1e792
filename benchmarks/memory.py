"""Redis memory budget, with and without the retention rule (docs/performance.md,
"Memory budget"); prints figures.

    .venv/bin/python benchmarks/memory.py [--days 60] [--per-day 400] [--retention-days 30]

Loads a simulated province (sources/simulator: Đà Nẵng's sample units, realistic
lifecycles, petitions included) through the real write path (store/writer.py
BatchApplier, batches of 2,000 like a worker) into a fresh redis-server, then
measures, by key type, ``MEMORY USAGE`` (exact, ``SAMPLES 0``) and ``INFO
used_memory`` deltas (what the allocator really holds, hash tables included):

- without retention (what every closed dossier costs forever): its snapshot, its
  entry in the closed set;
- per open dossier: its snapshot and the open-state structures;
- per unit-day of counters (the day hashes; months apart);
- with retention: the clock moves past every end + the retention, the sweep
  replaces the snapshots by tombstones: bytes per tombstone, and what is left
  once the tombstones have expired too (counters, open dossiers, petitions).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import redis
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chiso.embedded import start_redis  # noqa: E402
from chiso.settings import sample_units_path  # noqa: E402
from processors.calendar import WorkingCalendar  # noqa: E402
from processors.units import UnitCatalogue  # noqa: E402
from sources.simulator.config import SimConfig  # noqa: E402
from sources.simulator.simulator import Simulator  # noqa: E402
from store.keys import Keys  # noqa: E402
from store.plan import PlanRules, RawMessage  # noqa: E402
from store.retention import TOMBSTONE, RetentionSweeper  # noqa: E402
from store.timer import DeadlineTimer  # noqa: E402
from store.writer import BatchApplier  # noqa: E402

VN = timezone(timedelta(hours=7))
START = datetime(2025, 1, 6, 0, 0, tzinfo=VN)


async def load(url: str, events: list[dict], now: datetime) -> tuple[float, int]:
    r = aioredis.from_url(url)
    dead: list[dict] = []

    async def dead_letters(records: list[dict]) -> None:
        dead.extend(records)

    applier = BatchApplier(r, Keys(), dead_letters, PlanRules(WorkingCalendar()), lambda: now)
    started = time.perf_counter()
    for i in range(0, len(events), 2000):
        await applier.apply([RawMessage("bench", 0, i + j, orjson.dumps(e)) for j, e in enumerate(events[i:i + 2000])])
    elapsed = time.perf_counter() - started
    # What a worker's timer and the alert publisher do meanwhile: the as-of instants
    # older than 3 days are pruned, the queued alerts published (the outbox emptied).
    await DeadlineTimer(r, Keys(), WorkingCalendar(), lambda: now).prune_asof()
    await r.delete(Keys().outbox)
    await r.aclose()
    return elapsed, len(dead)


async def sweep(url: str, now: datetime, retention_days: int) -> tuple[int, float]:
    r = aioredis.from_url(url)
    sweeper = RetentionSweeper(r, Keys(), lambda: now, retention_days, grace_s=0, batch=1000)
    started = time.perf_counter()
    n = await sweeper.sweep()
    await r.aclose()
    return n, time.perf_counter() - started


def used(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def by_type(client: redis.Redis, k: Keys) -> dict[str, list[int]]:
    """Key type -> MEMORY USAGE of each key."""
    closed = {m.decode() for m in client.zrange(k.closed, 0, -1)}
    out: dict[str, list[int]] = defaultdict(list)
    p = k.prefix
    for key in client.scan_iter(f"{p}*", count=2000):
        name = key.decode()[len(p):]
        size = client.memory_usage(key, samples=0) or 0
        if name.startswith("d:"):
            value = client.get(key)
            kind = "tombstone" if value == TOMBSTONE else ("closed snapshot" if name[2:] in closed else "open snapshot")
        elif name.startswith("a:"):
            bucket = name.rsplit(":", 1)[1]
            kind = "counters unit-day" if len(bucket) == 10 else "counters unit-month"
        elif name.startswith("o:"):
            kind = "open sets"
        elif name.startswith("p:"):
            kind = "petition tombstone" if client.get(key) == TOMBSTONE else "petition snapshot"
        elif name.startswith("pt:"):
            kind = "petition records"
        else:
            kind = name
        out[kind].append(size)
    return out


def table(title: str, sizes: dict[str, list[int]]) -> None:
    print(f"\n{title}")
    print(f"  {'key type':22} {'keys':>9} {'bytes':>13} {'bytes/key':>10}")
    for kind in sorted(sizes):
        s = sizes[kind]
        print(f"  {kind:22} {len(s):9,} {sum(s):13,} {sum(s) / len(s):10,.0f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=60, help="simulated days of arrivals")
    ap.add_argument("--per-day", type=float, default=400.0, help="dossiers a working day (Quảng Nam: 1,672)")
    ap.add_argument("--retention-days", type=int, default=180)
    ap.add_argument("--seed", type=int, default=766)
    args = ap.parse_args()

    catalogue = UnitCatalogue.from_path(sample_units_path())
    cal = WorkingCalendar()
    until = START + timedelta(days=args.days)
    sim = Simulator(catalogue.all(), args.seed, cal, SimConfig(dossiers_per_working_day=args.per_day),
                    start=START, stop=until)
    events = sim.events_until(until)
    dossiers = {e["dossier_id"] for e in events if "dossier_id" in e}
    print(f"simulated {args.days} days: {len(events):,} events, {len(dossiers):,} dossiers, "
          f"{len(catalogue):,} units; now = {until:%Y-%m-%d} (dossiers still open then stay open)")

    work = Path(tempfile.mkdtemp(prefix="chiso-bench-"))
    server = start_redis(work)
    try:
        url = f"redis://127.0.0.1:{server.port}/0"
        client = redis.Redis.from_url(url)
        k = Keys()
        base = used(client)
        load_s, dead = asyncio.run(load(url, events, until))
        loaded = used(client)
        n_closed = client.zcard(k.closed)
        n_open = client.hlen(k.open)
        print(f"loaded through store.writer in {load_s:.0f} s ({len(events) / load_s:,.0f} events/s), "
              f"{dead} dead letters; closed {n_closed:,}, open {n_open:,}")
        sizes = by_type(client, k)
        table("after the load (no sweep yet: what a deployment without retention keeps forever)", sizes)

        closed_snap = sum(sizes["closed snapshot"]) / max(1, len(sizes["closed snapshot"]))
        closed_entry = (client.memory_usage(k.closed, samples=0) or 0) / max(1, n_closed)
        open_snap = sum(sizes["open snapshot"]) / max(1, len(sizes["open snapshot"]))
        open_structs = (sum(sizes["open sets"]) + sum(sizes.get("open", [])) + sum(sizes.get("timer", []))) / max(1, n_open)
        unit_days = sizes["counters unit-day"]
        months = sum(sizes["counters unit-month"])
        petition_snap = sizes.get("petition snapshot", [])
        n_answered = client.zcard(k.closed_petitions)
        answered_entry = (client.memory_usage(k.closed_petitions, samples=0) or 0) / max(1, n_answered)
        records = sizes.get("petition records", [])
        n_records = sum(client.hlen(key) for key in client.scan_iter(f"{k.prefix}pt:*", count=2000))

        # With retention: move the clock past every end + the retention and sweep.
        later = until + timedelta(days=args.retention_days + 400)
        before_sweep = used(client)
        swept, sweep_s = asyncio.run(sweep(url, later, args.retention_days))
        after_sweep = used(client)
        sizes_after = by_type(client, k)
        table(f"after the sweep ({swept:,} closed dossiers and answered petitions tombstoned in {sweep_s:.1f} s)",
              sizes_after)
        tomb = sum(sizes_after["tombstone"]) / max(1, len(sizes_after["tombstone"]))
        petition_tombs = sizes_after.get("petition tombstone", [])
        swept_petitions = len(petition_tombs)
        petition_tomb = sum(petition_tombs) / max(1, swept_petitions)
        # the bytes the petitions' sweep freed (MEMORY USAGE), left out of the dossiers' figure
        freed_petitions = (sum(petition_snap) - sum(sizes_after.get("petition snapshot", []))
                           + swept_petitions * (answered_entry - petition_tomb))
        swept -= swept_petitions
        # What remains once the tombstones have expired (simulated: deleted).
        for pattern in ("d:*", "p:*"):
            for key in client.scan_iter(f"{k.prefix}{pattern}", count=2000):
                if client.get(key) == TOMBSTONE:
                    client.unlink(key)
        floor = used(client)

        print("\nper item (MEMORY USAGE; INFO used_memory delta in brackets)")
        print(f"  closed dossier, without retention   {closed_snap + closed_entry:7,.0f} B  "
              f"(snapshot {closed_snap:,.0f} + closed-set entry {closed_entry:,.0f}); forever")
        per_swept = (before_sweep - after_sweep - freed_petitions) / max(1, swept)
        print(f"  closed dossier, with retention      {closed_snap + closed_entry:7,.0f} B  for {args.retention_days} days"
              f" after its end, then a tombstone {tomb:,.0f} B [{closed_snap + closed_entry - per_swept:,.0f}]"
              f" for another {args.retention_days} days, then 0")
        print(f"  freed per swept dossier             {per_swept:7,.0f} B  [used_memory delta]")
        tomb_floor = (after_sweep - floor) / max(1, swept)
        print(f"  tombstone                           {tomb:7,.0f} B  [{tomb_floor:,.0f}, TTL entry included]")
        print(f"  open dossier                        {open_snap + open_structs:7,.0f} B  "
              f"(snapshot {open_snap:,.0f} + open record, sets, timer {open_structs:,.0f})")
        print(f"  unit-day of counters                {sum(unit_days) / len(unit_days):7,.0f} B  "
              f"({len(unit_days):,} unit-days with activity); months {months:,} B in all")
        print(f"  answered petition, with retention   "
              f"{sum(petition_snap) / max(1, len(petition_snap)) + answered_entry:7,.0f} B  (snapshot "
              f"{sum(petition_snap) / max(1, len(petition_snap)):,.0f} + answered-set entry {answered_entry:,.0f}) "
              f"until swept ({swept_petitions:,} swept), then a tombstone {petition_tomb:,.0f} B")
        print(f"  petition record (its unit's hash)   {sum(records) / max(1, n_records):7,.0f} B  "
              f"({n_records:,} petitions); forever: the petition indicators read them")
        asof_n = client.zcard(k.asof)
        asof_b = client.memory_usage(k.asof, samples=0) or 0
        print(f"  as-of instants (last 3 days + future) {asof_b / max(1, asof_n):5,.0f} B  each, {asof_n:,} of them: "
              f"{asof_b / (len(dossiers) / args.days):,.0f} B per dossier received a day")
        print(f"  whole load                          {loaded - base:13,} B used_memory; "
              f"{(loaded - base) / len(dossiers):,.0f} B per dossier")
        print(f"  after the sweep                     {after_sweep - base:13,} B; "
              f"once the tombstones expire {floor - base:,} B ({(floor - base) / len(dossiers):,.0f} B per dossier)")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
