"""`chiso simulate`: realistic events into the configured Kafka (docs/simulator.md)."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from datetime import date

from chiso.commands import need, settings_for_command
from chiso.settings import Settings
from sources.simulator.feed import run as run_feed
from sources.simulator.feed import send_fixed
from sources.simulator.procedures import simulated


def run(args: argparse.Namespace) -> int:
    settings = settings_for_command()
    if args.scenario is None:
        problem = _catalogue_problem(settings)
        if problem:
            print(f"chiso: {problem}", file=sys.stderr)
            return 2
    need(settings, "kafka")
    if args.scenario is not None:
        return _scenario(settings, args)
    return run_feed(settings.feed_config(seed=args.seed, rate=args.rate), history_days=args.history_days,
                    speedup=args.speedup, limit=args.limit)


def _catalogue_problem(settings: Settings) -> str | None:
    """The simulator draws from the unit and procedure catalogues: a bad one is
    one clear line (file, line, column), before anything is sent."""
    try:
        _, procedures = settings.load_catalogues()
        for p in procedures.all():
            simulated(p)
    except (ValueError, OSError) as exc:
        return str(exc)
    return None


def _scenario(settings: Settings, args: argparse.Namespace) -> int:
    from sources.scenarios import SCENARIOS

    spec = SCENARIOS.get(args.scenario)
    if spec is None:
        print(f"chiso: unknown scenario {args.scenario!r}; known: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    status = send_fixed(settings.kafka, settings.events_topic, args.scenario, spec.events(), args.limit)
    print(_serve_hint(args.scenario, spec.server_env(), spec.first, spec.last), flush=True)
    return status


def _serve_hint(name: str, env: dict[str, str], first: date | None, last: date | None) -> str:
    """How to see the scenario's figures: the server needs the scenario's
    catalogue and settings (they are read at start-up, never stored)."""
    assignments = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    lines = [f"scenario {name}: its figures need the HTTP server (chiso serve / chiso up) started with",
             f"  {assignments}"]
    differing = [k for k, v in env.items() if os.environ.get(k) != v]
    if differing:
        lines.append(f"  (this shell does not set {', '.join(differing)} so)")
    if first is not None and last is not None:
        lines.append(f"then: GET /api/v1/kpis?from={first}&to={last}  and  GET /api/v1/report?from={first}&to={last}")
    return "\n".join(lines)
