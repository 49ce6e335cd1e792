"""``python -m streams.worker``: run one stream worker process."""

from __future__ import annotations

import logging

from faust.worker import Worker

from chiso.settings import Settings
from streams.agents import register_agents
from streams.app import create_app


def main() -> None:
    settings = Settings()
    app = create_app(settings)
    register_agents(app, settings)
    logging.getLogger("faust").setLevel(logging.WARNING)
    Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
