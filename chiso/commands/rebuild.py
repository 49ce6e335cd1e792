"""`chiso rebuild`: apply the whole available event log again into fresh state
(streams/rebuild.py), with a progress bar and the rate."""

from __future__ import annotations

import argparse
import asyncio

from tqdm import tqdm

from chiso.commands import need, settings_for_command
from streams.collector import tune_collector
from streams.rebuild import rebuild


def run(args: argparse.Namespace) -> int:
    settings = settings_for_command()
    need(settings, "kafka")
    config = settings.worker_config()
    bar = tqdm(unit=" events", unit_scale=True, disable=args.quiet, desc="rebuild")

    def on_total(n: int) -> None:
        bar.total = n
        bar.refresh()

    tune_collector()  # the same write path as a worker's
    result = asyncio.run(rebuild(config, on_total=on_total, on_progress=bar.update))
    bar.close()
    print(f"Đã dựng lại / rebuilt: {result.events} events in {result.seconds:.1f}s "
          f"({result.rate:,.0f} events/s) from {settings.events_topic} into {settings.redis_url} "
          f"(generation {result.generation})")
    return 0
