"""`chiso simulate`: feed simulated events into Kafka.

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
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Iterable

from chiso.settings import Settings
from processors.calendar import WorkingCalendar
from processors.timeutil import LOCAL_TZ
from processors.units import UnitCatalogue
from streams.producers import make_producer, send_events
from streams.simulator import SimConfig, Simulator

SCENARIOS = ("quang-nam-2024q2",)


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


def run(settings: Settings, rate: float | None = None, seed: int | None = None, history_days: int = 30,
        speedup: float = 1.0, scenario: str | None = None, limit: int | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop)
    producer = make_producer(settings.kafka)
    topic = settings.events_topic
    sent = 0
    try:
        if scenario is not None:
            if scenario not in SCENARIOS:
                print(f"chiso: unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}", file=sys.stderr)
                return 2
            from streams.scenarios.quang_nam_2024q2 import events as scenario_events

            sent = _send_counted(producer, topic, scenario_events(), limit, 0)
            producer.flush()
            print(f"scenario {scenario}: {sent:,} events sent to {topic}", flush=True)
            return 0

        catalogue = UnitCatalogue.from_path(settings.units_path)
        calendar = WorkingCalendar(settings.calendar.to_config())
        now = settings.now or datetime.now(timezone.utc)
        config = SimConfig(dossiers_per_working_day=settings.simulate_dossiers_per_day)
        sim = Simulator(catalogue.all(), settings.simulate_seed if seed is None else seed, calendar, config,
                        start=(now - timedelta(days=history_days)).astimezone(LOCAL_TZ))
        sent = _send_counted(producer, topic, sim.events_until(now), limit, sent)
        producer.flush()
        print(f"history of {history_days} days: {sent:,} events sent to {topic}", flush=True)
        if settings.now is not None:
            return 0
        rate = rate or settings.simulate_rate
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
