"""A Faust transport that delivers one Faust message per fetched partition batch.

Faust's consumer hands every record to the Conductor on its own
(``Consumer._drain_messages`` awaits ``wait_first(callback(message), ...)`` per
record, which creates four tasks and cancels three): on this machine that path
alone costs ~250 µs per event, more than everything chiso does with it. This
transport keeps everything else of Faust — its consumer group, rebalances,
flow control, the Conductor → channel → agent path, offset bookkeeping and
commits — and changes only the grain: each partition's share of one fetch
becomes ONE :class:`BatchMessage` whose value is the list of its records (as
:class:`store.plan.RawMessage`).

Offsets: when the agent has applied a batch (its stream acknowledges the
message after the agent body returns, i.e. after the Redis write), the whole
offset range ``first_offset..offset`` goes into Faust's own bookkeeping
(``_acked`` / ``_acked_index``), as Faust does per message, and gaps before a
batch are filled with ``_add_gap`` as Faust does. A batch fetched in an older
consumer generation is never acknowledged: after a rebalance its partition may
belong to someone else, and its records are re-fetched from the committed offset
(the Redis watermark makes that redelivery harmless).

Register with :func:`register` (``chiso worker`` does) and use the broker URL
scheme ``kafka+batch://``; ``kafka://`` stays Faust's per-message transport.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from faust.sensors.monitor import Monitor
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, ConsumerMessage, Message
from faust.types.tuples import ack_lock
from mode import Service
from mode.utils.futures import notify

from store.plan import RawMessage

SCHEME = "kafka+batch"


class BatchMessage(ConsumerMessage):
    """One fetched partition batch: ``value`` is a list of :class:`RawMessage`,
    ``offset`` the last record's offset and ``first_offset`` the first one's."""

    __slots__ = ("first_offset", "count")

    def __init__(self, tp: TP, records: list[Any], generation_id: int, first_offset: int) -> None:
        last = records[-1]
        topic, partition = tp.topic, tp.partition
        value = [RawMessage(topic, partition, r.offset, r.value) for r in records]
        super().__init__(
            topic, partition, last.offset,
            last.timestamp / 1000.0 if last.timestamp is not None else cast(float, None),
            last.timestamp_type, None, None, cast(Any, value), None,
            serialized_key_size=0,
            serialized_value_size=sum(r.serialized_value_size or 0 for r in records),
            tp=tp, generation_id=generation_id,
        )
        self.first_offset = first_offset
        self.count = len(value)


# Faust builds the worker's aiokafka consumer with fetch_max_wait_ms=1500; on
# Tansu that put ~1.3 s (p50) between a record's production and its fetch at
# 2,000 events/s, where a plain aiokafka consumer (500 ms) saw ~90 ms.
FETCH_MAX_WAIT_MS = 100


class BatchConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read by AIOKafkaConsumer.start() for its Fetcher
        return consumer


class BatchConsumer(aiokafka_driver.Consumer):
    """Faust's aiokafka consumer, draining one message per partition batch."""

    def _new_consumer_thread(self) -> BatchConsumerThread:
        return BatchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - exercised by integration tests
        callback = self.callback
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        read_offset = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        commit_every = self._commit_every
        set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                records, active_partitions = await self._wait_next_records(1.0)
                await self.sleep(0)
                generation_id = self.app.consumer_generation_id
                if not records or self.should_stop:
                    unset_flag(CONSUMER_FETCHING)
                    continue
                if not self.flow_active:
                    # As Faust's getmany: records fetched while flow stopped are
                    # dropped and the partitions sought back to their committed offsets.
                    await self.perform_seek()
                    continue
                for tp, fetched in records.items():
                    if not self.flow_active or self.app.consumer_generation_id != generation_id:
                        break  # a rebalance began: these records are fetched again
                    if not (active_partitions is None or tp in active_partitions
                            or tp in self._buffered_partitions):
                        continue
                    self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
                    r_offset = read_offset.get(tp)
                    if r_offset is not None:
                        fetched = [r for r in fetched if r.offset >= r_offset]
                    if not fetched:
                        continue
                    first = fetched[0].offset
                    if r_offset and first - r_offset > 1 and acks_enabled_for(tp.topic):
                        await self._add_gap(tp, r_offset + 1, first)
                    if commit_every is not None and self._n_acked >= commit_every:
                        self._n_acked = 0
                        await self.commit()
                    message = BatchMessage(tp, fetched, generation_id, first)
                    await self.wait_first(callback(message), self.suspend_flow.wait())
                    read_offset[tp] = message.offset
                unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)

    def ack(self, message: Message) -> bool:
        if not isinstance(message, BatchMessage):
            return super().ack(message)
        with ack_lock:
            if message.acked:
                return False
            message.acked = True
            self._unacked_messages.discard(message)
            try:
                if message.generation_id != self.app.consumer_generation_id:
                    return False  # fetched before a rebalance: re-fetched, never committed from here
                tp = message.tp
                if not self.app.topics.acks_enabled_for(message.topic):
                    return False
                committed = self._committed_offset[tp]
                start = message.first_offset if committed is None else max(message.first_offset, committed)
                acked_index = self._acked_index[tp]
                new = [o for o in range(start, message.offset + 1) if o not in acked_index]
                if not new:
                    return False
                acked_index.update(new)
                self._acked[tp].extend(new)
                self._n_acked += len(new)
                _count_events(self.app.sensors, message)
                return True
            finally:
                notify(self._waiting_for_ack)


def _count_events(sensors: Any, message: BatchMessage) -> None:
    """Faust's sensors saw one message for the batch; make the monitor's totals
    count its events (the rest of its records)."""
    extra = message.count - 1
    if extra <= 0:
        return
    for sensor in sensors:
        if isinstance(sensor, Monitor):
            sensor.messages_received_total += extra
            sensor.messages_received_by_topic[message.topic] += extra
            sensor.events_total += extra


class Transport(aiokafka_driver.Transport):
    """``kafka+batch://``: Faust's aiokafka transport with :class:`BatchConsumer`."""

    Consumer = BatchConsumer


def register() -> None:
    """Make ``kafka+batch://`` a Faust broker URL scheme (idempotent; the
    ``faust.transports`` entry point in pyproject.toml does the same when installed)."""
    TRANSPORTS.aliases.setdefault(SCHEME, f"{__name__}:Transport")
