"""The runtime file: where a running `chiso up` tells the other commands which
Kafka and Redis it started, so that `chiso report` and friends need no setting.

There is one per state directory (``<CHISO_STATE_DIR>/runtime.json``), and it is
trusted only while the `chiso up` that wrote it still holds that directory's
lock (chiso/instance.py): a file left by a killed instance is ignored, and a
second instance cannot overwrite it (it is refused at start-up).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from chiso.instance import running_instance
from chiso.settings import Settings, setting_source


def runtime_file(settings: Settings) -> Path:
    return settings.state_dir / "runtime.json"


def resolve(settings: Settings) -> tuple[Settings, dict[str, str]]:
    """The settings completed from the running `chiso up` of the state directory
    where CHISO_KAFKA / CHISO_REDIS are unset, and where each of the two came from."""
    sources = {name: setting_source(name) for name in ("kafka", "redis")}
    if settings.kafka and settings.redis:
        return settings, sources
    path = runtime_file(settings)
    pid = running_instance(settings.state_dir)
    if pid is None or not path.exists():
        return settings, sources
    try:
        runtime = json.loads(path.read_text())
    except (OSError, ValueError):
        return settings, sources
    updates = {}
    for name in ("kafka", "redis"):
        if not getattr(settings, name) and runtime.get(name):
            updates[name] = runtime[name]
            sources[name] = f"the running `chiso up`{f' (pid {pid})' if pid > 0 else ''} of {settings.state_dir}"
    return settings.model_copy(update=updates), sources


def with_runtime(settings: Settings) -> Settings:
    """Fill CHISO_KAFKA / CHISO_REDIS from a running `chiso up`, if unset."""
    return resolve(settings)[0]


def redact_url(url: str) -> str:
    """A URL without its password (redis://:secret@host -> redis://:***@host)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def connections_line(settings: Settings, sources: dict[str, str], uses: tuple[str, ...]) -> str:
    """``using Kafka 127.0.0.1:9092 (CHISO_KAFKA), Redis redis://… (the running `chiso up` of …)``."""
    parts = []
    for name in uses:
        value = getattr(settings, name)
        if name == "redis" and not value:
            value, sources = settings.redis_url, {**sources, "redis": "default"}
        shown = redact_url(value) if value and name == "redis" else value
        parts.append(f"{'Kafka' if name == 'kafka' else 'Redis'} {shown or 'not set'} ({sources.get(name, 'unset')})")
    return "using " + ", ".join(parts)
