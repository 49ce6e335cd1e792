"""Where redis-server's time in the apply script goes; prints figures.

    .venv/bin/python benchmarks/apply_script.py [--events 60000] [--batch 2000] [--runs 3]

Feeds the bench events of benchmarks/pipeline.py (clustered, then time-ordered)
through the real write path (store.writer.BatchApplier) once, keeping every
argument list the apply script was called with. Then replays those calls into a
flushed redis-server, one script at a time, with the script as it is (``full``)
and with one part removed, and prints redis-server's own CPU per event (INFO cpu)
of each: what a part costs is ``full`` minus its row. The arguments are the same
for every row, so the rows differ only by the script. A row without a part
writes wrong numbers on purpose; nothing here is checked against a reference
(tests/integration/test_apply_buckets.py and the pipeline tests do that).

``--listpack`` also replays ``full`` with other ``hash-max-listpack-entries``
settings (the counter hashes' encoding).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from batches import apply_in_batches  # noqa: E402
from own_work import NOW, _dead_letters, _redis_cpu  # noqa: E402
from pipeline import events, time_ordered  # noqa: E402

from chiso.embedded import start_redis  # noqa: E402
from processors.calendar import WorkingCalendar  # noqa: E402
from store.keys import Keys  # noqa: E402
from store.plan import PlanRules, RawMessage  # noqa: E402
from store.scripts import script  # noqa: E402
from store.writer import BatchApplier  # noqa: E402

Call = tuple[list, list]  # (keys, args) of one script call

HINCRBYS = """    count(day_key, field, delta)
    count(month_key, bucket_field(field, month_last), delta)"""
MONTH = """    count(month_key, bucket_field(field, month_last), delta)"""
VERSION_CHECK = "  if version_at(record_key(ARGV[p], ARGV[p + 1])) ~= ARGV[p + 2] then return -2 end"
RECORD_SET = "  redis.call('SET', record_key(ARGV[at], ARGV[at + 1]), ARGV[at + 3])"
SET_OPEN = "set_open(ARGV[p], ARGV[p + 1], ARGV[p + 2], ARGV[p + 3], ARGV[p + 4], ARGV[p + 5], ARGV[p + 6], ARGV[p + 7])"
ASOF_REMOVED = "for i = 1, n_ar do redis.call('ZREM', key_asof(), ARGV[p]); p = p + 1 end"
ASOF_ADDED = "for i = 1, n_aa do redis.call('ZADD', key_asof(), ARGV[p], ARGV[p + 1]); p = p + 2 end"


def variants(full: str) -> dict[str, str]:
    """The script, and the script with one part removed (each by the exact text
    of today's apply.lua: a text that is not found stops the benchmark)."""
    cuts = {
        "without the cells' HINCRBYs (and renames)": [(HINCRBYS, "")],
        "without the month HINCRBYs": [(MONTH, "")],
        "without the as-of field renames": [("bucket_field(field, month_last)", "field")],
        # both: without the SET, the next call's version check would fail
        "without the records (version check and SET)": [(VERSION_CHECK, ""), (RECORD_SET, "")],
        "without set_open": [(SET_OPEN, "")],
        "without the as-of instants": [(ASOF_REMOVED, "p = p + n_ar"), (ASOF_ADDED, "p = p + 2 * n_aa")],
        "unpacking the argument only": [("local rules_key = key_rules()",
                                         "do return 1 end\nlocal rules_key = key_rules()")],
    }
    out = {"full": full}
    for name, edits in cuts.items():
        text = full
        for old, new in edits:
            if old not in text:
                raise SystemExit(f"apply.lua changed: {old.strip()!r} not found; update benchmarks/apply_script.py")
            text = text.replace(old, new)
        out[name] = text
    return out


async def capture(url: str, values: list[bytes], batch: int) -> list[Call]:
    r = aioredis.from_url(url)
    await r.flushdb()
    applier = BatchApplier(r, Keys(), _dead_letters, PlanRules(WorkingCalendar()), lambda: NOW)
    calls: list[Call] = []
    run = applier._script

    async def keep(keys: list, args: list) -> int:
        calls.append((keys, args))
        return await run(keys=keys, args=args)

    applier._script = keep
    await apply_in_batches(applier, (RawMessage("bench", 0, i, v) for i, v in enumerate(values)), batch)
    await r.aclose()
    return calls


async def replay(url: str, source: str, calls: list[Call], listpack: int = 128) -> float:
    """redis-server CPU seconds of running ``calls`` with ``source`` on a flushed db."""
    r = aioredis.from_url(url)
    await r.flushdb()
    await r.config_set("hash-max-listpack-entries", listpack)
    run = r.register_script(source)
    before = await _redis_cpu(r)
    for keys, args in calls:
        outcome = await run(keys=keys, args=args)
        if outcome != 1:
            raise SystemExit(f"a replayed call returned {outcome}: the rows would not compare")
    used = await _redis_cpu(r) - before
    await r.aclose()
    return used


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=60_000)
    ap.add_argument("--batch", type=int, default=2_000)
    ap.add_argument("--runs", type=int, default=3, help="medians of this many replays, rows alternated")
    ap.add_argument("--listpack", default="", help="comma-separated hash-max-listpack-entries to compare, e.g. 8,32")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chiso-script-"))
    store = start_redis(work)
    url = f"redis://127.0.0.1:{store.port}/0"
    rows = variants(script("apply"))
    try:
        clustered = events(args.events)
        feeds = {"clustered": clustered, "time-ordered": time_ordered(clustered)}
        print(f"{args.events:,} events, batches of {args.batch}; redis-server CPU µs per event, "
              f"medians of {args.runs} replays of the same captured calls")
        for feed, messages in feeds.items():
            calls = asyncio.run(capture(url, [v for _, v in messages], args.batch))
            cases = [(name, source, 128) for name, source in rows.items()]
            cases += [(f"full, hash-max-listpack-entries {n}", rows["full"], int(n))
                      for n in args.listpack.split(",") if n]
            used: dict[str, list[float]] = {name: [] for name, _, _ in cases}
            for _ in range(args.runs):
                for name, source, listpack in cases:
                    used[name].append(asyncio.run(replay(url, source, calls, listpack)))
            print(f"  {feed} ({len(calls)} script calls)")
            for name, seconds in used.items():
                print(f"    {name:48} {sorted(seconds)[args.runs // 2] / args.events * 1e6:6.2f}")
    finally:
        store.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
