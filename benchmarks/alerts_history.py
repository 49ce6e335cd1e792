"""Alerts published when `chiso up` loads 30 days of history; prints figures.

    .venv/bin/python benchmarks/alerts_history.py [--code /work/main] [--code .]

Runs `chiso up` (embedded broker and Redis, the simulator with its 30 days of
history, the real clock) from each code tree given, waits until the worker has
applied the history (/readyz) and the alert outbox is empty, then reads the
alerts topic and counts the alerts published, and among them those whose
dossier is not in the alerted state at the end (closed, or moved on): false
alerts. Compare the trees in one run: the history is the same (seeded), only
the clock moves between runs.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson
import redis
from kafka import KafkaConsumer, TopicPartition

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chiso.embedded import free_port  # noqa: E402


def read_all(bootstrap: str, topic: str, expected: int) -> list[dict]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                             enable_auto_commit=False)
    consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()])
    out: list[dict] = []
    deadline = time.monotonic() + 60
    while len(out) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            out.extend(orjson.loads(r.value) for r in batch)
    consumer.close()
    return out


def run_up(code: Path) -> dict:
    state = Path(tempfile.mkdtemp(prefix="chiso-bench-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHISO_")}
    env.update(CHISO_HTTP_PORT=str(port), CHISO_STATE_DIR=str(state), PYTHONUNBUFFERED="1", PYTHONPATH=str(code))
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "chiso.cli", "up"], cwd=code, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        while True:
            if time.monotonic() - started > 600:
                raise TimeoutError("not ready in 10 minutes")
            sim_log = state / "logs" / "simulator.log"
            history_sent = sim_log.exists() and "history of" in sim_log.read_text(errors="replace")
            try:
                if history_sent and http.get("/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        ready_s = time.monotonic() - started
        runtime = orjson.loads((state / "runtime.json").read_bytes())
        r = redis.Redis.from_url(runtime["redis"])
        while r.llen("chiso:outbox"):
            time.sleep(0.5)
        g = {k.decode(): int(v) for k, v in r.hgetall("chiso:g").items()}
        published = g.get("alerts:overdue", 0) + g.get("alerts:nearing_due", 0)
        alerts = read_all(runtime["kafka"], "dossier-alerts", published)
        records = r.hmget("chiso:open", [a["dossier_id"] for a in alerts]) if alerts else []
        false = sum(1 for a, rec in zip(alerts, records) if rec is None or orjson.loads(rec)[1] != a["state"])
        closed = sum(1 for rec in records if rec is None)
        return {"events": g.get("ev:received", 0), "published": published, "read": len(alerts), "false": false,
                "closed": closed, "suppressed": g.get("alerts_suppressed:overdue", 0) + g.get("alerts_suppressed:nearing_due", 0),
                "ready_s": ready_s, "all_s": time.monotonic() - started}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--code", action="append", type=Path, help="code tree to run (repeatable); default: this one")
    args = p.parse_args()
    for code in args.code or [ROOT]:
        f = run_up(code.resolve())
        print(f"{str(code):24} dossiers {f['events']:>6,}  alerts published {f['published']:>5,} "
              f"(read back {f['read']:,})  not true at the end {f['false']:>5,} (dossier closed: {f['closed']:,})  "
              f"dropped as untrue {f['suppressed']:>5,}  ready {f['ready_s']:.1f}s, outbox empty {f['all_s']:.1f}s",
              flush=True)


if __name__ == "__main__":
    main()
