"""The per-unit KPI and index families of ``/metrics``, kept between scrapes.

A unit's series cover its whole subtree. Re-summing a subtree at every scrape
made the province (1,000 units x 7 windows) the most expensive part of a warm
scrape, so each exported unit keeps its subtree's sums per window (``ScopeSum``)
and a unit whose own inputs change applies the difference (new - old) to itself
and its ancestors. Everything is integer counts, so the sums stay exact: a
scope's procedure counts (distinct procedures over its units) are kept as a
multiset (procedure -> how many of its units have it), whose size is the count.

Rendered text is kept per unit and window as bytes; a scrape re-renders only the
windows whose sums changed, and the points at stake of the units touched.

A unit's open dossiers (the open-set sizes, and those that may still turn late
with what the points at stake need) are kept too, and read again only for the
units the change feed names: every script that moves an open dossier (an apply,
a timer transition, the retention sweep) names its old and new unit there.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction

from chiso.exposition import BlocksFamily, escape_label, sample_value
from chiso.queries import Candidate, Queries, in_window
from processors.asof import add_today, as_of, parse_today, procedure_sets
from processors.index import Fraction2
from processors.index_inputs import ACTIVE_KINDS, ScopeInputs, indicators_of
from processors.petitions import PetitionCounts, PetitionRecord, petition_counts
from processors.stake import lateness_cost
from processors.timeutil import local_date
from processors.windows import named_window

KPI_FAMILIES = (
    ("dvc_kpi_ratio", "KPI ratio of a unit's subtree over a window", ("unit", "kpi", "window")),
    ("dvc_kpi_measure", "Dossier count of a unit's subtree over a window", ("unit", "measure", "window")),
    ("dvc_index_score", "Service index score (0-100), as the national portal computes it", ("unit", "window")),
    ("dvc_index_points", "Points of one index group (sum of its indicators' points, each rounded to 2 decimals)",
     ("unit", "group", "window")),
    ("dvc_index_indicator_points", "Points of one of the index's 21 indicators", ("unit", "indicator", "window")),
    ("dvc_index_indicator_points_lost", "Maximum minus the points of one indicator: what the unit has lost there",
     ("unit", "indicator", "window")),
    ("dvc_index_points_at_stake", "Points the unit's open, still-in-time dossiers of a running window would cost "
     "if they became late (index.md 5)", ("unit", "window")),
)
_STAKE = len(KPI_FAMILIES) - 1  # the last family is the points at stake


@dataclass(frozen=True)
class UnitPart:
    """One unit's own inputs over one window: its counters (reduced, today's
    instants included), petition counts, and per procedure kind the procedures
    it offers that had such a dossier (what the unit adds to a procedure count)."""

    fields: Counter[str]
    petitions: PetitionCounts
    active: dict[str, frozenset[str]]

    def same_inputs(self, other: UnitPart | None) -> bool:
        return other is not None and self.petitions == other.petitions and self.fields == other.fields


EMPTY_PART = UnitPart(Counter(), PetitionCounts(), {kind: frozenset() for kind in ACTIVE_KINDS})


def unit_part(unit: str, fields: Counter[str], petitions: PetitionCounts, catalogue) -> UnitPart:
    kinds = procedure_sets(fields)
    return UnitPart(fields, petitions, {kind: catalogue.of_unit_kind(unit, offered) & kinds[kind]
                                        for kind, offered in ACTIVE_KINDS.items()})


@dataclass
class ScopeSum:
    """A scope's inputs over one window: the sum of its units' parts. Zero
    entries are dropped, which no reader can tell from absent ones."""

    fields: dict[str, int] = field(default_factory=dict)
    petitions: tuple[int, int, int, int] = (0, 0, 0, 0)
    active: dict[str, dict[str, int]] = field(default_factory=lambda: {kind: {} for kind in ACTIVE_KINDS})

    def add(self, part: UnitPart, sign: int) -> None:
        fields = self.fields
        for name, n in part.fields.items():
            total = fields.get(name, 0) + sign * n
            if total:
                fields[name] = total
            else:
                fields.pop(name, None)
        p = part.petitions
        self.petitions = tuple(a + sign * b for a, b in zip(  # type: ignore[assignment]
            self.petitions, (p.on_time, p.on_time_of, p.satisfied, p.received)))
        for kind, procedures in part.active.items():
            counts = self.active[kind]
            for procedure in procedures:
                n = counts.get(procedure, 0) + sign
                if n:
                    counts[procedure] = n
                else:
                    del counts[procedure]

    def inputs(self, members: list[str], root: bool, offered: dict[str, int]) -> ScopeInputs:
        """``offered``: per catalogue kind, the number of procedures the scope's
        units offer (a procedure count's denominator)."""
        return ScopeInputs(self.fields, {}, PetitionCounts(*self.petitions), members, root,
                           {kind: Fraction2(len(self.active[kind]), offered[o]) for kind, o in ACTIVE_KINDS.items()})


class KpiBlocks:
    """The per-unit KPI and index families, kept between scrapes.

    A unit's own inputs per window are three parts: the counters summed over the
    window with the as-of fields reduced at its cutoff (re-read only for units
    the change feed names: a write bumps it), today's passed instants for running
    windows (re-read every scrape: time alone moves them), and the petition
    counts (recomputed every scrape from cached records: time alone moves them
    too). When any part of a unit changes, the unit and its ancestors are
    *touched*: their changed windows are re-rendered and their points at stake
    recomputed from the open dossiers read at this scrape. A new day, other
    windows or a changed catalogue rebuild everything. What is shown is always
    what Redis holds at the scrape.
    """

    def __init__(self, queries: Queries, windows: list[str], levels: set[str]) -> None:
        self.queries = queries
        self.window_names = windows
        self.levels = levels
        self._key: tuple | None = None
        self._seq = 0
        self._base: dict[str, list[Counter[str]]] = {}
        self._records: dict[str, list[PetitionRecord]] = {}
        self._extras: dict[str, tuple] = {}
        self._parts: dict[str, list[UnitPart]] = {}
        self._sums: dict[str, list[ScopeSum]] = {}       # per exported unit, its subtree's sums per window
        self._members: dict[str, list[str]] = {}
        self._offered: dict[str, dict[str, int]] = {}
        self._chain: dict[str, list[str]] = {}           # a unit and its exported ancestors
        self._lines: dict[str, list[tuple[bytes, ...]]] = {}  # per unit and window, families but the last
        self._costs: dict[str, list[dict[bool, Fraction]]] = {}
        self._stake: dict[str, list[bytes]] = {}
        self._labels: dict[tuple[str, str], str] = {}
        self._blocks: dict[str, tuple[bytes, ...]] = {}
        self._sizes: dict[str, dict[str, int]] = {}      # per unit with data, its open-set sizes
        self._stored: dict[str, list[Candidate]] = {}    # per unit with data, its stake candidates as stored
        self._lock = threading.Lock()  # scrapes run in a thread pool

    def families(self, catalogue, now: datetime,
                 with_data: list[str]) -> tuple[list[BlocksFamily], dict[str, dict[str, int]]]:
        """The families, and per unit with data the stored sizes of its open-state
        sets (what the open dossier counts start from)."""
        with self._lock:
            try:
                return self._families(catalogue, now, with_data)
            except BaseException:
                # A read that failed half-way leaves sums or lines that the change feed
                # would not name again: start afresh at the next scrape.
                self._key = None
                raise

    def _families(self, catalogue, now: datetime,
                  with_data: list[str]) -> tuple[list[BlocksFamily], dict[str, dict[str, int]]]:
        q = self.queries
        store = q.store
        today = local_date(now)
        windows = [named_window(w, today) for w in self.window_names]
        ranges = [(w.start, w.end) for w in windows]
        readings = [as_of(w.end, now) for w in windows]
        cutoffs = [r.cutoff for r in readings]
        key = (today, tuple(self.window_names), id(q.procedures), id(q.index_config),
               tuple(sorted((u.unit_id, u.parent_id or "", u.level) for u in catalogue.all())))
        seq, unit_seq = store.change_feed()  # read before the sums: a later change is seen next time
        rebuilt = key != self._key
        if rebuilt:
            self._rebuild(catalogue, windows)
            self._base = store.window_sums(with_data, ranges, cutoffs) if with_data else {}
            self._records = store.petition_records(with_data)
            fed = set(self._base) | set(self._records)
        else:
            fed = {u for u, s in unit_seq.items() if s > self._seq and u in catalogue}
            if fed:
                self._base.update(store.window_sums(sorted(fed), ranges, cutoffs))
                for u in fed:
                    self._records.pop(u, None)
                self._records.update(store.petition_records(sorted(fed)))
        self._key, self._seq = key, seq
        sizes = self._read_open(with_data, fed, rebuilt)

        extras = self._extras_now(store, windows, readings)
        moved = fed | {u for u in set(extras) | set(self._extras) if extras.get(u) != self._extras.get(u)}
        self._extras = extras
        changed = self._apply(moved, len(windows))
        touched = {a for u in moved for a in self._chain.get(u, ())}
        if rebuilt:  # every unit and window, with data or not
            touched = set(self._sums)
            changed = {u: set(range(len(windows))) for u in touched}

        running = [wi for wi, r in enumerate(readings) if r.running]
        stake_counts = self._stake_counts(with_data, windows, readings, running) if touched and running else {}
        for uid in touched:
            for wi in changed.get(uid, ()):
                self._render_window(uid, wi, windows[wi], readings[wi])
            self._render_stake(uid, windows, running, stake_counts)
            lines = self._lines[uid]
            self._blocks[uid] = (*(b"".join(w[i] for w in lines) for i in range(_STAKE)),
                                 b"".join(self._stake[uid]))
        order = [u.unit_id for u in catalogue.all() if u.unit_id in self._blocks]
        return [BlocksFamily(name, doc, [self._blocks[u][i] for u in order])
                for i, (name, doc, _) in enumerate(KPI_FAMILIES)], sizes

    def _read_open(self, with_data: list[str], fed: set[str], rebuilt: bool) -> dict[str, dict[str, int]]:
        """Per unit with data, its open-set sizes; its stake candidates are kept
        alongside. Read again for the units the change feed names and those not
        kept yet; what the timer has not moved yet is added at each scrape
        (``Queries.open_candidates``)."""
        if rebuilt:
            self._sizes, self._stored = {}, {}
        stale = sorted(u for u in with_data if u in fed or u not in self._sizes)
        if stale:
            sizes = self.queries.store.open_counts(stale)
            by_unit: dict[str, list[Candidate]] = {}
            # Grouped by the unit each dossier's open record names: one that moved
            # to a unit not read now is left out, and its move named both units in
            # the change feed, so the next scrape reads them again.
            for c in self.queries.stored_candidates(stale, sizes):
                by_unit.setdefault(c[2], []).append(c)
            for u in stale:
                self._sizes[u] = sizes[u]
                self._stored[u] = by_unit.get(u, [])
        if len(self._sizes) != len(with_data):  # units without data any more (a rebuild of the state)
            kept = set(with_data)
            self._sizes = {u: n for u, n in self._sizes.items() if u in kept}
            self._stored = {u: c for u, c in self._stored.items() if u in kept}
        return dict(self._sizes)

    def _rebuild(self, catalogue, windows) -> None:
        procedures = self.queries.procedures
        exported = [u for u in catalogue.all() if not self.levels or u.level in self.levels]
        n = len(windows)
        self._parts, self._extras, self._blocks = {}, {}, {}
        self._sums = {u.unit_id: [ScopeSum() for _ in range(n)] for u in exported}
        self._members = {u.unit_id: catalogue.subtree(u.unit_id) for u in exported}
        self._offered = {}
        for uid, members in self._members.items():
            self._offered[uid] = {kind: len(frozenset().union(*(procedures.of_unit_kind(m, kind) for m in members)))
                                  for kind in set(ACTIVE_KINDS.values())}
        self._lines = {uid: [(b"",) * _STAKE for _ in range(n)] for uid in self._sums}
        self._costs = {uid: [{} for _ in range(n)] for uid in self._sums}
        self._stake = {uid: [b""] * n for uid in self._sums}
        self._labels = {}
        self._chain = {}
        for u in catalogue.all():
            chain, at = [], u
            while at is not None:
                if at.unit_id in self._sums:
                    chain.append(at.unit_id)
                at = catalogue.get(at.parent_id) if at.parent_id is not None else None
            self._chain[u.unit_id] = chain

    def _extras_now(self, store, windows, readings) -> dict[str, tuple]:
        """Per unit, what time alone moves: today's passed instants per running
        window and the petition counts per window."""
        today: dict[str, list[Counter[str]]] = {}
        running = [r for r in readings if r.running]
        if running:
            instants = parse_today(store.asof_between(running[0].today_from_us, running[0].x_us))
            units = {t.unit for t in instants} & set(self._base)
            if units:
                today = {u: [Counter() for _ in windows] for u in units}
                for wi, (w, reading) in enumerate(zip(windows, readings)):
                    if reading.running:
                        add_today({u: c[wi] for u, c in today.items()}, instants, w.start, w.end)
        pets = {u: [petition_counts(records, w.start, w.end, r.x_us) for w, r in zip(windows, readings)]
                for u, records in self._records.items()}
        return {u: (today.get(u), pets.get(u)) for u in set(today) | set(pets)}

    def _apply(self, moved: set[str], n: int) -> dict[str, set[int]]:
        """Recompute the moved units' parts; add each difference to the unit and
        its exported ancestors. Returns, per exported unit, the windows changed."""
        procedures = self.queries.procedures
        changed: dict[str, set[int]] = {}
        for u in moved:
            base = self._base.get(u)
            today, pets = self._extras.get(u, (None, None))
            if base is None and pets is None:
                new = None
            else:
                new = []
                for wi in range(n):
                    fields = base[wi] if base is not None else Counter()
                    if today is not None and today[wi]:
                        fields = Counter(fields)  # not ``+``: it would drop counts below 1
                        fields.update(today[wi])
                    new.append(unit_part(u, fields, pets[wi] if pets is not None else PetitionCounts(), procedures))
            old = self._parts.get(u)
            for wi in range(n):
                before = old[wi] if old is not None else EMPTY_PART
                after = new[wi] if new is not None else EMPTY_PART
                if after.same_inputs(before):
                    continue
                for a in self._chain.get(u, ()):
                    self._sums[a][wi].add(before, -1)
                    self._sums[a][wi].add(after, 1)
                    changed.setdefault(a, set()).add(wi)
            if new is None:
                self._parts.pop(u, None)
            else:
                self._parts[u] = new
        return changed

    def _render_window(self, uid: str, wi: int, w, reading) -> None:
        q = self.queries
        inputs = self._sums[uid][wi].inputs(self._members[uid], q.is_root(uid), self._offered[uid])
        indicators = indicators_of(inputs, q.procedures, w.start, w.end, q.index_config)
        answer = q.answer(inputs, w, reading, indicators)
        label = self._label
        # Sample lines with labels in KPI_FAMILIES' order, written directly with each
        # label text escaped once: a cold scrape renders 7,000 of these.
        u, wl = label("unit", uid), label("window", w.name or "")
        measure = "".join(f"dvc_kpi_measure{{{u},{label('measure', name)},{wl}}} {sample_value(value)}\n"
                          for name, value in answer["measures"].items())
        ratio = "".join(f"dvc_kpi_ratio{{{u},{label('kpi', kpi)},{wl}}} {sample_value(value)}\n"
                        for kpi, value in answer["ratios"].items() if value is not None)
        index = answer["index"]
        score = f"dvc_index_score{{{u},{wl}}} {sample_value(index['score'])}\n"
        points = "".join(f"dvc_index_points{{{u},{label('group', group)},{wl}}} {sample_value(value)}\n"
                         for group, value in index["groups"].items())
        indicator_points, lost = [], []
        for code, ind in index["indicators"].items():
            labels = f"{u},{label('indicator', code)},{wl}"
            if ind["points"] is not None:
                indicator_points.append(f"dvc_index_indicator_points{{{labels}}} {sample_value(ind['points'])}\n")
            lost.append(f"dvc_index_indicator_points_lost{{{labels}}} {sample_value(ind['max'] - (ind['points'] or 0.0))}\n")
        self._lines[uid][wi] = tuple(text.encode() for text in (
            ratio, measure, score, points, "".join(indicator_points), "".join(lost)))
        if reading.running:
            self._costs[uid][wi] = {flag: lateness_cost(indicators, flag, q.index_config) for flag in (True, False)}

    def _label(self, name: str, value: str) -> str:
        """label="value", escaped once per distinct pair (bounded by the catalogue's
        units and the fixed names of measures, ratios, groups, indicators and windows)."""
        got = self._labels.get((name, value))
        if got is None:
            got = self._labels[(name, value)] = f'{name}="{escape_label(value)}"'
        return got

    def _stake_counts(self, with_data: list[str], windows, readings, running: list[int]) -> dict[str, list]:
        """Per unit, per running window: how many of its open dossiers received
        in the window and still in time would count (True) or not (False) for
        satisfaction if they became late (what their lateness costs depends on)."""
        out: dict[str, list] = {}
        stored = [c for u in with_data for c in self._stored[u]]
        candidates = self.queries.open_candidates(with_data, readings[running[0]].x, stored=stored)
        for wi in running:
            for c in in_window(candidates, windows[wi], readings[wi]):
                counts = out.setdefault(c[2], [None] * len(windows))
                if counts[wi] is None:
                    counts[wi] = {True: 0, False: 0}
                counts[wi][c[3].counts_for_satisfaction(readings[wi].x_us)] += 1
        return out

    def _render_stake(self, uid: str, windows, running: list[int], counts: dict[str, list]) -> None:
        mine = [counts[m] for m in self._members[uid] if m in counts]
        for wi in running:
            cost = self._costs[uid][wi]
            counted = uncounted = 0
            for per_window in mine:
                n = per_window[wi]
                if n is not None:
                    counted += n[True]
                    uncounted += n[False]
            total = counted * cost[True] + uncounted * cost[False]  # Fractions: exact, as a sum per dossier
            self._stake[uid][wi] = (f'dvc_index_points_at_stake{{{self._label("unit", uid)},'
                                    f'{self._label("window", windows[wi].name or "")}}} {sample_value(float(total))}\n'
                                    ).encode()
