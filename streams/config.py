"""What a stream worker needs to know, as one plain typed object.

``chiso/settings.py`` builds it from the environment, where the defaults live;
``streams/`` never reads settings itself, so the worker can be started and
tested with any config.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from processors.calendar import CalendarConfig
from processors.rules import CountingRules


@dataclass(frozen=True)
class Topics:
    events: str
    dead_letters: str
    alerts: str


@dataclass(frozen=True)
class WorkerConfig:
    kafka: str                        # bootstrap servers, "host:port[,host:port]"
    redis_url: str
    clock: Callable[[], datetime]     # the domain's now (fixed by CHISO_NOW in tests)
    state_dir: Path
    topics: Topics
    partitions: int
    group_id: str
    redis_prefix: str
    batch_max: int
    batch_within_s: float
    session_timeout_s: float
    calendar: CalendarConfig
    counting: CountingRules
    retention_days: int = 180                 # closed dossiers' snapshots kept this long after their end; 0: forever
    retention_tombstone_days: int | None = None  # tombstones kept this long (None: retention_days; 0: forever)
    # Faust broker URL scheme: "kafka+batch" (streams/transport.py, one Faust
    # message per fetched partition batch) or "kafka" (Faust's per-message path).
    transport: str = "kafka+batch"
    on_log_reset: str = "rebuild"     # rebuild | continue | halt (streams/positions.py)
    identity_check_s: float = 30.0
    owner_ttl_s: float = 20.0
    redis_cluster: str = "no"         # auto | yes | no (store/layout.py)
