"""Recovery from lost or rolled-back state; prints figures, asserts nothing.

    .venv/bin/python benchmarks/recovery.py [--dossiers 6000] [--partitions 4]

On an embedded Tansu broker and redis-server started here, one stream worker
process and the same events, it measures in one run:
- the plain apply rate: a worker started on a full topic, first applied event to
  the last (group join excluded);
- for each fault, the time from the fault to correct numbers again (every
  counter, open-state and index structure in Redis equal to what it held before
  the fault, and every event applied): Redis emptied (FLUSHALL); Redis restored
  from an older snapshot (the keys as they were at half the feed);
- `chiso rebuild` (streams/rebuild.py, the worker stopped): the rebuild rate,
  next to the plain apply rate.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import redis
from aiokafka import AIOKafkaProducer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pipeline import lifecycle  # noqa: E402

from chiso.embedded import start_broker, start_redis  # noqa: E402
from chiso.settings import Settings  # noqa: E402
from store.keys import Keys  # noqa: E402
from streams.lag import LagProbe, lag_by_partition  # noqa: E402
from streams.rebuild import rebuild  # noqa: E402
from streams.topics import ensure_topics  # noqa: E402

SKIP = ("wm", "wmfp", "applied_at", "seq", "unit_seq", "state:", "alerts_pos", "outbox", "publisher", "n:",
        "asof")  # as-of instants: a cache the timer prunes at its own pace


BODIES: dict[str, object] = {}


def digest(r: redis.Redis, prefix: str) -> dict[str, str]:
    """key -> hash of what the numbers are made of (not record versions or bookkeeping)."""
    out = {}
    for key in sorted(r.scan_iter(match=f"{prefix}*", count=2000)):
        name = key.decode()[len(prefix):]
        if name.startswith(SKIP):
            continue
        kind = r.type(key)
        if kind == b"hash":
            # +1 then -1 leaves a 0; alert counters depend on when alerts were published
            body = sorted((f, v) for f, v in r.hgetall(key).items() if v != b"0" and not f.startswith(b"alerts"))
        elif kind == b"set":
            body = sorted(r.smembers(key))
        elif kind == b"zset":
            body = r.zrange(key, 0, -1, withscores=True)
        else:
            continue
        if not body:  # a hash left with zeros only is no number
            continue
        out[name] = hashlib.blake2b(repr(body).encode()).hexdigest()
        BODIES.setdefault(name, body) if os.environ.get("RECOVERY_DEBUG") else None
    return out


async def produce(bootstrap: str, topic: str, events: list[dict]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, key=e["dossier_id"].encode(), value=orjson.dumps(e)) for e in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def lag_total(settings: Settings, r: redis.Redis) -> int:
    probe = LagProbe(settings.kafka, settings.events_topic)
    try:
        offsets = await probe.offsets()
    finally:
        await probe.stop()
    marks = {k.decode(): int(v) for k, v in r.hgetall(Keys(settings.redis_prefix).watermarks).items()}
    return sum(lag_by_partition(settings.events_topic, offsets, marks).values())


def wait_until(condition, timeout_s: float = 240, every_s: float = 0.2) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            raise TimeoutError("condition not reached")
        time.sleep(every_s)
    return time.monotonic()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dossiers", type=int, default=6000)
    ap.add_argument("--partitions", type=int, default=4)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chiso-recovery-"))
    broker, store = start_broker(work), start_redis(work)
    env = dict(os.environ, CHISO_KAFKA=f"127.0.0.1:{broker.port}", CHISO_REDIS=f"redis://127.0.0.1:{store.port}/0",
               CHISO_STATE_DIR=str(work), CHISO_PARTITIONS=str(args.partitions), CHISO_IDENTITY_CHECK_S="2",
               CHISO_NOW="2026-12-01T12:00:00+07:00", CHISO_BATCH_WITHIN_S="0.1", PYTHONUNBUFFERED="1")
    for k, v in env.items():
        if k.startswith("CHISO_"):
            os.environ[k] = v
    settings = Settings()
    ensure_topics(settings.kafka, settings.topics, settings.partitions)
    r = redis.Redis.from_url(settings.redis_url)
    prefix = settings.redis_prefix
    rng = random.Random(7)
    dossiers = [lifecycle(rng, i) for i in range(args.dossiers)]
    half = [e for d in dossiers[: len(dossiers) // 2] for e in d]
    rest = [e for d in dossiers[len(dossiers) // 2:] for e in d]
    lagging = lambda: asyncio.run(lag_total(settings, r)) > 0  # noqa: E731
    worker = None
    try:
        asyncio.run(produce(settings.kafka, settings.events_topic, half))
        worker = subprocess.Popen([sys.executable, "-m", "chiso.cli", "worker"], env=env,
                                  stdout=open(work / "worker.log", "ab"), stderr=subprocess.STDOUT)
        first = wait_until(lambda: r.hlen(Keys(prefix).watermarks) > 0, every_s=0.02)
        done = wait_until(lambda: not lagging(), every_s=0.05)
        apply_rate = len(half) / (done - first)
        snapshot = {k: r.dump(k) for k in r.scan_iter(match=f"{prefix}*", count=2000)}
        asyncio.run(produce(settings.kafka, settings.events_topic, rest))
        wait_until(lambda: not lagging())
        reference = digest(r, prefix)
        figures = []

        def correct() -> bool:
            if lagging():
                return False
            now = digest(r, prefix)
            if now != reference:
                differ = sorted(k for k in set(now) | set(reference) if now.get(k) != reference.get(k))
                print(f"  applied, but {len(differ)} keys differ, e.g. {differ[:5]}", flush=True)
                if os.environ.get("RECOVERY_DEBUG"):
                    k = differ[0]
                    print("   before:", BODIES.get(k), "\n   now:", r.hgetall(prefix + k), flush=True)
            return now == reference

        r.flushall()
        t0 = time.monotonic()
        figures.append(("Redis emptied (FLUSHALL), idle feed", wait_until(correct, every_s=1.0) - t0))

        with r.pipeline() as pipe:
            for k in r.scan_iter(match=f"{prefix}*", count=2000):
                pipe.delete(k)
            for k, v in snapshot.items():
                pipe.restore(k, 0, v)
            pipe.execute()
        t0 = time.monotonic()
        figures.append(("Redis restored from the snapshot at half the feed", wait_until(correct, every_s=1.0) - t0))

        worker.terminate()
        worker.wait(30)
        worker = None
        result = asyncio.run(rebuild(settings.worker_config()))
        rebuilt_ok = digest(r, prefix) == reference
    finally:
        if worker is not None:
            worker.kill()
        broker.stop()
        store.stop()
    total = len(half) + len(rest)
    print(f"events: {total} ({args.dossiers} dossiers), {args.partitions} partitions; "
          "worker checks every 2 s")
    print(f"plain apply (one worker, {len(half)} events):  {apply_rate:8,.0f} events/s")
    print(f"chiso rebuild ({result.events} events):       {result.rate:8,.0f} events/s  "
          f"(ratio {result.rate / apply_rate:.2f}; numbers equal before/after: {rebuilt_ok})")
    for what, seconds in figures:
        print(f"{what}: correct again after {seconds:.1f}s")


if __name__ == "__main__":
    main()
