"""`chiso simulate`: realistic events into the configured Kafka (docs/simulator.md)."""

from __future__ import annotations

import argparse
import sys

from chiso.commands import need, settings_for_command
from sources.simulator.feed import run as run_feed
from sources.simulator.feed import send_fixed


def run(args: argparse.Namespace) -> int:
    settings = settings_for_command()
    need(settings, "kafka")
    if args.scenario is not None:
        from sources.scenarios import SCENARIOS

        if args.scenario not in SCENARIOS:
            print(f"chiso: unknown scenario {args.scenario!r}; known: {', '.join(SCENARIOS)}", file=sys.stderr)
            return 2
        return send_fixed(settings.kafka, settings.events_topic, args.scenario, SCENARIOS[args.scenario](),
                          args.limit)
    return run_feed(settings.feed_config(seed=args.seed, rate=args.rate), history_days=args.history_days,
                    speedup=args.speedup, limit=args.limit)
