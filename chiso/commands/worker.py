"""`chiso worker`: one stream worker process (what `chiso up` runs)."""

from __future__ import annotations

import argparse

from chiso.settings import Settings
from streams.worker import run as run_worker


def run(args: argparse.Namespace) -> int:
    run_worker(Settings().worker_config())
    return 0
