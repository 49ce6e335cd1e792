"""Fixed scenarios: feeds that reproduce a province's published figures (docs/simulator.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from sources.scenarios import quang_nam_2024q2


@dataclass(frozen=True)
class ScenarioSpec:
    """A scenario's events and what the server must be given to show its
    figures: the procedure catalogue (CHISO_PROCEDURES) and other settings."""

    events: Callable[[], Iterator[dict]]  # in the order they are sent
    procedures_path: str
    settings: dict[str, str] = field(default_factory=dict)
    first: date | None = None  # the published window
    last: date | None = None

    def server_env(self) -> dict[str, str]:
        """The environment variables the HTTP server needs for the figures."""
        return {"CHISO_PROCEDURES": self.procedures_path, **self.settings}


SCENARIOS: dict[str, ScenarioSpec] = {
    "quang-nam-2024q2": ScenarioSpec(
        quang_nam_2024q2.events, quang_nam_2024q2.PROCEDURES_PATH, dict(quang_nam_2024q2.SETTINGS),
        quang_nam_2024q2.FROM, quang_nam_2024q2.TO,
    ),
}
