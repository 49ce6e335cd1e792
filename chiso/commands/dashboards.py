"""`chiso dashboards build|push`: regenerate the Grafana dashboards, or upload them."""

from __future__ import annotations

import argparse
import os
import re

from chiso.errors import UserError


def run(args: argparse.Namespace) -> int:
    if args.action == "build":
        from dashboards.build import main as build_main

        return build_main([]) or 0
    from grafana_client.client import GrafanaException

    from chiso.settings import Settings
    from dashboards.push import push_dashboards
    from dashboards.registry import build_all

    token = args.token or os.environ.get("GRAFANA_TOKEN")
    if not token:
        raise UserError("give --token or set GRAFANA_TOKEN (a Grafana service-account token)")
    try:
        results = push_dashboards(args.url, token, args.folder,
                                  dashboards=build_all(Settings().index.to_config()).values())
    except GrafanaException as exc:  # Grafana answered, but no: 401, 403, 412, 5xx…
        status = f"HTTP {exc.status_code}: " if exc.status_code else ""
        raise UserError(f"Grafana at {args.url} refused the push: {status}{exc.message}", 1) from None
    except OSError as exc:  # niquests' ConnectionError and friends are OSErrors
        reason = re.search(r"\[Errno -?\d+\] [^'\")]+", str(exc))  # the OS's reason, without the URL pool's prose
        raise UserError(f"cannot reach Grafana at {args.url}: {reason.group(0) if reason else type(exc).__name__}",
                        1) from None
    for result in results:
        print(f"{result.get('status', '?')}: {result.get('uid')} v{result.get('version')} {result.get('url', '')}")
    return 0
