"""`chiso settings`: the effective settings, where each came from, and which
Kafka, Redis and state directory the commands use (docs/settings.md).

Secrets never print: tokens are SecretStr (shown as ********) and a password in
the Redis URL is masked.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from chiso.instance import running_instance
from chiso.runtime import connections_line, redact_url, resolve
from chiso.settings import Settings, env_name, setting_source


def flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """("calendar.timezone", value)…; nested tables of the settings are flattened,
    dict-valued settings (index.maxima) stay whole."""
    out: list[tuple[str, Any]] = []
    nested = {"calendar", "index"}
    for key, value in data.items():
        if not prefix and key in nested and isinstance(value, dict):
            out.extend(flatten(value, f"{key}."))
        else:
            out.append((f"{prefix}{key}", value))
    return out


def report(settings: Settings, sources: dict[str, str]) -> dict[str, Any]:
    rows = []
    for name, value in flatten(settings.redacted()):
        source = sources.get(name) or setting_source(name)
        rows.append({"name": name, "variable": env_name(tuple(name.split("."))), "value": value, "source": source})
    pid = running_instance(settings.state_dir)
    return {
        "state_dir": str(settings.state_dir),
        "running_up": pid,  # the pid of the `chiso up` holding the state directory, if any
        "settings_file": os.environ.get("CHISO_SETTINGS") or None,
        "kafka": settings.kafka,
        "redis": redact_url(settings.redis_url),
        "uses": connections_line(settings, sources, ("kafka", "redis")),
        "settings": rows,
    }


def run(args: argparse.Namespace) -> int:
    settings, sources = resolve(Settings())
    rep = report(settings, sources)
    if args.json:
        print(json.dumps(rep, ensure_ascii=False, indent=2, default=str))
        return 0
    pid = rep["running_up"]
    print(f"Thư mục trạng thái / state directory  {rep['state_dir']}"
          f"{f'  (chiso up running, pid {pid})' if pid else '  (no chiso up running)'}")
    print(f"Tệp cấu hình / settings file           {rep['settings_file'] or '(none: CHISO_SETTINGS unset)'}")
    print(f"Kết nối / connections                  {rep['uses']}")
    print()
    width = max(len(r["variable"]) for r in rep["settings"])
    for row in rep["settings"]:
        value = json.dumps(row["value"], ensure_ascii=False, default=str)
        print(f"{row['variable']:<{width}}  {value}  [{row['source']}]")
    return 0
