"""Benchmark of the core pipeline; prints figures, asserts nothing.

    .venv/bin/python benchmarks/pipeline.py [--events 200000] [--partitions 8]

On an embedded Tansu broker and redis-server started here, it measures in one run,
each figure a median of --runs runs, each run next to its own reference:
- the raw consume rate of the topic (aiokafka getmany + JSON decoding): the reference;
- stream workers end to end (events in Kafka -> all Redis updates done) for each
  transport (``kafka+batch``: today's; ``kafka``: Faust's per-message path, the
  worker before the batch transport) on a clustered feed (a dossier's events
  adjacent) and a time-ordered feed (each in a different batch); optionally two
  workers in one group (--two-workers);
- Redis bytes per dossier and per open dossier; each worker's peak RSS;
- where the machine's CPU goes while the workers apply (from the first applied
  batch to the last): CPU µs per event of each worker, of redis-server and of the
  broker (/proc/<pid>/stat), and how many of the machine's cores they kept busy;
- optionally (--redis-cluster) the clustered feed, kafka+batch, one worker, on a
  local 3-master Redis Cluster (tests/cluster.py, the partition-tagged layout)
  next to the single node in the same run: events/s and Redis bytes per dossier;
- optionally (--startup) time from `chiso up --no-simulate` to the first API answer, and to /readyz.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import random
import shutil
import statistics
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
from streams.config import Topics  # noqa: E402
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
            # the same bytes as orjson.dumps (ASCII, compact), but sized to fit:
            # an orjson result keeps its ~4 KB buffer, 25 GB for a 6M-event replay
            out.append((e["dossier_id"].encode(), json.dumps(e, separators=(",", ":")).encode()))
        i += 1
    return out[:n]


async def produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]], partitions: int) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024)
    await producer.start()
    started = time.perf_counter()
    # Acknowledged chunk by chunk: a future per message for millions of messages
    # (--replay) held ~2.5 KB each until the end.
    for i in range(0, len(messages), 100_000):
        futures = [await producer.send(topic, key=k, value=v) for k, v in messages[i:i + 100_000]]
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


def applied(r: redis.Redis, prefix: str, topic: str, tagged: int = 0) -> int:
    """Events applied so far; ``tagged``: the partition count of a Redis Cluster layout."""
    keys = [f"{prefix}{{{p}}}:wm" for p in range(tagged)] if tagged else [f"{prefix}wm"]
    return sum(int(v) + 1 for key in keys for k, v in r.hgetall(key).items() if k.decode().startswith(topic + ":"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat, fields 14
    and 15, counted after the command name, which may hold spaces)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_workers(env: dict, n: int, r: redis.Redis, prefix: str, topic: str, workers: int = 1,
                tagged: int = 0, walls: list[float] | None = None, others: dict[str, int] | None = None,
                cpu: dict[str, float] | None = None) -> tuple[float, float, list[float]]:
    """Start ``workers`` worker processes together; returns (events/s from the
    first applied batch to the last, seconds to the first applied batch, RSS MB
    of each worker at the end); appends the wall time from the start of the
    processes to the last applied event to ``walls``. ``cpu`` is filled with the
    CPU µs per event, over the same span as the rate, of each worker
    (``worker 1``, ...) and of ``others`` (name -> pid: redis-server, the broker),
    and with ``cores``: how many cores they kept busy together."""
    logs = [tempfile.TemporaryFile() for _ in range(workers)]  # shown if a worker dies
    procs = [subprocess.Popen([sys.executable, "-m", "chiso.cli", "worker"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=log) for log in logs]
    try:
        started = time.perf_counter()
        first = None
        first_count = 0
        peak = [0.0] * workers
        watched = {f"worker {i + 1}": p.pid for i, p in enumerate(procs)} | (others or {})
        cpu_at_first: dict[str, float] = {}
        while True:
            done = applied(r, prefix, topic, tagged)
            now = time.perf_counter()
            if done and first is None:
                first, first_count = now, done
                cpu_at_first = {name: cpu_s(pid) for name, pid in watched.items()}
            if done >= n:
                break
            if any(p.poll() is not None for p in procs):
                tails = []
                for p, log in zip(procs, logs):
                    log.seek(0)
                    tails.append(f"worker {p.pid} (exit {p.poll()}):\n" + log.read()[-4000:].decode(errors="replace"))
                raise RuntimeError("worker died\n" + "\n".join(tails))
            peak = [max(m, rss_mb(p.pid)) for m, p in zip(peak, procs)]
            time.sleep(0.05)
        rate = (n - first_count) / (now - first) if first is not None and now > first else float("nan")
        if cpu is not None and first is not None and n > first_count and now > first:
            used = {name: cpu_s(pid) - cpu_at_first[name] for name, pid in watched.items()}
            cpu.update({name: s * 1e6 / (n - first_count) for name, s in used.items()})
            cpu["cores"] = sum(used.values()) / (now - first)
        if walls is not None:
            walls.append(now - started)
        memory = [max(m, rss_mb(p.pid)) for m, p in zip(peak, procs)]
        return rate, (first or now) - started, memory
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        for log in logs:
            log.close()


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


async def offered_load(bootstrap: str, redis_url: str, prefix: str, topic: str, messages: list[tuple[bytes, bytes]],
                       rate: float, seconds: float) -> tuple[list[float], int, list[float]]:
    """Send ``rate`` events/s for ``seconds`` (10 ms ticks) while sampling the
    applied watermarks every 10 ms; an event's latency is from its send to the
    first sample whose watermark covers its offset (the API reads Redis, so
    this is event -> answerable). Returns (latencies in s, max lag seen, and
    the latencies of a raw aiokafka consumer of the same topic: the reference)."""
    import redis.asyncio as aioredis

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await producer.start()
    r = aioredis.from_url(redis_url)
    sent: list[tuple[float, asyncio.Future]] = []
    samples: list[tuple[float, dict[int, int]]] = []
    done = asyncio.Event()

    async def poll() -> None:
        while not done.is_set():
            marks = await r.hgetall(f"{prefix}wm")
            samples.append((time.perf_counter(), {int(k.decode().rsplit(":", 1)[1]): int(v) for k, v in marks.items()
                                                  if k.decode().startswith(topic + ":")}))
            await asyncio.sleep(0.01)

    # the reference: a raw aiokafka consumer of the same topic, in the same run
    received: dict[tuple[int, int], float] = {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)])

    async def consume() -> None:
        while not done.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batch.values():
                for rec in records:
                    received[(rec.partition, rec.offset)] = now

    poller = asyncio.create_task(poll())
    reader = asyncio.create_task(consume())
    per_tick = rate / 100
    total = min(len(messages), int(rate * seconds))
    started = time.perf_counter()
    i = 0
    while i < total:
        due = int((time.perf_counter() - started) * 100 * per_tick) + 1
        while i < min(due, total):
            k, v = messages[i]
            sent.append((time.perf_counter(), await producer.send(topic, key=k, value=v)))
            i += 1
        await asyncio.sleep(0.01)
    metas = [(t, await f) for t, f in sent]
    await producer.stop()
    last = {}
    for _, m in metas:
        last[m.partition] = max(last.get(m.partition, -1), m.offset)
    while not samples or any(samples[-1][1].get(p, -1) < o for p, o in last.items()):
        await asyncio.sleep(0.05)
    done.set()
    await poller
    await reader
    await consumer.stop()
    await r.aclose()
    raw = [received[(m.partition, m.offset)] - t for t, m in metas if (m.partition, m.offset) in received]
    times = [at for at, _ in samples]
    latencies = []
    by_partition: dict[int, list[tuple[int, float]]] = {}
    for t, m in metas:
        by_partition.setdefault(m.partition, []).append((m.offset, t))
    for partition, items in by_partition.items():
        k = 0  # the covering sample only moves forward with the offset (watermarks never go back)
        for offset, t in sorted(items):
            k = max(k, bisect.bisect_left(times, t))
            while k < len(samples) and samples[k][1].get(partition, -1) < offset:
                k += 1
            latencies.append(samples[k][0] - t if k < len(samples) else float("nan"))
    send_times = sorted(t for t, _ in metas)
    base_applied = sum(v + 1 for v in samples[0][1].values())
    lags = [(at - started, bisect.bisect_right(send_times, at) - (sum(v + 1 for v in marks.values()) - base_applied))
            for at, marks in samples]
    max_lag = max(lag for _, lag in lags)
    if os.environ.get("BENCH_LAG_TRACE"):
        Path(os.environ["BENCH_LAG_TRACE"]).write_text("".join(f"{t:.3f} {lag}\n" for t, lag in lags))
    return latencies, max_lag, raw


def time_ordered(messages: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The same events sorted by time: a dossier's events land in different batches."""
    return sorted(messages, key=lambda m: orjson.loads(m[1])["occurred_at"])


def cpu_line(cpu: dict[str, float]) -> str:
    if not cpu:
        return "CPU not measured"
    parts = [f"{name} {us:,.0f}" for name, us in cpu.items() if name != "cores"]
    return f"CPU µs/event: {', '.join(parts)}; {cpu['cores']:.2f} cores busy"


def median_cpu(cpus: list[dict[str, float]]) -> dict[str, float]:
    """Per process (and ``cores``), the median over the runs that measured it."""
    names = dict.fromkeys(name for c in cpus for name in c)
    return {name: median([c[name] for c in cpus if name in c]) for name in names}


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3, help="runs per variant; medians are printed")
    ap.add_argument("--transports", default="kafka+batch,kafka",
                    help="CHISO_TRANSPORT values to compare (kafka: Faust's per-message path)")
    ap.add_argument("--feeds", default="clustered,time-ordered")
    ap.add_argument("--two-workers", action="store_true", help="also two workers in one group (kafka+batch)")
    ap.add_argument("--startup", action="store_true", help="also time `chiso up` to the first API answer")
    ap.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                    help="also offer --rate events/s (time-ordered) for this long to one worker: event -> Redis p50/p99")
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--replay", action="store_true",
                    help="only two workers (kafka+batch) on the first feed: a province-year replay "
                         "(e.g. --replay --events 6000000 --feeds time-ordered --runs 1); prints the wall time")
    ap.add_argument("--redis-cluster", action="store_true",
                    help="also the clustered feed (kafka+batch, one worker) on a local 3-master Redis Cluster")
    args = ap.parse_args()
    transports = [t for t in args.transports.split(",") if t]
    feeds = [f for f in args.feeds.split(",") if f]
    if args.replay:
        feeds = feeds[:1]
    work = Path(tempfile.mkdtemp(prefix="chiso-bench-"))
    broker, store = start_broker(work), start_redis(work)
    rows: list[tuple[str, float, float, str]] = []  # (variant, events/s median, ratio median, extra)
    cpu_rows: list[tuple[str, dict[str, float]]] = []  # (variant, median CPU µs per event per process, cores)
    footprint = ""
    try:
        base = Settings(kafka=f"127.0.0.1:{broker.port}", redis=f"redis://127.0.0.1:{store.port}/0",
                        partitions=args.partitions, now=datetime(2026, 11, 22, 12, 0, tzinfo=VN))
        clustered = events(args.events)
        dossiers = len({k for k, _ in clustered})
        r = redis.Redis.from_url(base.redis)
        variants = [] if args.replay else [(feed, t, 1) for feed in feeds for t in transports]
        if args.two_workers or args.replay:
            variants += [(feeds[0], "kafka+batch", 2)]
        for feed in feeds:
            topic = f"bench-{feed}"
            ensure_topics(base.kafka, Topics(topic, topic + "-dlq", topic + "-alerts"), args.partitions)
            messages = clustered if feed == "clustered" else time_ordered(clustered)
            produce_s = asyncio.run(produce(base.kafka, topic, messages, args.partitions))
            print(f"produced {args.events:,} events ({feed}) at {args.events / produce_s:,.0f}/s", flush=True)
        for feed, transport, workers in variants:
            topic = f"bench-{feed}"
            rates, ratios, joins, rss, walls, cpus = [], [], [], [], [], []
            for run in range(args.runs):
                raw = asyncio.run(raw_consume(base.kafka, topic, args.events))
                r.flushdb()
                before = r.info("memory")["used_memory"]
                env = dict(os.environ, CHISO_KAFKA=base.kafka, CHISO_REDIS=base.redis, CHISO_EVENTS_TOPIC=topic,
                           CHISO_DLQ_TOPIC=topic + "-dlq", CHISO_ALERTS_TOPIC=topic + "-alerts",
                           CHISO_GROUP_ID=f"bench-{feed}-{transport}-{workers}-{run}",
                           CHISO_PARTITIONS=str(args.partitions), CHISO_STATE_DIR=str(work / f"s{run}"),
                           CHISO_NOW=base.now.isoformat(), CHISO_TRANSPORT=transport)
                cpu: dict[str, float] = {}
                rate, join_s, memory = run_workers(env, args.events, r, base.redis_prefix, topic, workers, walls=walls,
                                                   others={"redis-server": store.proc.pid, "broker": broker.proc.pid},
                                                   cpu=cpu)
                cpus.append(cpu)
                rates.append(rate)
                ratios.append(rate / raw)
                joins.append(join_s)
                rss.extend(memory)
                print(f"  {feed:12} {transport:11} x{workers} run {run + 1}: {rate:,.0f} events/s, raw {raw:,.0f}/s, "
                      f"ratio {rate / raw:.3f}, RSS {', '.join(f'{m:.0f}' for m in memory)} MB, "
                      f"wall {walls[-1]:,.0f} s (raw consume of all: {args.events / raw:,.0f} s); {cpu_line(cpu)}",
                      flush=True)
                if not footprint and feed == "clustered" and transport == "kafka+batch" and workers == 1:
                    footprint = redis_footprint(r, base.redis_prefix, before, dossiers)
            rows.append((f"{feed}, {transport}, {workers} worker{'s' if workers > 1 else ''}",
                         median(rates), median(ratios), f"RSS max {max(rss):,.0f} MB, first batch after {median(joins):.1f} s"))
            cpu_rows.append((rows[-1][0], median_cpu(cpus)))
        if args.redis_cluster:
            rows += on_redis_cluster(base, work, args, clustered, dossiers)
        latency = None
        if args.latency:
            live = time_ordered(events(int(args.rate * args.latency) + 1, seed=767))
            latency = {t: measure_latency(base, work, r, live, args.rate, args.latency, t, args.partitions)
                       for t in transports}
        startup = time_to_first_answer() if args.startup else None
    finally:
        broker.stop()
        store.stop()
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"events {args.events:,} ({dossiers:,} dossiers, {args.partitions} partitions); medians of {args.runs} runs;")
    print("ratio = worker events/s over a raw aiokafka consume (getmany + JSON) of the same topic in the same run")
    print(f"{'variant':58} {'events/s':>10} {'ratio':>7}")
    for name, rate, ratio, extra in rows:
        print(f"{name:58} {rate:>10,.0f} {ratio:>7.3f}   {extra}")
    if cpu_rows:
        print(f"CPU while applying (µs per event, medians; cores busy of the machine's {os.cpu_count()}):")
        for name, cpu in cpu_rows:
            print(f"  {name:56} {cpu_line(cpu)}")
    if footprint:
        print(footprint)
    if latency:
        for transport, (lat, lag, raw_lat) in latency.items():
            q, rq = statistics.quantiles(lat, n=100), statistics.quantiles(raw_lat, n=100)
            print(f"event -> Redis at {args.rate:,.0f} events/s for {args.latency:.0f} s, {transport:11}: "
                  f"p50 {q[49] * 1000:,.0f} ms, p99 {q[98] * 1000:,.0f} ms, max {max(lat) * 1000:,.0f} ms, max lag {lag:,}"
                  f"   <- raw aiokafka consumer, same run: p50 {rq[49] * 1000:,.0f} ms, p99 {rq[98] * 1000:,.0f} ms")
    if startup:
        print(f"chiso up -> first API answer    {startup[0]:.1f} s;  -> /readyz 200  {startup[1]:.1f} s")


def measure_latency(base: Settings, work: Path, r: redis.Redis, messages: list[tuple[bytes, bytes]], rate: float,
                    seconds: float, transport: str, partitions: int) -> tuple[list[float], int, list[float]]:
    topic = f"bench-live-{transport.replace('+', '-')}"
    ensure_topics(base.kafka, Topics(topic, topic + "-dlq", topic + "-alerts"), partitions)
    r.flushdb()
    env = dict(os.environ, CHISO_KAFKA=base.kafka, CHISO_REDIS=base.redis, CHISO_EVENTS_TOPIC=topic,
               CHISO_DLQ_TOPIC=topic + "-dlq", CHISO_ALERTS_TOPIC=topic + "-alerts", CHISO_GROUP_ID=f"live-{transport}",
               CHISO_PARTITIONS=str(partitions), CHISO_STATE_DIR=str(work / "live"),
               CHISO_NOW=base.now.isoformat(), CHISO_TRANSPORT=transport)
    # warm up: the worker has joined its group once its first event is applied
    warm, rest = messages[:1], messages[1:]
    asyncio.run(produce(base.kafka, topic, warm, partitions))
    proc = subprocess.Popen([sys.executable, "-m", "chiso.cli", "worker"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while applied(r, base.redis_prefix, topic) < 1:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("worker did not start")
            time.sleep(0.05)
        return asyncio.run(offered_load(base.kafka, base.redis, base.redis_prefix, topic, rest, rate, seconds))
    finally:
        proc.terminate()
        proc.wait(30)


def on_redis_cluster(base: Settings, work: Path, args: argparse.Namespace, messages: list[tuple[bytes, bytes]],
                     dossiers: int) -> list[tuple[str, float, float, str]]:
    """The clustered feed, kafka+batch, one worker: on the single node and on a local
    3-master Redis Cluster, alternately in the same run; events/s and bytes per dossier."""
    from redis.cluster import RedisCluster

    from tests.cluster import start_redis_cluster

    topic = "bench-clustered"
    if "clustered" not in args.feeds.split(","):
        ensure_topics(base.kafka, Topics(topic, topic + "-dlq", topic + "-alerts"), args.partitions)
        asyncio.run(produce(base.kafka, topic, messages, args.partitions))
    cluster = start_redis_cluster(work / "redis-cluster")
    single = redis.Redis.from_url(base.redis)
    rc = RedisCluster.from_url(cluster.url)

    def used() -> tuple[int, int]:
        return (single.info("memory")["used_memory"],
                sum(info["used_memory"] for info in rc.info("memory", target_nodes=RedisCluster.PRIMARIES).values()))

    results: dict[str, list[tuple[float, float, float]]] = {"single node": [], "Redis Cluster, 3 masters": []}
    try:
        for run in range(args.runs):
            for name, url, client, tagged in (("single node", base.redis, single, 0),
                                              ("Redis Cluster, 3 masters", cluster.url, rc, args.partitions)):
                raw = asyncio.run(raw_consume(base.kafka, topic, args.events))
                single.flushdb()
                rc.flushdb(target_nodes=RedisCluster.PRIMARIES)
                before = used()[1 if tagged else 0]
                env = dict(os.environ, CHISO_KAFKA=base.kafka, CHISO_REDIS=url, CHISO_EVENTS_TOPIC=topic,
                           CHISO_DLQ_TOPIC=topic + "-dlq", CHISO_ALERTS_TOPIC=topic + "-alerts",
                           CHISO_GROUP_ID=f"bench-layout-{tagged}-{run}", CHISO_PARTITIONS=str(args.partitions),
                           CHISO_STATE_DIR=str(work / f"layout{tagged}-{run}"), CHISO_NOW=base.now.isoformat(),
                           CHISO_TRANSPORT="kafka+batch", CHISO_REDIS_CLUSTER="yes" if tagged else "no")
                rate, _, _ = run_workers(env, args.events, client, base.redis_prefix, topic, 1, tagged)
                per_dossier = (used()[1 if tagged else 0] - before) / dossiers
                results[name].append((rate, rate / raw, per_dossier))
                print(f"  layout {name:26} run {run + 1}: {rate:,.0f} events/s, raw {raw:,.0f}/s, "
                      f"ratio {rate / raw:.3f}, Redis {per_dossier:,.0f} bytes/dossier", flush=True)
    finally:
        rc.close()
        cluster.stop()
    return [(f"clustered, kafka+batch, 1 worker, {name}", median([x[0] for x in runs]), median([x[1] for x in runs]),
             f"Redis {median([x[2] for x in runs]):,.0f} bytes/dossier (used_memory delta"
             f"{', all masters' if 'Cluster' in name else ''})")
            for name, runs in results.items()]


def redis_footprint(r: redis.Redis, prefix: str, before: int, dossiers: int) -> str:
    used = r.info("memory")["used_memory"] - before
    open_n = r.hlen(f"{prefix}open")
    open_bytes = (r.memory_usage(f"{prefix}open") or 0) + (r.memory_usage(f"{prefix}timer") or 0)
    for key in r.scan_iter(f"{prefix}o:*", count=1000):
        open_bytes += r.memory_usage(key) or 0
    sample = [r.memory_usage(k) or 0 for k in list(r.scan_iter(f"{prefix}d:*", count=1000))[:2000]]
    return (f"Redis bytes per dossier         {used / dossiers:,.0f} (all structures); dossier record alone "
            f"{sum(sample) / max(len(sample), 1):,.0f}\n"
            f"Redis bytes per open dossier    {open_bytes / max(open_n, 1):,.0f} for the open-state structures "
            f"({open_n:,} open)")


if __name__ == "__main__":
    main()
