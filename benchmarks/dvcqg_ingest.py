"""Benchmark of the portal-format endpoint next to the plain event ingest; prints figures.

    .venv/bin/python benchmarks/dvcqg_ingest.py [--dossiers 3000]

One `chiso serve` over an embedded Tansu broker and redis-server, in one run:

- ``POST /api/v1/events`` (the reference): the events the snapshots mean, already
  in chiso's contract, in NDJSON bodies of as many events as 100 snapshots mean, and
  one per request;
- ``POST /api/dvcqg/DongBoHoSoMC``: the same dossiers' snapshots (2-4 per dossier,
  as a one-stop system syncs them over a dossier's life), arrays of 100, and one
  per request as Tân Dân's gateway sends them, from 1 and from 4 concurrent clients.

Every request is answered only after the broker acknowledged what it produced
(the snapshot path also reads and compare-and-sets the receptions in Redis).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chiso.embedded import free_port, start_broker, start_redis, wait_for_port  # noqa: E402
from chiso.settings import Settings  # noqa: E402
from sources.dvcqg.ledger import MemoryLedger, derive_item  # noqa: E402
from sources.dvcqg.payload import SYNC  # noqa: E402
from streams.topics import ensure_topics  # noqa: E402
from tests.dvcqg_gen import lifecycles  # noqa: E402
from tests.dvcqg_samples import AGENCIES_CSV, deriver  # noqa: E402

TOKEN = "bench"


def workload(dossiers: int, first: int) -> tuple[list[dict], list[bytes]]:
    """Snapshots of new dossiers (named by DonViXuLy or the MaHoSo prefix, so a bare
    body will do), and the events they mean as the endpoint derives them."""
    lives = [life for life in lifecycles(first, dossiers * 6 // 5, first) if life.madonvi is None][:dossiers]
    snapshots = [item for life in lives for svc, item in life.items if svc == SYNC]
    ledger, d = MemoryLedger(), deriver()
    events = [e for s in snapshots for e in ledger.accept([derive_item(d, SYNC, s)])]
    unique = {e["event_id"]: e for e in events}
    return snapshots, [orjson.dumps(e) for e in unique.values()]


def timed(posts: list[tuple[str, bytes]], base: str, clients: int) -> float:
    def send(chunk: list[tuple[str, bytes]]) -> None:
        with httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            for path, body in chunk:
                r = http.post(path, content=body)
                assert r.status_code in (200, 202), r.text
                if path.startswith("/api/dvcqg"):
                    assert r.json()["error_code"] == 0, r.text

    chunks = [posts[i::clients] for i in range(clients)]
    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, chunks))
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dossiers", type=int, default=3000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chiso-bench-dvcqg-"))
    broker, store = start_broker(work), start_redis(work)
    server = None
    try:
        snapshots, events = workload(args.dossiers, 0)
        few = args.dossiers // 5
        one_snapshots, one_events = workload(few, 10**6)
        four_snapshots, four_events = workload(few, 2 * 10**6)
        agencies = work / "agencies.csv"
        agencies.write_text(AGENCIES_CSV, encoding="utf-8")
        port = free_port()
        env = dict(os.environ, CHISO_KAFKA=f"127.0.0.1:{broker.port}", CHISO_REDIS=f"redis://127.0.0.1:{store.port}/0",
                   CHISO_HTTP_PORT=str(port), CHISO_INGEST_TOKEN=TOKEN, CHISO_DVCQG_AGENCIES=str(agencies),
                   CHISO_STATE_DIR=str(work), CHISO_EVENTS_TOPIC="bench-events")
        settings = Settings(kafka=env["CHISO_KAFKA"], events_topic="bench-events")
        ensure_topics(settings.kafka, settings.topics, settings.partitions)
        server = subprocess.Popen([sys.executable, "-m", "chiso.cli", "serve"], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port, 30, server)
        base = f"http://127.0.0.1:{port}"
        sync = "/api/dvcqg/DongBoHoSoMC"
        warm_snapshots, warm_events = workload(20, 3 * 10**6)
        timed([("/api/v1/events", e) for e in warm_events] + [(sync, orjson.dumps(s)) for s in warm_snapshots], base, 1)
        # Each case has dossiers of its own: every snapshot path starts from no accepted reception.
        per_body = round(100 * len(events) / len(snapshots))  # the events 100 snapshots mean
        cases = [
            (f"events, NDJSON bodies of {per_body}", len(events), "events",
             [("/api/v1/events", b"\n".join(events[i:i + per_body])) for i in range(0, len(events), per_body)], 1),
            ("snapshots, arrays of 100", len(snapshots), "snapshots",
             [(sync, orjson.dumps(snapshots[i:i + 100])) for i in range(0, len(snapshots), 100)], 1),
            ("events, one per request", len(one_events), "events", [("/api/v1/events", e) for e in one_events], 1),
            ("snapshots, one per request", len(one_snapshots), "snapshots",
             [(sync, orjson.dumps(s)) for s in one_snapshots], 1),
            ("events, one per request, 4 clients", len(four_events), "events",
             [("/api/v1/events", e) for e in four_events], 4),
            ("snapshots, one per request, 4 clients", len(four_snapshots), "snapshots",
             [(sync, orjson.dumps(s)) for s in four_snapshots], 4),
        ]
        results = []
        for name, n, unit, posts, clients in cases:
            seconds = timed(posts, base, clients)
            results.append((name, n, unit, n / seconds))
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        broker.stop()
        store.stop()
        shutil.rmtree(work, ignore_errors=True)
    per_snapshot = len(events) / len(snapshots)
    print(f"{len(snapshots):,} snapshots of {args.dossiers:,} dossiers; they mean {len(events):,} events "
          f"({per_snapshot:.2f} per snapshot)")
    rates = {name: rate for name, _, _, rate in results}
    for name, _n, unit, rate in results:
        ref = results[0][0] if name == "snapshots, arrays of 100" else name.replace("snapshots", "events")
        note = "" if unit == "events" else \
            f"  ({rate * per_snapshot:,.0f} events/s; snapshots/s vs events/s of the line above: " \
            f"{rate / rates[ref]:.2f})"
        print(f"{name:<40} {rate:>9,.0f} {unit}/s{note}")


if __name__ == "__main__":
    main()
