"""Ratios (kpis.md §3) and the service index (§4) from summed measures.

Ratios, points and scores are always recomputed from summed measures, never
averaged, so a parent's index is that of its whole subtree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

RATIOS: dict[str, tuple[tuple[str, ...], str]] = {
    "on_time": (("resolved_early", "resolved_on_time"), "resolved"),
    "early": (("resolved_early",), "resolved"),
    "online": (("received_online_eligible_online",), "received_online_eligible"),
    "online_payment": (("paid_online",), "paid"),
    "digitization": (("received_digitized",), "received"),
    "e_result": (("resolved_e_result",), "resolved"),
    "satisfaction": (("rated_satisfied",), "rated"),
    "sync": (("received_synced",), "received"),
}

GROUPS: dict[str, tuple[str, ...]] = {
    "transparency": ("sync",),
    "timeliness": ("on_time",),
    "online_service": ("online",),
    "online_payment": ("online_payment",),
    "satisfaction": ("satisfaction",),
    "digitization": ("digitization", "e_result"),
}

@dataclass(frozen=True)
class IndexConfig:
    """Maxima and band limits are settings (kpis.md §4); these are the defaults."""

    maxima: Mapping[str, float] = field(default_factory=lambda: {
        "transparency": 18.0, "timeliness": 20.0, "online_service": 12.0,
        "online_payment": 10.0, "satisfaction": 18.0, "digitization": 22.0,
    })
    # (lower limit, band), checked in order; below the last limit: "weak".
    bands: tuple[tuple[float, str], ...] = ((90.0, "excellent"), (80.0, "good"), (70.0, "fair"), (50.0, "average"))


def ratios(measures: Mapping[str, int]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, (numerator, denominator) in RATIOS.items():
        den = measures.get(denominator, 0)
        out[name] = sum(measures.get(m, 0) for m in numerator) / den if den else None
    return out


def group_points(rs: Mapping[str, float | None], config: IndexConfig = IndexConfig()) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for group, names in GROUPS.items():
        present = [rs[n] for n in names if rs.get(n) is not None]
        out[group] = config.maxima[group] * sum(present) / len(present) if present else None
    return out


def band(score: float | None, config: IndexConfig = IndexConfig()) -> str | None:
    if score is None:
        return None
    for limit, name in config.bands:
        if score >= limit:
            return name
    return "weak"


def index(measures: Mapping[str, int], config: IndexConfig = IndexConfig()) -> dict:
    """The ``ratios`` and ``index`` parts of the KPI answer."""
    rs = ratios(measures)
    points = group_points(rs, config)
    scored = [g for g, p in points.items() if p is not None]
    top = sum(config.maxima[g] for g in scored)
    score = 100.0 * sum(points[g] for g in scored) / top if top else None  # type: ignore[misc]
    return {"ratios": rs, "index": {"score": score, "band": band(score, config), "groups": points}}
