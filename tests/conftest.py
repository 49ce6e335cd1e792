"""Test tiers (markers declared in pyproject.toml), given by where a test lives:

- ``unit``: pure and fast (tests/unit, tests/dashboards, tests/deploy, the wall's pages);
- ``integration``: a real Tansu broker and a real redis-server (tests/integration, the
  browser tests); ``browser``: headless Chromium too; ``slow``: minutes long.

``pytest -m unit`` runs in seconds; the full suite is what CI runs.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)  # before -m selects on the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not any(item.get_closest_marker(name) for name in ("integration", "browser")):
            item.add_marker(pytest.mark.unit)
