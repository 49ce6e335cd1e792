"""Benchmark: the index's reads on a single node next to a Redis Cluster, same data,
same run; prints figures, asserts nothing.

    .venv/bin/python benchmarks/cluster_reads.py [--units 1000] [--dossiers 30000]
                     [--petitions 500] [--partitions 8] [--masters 3] [--repeat 7]

A synthetic catalogue (1 province, 5% departments, communes) and a year of
dossiers and petitions (benchmarks/index_reads.py's generator) are written through
the real write path (store.writer, no Kafka) into a fresh redis-server and into a
local Redis Cluster (tests/cluster.py, the partition-tagged layout); then, on each,
``Queries`` as the API calls it, medians of --repeat: the province's KPIs (30d,
ytd), the ranking of its children and their points at stake (30d).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from batches import apply_in_batches  # noqa: E402 - benchmarks/ is on sys.path: this script's own folder
from exporter import catalogue  # noqa: E402 - the same synthetic catalogue (1 province, 5% departments, communes)
from index_reads import NOW, VN, events  # noqa: E402

from chiso.embedded import start_redis  # noqa: E402
from chiso.queries import Queries  # noqa: E402
from processors.calendar import WorkingCalendar  # noqa: E402
from processors.units import UnitCatalogue  # noqa: E402
from processors.windows import named_window  # noqa: E402
from store.layout import async_client, prepare, sync_client  # noqa: E402
from store.plan import PlanRules, RawMessage  # noqa: E402
from store.reader import Store  # noqa: E402
from store.writer import BatchApplier  # noqa: E402
from tests.cluster import start_redis_cluster  # noqa: E402


async def fill(url: str, cluster: bool, args, unit_ids: list[str]) -> None:
    _, keys = prepare(url, "yes" if cluster else "no", "chiso", args.partitions)
    client = async_client(url, cluster)

    async def no_dead_letters(records: list[dict]) -> None:
        raise AssertionError(f"the bench events are valid, got {len(records)} dead letters")

    applier = BatchApplier(client, keys, no_dead_letters, PlanRules(WorkingCalendar()), lambda: NOW)
    messages = (RawMessage(topic, partition % args.partitions, offset, value)
                for topic, partition, offset, value in events(unit_ids, args.dossiers, args.petitions, 5, 0))
    await apply_in_batches(applier, messages)
    await client.aclose()


def median_ms(read: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        read()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def measure(url: str, cluster: bool, args, cat: UnitCatalogue) -> dict[str, float]:
    asyncio.run(fill(url, cluster, args, [u.unit_id for u in cat.all() if u.parent_id is not None]))
    _, keys = prepare(url, "yes" if cluster else "no", "chiso", args.partitions)
    q = Queries(Store(sync_client(url, cluster), keys), cat, clock=lambda: NOW)
    today = NOW.astimezone(VN).date()
    d30, ytd = named_window("30d", today), named_window("ytd", today)
    q.kpis("p", d30)  # scripts loaded, connections open
    return {
        "kpis, province, 30d": median_ms(lambda: q.kpis("p", d30), args.repeat),
        "kpis, province, ytd": median_ms(lambda: q.kpis("p", ytd), args.repeat),
        "ranking, province's children, 30d": median_ms(lambda: q.ranking("p", d30), args.repeat),
        "stake, province's children, 30d": median_ms(lambda: q.stake("p", None, d30), args.repeat),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=1000)
    ap.add_argument("--dossiers", type=int, default=30_000)
    ap.add_argument("--petitions", type=int, default=500)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--masters", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    cat = catalogue(args.units)
    work = Path(tempfile.mkdtemp(prefix="chiso-cluster-reads-"))
    (work / "single").mkdir()
    single = start_redis(work / "single")
    cluster = start_redis_cluster(work / "cluster", masters=args.masters)
    try:
        alone = measure(f"redis://127.0.0.1:{single.port}/0", False, args, cat)
        spread = measure(cluster.url, True, args, cat)
    finally:
        single.stop()
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.units:,} units, {args.dossiers:,} dossiers, {args.petitions:,} petitions; "
          f"{args.partitions} partitions on {args.masters} masters; medians of {args.repeat}")
    print(f"{'read':40} {'single node':>12} {'Redis Cluster':>14}")
    for name, ms in alone.items():
        print(f"{name:40} {ms:9.1f} ms {spread[name]:11.1f} ms   x{spread[name] / ms:.1f}")


if __name__ == "__main__":
    main()
