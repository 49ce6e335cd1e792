"""Read side: answers computed from the Redis counters and the unit catalogue.

Every answer here is a sum of stored counters followed by the pure formulas of
``processors`` (index, report); nothing is cached between requests, so an answer
is as fresh as Redis.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Iterable

import redis

from chiso.redis_keys import Keys
from processors.index import IndexConfig, index
from processors.measures import MEASURES
from processors.report import period_report
from processors.units import UnitCatalogue
from processors.windows import MIN_DATE, Window, buckets


class UnknownUnit(LookupError):
    pass


class Store:
    """Thin, synchronous access to the counters (Starlette runs it in a thread pool)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.r = client
        self.k = keys

    def years(self) -> list[int]:
        return sorted(int(y) for y in self.r.smembers(self.k.years))

    def seen_units(self) -> set[str]:
        return {u.decode() for u in self.r.smembers(self.k.units)}

    def globals(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.r.hgetall(self.k.globals).items()}

    def watermarks(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.r.hgetall(self.k.watermarks).items()}

    def applied_at(self) -> float | None:
        v = self.r.get(self.k.applied_at)
        return float(v) if v is not None else None

    def sum_ranges(self, units: Iterable[str], ranges: list[tuple[date, date | None]]) -> list[Counter[str]]:
        """For each (start, end) range (end None: empty), the counters summed over
        ``units``: one pipelined round trip for all of them."""
        years = self.years()
        units = list(units)
        plan = [buckets(start, end, years) if end is not None else [] for start, end in ranges]
        pipe = self.r.pipeline(transaction=False)
        for bucket_list in plan:
            for unit in units:
                for b in bucket_list:
                    pipe.hgetall(self.k.counters(unit, b))
        replies = iter(pipe.execute())
        out: list[Counter[str]] = []
        for bucket_list in plan:
            total: Counter[str] = Counter()
            for _ in range(len(units) * len(bucket_list)):
                for field, value in next(replies).items():
                    total[field.decode()] += int(value)
            out.append(total)
        return out


class Queries:
    def __init__(self, store: Store, catalogue: UnitCatalogue, index_config: IndexConfig = IndexConfig()) -> None:
        self.store = store
        self.base_catalogue = catalogue
        self.index_config = index_config

    def catalogue(self) -> UnitCatalogue:
        """The catalogue plus units seen in events but absent from it (as roots)."""
        return self.base_catalogue.with_seen(self.store.seen_units())

    def scope_units(self, unit: str | None, scope: str, catalogue: UnitCatalogue | None = None) -> list[str]:
        cat = catalogue or self.catalogue()
        if unit is None:
            return [u.unit_id for u in cat.all()]
        if unit not in cat:
            raise UnknownUnit(unit)
        return [unit] if scope == "self" else cat.subtree(unit)

    def measures(self, units: list[str], window: Window) -> dict[str, int]:
        (total,) = self.store.sum_ranges(self._with_data(units), [(window.start, window.end)])
        return {m: total.get(m, 0) for m in MEASURES}

    def _with_data(self, units: list[str]) -> list[str]:
        seen = self.store.seen_units()
        return [u for u in units if u in seen]

    def kpis(self, unit: str | None, window: Window, scope: str = "subtree") -> dict:
        units = self.scope_units(unit, scope)
        measures = self.measures(units, window)
        return {"unit": unit, "scope": scope, "window": window.as_json(), "measures": measures,
                **index(measures, self.index_config)}

    def report(self, unit: str | None, start: date, end: date) -> dict:
        units = self._with_data(self.scope_units(unit, "subtree"))
        before_end = start - timedelta(days=1) if start > MIN_DATE else None
        before, period, through = self.store.sum_ranges(units, [(MIN_DATE, before_end), (start, end), (MIN_DATE, end)])
        return {"unit": unit, "from": start.isoformat(), "to": end.isoformat(),
                **period_report(before, period, through, end.isoformat())}

    def ranking(self, parent: str | None, window: Window) -> dict:
        cat = self.catalogue()
        if parent is not None and parent not in cat:
            raise UnknownUnit(parent)
        children = cat.children(parent) if parent is not None else cat.roots()
        items = []
        for child in children:
            answer = self.kpis(child.unit_id, window)
            items.append({
                "unit": child.unit_id, "name": child.name, "level": child.level, "known": child.known,
                "score": answer["index"]["score"], "band": answer["index"]["band"],
                "groups": answer["index"]["groups"], "ratios": answer["ratios"],
                "received": answer["measures"]["received"], "resolved": answer["measures"]["resolved"],
            })
        items.sort(key=lambda i: (i["score"] is None, -(i["score"] or 0.0), i["unit"]))
        for rank, item in enumerate(items, start=1):
            item["rank"] = rank
        return {"parent": parent, "window": window.as_json(), "items": items}
