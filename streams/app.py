"""The Faust application: one consumer group reading the dossier events.

State lives in Redis, not in Faust tables, so the app has no changelog topics to
recover (and so no dependence on the broker's end offsets at start-up).
"""

from __future__ import annotations

import faust

from streams import transport
from streams.config import WorkerConfig


def kafka_url(bootstrap: str, scheme: str = "kafka") -> str:
    """Faust wants ``kafka://host:port[;host:port]``; settings hold plain bootstrap servers."""
    servers = [s.strip() for s in bootstrap.split(",") if s.strip()]
    return ";".join(s if "://" in s else f"{scheme}://{s}" for s in servers)


def create_app(config: WorkerConfig) -> faust.App:
    datadir = config.state_dir / "faust"
    datadir.mkdir(parents=True, exist_ok=True)
    transport.register()
    batched = config.transport == transport.SCHEME
    return faust.App(
        config.group_id,
        broker=kafka_url(config.kafka, config.transport),
        # Values stay raw bytes: validation is ours (processors.events), so a
        # poison message becomes a dead letter instead of a decode error in Faust.
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=config.partitions,
        topic_allow_declare=True,
        web_enabled=False,
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=max(1.0, config.session_timeout_s / 5),
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        store="memory://",
        datadir=str(datadir),
        # With one Faust message per partition batch, a few queued messages are
        # thousands of records; and a revoke must not wait for the batch in
        # flight (its Redis write is compare-and-set, its offsets are never
        # acknowledged once the generation changed).
        stream_buffer_maxsize=16 if batched else 4096,
        stream_wait_empty=not batched,
        broker_max_poll_records=config.batch_max if batched else None,
    )
