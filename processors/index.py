"""The service index as the national portal computes it (index.md), and the
operational ratios (kpis.md §3).

21 indicators in six groups. Each indicator is a numerator over a denominator;
its points are ``max * min(1, ratio / threshold)`` (threshold 1: plain
``max * ratio``; index.md's caps are thresholds: ``min(6, 6r/0.9)`` is max 6,
threshold 0.9). A denominator of 0 gives a null ratio and, per indicator, null,
0 or full points. Group points are the plain sum of the indicators' points, each
rounded half up to 2 decimals as the portal publishes them; the score is the sum
of the six groups, never rescaled. Arithmetic is exact (fractions) until the
answer is written, so no rounding differs from the portal's by a float's whim.

Ratios and points are recomputed from summed inputs, never averaged, so a
parent's index is that of its whole subtree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Literal

# What a zero denominator gives (index.md §3, column "den = 0").
Den0 = Literal["null", "zero", "full"]


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    code: str
    group: str
    max: float
    threshold: float = 1.0
    den0: Den0 = "zero"


INDICATORS: tuple[IndicatorSpec, ...] = (
    IndicatorSpec("publish_on_time", "transparency", 6, den0="null"),
    IndicatorSpec("public_update_on_time", "transparency", 4, den0="null"),
    IndicatorSpec("public_content_full", "transparency", 2, den0="null"),
    IndicatorSpec("dossier_sync", "transparency", 6, den0="null"),
    IndicatorSpec("dossier_on_time", "timeliness", 20),
    IndicatorSpec("online_catalogue", "online_service", 2, threshold=0.8),
    IndicatorSpec("online_service_used", "online_service", 4),
    IndicatorSpec("online_channel", "online_service", 6, threshold=0.5),
    IndicatorSpec("online_paid_dossiers", "online_payment", 6),
    IndicatorSpec("online_paid_procedures", "online_payment", 2, threshold=0.8),
    IndicatorSpec("fee_data_procedures", "online_payment", 2, threshold=0.8),
    IndicatorSpec("dossier_satisfaction", "satisfaction", 6, threshold=0.9),
    IndicatorSpec("petition_on_time", "satisfaction", 6, den0="full"),
    IndicatorSpec("petition_satisfaction", "satisfaction", 6, den0="full"),
    IndicatorSpec("original_result", "digitization", 6, den0="null"),
    IndicatorSpec("digitized_with_result", "digitization", 4, den0="null"),
    IndicatorSpec("reused_data", "digitization", 2, threshold=0.8, den0="null"),
    IndicatorSpec("personal_store", "digitization", 4, den0="null"),
    IndicatorSpec("citizen_data_dossiers", "digitization", 2, den0="null"),
    IndicatorSpec("citizen_data_procedures", "digitization", 2),
    IndicatorSpec("e_certified_copy", "digitization", 2),
)
SPECS = {s.code: s for s in INDICATORS}
GROUPS = ("transparency", "timeliness", "online_service", "online_payment", "satisfaction", "digitization")
# The indicators whose value is the province's (the root's) for every unit.
PROVINCE_WIDE = ("publish_on_time", "public_update_on_time", "public_content_full", "e_certified_copy")


@dataclass(frozen=True)
class IndexConfig:
    """Every maximum, threshold and rule of index.md that is a setting; these are
    the defaults. (The rules that shape what is stored, a second supplement
    making a dossier late and the petition time limit, are processors.rules.)"""

    maxima: Mapping[str, float] = field(default_factory=lambda: {s.code: s.max for s in INDICATORS})
    thresholds: Mapping[str, float] = field(default_factory=lambda: {s.code: s.threshold for s in INDICATORS})
    # (lower limit, band), checked in order; below the last limit: "weak".
    bands: tuple[tuple[float, str], ...] = ((90.0, "excellent"), (80.0, "good"), (70.0, "fair"), (50.0, "average"))
    # online_catalogue is scored for the root unit only; other units get 0.
    online_catalogue_root_only: bool = True
    # e_certified_copy: share of communes offering electronic certified copies.
    e_certified_copy_share: float = 1.0

    def group_max(self, group: str) -> float:
        return float(sum(self.maxima[s.code] for s in INDICATORS if s.group == group))


@dataclass(frozen=True, slots=True)
class Fraction2:
    """A numerator and a denominator, as counted."""

    numerator: int
    denominator: int


@lru_cache(maxsize=256)
def _exact(value: float) -> Fraction:
    """A setting's decimal as written (0.8 is 4/5, not the float nearest it)."""
    return Fraction(str(value))


def round_half_up(value: Fraction, places: int = 2) -> Fraction:
    scale = 10 ** places
    return Fraction(int(value * scale + Fraction(1, 2)) if value >= 0 else -int(-value * scale + Fraction(1, 2)),
                    scale)


def indicator(code: str, counts: Fraction2 | None, config: IndexConfig, *, ratio_override: float | None = None,
              scored: bool = True) -> dict:
    """One indicator's answer (index.md §4): group, max, numerator, denominator,
    ratio and points (null ratio on a zero denominator). ``_points`` keeps the
    points exact as an unreduced (numerator, denominator) pair of integers:
    a scrape computes thousands of these, and plain integers are ~10x cheaper
    than Fraction objects while just as exact."""
    spec = SPECS[code]
    maximum = _exact(config.maxima[code])
    threshold = _exact(config.thresholds[code])
    num = counts.numerator if counts is not None else None
    den = counts.denominator if counts is not None else None
    ratio: tuple[int, int] | None
    if ratio_override is not None:
        share = _exact(ratio_override)
        ratio = (share.numerator, share.denominator)
    elif den:
        ratio = (num or 0, den)
    else:
        ratio = None
    points: tuple[int, int] | None
    if ratio is None:
        points = {"null": None, "zero": (0, 1), "full": (maximum.numerator, maximum.denominator)}[spec.den0]
    elif ratio[0] * threshold.denominator >= ratio[1] * threshold.numerator:  # ratio / threshold >= 1
        points = (maximum.numerator, maximum.denominator)
    else:  # max * ratio / threshold
        points = (maximum.numerator * ratio[0] * threshold.denominator,
                  maximum.denominator * ratio[1] * threshold.numerator)
    if not scored:
        points = (0, 1)
    return {"group": spec.group, "max": float(maximum), "numerator": num, "denominator": den,
            "ratio": ratio[0] / ratio[1] if ratio is not None else None,
            "points": points[0] / points[1] if points is not None else None, "_points": points}


def exact_points(ind: dict) -> Fraction | None:
    """An indicator answer's points as a Fraction."""
    p = ind["_points"]
    return Fraction(p[0], p[1]) if p is not None else None


def cents_half_up(points: tuple[int, int]) -> int:
    """Points rounded half up to 2 decimals, in hundredths (points >= 0)."""
    n, d = points
    return (200 * n + d) // (2 * d)


def band(score: float | None, config: IndexConfig = IndexConfig()) -> str | None:
    if score is None:
        return None
    for limit, name in config.bands:
        if score >= limit:
            return name
    return "weak"


def index_answer(indicators: Mapping[str, dict], config: IndexConfig = IndexConfig()) -> dict:
    """The ``index`` part of an answer from the 21 indicators (index.md §4):
    groups are sums of the indicators' points rounded half up to 2 decimals;
    the score their sum. Null points count 0."""
    cents: dict[str, int] = {g: 0 for g in GROUPS}
    for code, ind in indicators.items():
        if ind["_points"] is not None:
            cents[SPECS[code].group] += cents_half_up(ind["_points"])
    score = sum(cents.values()) / 100
    return {
        "score": score, "band": band(score, config),
        "groups": {g: v / 100 for g, v in cents.items()},
        "indicators": {s.code: {k: v for k, v in indicators[s.code].items() if k != "_points"}
                       for s in INDICATORS if s.code in indicators},
    }


# -- the operational ratios (kpis.md §3) ------------------------------------------

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


def ratios(measures: Mapping[str, int]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, (numerator, denominator) in RATIOS.items():
        den = measures.get(denominator, 0)
        out[name] = sum(measures.get(m, 0) for m in numerator) / den if den else None
    return out
