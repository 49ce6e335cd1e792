"""Read side: answers computed from the Redis counters and the unit catalogue.

Every answer here is a sum of stored counters followed by the pure formulas of
``processors`` (index, report); nothing is cached between requests, so an answer
is as fresh as Redis.
"""

from __future__ import annotations

from collections import Counter
import json
from datetime import date, datetime, timedelta
from typing import Iterable

import orjson
import redis

from chiso.redis_keys import Keys
from processors.calendar import WorkingCalendar
from processors.dossier_update import DossierState
from processors.facts import dossier_facts
from processors.index import IndexConfig, index
from processors.open_state import STATES, OpenState, open_state
from processors.timeutil import iso_instant
from processors.measures import MEASURES
from processors.report import period_report
from processors.units import UnitCatalogue
from processors.windows import MAX_DATE, MIN_DATE, Window, buckets


class UnknownUnit(LookupError):
    pass


# Sums counter buckets inside Redis, so that only per-window totals cross the
# network (parsing one small hash reply costs redis-py ~45 us: for a 1,000-unit
# scrape that alone was seconds). ARGV: prefix, n_windows, n_buckets,
# (bucket, n_windows_in, window index*)*, unit*. Returns per unit a JSON list,
# per window, of {field: total}.
SUM_WINDOWS_LUA = """
local prefix = ARGV[1]
local n_w = tonumber(ARGV[2])
local n_b = tonumber(ARGV[3])
local p = 4
local plan = {}
for i = 1, n_b do
  local bucket = ARGV[p]; local n = tonumber(ARGV[p + 1]); p = p + 2
  local ws = {}
  for j = 1, n do ws[j] = tonumber(ARGV[p]) + 1; p = p + 1 end
  plan[i] = {bucket, ws}
end
local out = {}
for u = p, #ARGV do
  local sums = {}
  for w = 1, n_w do sums[w] = {} end
  for i = 1, n_b do
    local h = redis.call('HGETALL', prefix .. 'a:' .. ARGV[u] .. ':' .. plan[i][1])
    if #h > 0 then
      local ws = plan[i][2]
      for f = 1, #h, 2 do
        local v = tonumber(h[f + 1])
        for _, w in ipairs(ws) do
          local t = sums[w]
          t[h[f]] = (t[h[f]] or 0) + v
        end
      end
    end
  end
  out[#out + 1] = cjson.encode(sums)
end
return out
"""


OPEN_COUNTED = (*STATES, "overdue_no_apology")

# ARGV: prefix, n_states, state*, unit*. Returns JSON {unit: [count per state]}:
# one reply instead of units x states (5,000 ZCARD replies cost ~0.3 s to parse).
OPEN_COUNTS_LUA = """
local prefix = ARGV[1]
local n_s = tonumber(ARGV[2])
local out = {}
for u = 3 + n_s, #ARGV do
  local counts = {}
  for s = 1, n_s do
    counts[s] = redis.call('ZCARD', prefix .. 'o:' .. ARGV[u] .. ':' .. ARGV[2 + s])
  end
  out[ARGV[u]] = counts
end
return cjson.encode(out)
"""


class Store:
    """Thin, synchronous access to the counters (Starlette runs it in a thread pool)."""

    UNITS_PER_SCRIPT = 50  # keeps each script call short: Redis runs nothing else meanwhile

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.r = client
        self.k = keys
        self._sum_windows = client.register_script(SUM_WINDOWS_LUA)
        self._open_counts = client.register_script(OPEN_COUNTS_LUA)

    def window_sums(self, units: list[str], ranges: list[tuple[date, date]]) -> dict[str, list[Counter[str]]]:
        """Per unit, the counters summed over each (start, end) range, computed
        in Redis from the union of the ranges' buckets."""
        years = self.years()
        plan: dict[str, list[int]] = {}
        for wi, (start, end) in enumerate(ranges):
            for b in buckets(start, end, years):
                plan.setdefault(b, []).append(wi)
        head: list = [self.k.prefix, len(ranges), len(plan)]
        for b, ws in plan.items():
            head += [b, len(ws), *ws]
        out: dict[str, list[Counter[str]]] = {}
        for i in range(0, len(units), self.UNITS_PER_SCRIPT):
            chunk = units[i:i + self.UNITS_PER_SCRIPT]
            for unit, encoded in zip(chunk, self._sum_windows(args=head + chunk)):
                out[unit] = [Counter({k: int(v) for k, v in w.items()}) for w in orjson.loads(encoded)]
        return out

    def change_feed(self) -> tuple[int, dict[str, int]]:
        """(current sequence, unit -> sequence of its last counter change)."""
        pipe = self.r.pipeline(transaction=True)
        pipe.get(self.k.seq)
        pipe.hgetall(self.k.unit_seq)
        seq, per_unit = pipe.execute()
        return int(seq or 0), {u.decode(): int(v) for u, v in per_unit.items()}

    def open_counts(self, units: list[str]) -> dict[str, dict[str, int]]:
        """Per unit, the stored size of each open-state set."""
        out: dict[str, dict[str, int]] = {}
        for i in range(0, len(units), 500):
            chunk = units[i:i + 500]
            if not chunk:
                continue
            counts = orjson.loads(self._open_counts(args=[self.k.prefix, len(OPEN_COUNTED), *OPEN_COUNTED, *chunk]))
            for u in chunk:
                out[u] = dict(zip(OPEN_COUNTED, counts.get(u, [0] * len(OPEN_COUNTED))))
        return out

    def open_members(self, units: list[str], state: str) -> list[str]:
        pipe = self.r.pipeline(transaction=False)
        for u in units:
            pipe.zrange(self.k.open_set(u, state), 0, -1)
        return [m.decode() for members in pipe.execute() for m in members]

    def due_transitions(self, now: datetime) -> list[str]:
        """Dossiers whose state may have changed by ``now`` but were not moved yet."""
        return [m.decode() for m in self.r.zrangebyscore(self.k.timer, "-inf", now.timestamp())]

    def stored_open(self, dossier_ids: list[str]) -> dict[str, tuple[str, str, bool]]:
        """dossier -> (unit, state, no_apology) as stored."""
        if not dossier_ids:
            return {}
        out = {}
        for d, raw in zip(dossier_ids, self.r.hmget(self.k.open, dossier_ids)):
            if raw is not None:
                unit, state, na, _ = json.loads(raw)
                out[d] = (unit, state, bool(na))
        return out

    def dossier_states(self, dossier_ids: list[str]) -> dict[str, DossierState]:
        if not dossier_ids:
            return {}
        blobs = self.r.mget([self.k.dossier(d) for d in dossier_ids])
        return {d: DossierState.loads(b.split(b"|", 1)[1]) for d, b in zip(dossier_ids, blobs) if b}

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
        ``units`` (the sums are made in Redis, see ``window_sums``)."""
        units = list(units)
        real = [(start, end) if end is not None else (MAX_DATE, MIN_DATE) for start, end in ranges]
        totals: list[Counter[str]] = [Counter() for _ in ranges]
        if units:
            for per_range in self.window_sums(units, real).values():
                for total, part in zip(totals, per_range):
                    total.update(part)
        return totals


LISTABLE_STATES = ("overdue", "nearing_due", "paused", "not_due")


class Queries:
    def __init__(
        self, store: Store, catalogue: UnitCatalogue, index_config: IndexConfig = IndexConfig(),
        calendar: WorkingCalendar | None = None,
    ) -> None:
        self.store = store
        self.base_catalogue = catalogue
        self.index_config = index_config
        self.calendar = calendar or WorkingCalendar()

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

    def open_now(self, unit: str | None, scope: str, now: datetime) -> dict:
        """kpis.md §8: counts of open dossiers by state, exact at ``now`` even if
        the timer has not yet moved the dossiers whose transition time passed."""
        units = self._with_data(self.scope_units(unit, scope))
        counts = {state: 0 for state in OPEN_COUNTED}
        for per_unit in self.store.open_counts(units).values():
            for state, n in per_unit.items():
                counts[state] += n
        wanted = set(units)
        for dossier_id, (old, new) in self.pending_transitions(now).items():
            if old is not None and old[0] in wanted:
                counts[old[1]] -= 1
                if old[2]:
                    counts["overdue_no_apology"] -= 1
            if new[0] is not None and new[0] in wanted:
                counts[new[1].state] += 1  # type: ignore[index]
                if new[1].no_apology:
                    counts["overdue_no_apology"] += 1
        return {"unit": unit, "scope": scope, "now": iso_instant(now),
                "open": sum(counts[s] for s in STATES), **counts}

    def pending_transitions(self, now: datetime) -> dict[str, tuple[tuple[str, str, bool] | None, tuple[str | None, OpenState]]]:
        """For each dossier due a transition: (stored membership, actual state now)."""
        ids = self.store.due_transitions(now)
        if not ids:
            return {}
        stored = self.store.stored_open(ids)
        out = {}
        for d, state in self.store.dossier_states(ids).items():
            facts = dossier_facts(d, state.events.values())
            actual = open_state(facts, now, self.calendar)
            out[d] = (stored.get(d), (facts.unit if actual.state else None, actual))
        return out

    def dossiers(self, unit: str | None, scope: str, states: list[str], now: datetime, limit: int, offset: int) -> dict:
        """The open dossiers in the given states, most urgent (earliest effective
        due) first, recomputed at ``now``."""
        units = self._with_data(self.scope_units(unit, scope))
        candidates = set()
        for state in states:
            candidates.update(self.store.open_members(units, state))
        wanted = set(units)
        for d, (_, (u, actual)) in self.pending_transitions(now).items():
            if u in wanted and actual.state in states:
                candidates.add(d)
        items = []
        for d, st in self.store.dossier_states(sorted(candidates)).items():
            facts = dossier_facts(d, st.events.values())
            actual = open_state(facts, now, self.calendar)
            if actual.state not in states or facts.unit not in wanted:
                continue
            items.append({
                "dossier_id": d, "unit_id": facts.unit, "procedure_id": facts.procedure_id,
                "received_at": iso_instant(facts.received_at), "due_at": iso_instant(actual.effective_due),
                "state": actual.state, "officer_id": facts.officer, "no_apology": actual.no_apology,
            })
        items.sort(key=lambda i: (i["due_at"] and datetime.fromisoformat(i["due_at"]), i["dossier_id"]))
        return {"unit": unit, "scope": scope, "now": iso_instant(now), "states": states,
                "total": len(items), "limit": limit, "offset": offset, "items": items[offset: offset + limit]}

    def ranking(self, parent: str | None, window: Window) -> dict:
        cat = self.catalogue()
        if parent is not None and parent not in cat:
            raise UnknownUnit(parent)
        children = cat.children(parent) if parent is not None else cat.roots()
        seen = self.store.seen_units()
        with_data = [u.unit_id for u in cat.all() if u.unit_id in seen]
        own = self.store.window_sums(with_data, [(window.start, window.end)]) if with_data else {}
        items = []
        for child in children:
            total: Counter[str] = Counter()
            for member in cat.subtree(child.unit_id):
                if member in own:
                    total.update(own[member][0])
            measures = {m: total.get(m, 0) for m in MEASURES}
            answer = index(measures, self.index_config)
            items.append({
                "unit": child.unit_id, "name": child.name, "level": child.level, "known": child.known,
                "score": answer["index"]["score"], "band": answer["index"]["band"],
                "groups": answer["index"]["groups"], "ratios": answer["ratios"],
                "received": measures["received"], "resolved": measures["resolved"],
            })
        items.sort(key=lambda i: (i["score"] is None, -(i["score"] or 0.0), i["unit"]))
        for rank, item in enumerate(items, start=1):
            item["rank"] = rank
        return {"parent": parent, "window": window.as_json(), "items": items}