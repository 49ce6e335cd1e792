"""A worker's own work per event, without Kafka and Faust; prints figures.

    .venv/bin/python benchmarks/own_work.py [--events 30000] [--batch 500] [--chunks 500] [--gc default,worker] [--profile]

Feeds the bench events of benchmarks/pipeline.py (clustered: a dossier's events
adjacent; time-ordered: each in a different batch) through the real write path
(store.writer.BatchApplier, batches of --batch like a fetch) into a fresh
redis-server. Prints, per feed, the worker process's CPU time per event (its own
work: decoding, validation, facts, cells, snapshots, the plan and the Lua
arguments; Redis runs in its own process), the wall time per event (with the
wait for the apply script) and redis-server's own CPU per event (INFO cpu). In
the same run, as a reference: orjson alone on the same values, next to
``decode_event`` (bytes -> validated Event).

--profile prints where the CPU time goes (cProfile: cumulative time of each step).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pipeline import events, time_ordered  # noqa: E402

from chiso.embedded import start_redis  # noqa: E402
from processors.calendar import WorkingCalendar  # noqa: E402
from processors.events import decode_event  # noqa: E402
from store.keys import Keys  # noqa: E402
from store.plan import PlanRules, RawMessage  # noqa: E402
from store.writer import PIPELINE_CHUNK, BatchApplier  # noqa: E402
from streams.collector import tune_collector  # noqa: E402

VN = timezone(timedelta(hours=7))
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=VN)


async def _dead_letters(records: list[dict]) -> None:
    raise AssertionError(f"bench events are valid, got {len(records)} dead letters")


async def _redis_cpu(r: aioredis.Redis) -> float:
    """redis-server's CPU seconds so far (user + system, all its threads)."""
    info = await r.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def apply_feed(url: str, values: list[bytes], batch: int, profile: cProfile.Profile | None,
                     chunk: int = PIPELINE_CHUNK) -> tuple[float, float, float]:
    """(CPU µs per event, wall µs per event, redis-server CPU µs per event) of
    applying ``values`` in batches."""
    r = aioredis.from_url(url)
    await r.flushdb()
    redis_cpu = await _redis_cpu(r)
    applier = BatchApplier(r, Keys(), _dead_letters, PlanRules(WorkingCalendar()), lambda: NOW,
                           pipeline_chunk=chunk)
    msgs = [RawMessage("bench", 0, i, v) for i, v in enumerate(values)]
    cpu, wall = time.process_time(), time.perf_counter()
    if profile is not None:
        profile.enable()
    for i in range(0, len(msgs), batch):
        await applier.apply(msgs[i:i + batch])
    if profile is not None:
        profile.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    redis_cpu = await _redis_cpu(r) - redis_cpu
    await r.aclose()
    return cpu / len(values) * 1e6, wall / len(values) * 1e6, redis_cpu / len(values) * 1e6


def per_event_us(step, values: list[bytes]) -> float:
    started = time.process_time()
    for v in values:
        step(v)
    return (time.process_time() - started) / len(values) * 1e6


# The steps of the write path, by (file suffix, function): cumulative time each
# (a step's callees included, so nested steps overlap: apply_events holds
# dossier_facts, contribution and contribution_delta).
STEPS = (
    ("processors/events.py", "decode_event"),
    ("store/plan.py", "build_plan"),
    ("store/plan.py", "_plan_dossier"),
    ("store/codecs.py", "decode_dossier"),
    ("processors/dossier_update.py", "apply_events"),
    ("processors/facts.py", "dossier_facts"),
    ("processors/measures.py", "contribution"),
    ("processors/measures.py", "contribution_delta"),
    ("store/codecs.py", "encode_dossier"),
    ("store/plan.py", "open_update"),
    ("store/scripts.py", "argv"),
    ("store/writer.py", "_plan"),
)


def by_step(profile: cProfile.Profile, n: int) -> str:
    """Cumulative µs per event of each step, and the top functions by self time."""
    stats = pstats.Stats(profile)
    total = sum(tottime for _, _, tottime, _, _ in stats.stats.values())  # type: ignore[attr-defined]
    lines = []
    for suffix, name in STEPS:
        cum = sum(ct for (filename, _, func), (_, _, _, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
                  if func == name and filename.endswith(suffix))
        lines.append(f"    {suffix + ' ' + name:48} {cum / n * 1e6:7.1f} µs  {cum / total:5.1%}")
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(15)
    top = "\n".join(line for line in out.getvalue().splitlines()[4:] if line.strip())
    return "\n".join(lines) + f"\n    (profiled total {total / n * 1e6:.1f} µs/event: cProfile inflates each call)\n" + top


@contextlib.contextmanager
def collector_settings(name: str) -> Iterator[None]:
    """The garbage collector as CPython starts (``default``) or as a worker
    tunes it (``worker``), restored after."""
    thresholds = gc.get_threshold()
    if name == "worker":
        tune_collector()
    elif name != "default":
        raise SystemExit(f"--gc: unknown setting {name!r} (default, worker)")
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=30_000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--chunks", default=str(PIPELINE_CHUNK),
                    help="comma-separated pipeline chunk sizes to compare (a size >= --batch: no pipelining)")
    ap.add_argument("--feeds", default="clustered,time-ordered")
    ap.add_argument("--runs", type=int, default=3, help="medians of this many runs")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--gc", default="worker", help="comma-separated collector settings to compare: "
                    "default (CPython's thresholds), worker (streams/collector.py, as a worker runs)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chiso-own-"))
    store = start_redis(work)
    url = f"redis://127.0.0.1:{store.port}/0"
    try:
        clustered = events(args.events)
        feeds = {"clustered": clustered, "time-ordered": time_ordered(clustered)}
        values = [v for _, v in clustered]
        decode_only = sorted(per_event_us(decode_event, values) for _ in range(args.runs))[args.runs // 2]
        raw_json = sorted(per_event_us(orjson.loads, values) for _ in range(args.runs))[args.runs // 2]
        print(f"{args.events:,} events, batches of {args.batch}; medians of {args.runs} runs; µs per event")
        print(f"  decode_event (typed decode + validation) {decode_only:7.1f}   <- orjson.loads alone, same run: {raw_json:.1f}")
        for feed in (f for f in args.feeds.split(",") if f):
            feed_values = [v for _, v in feeds[feed]]
            for chunk in (int(c) for c in args.chunks.split(",") if c):
                for collector in (g for g in args.gc.split(",") if g):
                    with collector_settings(collector):
                        runs = sorted(asyncio.run(apply_feed(url, feed_values, args.batch, None, chunk))
                                      for _ in range(args.runs))
                    cpu, wall, redis_cpu = runs[args.runs // 2]
                    print(f"  {feed:12} chunk {chunk:5} gc {collector:7}  own work (worker CPU) {cpu:7.1f}"
                          f"   wall incl. Redis {wall:7.1f}   redis-server CPU {redis_cpu:6.1f}")
            if args.profile:  # with the last --gc setting
                profile = cProfile.Profile()
                with collector_settings([g for g in args.gc.split(",") if g][-1]):
                    asyncio.run(apply_feed(url, feed_values, args.batch, profile))
                print(by_step(profile, len(feed_values)))
    finally:
        store.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
