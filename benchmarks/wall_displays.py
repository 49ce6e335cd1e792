"""Benchmark of the wall display's live feed; prints figures, asserts nothing.

    .venv/bin/python benchmarks/wall_displays.py [--seconds 60] [--displays 50] [--per-day 300] [--rate 20]

On an embedded Tansu broker and redis-server started here, with a stream worker
and the HTTP server as child processes (CHISO_NOW fixed) and 45 days of simulated
Đà Nẵng history, it feeds live events (new dossiers dated today, so that every
figure keeps changing) at --rate events/s and measures, for 0, 1
and N connected displays (SSE clients on /wall/events, all watching the province):

- the server process's CPU seconds per minute, and per display per minute
  (beyond the cost with no display);
- the bytes and snapshot parts sent to each display per minute;
- the latency of /api/v1/kpis (30 days) and /api/v1/open while they are connected.

Everything talks to 127.0.0.1 only, and every loop is bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chiso.embedded import free_port, start_broker, start_redis, wait_for_port  # noqa: E402
from chiso.settings import Settings, sample_units_path  # noqa: E402
from processors.calendar import WorkingCalendar  # noqa: E402
from processors.units import UnitCatalogue  # noqa: E402
from sources.producers import key_of, make_producer  # noqa: E402
from sources.simulator.config import SimConfig  # noqa: E402
from sources.simulator.simulator import Simulator  # noqa: E402
from streams.topics import ensure_topics  # noqa: E402

NOW = datetime.fromisoformat("2026-11-20T10:00:00+07:00")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def live_events(units: list[str], n: int, seed: int = 7) -> list[dict]:
    """About n events of new dossiers, all dated today before NOW, so that every
    figure of the 30-day window (and the open counts) keeps moving."""
    rng = random.Random(seed)
    out: list[dict] = []
    i = 0
    while len(out) < n:
        d, unit = f"LIVE-{i:07d}", rng.choice(units)
        i += 1
        t0 = NOW - timedelta(minutes=rng.randrange(60, 600))
        out.append({"event_id": f"{d}-r", "dossier_id": d, "type": "received", "occurred_at": t0.isoformat(),
                    "unit_id": unit, "procedure_id": "1.001193", "channel": rng.choice(("online", "online", "direct")),
                    "online_service": "full", "due_at": (NOW + timedelta(days=rng.choice((-1, 2, 5)))).isoformat(),
                    "digitized": rng.random() < 0.75, "source": "bench"})
        if rng.random() < 0.7:
            end = t0 + timedelta(minutes=rng.randrange(5, 55))
            out.append({"event_id": f"{d}-z", "dossier_id": d, "type": "resolved", "occurred_at": end.isoformat(),
                        "result_electronic": rng.random() < 0.6})
            if rng.random() < 0.5:
                out.append({"event_id": f"{d}-q", "dossier_id": d, "type": "rated", "occurred_at": end.isoformat(),
                            "rating": rng.choice(("very_satisfied", "satisfied", "dissatisfied"))})
        if rng.random() < 0.7:
            out.append({"event_id": f"{d}-s", "dossier_id": d, "type": "synced", "occurred_at": t0.isoformat()})
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Feeder(threading.Thread):
    """Sends the simulator's events after NOW at a steady rate (bounded by count and time)."""

    def __init__(self, settings: Settings, events: list[dict], rate: float, seconds: float) -> None:
        super().__init__(daemon=True)
        self.settings, self.events, self.rate, self.seconds = settings, events, rate, seconds
        self.sent = 0
        self.stop = threading.Event()

    def run(self) -> None:
        producer = make_producer(self.settings.kafka)
        started = time.monotonic()
        for event in self.events:
            if self.stop.is_set() or time.monotonic() - started > self.seconds:
                break
            producer.send(self.settings.events_topic, key=event["dossier_id"].encode(), value=orjson.dumps(event))
            self.sent += 1
            ahead = self.sent / self.rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        producer.flush()
        producer.close()


async def displays(base: str, n: int, seconds: float) -> list[dict]:
    """n SSE clients for `seconds`; for each: bytes and parts received."""
    stats = [{"bytes": 0, "parts": 0, "kinds": {}} for _ in range(n)]
    limits = httpx.Limits(max_connections=n + 5, max_keepalive_connections=n + 5)

    async def one(i: int, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", "/wall/events", params={"unit": "dng", "window": "30d"}) as r:
            async for chunk in r.aiter_raw():
                stats[i]["bytes"] += len(chunk)
                for line in chunk.split(b"\n"):
                    if line.startswith(b"event: "):
                        kind = line[7:].strip().decode()
                        stats[i]["parts"] += 1
                        stats[i]["kinds"][kind] = stats[i]["kinds"].get(kind, 0) + 1

    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(10, read=None), limits=limits) as client:
        tasks = [asyncio.create_task(one(i, client)) for i in range(n)]
        await asyncio.sleep(seconds)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return stats


def api_latency(base: str, seconds: float, stop: threading.Event, out: dict) -> None:
    """Sequential requests, one every 0.25 s, for `seconds` at most."""
    paths = [("/api/v1/kpis", {"unit": "dng", "window": "30d"}), ("/api/v1/open", {"unit": "dng"})]
    times: dict[str, list[float]] = {p: [] for p, _ in paths}
    with httpx.Client(base_url=base, timeout=30) as client:
        deadline = time.monotonic() + seconds
        i = 0
        while time.monotonic() < deadline and not stop.is_set() and i < 10_000:
            path, params = paths[i % len(paths)]
            t = time.perf_counter()
            client.get(path, params=params).raise_for_status()
            times[path].append((time.perf_counter() - t) * 1000)
            i += 1
            time.sleep(0.25)
    out.update(times)


def phase(name: str, base: str, server_pid: int, settings: Settings, live: list[dict], rate: float,
          seconds: float, n: int) -> dict:
    feeder = Feeder(settings, live, rate, seconds + 5)
    latency: dict = {}
    stop = threading.Event()
    lat_thread = threading.Thread(target=api_latency, args=(base, seconds, stop, latency), daemon=True)
    feeder.start()
    time.sleep(2)  # the feed is flowing
    cpu0, t0 = cpu_seconds(server_pid), time.monotonic()
    lat_thread.start()
    stats = asyncio.run(displays(base, n, seconds)) if n else (time.sleep(seconds) or [])
    cpu1, t1 = cpu_seconds(server_pid), time.monotonic()
    stop.set()
    lat_thread.join()
    feeder.stop.set()
    feeder.join()
    minutes = (t1 - t0) / 60
    result = {"name": name, "displays": n, "cpu_per_min": (cpu1 - cpu0) / minutes, "events": feeder.sent,
              "latency": latency}
    if stats:
        result["bytes_per_display_min"] = statistics.mean(s["bytes"] for s in stats) / minutes
        result["parts_per_display_min"] = statistics.mean(s["parts"] for s in stats) / minutes
        kinds = sorted({k for s in stats for k in s["kinds"]})
        result["kinds"] = {k: statistics.mean(s["kinds"].get(k, 0) for s in stats) / minutes for k in kinds}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60, help="length of each phase (default 60)")
    ap.add_argument("--displays", type=int, default=50, help="displays in the last phase (default 50)")
    ap.add_argument("--per-day", type=float, default=300, help="simulated dossiers per working day (default 300)")
    ap.add_argument("--rate", type=float, default=20, help="live events per second during the phases (default 20)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="chiso-wall-bench-"))
    broker, store = start_broker(work), start_redis(work)
    port = free_port()
    env = dict(os.environ, CHISO_KAFKA=f"127.0.0.1:{broker.port}", CHISO_REDIS=f"redis://127.0.0.1:{store.port}/0",
               CHISO_HTTP_PORT=str(port), CHISO_NOW=NOW.isoformat(), CHISO_STATE_DIR=str(work),
               CHISO_PARTITIONS="4", PYTHONUNBUFFERED="1")
    for k, v in env.items():
        if k.startswith("CHISO_"):
            os.environ[k] = v
    settings = Settings()
    ensure_topics(settings.kafka, settings.topics, settings.partitions)
    procs = []
    try:
        for command in ("worker", "serve"):
            procs.append(subprocess.Popen([sys.executable, "-m", "chiso.cli", command], env=env,
                                          start_new_session=True, stdout=open(work / f"{command}.log", "ab"),
                                          stderr=subprocess.STDOUT))
        wait_for_port(port, 30, procs[1])
        server_pid = procs[1].pid
        base = f"http://127.0.0.1:{port}"

        units = UnitCatalogue.from_path(sample_units_path()).all()
        sim = Simulator(units, 766, WorkingCalendar(), SimConfig(dossiers_per_working_day=args.per_day),
                        start=NOW - timedelta(days=45))
        history = sim.events_until(NOW)
        receiving = [u.unit_id for u in units if u.parent_id is not None]
        live = live_events(receiving, int(args.rate * (args.seconds + 10)) * 3)
        producer = make_producer(settings.kafka)
        for e in history:
            value = orjson.dumps(e)  # keyed by dossier_id, or petition_id (the simulator sends petitions)
            producer.send(settings.events_topic, key=key_of(value), value=value)
        producer.flush()
        producer.close()
        started = time.monotonic()
        while time.monotonic() - started < 600:
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        print(f"history: {len(history):,} events applied in {time.monotonic() - started:.0f}s; "
              f"live feed {args.rate:g} events/s; phases of {args.seconds:g}s", flush=True)

        results = []
        offset = 0
        for name, n in (("no display", 0), ("1 display", 1), (f"{args.displays} displays", args.displays)):
            chunk = live[offset: offset + int(args.rate * (args.seconds + 10))]
            offset += len(chunk)
            results.append(phase(name, base, server_pid, settings, chunk, args.rate, args.seconds, n))
            r = results[-1]
            print(f"  {name}: done ({r['events']} events fed)", flush=True)

        base_cpu = results[0]["cpu_per_min"]
        print()
        print(f"{'phase':<14}{'server CPU s/min':>18}{'per display':>13}{'bytes/display/min':>19}"
              f"{'parts/min':>11}{'kpis p50/p95 ms':>17}{'open p50/p95 ms':>17}")
        for r in results:
            per = (r["cpu_per_min"] - base_cpu) / r["displays"] if r["displays"] else float("nan")
            k, o = r["latency"].get("/api/v1/kpis", [0]), r["latency"].get("/api/v1/open", [0])
            print(f"{r['name']:<14}{r['cpu_per_min']:>18.2f}{per:>13.3f}{r.get('bytes_per_display_min', 0):>19,.0f}"
                  f"{r.get('parts_per_display_min', 0):>11.1f}"
                  f"{percentile(k, .5):>8.0f}/{percentile(k, .95):<8.0f}{percentile(o, .5):>8.0f}/{percentile(o, .95):<8.0f}")
        for r in results:
            if r.get("kinds"):
                print(f"  parts per display per minute with {r['name']}: "
                      + ", ".join(f"{k} {v:.1f}" for k, v in r["kinds"].items()))
        print()
        print("server CPU s/min: CPU seconds the HTTP server used per minute of wall time (60 = one core busy);")
        print("per display: beyond the 'no display' phase, divided by the displays; parts: SSE events per display.")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        broker.stop()
        store.stop()


if __name__ == "__main__":
    main()
