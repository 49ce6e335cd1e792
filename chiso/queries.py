"""Read side: answers computed from the Redis counters and the unit catalogue.

Every answer here is a sum of stored counters followed by the pure formulas of
``processors`` (index, report); nothing is cached between requests, so an answer
is as fresh as Redis.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from fractions import Fraction

from redis.exceptions import RedisError

from processors.asof import AsOf
from processors.calendar import WorkingCalendar
from processors.catalogue import ProcedureCatalogue
from processors.facts import dossier_facts
from processors.index import IndexConfig, index_answer, ratios
from processors.index_inputs import ScopeInputs, indicators_of, scope_inputs
from processors.measures import MEASURES
from processors.open_state import STATES, OpenState, open_state
from processors.report import period_report
from processors.rules import CountingRules
from processors.stake import OpenInfo, lateness_cost, open_info
from processors.timeutil import fixed_or_system_clock, iso_instant
from processors.units import UnitCatalogue
from processors.windows import MIN_DATE, Window
from store.index_reader import read_unit_windows
from store.reader import OPEN_COUNTED, Store


class UnknownUnit(LookupError):
    pass


Candidate = tuple[str, float, str, OpenInfo]  # (dossier, effective due, unit, info)


def in_window(candidates: list[Candidate], window: Window, reading: AsOf) -> list[Candidate]:
    """Those received in the window and not late at its instant."""
    return [c for c in candidates
            if window.start <= c[3].received_on <= window.end and not c[3].late_by(reading.x_us)]


LISTABLE_STATES = ("overdue", "nearing_due", "paused", "not_due")
STAKE_STATES = ("not_due", "nearing_due", "paused")  # overdue dossiers are late already


class Queries:
    def __init__(
        self, store: Store, catalogue: UnitCatalogue, index_config: IndexConfig = IndexConfig(),
        calendar: WorkingCalendar | None = None, procedures: ProcedureCatalogue | None = None,
        clock: Callable[[], datetime] = fixed_or_system_clock(None), rules: CountingRules = CountingRules(),
    ) -> None:
        self.store = store
        self.base_catalogue = catalogue
        self.procedures = procedures or ProcedureCatalogue([], catalogue)
        self.index_config = index_config
        self.calendar = calendar or WorkingCalendar()
        self.clock = clock
        self.rules = rules

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

    def is_root(self, unit: str | None) -> bool:
        """index.md: the province (a root of the unit catalogue, or every unit) gets
        the catalogue-wide parts of the index."""
        if unit is None:
            return True
        u = self.base_catalogue.get(unit)
        return u is not None and u.parent_id is None

    def answer(self, inputs: ScopeInputs, window: Window, reading: AsOf, indicators: dict | None = None) -> dict:
        """The measures, ratios and index of one scope over one window (outputs.md)."""
        measures = {m: inputs.fields.get(m, 0) for m in MEASURES}
        if indicators is None:
            indicators = indicators_of(inputs, self.procedures, window.start, window.end, self.index_config)
        return {"measures": measures, "ratios": ratios(measures), "index": index_answer(indicators, self.index_config),
                "as_of": iso_instant(reading.x)}

    def kpis(self, unit: str | None, window: Window, scope: str = "subtree") -> dict:
        units = self.scope_units(unit, scope)
        readings, own = read_unit_windows(self.store, self._with_data(units), [(window.start, window.end)],
                                          self.clock())
        inputs = scope_inputs(units, {u: w[0] for u, w in own.items()}, self.is_root(unit) and scope == "subtree")
        return {"unit": unit, "scope": scope, "window": window.as_json(), **self.answer(inputs, window, readings[0])}

    def series(self, unit: str | None, windows: list[Window], scope: str = "subtree") -> list[dict]:
        """``kpis`` for many windows of one scope, in one read (the wall's trend)."""
        units = self.scope_units(unit, scope)
        readings, own = read_unit_windows(self.store, self._with_data(units),
                                          [(w.start, w.end) for w in windows], self.clock())
        root = self.is_root(unit) and scope == "subtree"
        return [self.answer(scope_inputs(units, {u: data[wi] for u, data in own.items()}, root), w, readings[wi])
                for wi, w in enumerate(windows)]

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
        for old, new in self.pending_transitions(now).values():
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
                "procedure_name": self.procedures.name(facts.procedure_id),
                "received_at": iso_instant(facts.received_at), "due_at": iso_instant(actual.effective_due),
                "state": actual.state, "officer_id": facts.officer, "no_apology": actual.no_apology,
            })
        items.sort(key=lambda i: (i["due_at"] and datetime.fromisoformat(i["due_at"]), i["dossier_id"]))
        return {"unit": unit, "scope": scope, "now": iso_instant(now), "states": states,
                "total": len(items), "limit": limit, "offset": offset, "items": items[offset: offset + limit]}

    def stake(self, parent: str | None, unit: str | None, window: Window, limit: int = 20,
              per_unit: int = 3) -> dict:
        """Points at stake (index.md §5) for U's children (or U itself with
        ``unit``): per unit, the points already lost per indicator and what its
        open, still-in-time dossiers of the window would cost if they became
        late; the most costly dossiers first (then the most urgent)."""
        cat = self.catalogue()
        for name in (parent, unit):
            if name is not None and name not in cat:
                raise UnknownUnit(name)
        if unit is not None:
            targets = [cat.get(unit)]
        else:
            targets = cat.children(parent) if parent is not None else cat.roots()
        seen = self.store.seen_units()
        with_data = [u.unit_id for u in cat.all() if u.unit_id in seen]
        readings, own = read_unit_windows(self.store, with_data, [(window.start, window.end)], self.clock())
        reading = readings[0]
        first = {u: w[0] for u, w in own.items()}
        members = {t.unit_id: cat.subtree(t.unit_id) for t in targets}
        wanted = {u for ms in members.values() for u in ms} & set(with_data)
        candidates = self.stake_candidates(sorted(wanted), window, reading)
        items, listed = [], []
        for t in targets:
            mine = set(members[t.unit_id])
            inds = indicators_of(scope_inputs(members[t.unit_id], first, self.is_root(t.unit_id)),
                                 self.procedures, window.start, window.end, self.index_config)
            index = index_answer(inds, self.index_config)
            at_risk = self.at_risk(inds, [c for c in candidates if c[2] in mine], reading)
            lost = {code: {"group": i["group"], "max": i["max"], "points": i["points"],
                           "lost": i["max"] - (i["points"] or 0.0)} for code, i in index["indicators"].items()}
            items.append({
                "unit": t.unit_id, "name": t.name, "level": t.level, "score": index["score"], "band": index["band"],
                "lost_total": sum(v["lost"] for v in lost.values()), "lost": lost,
                "at_stake": float(sum((c[0] for c in at_risk), Fraction(0))), "open_in_time": len(at_risk),
                "dossiers": [(float(c), due, d, u) for c, due, d, u in at_risk[:limit]],
                "shown": per_unit if len(targets) > 1 else limit,
            })
            listed += items[-1]["dossiers"]
        listed.sort(key=lambda c: (-c[0], c[1], c[2]))
        # Described (read and decoded) only what is shown: the top of the whole list,
        # and each unit's first few (all of them when the answer is about one unit).
        for item in items:
            item["dossiers"] = item["dossiers"][:item.pop("shown")]
        described = self._describe({d for _, _, d, _ in listed[:limit]} | {
            d for item in items for _, _, d, _ in item["dossiers"]}, cat)
        for item in items:
            item["dossiers"] = [{**described[d], "cost": c} for c, _, d, _ in item["dossiers"] if d in described]
        items.sort(key=lambda i: (-i["at_stake"], -i["lost_total"], i["unit"]))
        return {"parent": parent, "unit": unit, "window": window.as_json(), "as_of": iso_instant(reading.x),
                "items": items,
                "dossiers": [{**described[d], "cost": c} for c, _, d, _ in listed[:limit] if d in described]}

    def stake_candidates(self, units: list[str], window: Window, reading: AsOf) -> list[Candidate]:
        """The open dossiers of the units, received in the window and still in
        time at x: (dossier, effective due, unit, info). None once a window has
        ended: nothing is left at stake."""
        if not reading.running:
            return []
        return in_window(self.open_candidates(units, reading.x), window, reading)

    def stored_candidates(self, units: list[str],
                          sizes: Mapping[str, Mapping[str, int]] | None = None) -> list[Candidate]:
        """The units' open dossiers in the states that may still turn late, as
        stored (the timer may not have moved some yet: ``open_candidates``).
        ``sizes``: the units' open-set sizes (``Store.open_counts``) just read, when
        the caller has them: the sets empty then are not read (most of a large
        catalogue's are)."""
        if sizes is None:
            return self.store.open_with_info(units, STAKE_STATES)
        stored = []
        for state in STAKE_STATES:
            having = [u for u in units if sizes.get(u, {}).get(state, 0) > 0]
            if having:
                stored += self.store.open_with_info(having, (state,))
        return stored

    def open_candidates(self, units: list[str], now: datetime,
                        stored: list[Candidate] | None = None) -> list[Candidate]:
        """The units' open dossiers that may still turn late, with what the
        points at stake need, as they are at ``now``. ``stored``: the units'
        ``stored_candidates``, when the caller keeps them (else read here)."""
        if stored is None:
            stored = self.stored_candidates(units)
        # Dossiers whose state the timer has not moved yet are taken as they are now.
        pending = set(self.store.due_transitions(now))
        stored = [c for c in stored if c[0] not in pending]
        wanted = set(units)
        for d, st in self.store.dossier_states(sorted(pending)).items():
            f = dossier_facts(d, st.events.values())
            actual = open_state(f, now, self.calendar)
            if actual.state in STAKE_STATES and f.unit in wanted and actual.effective_due is not None:
                stored.append((d, actual.effective_due.timestamp(), f.unit, open_info(f, self.rules)))
        return stored

    def at_risk(self, indicators: dict, candidates: list, reading: AsOf) -> list[tuple[Fraction, float, str, str]]:
        """(cost, due, dossier, unit) of a scope's candidates, most costly first,
        then the most urgent."""
        cost = {flag: lateness_cost(indicators, flag, self.index_config) for flag in (True, False)}
        return sorted(((cost[info.counts_for_satisfaction(reading.x_us)], due, d, u) for d, due, u, info in candidates),
                      key=lambda c: (-c[0], c[1], c[2]))

    def _describe(self, dossier_ids: set[str], cat: UnitCatalogue) -> dict[str, dict]:
        """What a list shows of an open dossier, with the catalogue's names."""
        now = self.clock()
        out = {}
        for d, st in self.store.dossier_states(sorted(dossier_ids)).items():
            f = dossier_facts(d, st.events.values())
            actual = open_state(f, now, self.calendar)
            unit = cat.get(f.unit or "")
            out[d] = {
                "dossier_id": d, "unit_id": f.unit, "unit_name": unit.name if unit else f.unit,
                "procedure_id": f.procedure_id, "procedure_name": self.procedures.name(f.procedure_id),
                "officer_id": f.officer, "received_at": iso_instant(f.received_at),
                "due_at": iso_instant(actual.effective_due) if actual.effective_due else None,
                "state": actual.state,
            }
        return out

    def procedure_list(self, unit: str | None, scope: str) -> dict:
        """catalogue.md: the catalogue, or the procedures of a unit (its subtree by
        default), with the applies_to targets the unit catalogue does not know."""
        if unit is None:
            chosen = self.procedures.all()
        else:
            ids = self.procedures.of_units(self.scope_units(unit, scope, self.base_catalogue))
            chosen = [p for p in self.procedures.all() if p.procedure_id in ids]
        return {"unit": unit, "scope": scope, "total": len(chosen),
                "procedures": [p.as_json() for p in chosen],
                "unknown_targets": {t: ps for t, ps in sorted(self.procedures.unknown_targets.items())},
                "unknown_procedures": self._unknown_procedures_if_readable()}

    def _unknown_procedures_if_readable(self) -> list[str] | None:
        """The catalogue answers without Redis; the ids seen in dossiers need it."""
        try:
            return self.unknown_procedures()
        except RedisError:
            return None

    def unknown_procedures(self) -> list[str]:
        """Procedure ids dossiers carry that the catalogue lacks (catalogue.md):
        counted in every dossier indicator, in no procedure count."""
        return sorted(p for p in self.store.procedures_seen() if p not in self.procedures)

    def ranking(self, parent: str | None, window: Window) -> dict:
        cat = self.catalogue()
        if parent is not None and parent not in cat:
            raise UnknownUnit(parent)
        children = cat.children(parent) if parent is not None else cat.roots()
        seen = self.store.seen_units()
        with_data = [u.unit_id for u in cat.all() if u.unit_id in seen]
        readings, own = read_unit_windows(self.store, with_data, [(window.start, window.end)], self.clock())
        first = {u: w[0] for u, w in own.items()}
        items = []
        for child in children:
            inputs = scope_inputs(cat.subtree(child.unit_id), first, self.is_root(child.unit_id))
            answer = self.answer(inputs, window, readings[0])
            index = answer["index"]
            items.append({
                "unit": child.unit_id, "name": child.name, "level": child.level, "known": child.known,
                "score": index["score"], "band": index["band"], "groups": index["groups"],
                "points": {code: ind["points"] for code, ind in index["indicators"].items()},
                "ratios": answer["ratios"],
                "received": answer["measures"]["received"], "resolved": answer["measures"]["resolved"],
            })
        items.sort(key=lambda i: (i["score"] is None, -(i["score"] or 0.0), i["unit"]))
        for rank, item in enumerate(items, start=1):
            item["rank"] = rank
        return {"parent": parent, "window": window.as_json(), "as_of": iso_instant(readings[0].x), "items": items}
