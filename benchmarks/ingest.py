"""Benchmark of the ways events come in; prints figures.

    .venv/bin/python benchmarks/ingest.py [--events 100000]

On an embedded Tansu broker, in one run: kafka-python's raw produce rate (the
reference: pre-serialised values, acks=all, flush), `chiso replay`'s rate
(validation of each line included), and HTTP ingest (`POST /api/v1/events`, NDJSON
bodies of 1,000 events, answered only after the broker's acknowledgement).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chiso.embedded import free_port, start_broker, wait_for_port  # noqa: E402
from chiso.settings import Settings, sample_units_path  # noqa: E402
from processors.calendar import WorkingCalendar  # noqa: E402
from processors.units import UnitCatalogue  # noqa: E402
from sources.producers import key_of, make_producer, replay_lines  # noqa: E402
from sources.simulator.simulator import Simulator  # noqa: E402
from streams.topics import ensure_topics  # noqa: E402

VN = timezone(timedelta(hours=7))


def sample_lines(n: int) -> list[bytes]:
    units = UnitCatalogue.from_path(sample_units_path()).all()
    sim = Simulator(units, 7, WorkingCalendar(), start=datetime(2026, 9, 1, tzinfo=VN))
    lines: list[bytes] = []
    until = datetime(2026, 9, 8, tzinfo=VN)
    while len(lines) < n:
        lines += [orjson.dumps(e) for e in sim.events_until(until)]
        until += timedelta(days=7)
    return lines[:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=100_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chiso-bench-"))
    broker = start_broker(work)
    server = None
    try:
        lines = sample_lines(args.events)
        settings = Settings(kafka=f"127.0.0.1:{broker.port}")
        results = {}
        for name in ("raw", "replay", "ingest"):
            topic = f"bench-{name}"
            s = settings.model_copy(update={"events_topic": topic, "dlq_topic": f"{topic}-dlq", "alerts_topic": f"{topic}-alerts"})
            ensure_topics(s.kafka, s.topics, s.partitions)
            if name == "raw":
                producer = make_producer(s.kafka)
                keyed = [(key_of(v), v) for v in lines]
                t = time.perf_counter()
                for k, v in keyed:
                    producer.send(topic, key=k, value=v)
                producer.flush()
                results[name] = len(lines) / (time.perf_counter() - t)
                producer.close()
            elif name == "replay":
                producer = make_producer(s.kafka)
                t = time.perf_counter()
                replay_lines(producer, topic, lines, progress=None)
                results[name] = len(lines) / (time.perf_counter() - t)
                producer.close()
            else:
                port = free_port()
                env = dict(os.environ, CHISO_KAFKA=s.kafka, CHISO_REDIS="redis://127.0.0.1:1/0", CHISO_HTTP_PORT=str(port),
                           CHISO_EVENTS_TOPIC=topic, CHISO_INGEST_ALLOW_ANONYMOUS="true", CHISO_STATE_DIR=str(work))
                server = subprocess.Popen([sys.executable, "-m", "chiso.cli", "serve"], env=env, cwd=ROOT,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                wait_for_port(port, 30, server)
                bodies = [b"\n".join(lines[i:i + 1000]) for i in range(0, len(lines), 1000)]
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                    client.post("/api/v1/events", content=bodies[0])  # warm the producer up
                    t = time.perf_counter()
                    for body in bodies:
                        r = client.post("/api/v1/events", content=body)
                        assert r.status_code == 202, r.text
                    results[name] = len(lines) / (time.perf_counter() - t)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    raw = results["raw"]
    print(f"events                               {len(lines):,} (~{sum(map(len, lines)) / len(lines):.0f} B each)")
    print(f"kafka-python raw produce (acks=all)  {raw:,.0f} events/s  <- reference, same run")
    print(f"chiso replay (validates each line)   {results['replay']:,.0f} events/s  ratio {results['replay'] / raw:.2f}")
    print(f"HTTP ingest, 1,000 per request       {results['ingest']:,.0f} events/s  ratio {results['ingest'] / raw:.2f}")


if __name__ == "__main__":
    main()
