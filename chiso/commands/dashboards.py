"""`chiso dashboards build|push`: regenerate the Grafana dashboards, or upload them."""

from __future__ import annotations

import argparse
import os
import sys


def run(args: argparse.Namespace) -> int:
    if args.action == "build":
        from dashboards.build import main as build_main

        return build_main([]) or 0
    from chiso.settings import Settings
    from dashboards.push import push_dashboards
    from dashboards.registry import build_all

    token = args.token or os.environ.get("GRAFANA_TOKEN")
    if not token:
        sys.exit("chiso: give --token or set GRAFANA_TOKEN (a Grafana service-account token)")
    for result in push_dashboards(args.url, token, args.folder,
                                   dashboards=build_all(Settings().index.to_config()).values()):
        print(f"{result.get('status', '?')}: {result.get('uid')} v{result.get('version')} {result.get('url', '')}")
    return 0
