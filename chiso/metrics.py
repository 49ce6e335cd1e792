"""Prometheus exporter: a collector that reads Redis at scrape time.

No module-level metric objects: ``build_registry`` makes a fresh registry with
one ``ChisoCollector``, so tests get their own and a scrape always shows what
Redis holds now. A unit's series cover its whole subtree (the default scope of
the API); null ratios, points and scores are left out rather than exported as NaN.

Example output::

    dvc_index_score{unit="dng",window="30d"} 83.4
    dvc_kpi_ratio{kpi="on_time",unit="dng-sxd",window="7d"} 0.96
    dvc_unit_info{level="commune",name="Phường Hải Châu",parent="dng",unit="dng-p-hai-chau"} 1
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from fractions import Fraction

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from chiso.exposition import BlocksFamily, RowsFamily, render_rows
from chiso.queries import OPEN_COUNTED, Queries, in_window
from processors.asof import add_today, as_of, parse_today
from processors.events import EVENT_TYPES, INVALID_REASONS
from processors.index_inputs import UnitWindow, indicators_of, scope_inputs
from processors.open_state import ALERT_STATES
from processors.petitions import PetitionRecord, petition_counts
from processors.timeutil import local_date
from processors.windows import named_window


class ChisoCollector(Collector):
    def __init__(
        self, queries: Queries, windows: list[str], now: Callable[[], datetime],
        lag: Callable[[], dict[int, int] | None] = lambda: None,
        extra: Callable[[], Iterator] = lambda: iter(()),
        levels: list[str] | None = None,
    ) -> None:
        self.queries = queries
        self.windows = windows
        self.levels = set(levels or ())  # empty: every level
        self._kpis = KpiBlocks(queries, windows, self.levels)
        self.now = now
        self.lag = lag
        self.extra = extra
        self._errors = 0

    def collect(self) -> Iterator:
        started = time.perf_counter()
        try:
            yield from self._collect()
            yield from self.extra()
        except Exception:  # noqa: BLE001 - a scrape must answer; the error is itself a metric
            self._errors += 1
        errors = CounterMetricFamily("dvc_scrape_errors", "Scrapes that failed to read Redis")
        errors.add_metric([], self._errors)
        yield errors
        duration = GaugeMetricFamily("dvc_scrape_duration_seconds", "Time spent reading Redis for this scrape")
        duration.add_metric([], time.perf_counter() - started)
        yield duration

    def _collect(self) -> Iterator:
        q = self.queries
        store = q.store
        catalogue = q.catalogue()
        units = catalogue.all()

        info = GaugeMetricFamily("dvc_unit_info", "Unit names and tree (always 1)", labels=["unit", "name", "parent", "level"])
        for u in units:
            info.add_metric([u.unit_id, u.name, u.parent_id or "", u.level], 1)
        yield info

        with_data = sorted(store.seen_units() & {u.unit_id for u in units})
        yield from self._kpis.families(catalogue, self.now(), with_data)
        yield self._open_dossiers(catalogue, with_data)

        g = store.globals()
        # Every known label value from 0, so that the first occurrence is an increase.
        events = _counter_family("dvc_events", "Accepted events (duplicates excluded)", "type", EVENT_TYPES, g, "ev:")
        invalid = _counter_family("dvc_events_invalid", "Invalid events sent to the dead-letter topic", "reason", INVALID_REASONS, g, "inv:")
        alerts = _counter_family("dvc_alerts_sent", "Deadline alerts published to dossier-alerts", "state", ALERT_STATES, g, "alerts:")
        dup = CounterMetricFamily("dvc_events_duplicate", "Events whose event_id was already known")
        dup.add_metric([], g.get("dup", 0))
        orphans = GaugeMetricFamily("dvc_orphan_dossiers", "Dossiers with events but no reception yet")
        orphans.add_metric([], g.get("orphans", 0))
        petition_orphans = GaugeMetricFamily("dvc_orphan_petitions", "Petitions with events but no reception yet")
        petition_orphans.add_metric([], g.get("petition_orphans", 0))
        unknown = GaugeMetricFamily("dvc_unknown_procedures",
                                    "Procedure ids dossiers carry that the procedure catalogue lacks")
        unknown.add_metric([], len(q.unknown_procedures()))
        targets = GaugeMetricFamily("dvc_procedure_catalogue_unknown_targets",
                                    "applies_to entries of the procedure catalogue that name no unit or level")
        targets.add_metric([], len(q.procedures.unknown_targets))
        yield from (events, invalid, alerts, dup, orphans, petition_orphans, unknown, targets)

        applied = store.applied_at()
        if applied is not None:
            last = GaugeMetricFamily("dvc_pipeline_last_applied_timestamp_seconds", "Unix time the stream last applied a batch")
            last.add_metric([], applied)
            yield last
        lag = self.lag()
        if lag is not None:
            lag_metric = GaugeMetricFamily("dvc_consumer_lag_messages", "Input messages not yet applied, per partition", labels=["partition"])
            for partition, n in sorted(lag.items()):
                lag_metric.add_metric([str(partition)], n)
            yield lag_metric


    def _open_dossiers(self, catalogue, with_data: list[str]) -> RowsFamily:
        """Open dossiers by state now, per unit subtree (pending transitions included)."""
        store = self.queries.store
        own = {u: Counter(c) for u, c in store.open_counts(with_data).items()}
        for _, (old, (unit, actual)) in self.queries.pending_transitions(self.now()).items():
            if old is not None and old[0] in own:
                own[old[0]][old[1]] -= 1
                own[old[0]]["overdue_no_apology"] -= int(old[2])
            if unit is not None and unit in own:
                own[unit][actual.state] += 1
                own[unit]["overdue_no_apology"] += int(actual.no_apology)
        family = RowsFamily("dvc_open_dossiers", "Open dossiers now, by state, of a unit's subtree", ["unit", "state"])
        for u in catalogue.all():
            total: Counter[str] = Counter()
            for m in catalogue.subtree(u.unit_id):
                if m in own:
                    total.update(own[m])
            for state in OPEN_COUNTED:
                family.add((u.unit_id, state), total.get(state, 0))
        return family


_KPI_FAMILIES = (
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


class KpiBlocks:
    """The per-unit KPI and index families, kept between scrapes as rendered text
    per unit.

    A unit's own inputs per window (``UnitWindow``) are three parts: the counters
    summed over the window with the as-of fields reduced at its cutoff (re-read
    only for units the change feed names: a write bumps it), today's passed
    instants for running windows (re-read every scrape: time alone moves them),
    and the petition counts (recomputed every scrape from cached records: time
    alone moves them too). A unit is re-rendered, with its ancestors, when any of
    its parts changed. A new day, other windows or a changed catalogue rebuild
    everything. What is shown is always what Redis holds at the scrape.
    """

    def __init__(self, queries: Queries, windows: list[str], levels: set[str]) -> None:
        self.queries = queries
        self.window_names = windows
        self.levels = levels
        self._key: tuple | None = None
        self._seq = 0
        self._base: dict[str, list[Counter[str]]] = {}
        self._records: dict[str, list[PetitionRecord]] = {}
        self._own: dict[str, list[UnitWindow]] = {}
        self._blocks: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()  # scrapes run in a thread pool

    def families(self, catalogue, now: datetime, with_data: list[str]) -> list[BlocksFamily]:
        with self._lock:
            return self._families(catalogue, now, with_data)

    def _families(self, catalogue, now: datetime, with_data: list[str]) -> list[BlocksFamily]:
        store = self.queries.store
        today = local_date(now)
        windows = [named_window(w, today) for w in self.window_names]
        ranges = [(w.start, w.end) for w in windows]
        readings = [as_of(w.end, now) for w in windows]
        cutoffs = [r.cutoff for r in readings]
        key = (today, tuple(self.window_names), tuple(sorted(u.unit_id for u in catalogue.all())))
        seq, unit_seq = store.change_feed()  # read before the sums: a later change is seen next time
        if key != self._key:
            self._base = store.window_sums(with_data, ranges, cutoffs) if with_data else {}
            self._records = store.petition_records(with_data)
            self._own = {}
            self._blocks = {}
            changed = {u.unit_id for u in catalogue.all()}
        else:
            changed_list = [u for u, s in unit_seq.items() if s > self._seq and u in catalogue]
            if changed_list:
                self._base.update(store.window_sums(changed_list, ranges, cutoffs))
                for u in changed_list:
                    self._records.pop(u, None)
                self._records.update(store.petition_records(changed_list))
            changed = set(changed_list)
        self._key, self._seq = key, seq
        own = self._own_now(store, windows, readings)
        changed |= {u for u in set(own) | set(self._own) if own.get(u) != self._own.get(u)}
        self._own = own
        dirty: set[str] = set()
        for u in changed:
            while u is not None and u not in dirty:
                dirty.add(u)
                unit = catalogue.get(u)
                u = unit.parent_id if unit is not None else None
        by_unit: dict[str, list] = {}
        running = [r for r in readings if r.running]
        if dirty and running:  # the open dossiers at stake, read once for every unit
            for c in self.queries.open_candidates(with_data, running[0].x):
                by_unit.setdefault(c[2], []).append(c)
        for uid in dirty:
            unit = catalogue.get(uid)
            if unit is None or (self.levels and unit.level not in self.levels):
                continue
            self._blocks[uid] = self._render(uid, catalogue.subtree(uid), windows, readings, by_unit)
        order = [u.unit_id for u in catalogue.all() if u.unit_id in self._blocks]
        return [BlocksFamily(name, doc, [self._blocks[u][i] for u in order])
                for i, (name, doc, _) in enumerate(_KPI_FAMILIES)]

    def _own_now(self, store, windows, readings) -> dict[str, list[UnitWindow]]:
        own = {u: [UnitWindow(Counter(c)) for c in per_window] for u, per_window in self._base.items()}
        running = [r for r in readings if r.running]
        if running:
            today = parse_today(store.asof_between(running[0].today_from_us, running[0].x_us))
            for wi, (w, reading) in enumerate(zip(windows, readings)):
                if reading.running:
                    add_today({u: own[u][wi].fields for u in own}, today, w.start, w.end)
        for u, records in self._records.items():
            for wi, (w, reading) in enumerate(zip(windows, readings)):
                own.setdefault(u, [UnitWindow() for _ in windows])[wi].petitions = petition_counts(
                    records, w.start, w.end, reading.x_us)
        return own

    def _render(self, uid: str, members: list[str], windows, readings, open_by_unit: dict) -> tuple[str, ...]:
        rows = [RowsFamily(name, doc, labels) for name, doc, labels in _KPI_FAMILIES]
        ratio, measure, score, points, indicator_points, lost, at_stake = rows
        q = self.queries
        root = q.is_root(uid)
        mine = {u: self._own[u] for u in members if u in self._own}
        candidates = [c for u in members for c in open_by_unit.get(u, ())]
        for wi, (w, reading) in enumerate(zip(windows, readings)):
            inputs = scope_inputs(members, {u: data[wi] for u, data in mine.items()}, root)
            indicators = indicators_of(inputs, q.procedures, w.start, w.end, q.index_config)
            answer = q.answer(inputs, w, reading, indicators)
            wname = w.name or ""
            for name, value in answer["measures"].items():
                measure.add((uid, name, wname), value)
            for kpi, value in answer["ratios"].items():
                if value is not None:
                    ratio.add((uid, kpi, wname), value)
            index = answer["index"]
            score.add((uid, wname), index["score"])
            for group, value in index["groups"].items():
                points.add((uid, group, wname), value)
            for code, ind in index["indicators"].items():
                if ind["points"] is not None:
                    indicator_points.add((uid, code, wname), ind["points"])
                lost.add((uid, code, wname), ind["max"] - (ind["points"] or 0.0))
            if reading.running:
                risk = q.at_risk(indicators, in_window(candidates, w, reading), reading)
                at_stake.add((uid, wname), float(sum((c for c, *_ in risk), Fraction(0))))
        return tuple(render_rows(f) for f in rows)


def _counter_family(name: str, doc: str, label: str, known: tuple[str, ...], g: dict[str, int], prefix: str) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=[label])
    values = {k: 0 for k in known}
    values.update({key[len(prefix):]: v for key, v in g.items() if key.startswith(prefix)})
    for k, v in sorted(values.items()):
        family.add_metric([k], v)
    return family


def build_registry(collector: ChisoCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
