"""`chiso up`'s watch over its embedded broker and Redis.

A child process that dies is restarted by `chiso up`'s loop; the embedded
services need more care, because everything else depends on them:

- Redis (persisted with AOF in the state directory) is restarted on the same
  port; it loads its append-only file, so the numbers survive. Clients reconnect.
- the broker (Tansu, memory storage) is restarted on the same port with an
  empty log: the topics are created again and the workers restarted. Their
  state-identity check finds the old log gone and, under `chiso up`'s rule
  ``continue`` (docs/architecture.md), keeps the applied state and reads the new
  log from its start.

Each death is said in one line. A service that dies again right after its
restart (three times within a minute) stops `chiso up` altogether, rather than
leave a serving API over a dead store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from chiso.embedded import EmbeddedProcess, start_broker, start_redis

NAMES = {"kafka": "broker (Tansu)", "redis": "Redis"}


class ServiceLost(RuntimeError):
    pass


class EmbeddedSupervisor:
    def __init__(self, embedded: list[EmbeddedProcess], log_dir: Path,
                 on_broker_restart: Callable[[], None], say: Callable[[str], None] = print,
                 max_restarts: int = 3, window_s: float = 60.0) -> None:
        self.embedded = embedded
        self.log_dir = log_dir
        self.on_broker_restart = on_broker_restart
        self.say = say
        self.max_restarts = max_restarts
        self.window_s = window_s
        self._deaths: dict[str, list[float]] = {}

    def check(self) -> None:
        """Restart whatever embedded service died; raise ServiceLost if it keeps dying."""
        for i, service in enumerate(self.embedded):
            code = service.proc.poll()
            if code is None:
                continue
            name = NAMES.get(service.name, service.name)
            now = time.monotonic()
            deaths = [t for t in self._deaths.get(service.name, []) if now - t < self.window_s] + [now]
            self._deaths[service.name] = deaths
            if len(deaths) > self.max_restarts:
                raise ServiceLost(f"the embedded {name} on port {service.port} keeps exiting "
                                  f"(code {code}, see {service.log_path}); stopping everything")
            self.say(f"chiso up: the embedded {name} on port {service.port} exited with code {code}; "
                     f"restarting it (see {service.log_path})")
            try:
                if service.name == "redis":
                    self.embedded[i] = start_redis(self.log_dir, service.port, service.extra.get("data_dir"))
                else:
                    self.embedded[i] = start_broker(self.log_dir, service.port)
                    self.on_broker_restart()
            except (RuntimeError, TimeoutError, OSError) as exc:
                raise ServiceLost(f"the embedded {name} could not be restarted on port {service.port}: {exc}; "
                                  "stopping everything") from exc
