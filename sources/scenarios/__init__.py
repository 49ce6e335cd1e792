"""Fixed scenarios: feeds that reproduce a province's published figures (docs/simulator.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sources.scenarios import quang_nam_2024q2

# name -> the scenario's events, in the order they are sent
SCENARIOS: dict[str, Callable[[], Iterator[dict]]] = {
    "quang-nam-2024q2": quang_nam_2024q2.events,
}
