"""External programs the tests need, found one way everywhere.

A missing program fails the test with how to install it, never skips it: CI runs
scripts/setup.sh, which installs them all, and a skipped check is a check that
silently stopped running.
"""

from __future__ import annotations

import shutil

import pytest

# program -> the Debian package that ships it
PACKAGES = {
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "amtool": "prometheus-alertmanager",
    "chromium": "chromium",
    "redis-server": "redis-server",
    "redis-cli": "redis-tools",
}


def require(program: str) -> str:
    """The path of ``program``, or the test fails saying how to install it."""
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} is not installed: run scripts/setup.sh "
                    f"(apt-get install --no-install-recommends {PACKAGES.get(program, program)})")
    return path
