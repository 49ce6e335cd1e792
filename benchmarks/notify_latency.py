"""Delivery latency of deadline alerts: from a dossier entering `nearing_due` to
its e-mail arriving at a local SMTP server; prints p50 / p99.

    .venv/bin/python benchmarks/notify_latency.py [--dossiers 2000] [--spread 20]

Starts an embedded broker and Redis, a local SMTP server (aiosmtpd) in this
process, one stream worker and `chiso notify`, on the real clock. The office is
open all day for the run (CHISO_CALENDAR__OFFICE_HOURS, make-up working days),
so working time is wall time and a dossier due at T + 7.5 h enters nearing_due
exactly at T. Sends one `received` per dossier, with T spread over `--spread`
seconds starting well after the worker has applied them all, each dossier with
an officer whose e-mail is configured. Latency = arrival at the SMTP server - T,
split at the alert's Kafka timestamp (published by the worker's alert publisher).
The reference, in the same run: the worker's deadline timer ticks every 1 s, so
a transition waits up to 1 s before anything moves.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import orjson
import redis
from aiosmtpd.controller import Controller
from kafka import KafkaConsumer, TopicPartition

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chiso.embedded import free_port, start_broker, start_redis, stop_process  # noqa: E402
from sources.producers import make_producer  # noqa: E402
from streams.config import Topics  # noqa: E402
from streams.topics import ensure_topics  # noqa: E402

THRESHOLD = timedelta(hours=7.5)


class Arrivals:
    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook
        now = time.time()
        msg = message_from_bytes(envelope.content, policy=policy.default)
        dossier = msg["Subject"].split()[3]
        with self.lock:
            self.at.setdefault(dossier, now)
        return "250 OK"


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dossiers", type=int, default=2000)
    p.add_argument("--spread", type=float, default=20.0, help="seconds over which the dossiers change state")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="chiso-notify-bench-"))
    broker, store = start_broker(work), start_redis(work)
    arrivals = Arrivals()
    smtp_port = free_port()
    smtp = Controller(arrivals, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    officers = "\n".join(f'"cb-{i}" = "officer{i}@test.vn"' for i in range(50))
    recipients = work / "recipients.toml"
    recipients.write_text(f"""
[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "chiso <chiso@test.vn>"
[units.dng-sxd]
email = ["motcua@test.vn"]
[officers]
{officers}
""", encoding="utf-8")
    today = datetime.now(UTC).astimezone().date()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHISO_")}
    env.update(
        CHISO_KAFKA=f"127.0.0.1:{broker.port}", CHISO_REDIS=f"redis://127.0.0.1:{store.port}/0",
        CHISO_STATE_DIR=str(work), CHISO_NOTIFY_RECIPIENTS=str(recipients), PYTHONUNBUFFERED="1",
        CHISO_CALENDAR__OFFICE_HOURS='[["00:00:00", "23:59:59.999999"]]',
        CHISO_CALENDAR__EXTRA_WORKING_DAYS=orjson.dumps([(today + timedelta(days=d)).isoformat()
                                                          for d in range(-1, 3)]).decode(),
    )
    ensure_topics(env["CHISO_KAFKA"], Topics("dossier-events", "dossier-events-dlq", "dossier-alerts"), 8)
    procs = [subprocess.Popen([sys.executable, "-m", "chiso.cli", cmd], env=env, cwd=ROOT, start_new_session=True,
                              stdout=open(work / f"{cmd}.log", "wb"), stderr=subprocess.STDOUT)
             for cmd in ("worker", "notify")]
    r = redis.Redis.from_url(env["CHISO_REDIS"])
    try:
        # Wait for the worker to apply a probe event: it has joined its group.
        producer = make_producer(env["CHISO_KAFKA"])
        probe_at = datetime.now(UTC)
        send_received(producer, "PROBE", "cb-0", probe_at, probe_at + timedelta(days=2))
        wait(lambda: r.hexists("chiso:open", "PROBE"), 120, "the worker to start")
        n = args.dossiers
        first = datetime.now(UTC) + timedelta(seconds=15 + n / 500)
        enters = {f"L{i:05d}": first + timedelta(seconds=args.spread * i / n) for i in range(n)}
        for i, (d, t) in enumerate(enters.items()):
            send_received(producer, d, f"cb-{i % 50}", datetime.now(UTC), t + THRESHOLD)
        producer.flush()
        wait(lambda: r.hlen("chiso:open") >= n + 1, 120, "the dossiers to be applied")
        assert time.time() < first.timestamp(), "applied too late: raise the head start"
        wait(lambda: len(arrivals.at) >= n, 300 + args.spread, f"{n} e-mails")
        published = alert_timestamps(env["CHISO_KAFKA"], n)
    finally:
        for proc in procs:
            stop_process(proc, 10)
        smtp.stop()
        broker.stop()
        store.stop()
    total = [arrivals.at[d] - t.timestamp() for d, t in enters.items()]
    to_topic = [published[d] - enters[d].timestamp() for d in enters if d in published]
    topic_to_mail = [arrivals.at[d] - published[d] for d in enters if d in published]
    print(f"{n:,} dossiers entering nearing_due over {args.spread:.0f} s ({n / args.spread:.0f}/s), one e-mail each")
    print(f"  state change -> e-mail at the SMTP server   p50 {pct(total, 50):6.2f} s   p99 {pct(total, 99):6.2f} s   max {max(total):6.2f} s")
    print(f"    state change -> alert on dossier-alerts   p50 {pct(to_topic, 50):6.2f} s   p99 {pct(to_topic, 99):6.2f} s")
    print(f"    dossier-alerts -> e-mail                 p50 {pct(topic_to_mail, 50):6.2f} s   p99 {pct(topic_to_mail, 99):6.2f} s")
    print("  reference: the deadline timer ticks every 1.00 s (a transition waits up to that long)")


def send_received(producer, dossier: str, officer: str, at: datetime, due: datetime) -> None:
    e = {"event_id": f"{dossier}-r", "dossier_id": dossier, "type": "received", "occurred_at": at.isoformat(),
         "unit_id": "dng-sxd", "procedure_id": "1.001193", "channel": "online", "online_service": "full",
         "due_at": due.isoformat(), "officer_id": officer}
    producer.send("dossier-events", key=dossier.encode(), value=orjson.dumps(e))


def alert_timestamps(bootstrap: str, n: int) -> dict[str, float]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    consumer.assign([TopicPartition("dossier-alerts", p) for p in consumer.partitions_for_topic("dossier-alerts")])
    out: dict[str, float] = {}
    deadline = time.monotonic() + 60
    while len(out) < n and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            for rec in batch:
                a = orjson.loads(rec.value)
                if a["state"] == "nearing_due":
                    out.setdefault(a["dossier_id"], rec.timestamp / 1000)
    consumer.close()
    return out


def wait(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout_s:.0f}s for {what}")
        time.sleep(0.05)



if __name__ == "__main__":
    main()
