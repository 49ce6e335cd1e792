"""Benchmark of the core pipeline; prints figures, asserts nothing.

    .venv/bin/python benchmarks/pipeline.py [--events 200000] [--partitions 8]

On an embedded Tansu broker and redis-server started here, it measures in one run:
- the raw consume rate of the topic (aiokafka getmany + JSON decoding): the reference;
- one stream worker end to end: events in Kafka -> all Redis updates done;
- Redis bytes per dossier and per open dossier; the worker's RSS at the end;
- time from `chiso up --no-simulate` to the first API answer, and to /readyz.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chiso.embedded import free_port, start_broker, start_redis  # noqa: E402
from chiso.settings import Settings  # noqa: E402
from streams.topics import ensure_topics  # noqa: E402

VN = timezone(timedelta(hours=7))
UNITS = [line.split(",")[0] for line in (ROOT / "sources/data/units.csv").read_text().splitlines()[2:]]


def lifecycle(rng: random.Random, i: int) -> list[dict]:
    """~6 events of a typical dossier, spread over a few working days."""
    d = f"BENCH-{i:08d}"
    t0 = datetime(2026, 9, 1, 8, 0, tzinfo=VN) + timedelta(minutes=rng.randrange(0, 80 * 24 * 60))
    due = t0 + timedelta(days=rng.choice((3, 5, 10, 15)))
    ev = [{"event_id": f"{d}-r", "dossier_id": d, "type": "received", "occurred_at": t0.isoformat(),
           "unit_id": rng.choice(UNITS), "procedure_id": "1.009994", "channel": rng.choice(("online", "online", "direct")),
           "online_service": rng.choice(("full", "partial", "none")), "due_at": due.isoformat(),
           "fee_required": True, "digitized": rng.random() < 0.7, "source": "bench"},
          {"event_id": f"{d}-a", "dossier_id": d, "type": "assigned", "occurred_at": (t0 + timedelta(hours=1)).isoformat(), "officer_id": "cb-01"},
          {"event_id": f"{d}-p", "dossier_id": d, "type": "paid", "occurred_at": (t0 + timedelta(hours=2)).isoformat(), "method": "online", "amount_vnd": 50000}]
    if rng.random() < 0.85:
        end = t0 + timedelta(days=rng.uniform(0.5, 12))
        ev += [{"event_id": f"{d}-t", "dossier_id": d, "type": "resolved", "occurred_at": end.isoformat(), "result_electronic": True},
               {"event_id": f"{d}-s", "dossier_id": d, "type": "synced", "occurred_at": end.isoformat()},
               {"event_id": f"{d}-q", "dossier_id": d, "type": "rated", "occurred_at": (end + timedelta(hours=3)).isoformat(), "rating": "satisfied"}]
    return ev


def events(n: int, seed: int = 766) -> list[tuple[bytes, bytes]]:
    rng = random.Random(seed)
    out: list[tuple[bytes, bytes]] = []
    i = 0
    while len(out) < n:
        for e in lifecycle(rng, i):
            out.append((e["dossier_id"].encode(), orjson.dumps(e)))
        i += 1
    return out[:n]


async def produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]], partitions: int) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    started = time.perf_counter()
    futures = [await producer.send(topic, key=k, value=v) for k, v in messages]
    await asyncio.gather(*futures)
    await producer.stop()
    return time.perf_counter() - started


async def raw_consume(bootstrap: str, topic: str, n: int) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False, max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    parts = consumer.partitions_for_topic(topic)
    consumer.assign([TopicPartition(topic, p) for p in parts])
    seen = 0
    started = time.perf_counter()
    while seen < n:
        batch = await consumer.getmany(timeout_ms=1000, max_records=10000)
        for records in batch.values():
            for r in records:
                orjson.loads(r.value)
            seen += len(records)
    elapsed = time.perf_counter() - started
    await consumer.stop()
    return n / elapsed


def applied(r: redis.Redis, prefix: str, topic: str) -> int:
    return sum(int(v) + 1 for k, v in r.hgetall(f"{prefix}wm").items() if k.decode().startswith(topic + ":"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_worker(env: dict, n: int, r: redis.Redis, prefix: str, topic: str) -> tuple[float, float, float]:
    proc = subprocess.Popen([sys.executable, "-m", "chiso.cli", "worker"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.perf_counter()
    first = None
    first_count = 0
    while True:
        done = applied(r, prefix, topic)
        now = time.perf_counter()
        if done and first is None:
            first, first_count = now, done
        if done >= n:
            break
        if proc.poll() is not None:
            raise RuntimeError("worker died")
        time.sleep(0.05)
    rate = (n - first_count) / (now - first) if now > first else float("nan")
    memory = rss_mb(proc.pid)
    proc.terminate()
    proc.wait(20)
    return rate, first - started, memory


def time_to_first_answer() -> tuple[float, float]:
    port = free_port()
    state = tempfile.mkdtemp(prefix="chiso-bench-")
    env = dict(os.environ, CHISO_HTTP_PORT=str(port), CHISO_STATE_DIR=state)
    env.pop("CHISO_KAFKA", None)
    env.pop("CHISO_REDIS", None)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "chiso.cli", "up", "--no-simulate"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = ready = None
    try:
        while ready is None and time.perf_counter() - started < 90:
            try:
                path = "/readyz" if first else "/api/v1/kpis?window=7d"
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as resp:
                    if resp.status == 200:
                        if first is None:
                            first = time.perf_counter() - started
                        else:
                            ready = time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(state, ignore_errors=True)
    return first or float("nan"), ready or float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--partitions", type=int, default=8)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chiso-bench-"))
    broker, store = start_broker(work), start_redis(work)
    try:
        settings = Settings(kafka=f"127.0.0.1:{broker.port}", redis=f"redis://127.0.0.1:{store.port}/0",
                            partitions=args.partitions, events_topic="bench-events", group_id="bench",
                            now=datetime(2026, 11, 22, 12, 0, tzinfo=VN))
        ensure_topics(settings.kafka, settings.topics, settings.partitions)
        messages = events(args.events)
        dossiers = len({k for k, _ in messages})
        produce_s = asyncio.run(produce(settings.kafka, settings.events_topic, messages, args.partitions))
        raw = asyncio.run(raw_consume(settings.kafka, settings.events_topic, args.events))
        r = redis.Redis.from_url(settings.redis)
        before = r.info("memory")["used_memory"]
        env = dict(os.environ, CHISO_KAFKA=settings.kafka, CHISO_REDIS=settings.redis, CHISO_EVENTS_TOPIC=settings.events_topic,
                   CHISO_GROUP_ID="bench", CHISO_PARTITIONS=str(args.partitions), CHISO_STATE_DIR=str(work),
                   CHISO_NOW=settings.now.isoformat())
        rate, join_s, worker_rss = run_worker(env, args.events, r, settings.redis_prefix, settings.events_topic)
        used = r.info("memory")["used_memory"] - before
        open_n = r.hlen(f"{settings.redis_prefix}open")
        open_bytes = (r.memory_usage(f"{settings.redis_prefix}open") or 0) + (r.memory_usage(f"{settings.redis_prefix}timer") or 0)
        for key in r.scan_iter(f"{settings.redis_prefix}o:*", count=1000):
            open_bytes += r.memory_usage(key) or 0
        sample = [r.memory_usage(k) or 0 for k in list(r.scan_iter(f"{settings.redis_prefix}d:*", count=1000))[:2000]]
        first_answer, ready = time_to_first_answer()
    finally:
        broker.stop()
        store.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"events                          {args.events:,} ({dossiers:,} dossiers, {args.partitions} partitions)")
    print(f"produce (aiokafka, acks=all)    {args.events / produce_s:,.0f} events/s")
    print(f"raw consume (getmany + JSON)    {raw:,.0f} events/s   <- reference, same topic, same run")
    print(f"one worker end to end           {rate:,.0f} events/s   ratio to raw {rate / raw:.3f}")
    print(f"worker first batch applied      {join_s:.1f} s after start (consumer group join)")
    print(f"worker RSS at the end           {worker_rss:,.0f} MB")
    print(f"Redis bytes per dossier         {used / dossiers:,.0f} (all structures); dossier record alone {sum(sample) / max(len(sample), 1):,.0f}")
    print(f"Redis bytes per open dossier    {open_bytes / max(open_n, 1):,.0f} for the open-state structures ({open_n:,} open)")
    print(f"chiso up -> first API answer    {first_answer:.1f} s;  -> /readyz 200  {ready:.1f} s")


if __name__ == "__main__":
    main()
