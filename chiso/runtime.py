"""The runtime file: where a running `chiso up` tells the other commands which
Kafka and Redis it started, so that `chiso report` and friends need no setting."""

from __future__ import annotations

import json
from pathlib import Path

from chiso.settings import Settings


def runtime_file(settings: Settings) -> Path:
    return settings.state_dir / "runtime.json"


def with_runtime(settings: Settings) -> Settings:
    """Fill CHISO_KAFKA / CHISO_REDIS from a running `chiso up`, if unset."""
    path = runtime_file(settings)
    if (settings.kafka and settings.redis) or not path.exists():
        return settings
    try:
        runtime = json.loads(path.read_text())
    except (OSError, ValueError):
        return settings
    return settings.model_copy(update={
        "kafka": settings.kafka or runtime.get("kafka"),
        "redis": settings.redis or runtime.get("redis"),
    })
