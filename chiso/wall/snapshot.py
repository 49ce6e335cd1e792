"""The wall's snapshot parts as pure functions of query answers: ranking
reduced to what the wall shows, the trend's points."""

from __future__ import annotations

from datetime import date, timedelta

from processors.windows import Window

TREND_DAYS = 30   # points of the trend chart
STAKE_DOSSIERS = 15  # the most costly dossiers the stake view lists
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


def trend_windows(today: date, days: int = TREND_DAYS, rolling: int = ROLLING_DAYS) -> list[Window]:
    """For each of the last ``days`` dates D: the window D alone, then the
    ``rolling`` dates ending at D (``from=D&to=D``, ``from=D-6&to=D``)."""
    out = []
    for i in range(days):
        d = today - timedelta(days=days - 1 - i)
        out += [Window(None, d, d), Window(None, d - timedelta(days=rolling - 1), d)]
    return out


def trend_points(windows: list[Window], answers: list[dict]) -> list[list]:
    """``[[date, day score, rolling score, received], ...]`` from the answers to
    ``trend_windows`` (pairs: the date alone, the rolling window). Scores rounded
    to 0.0001."""
    out = []
    for i in range(0, len(windows), 2):
        day, rolling = answers[i], answers[i + 1]
        out.append([windows[i].end.isoformat(), round(day["index"]["score"], 4),
                    round(rolling["index"]["score"], 4), day["measures"]["received"]])
    return out


def stake_part(stake: dict, top: int) -> dict:
    """The stake answer reduced to what the wall shows: the ``top`` units with
    the most points at stake (then lost), without the per-indicator detail."""
    units = [{k: v for k, v in item.items() if k not in ("lost", "dossiers")} for item in stake["items"][:top]]
    return {"window": stake["window"], "as_of": stake["as_of"], "items": units, "dossiers": stake["dossiers"]}
