"""`chiso serve`: the HTTP server process (what `chiso up` runs)."""

from __future__ import annotations

import argparse

import uvicorn

from chiso.api import create_app
from chiso.settings import Settings


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    app = create_app(settings)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_level="warning", access_log=False)
    return 0
