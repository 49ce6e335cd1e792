"""``python -m chiso.server``: the HTTP server process."""

from __future__ import annotations

import uvicorn

from chiso.api import create_app
from chiso.settings import Settings


def main() -> None:
    settings = Settings()
    app = create_app(settings)
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
