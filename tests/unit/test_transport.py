"""The kafka+batch transport's offset bookkeeping (streams/transport.py), on
Faust's own consumer object (no broker needed until it starts): a batch's whole
offset range is acknowledged once, never one from an older generation, and
Faust's monitor counts its events."""

from __future__ import annotations

import asyncio
import inspect

import faust
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from faust.sensors.monitor import Monitor
from faust.types import TP

from streams import transport

pytestmark = pytest.mark.unit

TPX = TP("ev", 0)


def consumer_and_app():
    transport.register()
    app = faust.App(f"t-{id(object())}", broker="kafka+batch://127.0.0.1:1", value_serializer="raw")
    app.topic("ev")
    app.topics._acking_topics.add("ev")
    return app.consumer, app


def batch(app, offsets: list[int], generation: int | None = None) -> transport.BatchMessage:
    records = [ConsumerRecord("ev", 0, o, 0, 0, None, b"{}", None, 0, 2, ()) for o in offsets]
    gen = app.consumer_generation_id if generation is None else generation
    return transport.BatchMessage(TPX, records, gen, offsets[0])


def test_the_scheme_is_a_faust_transport_with_the_batch_consumer() -> None:
    consumer, _ = consumer_and_app()
    assert isinstance(consumer, transport.BatchConsumer)


def test_a_batch_acknowledges_its_whole_offset_range_gaps_included() -> None:
    consumer, app = consumer_and_app()
    m = batch(app, [5, 6, 8])  # 7: a compacted or transaction-marker offset
    assert [r.offset for r in m.value] == [5, 6, 8] and (m.first_offset, m.offset) == (5, 8)
    assert consumer.ack(m) is True
    assert sorted(consumer._acked[TPX]) == [5, 6, 7, 8]
    assert consumer.ack(m) is False  # once
    assert consumer._new_offset(TPX) == 9


def test_nothing_below_the_committed_offset_is_acknowledged_again() -> None:
    consumer, app = consumer_and_app()
    consumer._committed_offset[TPX] = 7
    consumer.ack(batch(app, [5, 6, 7, 8]))
    assert sorted(consumer._acked[TPX]) == [7, 8]


def test_a_batch_fetched_before_a_rebalance_is_never_acknowledged() -> None:
    consumer, app = consumer_and_app()
    stale = batch(app, [0, 1, 2], generation=app.consumer_generation_id - 1)
    assert consumer.ack(stale) is False
    assert not consumer._acked.get(TPX)


def test_the_monitor_counts_events_not_batches() -> None:
    consumer, app = consumer_and_app()
    monitor = Monitor()
    app.sensors.add(monitor)
    consumer.ack(batch(app, [0, 1, 2, 3]))
    # the stream counted the batch message once; the consumer adds the rest
    assert monitor.messages_received_total == 3 and monitor.events_total == 3
    assert monitor.messages_received_by_topic["ev"] == 3


def test_the_worker_consumer_fetches_with_the_short_wait() -> None:
    """Faust hard-codes fetch_max_wait_ms=1500 for the worker's consumer; the
    transport sets aiokafka's private attribute instead. Pinned here so that an
    aiokafka upgrade renaming it fails a test instead of silently bringing back
    ~1.3 s of latency per event (streams/transport.py)."""
    async def create() -> AIOKafkaConsumer:
        consumer, app = consumer_and_app()
        return consumer._new_consumer_thread()._create_worker_consumer(app.transport)

    worker_consumer = asyncio.run(create())
    try:
        assert worker_consumer._fetch_max_wait_ms == transport.FETCH_MAX_WAIT_MS < 1500
        # and AIOKafkaConsumer.start() hands exactly that attribute to its Fetcher
        assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(AIOKafkaConsumer.start)
    finally:
        asyncio.run(worker_consumer.stop())
