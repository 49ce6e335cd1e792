"""Producers: put events into the input topic, keyed by dossier_id (petition_id for petition events).

kafka-python with the ``crc32c`` package (installed with the project) is used for
the command-line producers; every send is acknowledged by the broker before the
command reports it as sent.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO

import orjson
from kafka import KafkaProducer

from processors.events import InvalidEvent, decode_event, is_petition_type


def make_producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, batch_size=256 * 1024,
        max_in_flight_requests_per_connection=5, retries=5, client_id="chiso-producer",
    )


def key_of(value: bytes) -> bytes | None:
    """The contract's message key of a JSON event, if it has one: its dossier_id,
    or its petition_id for a petition event."""
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    kind = obj.get("type")
    key = obj.get("petition_id") if isinstance(kind, str) and is_petition_type(kind) else obj.get("dossier_id")
    return key.encode("utf-8") if isinstance(key, str) else None


@dataclass
class ReplaySummary:
    sent: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def replay_lines(
    producer: KafkaProducer, topic: str, lines: Iterable[bytes], rate: float | None = None,
    progress: IO[str] | None = sys.stderr,
) -> ReplaySummary:
    """Send each non-empty line as one message. Invalid lines are sent too (the
    worker dead-letters them with their reason: nothing is dropped) and listed."""
    summary = ReplaySummary()
    started = time.monotonic()
    last_report = started
    for line_no, line in enumerate(lines, start=1):
        value = line.rstrip(b"\r\n")
        if not value.strip():
            continue
        checked = decode_event(value)
        if isinstance(checked, InvalidEvent):
            summary.invalid.append((line_no, f"{checked.reason}: {checked.detail}"))
        producer.send(topic, key=key_of(value), value=value)
        summary.sent += 1
        if rate:
            ahead = summary.sent / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        if progress is not None and time.monotonic() - last_report >= 1.0:
            last_report = time.monotonic()
            elapsed = last_report - started
            progress.write(f"\r{summary.sent:,} sent ({summary.sent / elapsed:,.0f}/s)")
            progress.flush()
    producer.flush()
    if progress is not None and summary.sent:
        progress.write("\n")
    return summary


def send_events(producer: KafkaProducer, topic: str, events: Iterable[dict]) -> int:
    n = 0
    for event in events:
        value = orjson.dumps(event)
        producer.send(topic, key=key_of(value), value=value)
        n += 1
    return n
