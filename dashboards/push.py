"""Upload the dashboards to a running Grafana through its HTTP API.

    GRAFANA_TOKEN=... python -m dashboards.push --url http://localhost:3000

The token is a service-account token with the Editor role (or folder and
dashboard write permissions). Pushing again is safe: the folder is looked up by
uid, then by title, before anything is created, and dashboards are written with
`overwrite` so their uids stay fixed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Mapping

from grafana_client import GrafanaApi

from dashboards.registry import build_all

DEFAULT_FOLDER_TITLE = "Chỉ số phục vụ"
DEFAULT_FOLDER_UID = "chiso"


def ensure_folder(api: GrafanaApi, title: str, uid: str) -> dict:
    """The folder with this uid, else the one with this title, else a new one."""
    folders = api.folder.get_all_folders() or []
    for wanted in (lambda f: f.get("uid") == uid, lambda f: f.get("title") == title):
        for folder in folders:
            if wanted(folder):
                return folder
    return api.folder.create_folder(title, uid=uid)


def push_dashboards(
    url: str,
    token: str,
    folder_title: str = DEFAULT_FOLDER_TITLE,
    *,
    folder_uid: str = DEFAULT_FOLDER_UID,
    dashboards: Iterable[Mapping] | None = None,
    message: str = "chiso: dashboards pushed by dashboards.push",
    timeout: float = 10.0,
) -> list:
    """Create the folder if needed and write every dashboard into it.

    `dashboards` defaults to all of chiso's, built fresh from code. Returns
    Grafana's answer to each `POST /api/dashboards/db`, in order.
    """
    if dashboards is None:
        dashboards = build_all().values()
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    try:
        folder = ensure_folder(api, folder_title, folder_uid)
        results = []
        for data in dashboards:
            # Without id and version Grafana matches by uid; overwrite replaces what is there.
            dashboard = {key: value for key, value in data.items() if key not in ("id", "version")}
            results.append(api.dashboard.update_dashboard({
                "dashboard": dashboard,
                "folderUid": folder["uid"],
                "overwrite": True,
                "message": message,
            }))
        return results
    finally:
        api.client.s.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.push",
                                     description="Upload chiso's dashboards to Grafana.")
    parser.add_argument("--url", default=os.environ.get("GRAFANA_URL", "http://localhost:3000"),
                        help="Grafana's base URL (default: $GRAFANA_URL or %(default)s)")
    parser.add_argument("--folder", default=DEFAULT_FOLDER_TITLE, help="folder title (default: %(default)s)")
    parser.add_argument("--folder-uid", default=DEFAULT_FOLDER_UID, help="folder uid (default: %(default)s)")
    args = parser.parse_args(argv)
    token = os.environ.get("GRAFANA_TOKEN")
    if not token:
        print("GRAFANA_TOKEN is not set: give a Grafana service-account token.", file=sys.stderr)
        return 2
    for result in push_dashboards(args.url, token, args.folder, folder_uid=args.folder_uid):
        print(f"{result.get('status', '?')}: {result.get('uid')} v{result.get('version')} {result.get('url', '')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
