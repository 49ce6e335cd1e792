"""`chiso serve`: the HTTP server process (what `chiso up` runs)."""

from __future__ import annotations

import argparse

from chiso.api import create_app
from chiso.errors import UserError
from chiso.instance import check_port_free
from chiso.server import serve
from chiso.settings import Settings
from sources.dvcqg.agencies import AgencyMapError


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    check_port_free(settings.http_host, settings.http_port)  # one line, before anything connects
    try:
        app = create_app(settings)
    except AgencyMapError as exc:  # CHISO_DVCQG_AGENCIES is validated at start-up
        raise UserError(str(exc), 1) from None
    serve(app, settings.http_host, settings.http_port, settings.http_header_timeout_s)
    return 0
