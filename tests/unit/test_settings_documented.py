"""Every setting is documented where an operator looks for it: docs/settings.md
(as its environment variable, or for the calendar as its TOML key) and, for the
wall's, docs/wall.md. A setting added without a line there fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from chiso.settings import Settings
from chiso.wall.settings import WallSettings

pytestmark = pytest.mark.unit

DOCS = Path(__file__).resolve().parents[2] / "docs"


def variables(model: type[BaseModel], prefix: str) -> list[tuple[str, str]]:
    """(environment variable, TOML key) of every leaf setting."""
    out = []
    for name, info in model.model_fields.items():
        kind = info.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            out += [(env, f"{name}.{key}") for env, key in variables(kind, f"{prefix}{name.upper()}__")]
        else:
            out.append((f"{prefix}{name.upper()}", name))
    return out


def test_every_setting_is_in_docs_settings_md() -> None:
    text = (DOCS / "settings.md").read_text()
    found = variables(Settings, "CHISO_")
    assert len(found) > 40  # the walk sees the nested sections too
    # a nested one (calendar.timezone) may be documented by its TOML key instead
    missing = [env for env, key in found if f"`{env}`" not in text and ("." not in key or f"`{key}`" not in text)]
    assert missing == [], f"settings missing from docs/settings.md: {missing}"


def test_every_wall_setting_is_in_docs_wall_md() -> None:
    text = (DOCS / "wall.md").read_text()
    found = variables(WallSettings, "CHISO_WALL_")
    assert len(found) >= 10
    missing = [env for env, _ in found if f"`{env}`" not in text]
    assert missing == [], f"wall settings missing from docs/wall.md: {missing}"
