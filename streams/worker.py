"""Run one stream worker process with a given config (``chiso worker``)."""

from __future__ import annotations

import logging
import sys

from faust.worker import Worker

from streams.agents import register_agents
from streams.app import create_app
from streams.collector import tune_collector
from streams.config import WorkerConfig


def run(config: WorkerConfig) -> None:
    app = create_app(config)
    stop = register_agents(app, config)
    logging.getLogger("faust").setLevel(logging.WARNING)
    sys.argv = sys.argv[:1]  # Faust's command line must not see ours
    tune_collector()
    try:
        Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()
    except SystemExit:
        if stop.reason is not None:  # the worker stopped itself: its one line and status (chiso/errors.py)
            raise stop.reason from None
        raise
