"""Feed simulated events into Kafka (``chiso simulate``).

First the history (``--history-days`` before now) is sent as fast as the broker
takes it, so every window has numbers at once; then the simulator follows the
clock (``--speedup`` simulated seconds per real second, capped at ``--rate``
events per second). Arrivals follow office hours and holidays, so at night and
on weekends only the deadline timer moves numbers, as in a real province.
With CHISO_NOW set there is no live phase: the history up to it is the feed.

``--scenario quang-nam-2024q2`` sends the fixed scenario instead (docs/simulator.md).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from processors.calendar import CalendarConfig, WorkingCalendar
from processors.catalogue import ProcedureCatalogue
from processors.timeutil import LOCAL_TZ
from processors.units import UnitCatalogue
from sources.producers import make_producer, send_events
from sources.simulator.config import SimConfig
from sources.simulator.simulator import Simulator


class _Stop(Exception):
    pass


def _stop(signum, frame) -> None:
    raise _Stop()


def _send_counted(producer, topic: str, events: Iterable[dict], limit: int | None, sent: int) -> int:
    for event in events:
        if limit is not None and sent >= limit:
            break
        send_events(producer, topic, [event])
        sent += 1
        if sent % 50000 == 0:
            print(f"{sent:,} events sent", flush=True)
    return sent


@dataclass(frozen=True)
class FeedConfig:
    kafka: str
    topic: str
    units_path: str
    procedures_path: str            # CHISO_PROCEDURES: which procedures each unit handles
    calendar: CalendarConfig
    fixed_now: datetime | None      # CHISO_NOW: history up to it, and no live phase
    dossiers_per_day: float
    seed: int
    rate: float                     # live events per second at most


def send_fixed(kafka: str, topic: str, name: str, events: Iterable[dict], limit: int | None = None) -> int:
    """Send a fixed feed (a scenario) as fast as the broker takes it."""
    producer = make_producer(kafka)
    try:
        sent = _send_counted(producer, topic, events, limit, 0)
        producer.flush()
        print(f"scenario {name}: {sent:,} events sent to {topic}", flush=True)
        return 0
    finally:
        producer.close()


def run(config: FeedConfig, history_days: int = 30, speedup: float = 1.0, limit: int | None = None) -> int:
    """History first, then live on the clock (unless the clock is fixed)."""
    signal.signal(signal.SIGTERM, _stop)
    producer = make_producer(config.kafka)
    topic = config.topic
    sent = 0
    try:
        catalogue = UnitCatalogue.from_path(config.units_path)
        procedures = ProcedureCatalogue.from_path(config.procedures_path, catalogue)
        calendar = WorkingCalendar(config.calendar)
        now = config.fixed_now or datetime.now(UTC)
        sim = Simulator(catalogue.all(), config.seed, calendar,
                        SimConfig(dossiers_per_working_day=config.dossiers_per_day),
                        start=(now - timedelta(days=history_days)).astimezone(LOCAL_TZ), procedures=procedures)
        sent = _send_counted(producer, topic, sim.events_until(now), limit, sent)
        producer.flush()
        print(f"history of {history_days} days: {sent:,} events sent to {topic}", flush=True)
        if config.fixed_now is not None:
            return 0
        rate = config.rate
        started, origin = time.monotonic(), now
        while limit is None or sent < limit:
            time.sleep(1.0)
            sim_now = origin + timedelta(seconds=(time.monotonic() - started) * speedup)
            for event in sim.events_until(sim_now):
                if limit is not None and sent >= limit:
                    break
                send_events(producer, topic, [event])
                sent += 1
                if rate:  # keep to the rate: the embedded broker never frees memory
                    time.sleep(1.0 / rate)
            producer.flush()
        return 0
    except (_Stop, KeyboardInterrupt):
        return 0
    finally:
        producer.flush()
        producer.close()
