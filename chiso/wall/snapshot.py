"""The wall's snapshot parts as pure functions of query answers: ranking
reduced to what the wall shows, the trend's points."""

from __future__ import annotations

import math
from datetime import date

from processors.index import index
from processors.measures import MEASURES

TREND_DAYS = 30   # points of the trend chart
ROLLING_DAYS = 7  # the trend's line: the index of the 7 days ending each date




def slim(item: dict) -> dict:
    """A ranking item reduced to what the wall shows; ratios rounded to what it
    can show (0.1 %), so that a change nobody can see is not sent."""
    ratios = item.get("ratios") or {}

    def r(v: float | None, places: int) -> float | None:
        return None if v is None else round(v, places)

    return {
        "unit": item["unit"], "name": item["name"], "rank": item.get("rank"),
        "score": r(item.get("score"), 2), "band": item.get("band"),
        "on_time": r(ratios.get("on_time"), 4), "online": r(ratios.get("online"), 4),
        "online_payment": r(ratios.get("online_payment"), 4),
    }


def best_and_worst(ranking: dict, top: int) -> dict:
    """The ``top`` best units with a score, best first, and the ``top`` worst of
    the others, worst first (the two lists never overlap); how many have a score."""
    scored = [i for i in ranking["items"] if i.get("score") is not None]
    rest = scored[top:]
    return {
        "window": ranking["window"], "scored": len(scored), "unscored": len(ranking["items"]) - len(scored),
        "best": [slim(i) for i in scored[:top]], "worst": [slim(i) for i in reversed(rest[-top:])],
    }


def daily_sums(queries, unit: str | None, dates: list[date]) -> list[dict[str, int]]:
    """The measures of each local date alone, over the unit's subtree, as
    ``/api/v1/kpis?unit=U&from=D&to=D`` sums them (Queries.kpis), but all dates in
    one pipelined Redis round trip."""
    units = queries.scope_units(unit, "subtree")
    seen = queries.store.seen_units()
    units = [u for u in units if u in seen]
    sums = queries.store.sum_ranges(units, [(d, d) for d in dates])
    return [{m: total.get(m, 0) for m in MEASURES} for total in sums]


def _score(measures: dict[str, int], config) -> float | None:
    score = index(measures, config)["index"]["score"]
    return None if score is None or math.isnan(score) else round(score, 4)


def trend_points(days: list[tuple[date, dict[str, int]]], config, rolling: int = ROLLING_DAYS) -> list[list]:
    """``[[date, day score, rolling score, received], ...]`` for all but the first
    ``rolling - 1`` of ``days`` (consecutive dates, oldest first). The day score
    is the index of that date alone (``from=D&to=D``); the rolling score that of
    the ``rolling`` dates ending there (``from=D-6&to=D``): measures add up, so a
    window's measures are the sum of its dates'. Scores rounded to 0.0001."""
    out = []
    for i in range(rolling - 1, len(days)):
        d, own = days[i]
        window: dict[str, int] = {m: 0 for m in MEASURES}
        for _, m in days[i - rolling + 1: i + 1]:
            for k, v in m.items():
                window[k] += v
        out.append([d.isoformat(), _score(own, config), _score(window, config), own["received"]])
    return out
