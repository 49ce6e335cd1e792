"""The sample data shipped with chiso: the unit catalogue of its sample province
(Đà Nẵng after the 2025 two-tier reform, docs/units.md) and its procedure
catalogue (docs/procedures.md)."""

from __future__ import annotations

from importlib import resources


def sample_units_path() -> str:
    return str(resources.files("sources").joinpath("data/units.csv"))


def sample_units_text() -> str:
    return resources.files("sources").joinpath("data/units.csv").read_text("utf-8")


def sample_procedures_path() -> str:
    return str(resources.files("sources").joinpath("data/procedures.csv"))
