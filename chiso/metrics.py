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

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from chiso.exposition import BlocksFamily, escape_label, render, sample_value
from chiso.kpi_blocks import KpiBlocks
from chiso.queries import OPEN_COUNTED, Queries
from processors.events import EVENT_TYPES, INVALID_REASONS
from processors.open_state import ALERT_STATES


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
        self._open_lines: dict[str, tuple[tuple[int, ...], bytes]] = {}  # unit -> (counts, its lines)
        self._info: tuple[tuple, bytes] | None = None

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

        yield self._unit_info(units)

        with_data = sorted(store.seen_units() & {u.unit_id for u in units})
        # sizes: the stored sizes of the units' open-state sets, kept with the families
        families, sizes = self._kpis.families(catalogue, self.now(), with_data)
        yield from families
        yield self._open_dossiers(catalogue, sizes)

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


    def _unit_info(self, units) -> BlocksFamily:
        """Names and tree, rendered again only when the catalogue changed."""
        key = tuple((u.unit_id, u.name, u.parent_id or "", u.level) for u in units)
        kept = self._info
        if kept is None or kept[0] != key:
            info = GaugeMetricFamily("dvc_unit_info", "", labels=["unit", "name", "parent", "level"])
            for labels in key:
                info.add_metric(list(labels), 1)
            kept = self._info = (key, render([info]).split(b"\n", 2)[2])  # without HELP and TYPE
        return BlocksFamily("dvc_unit_info", "Unit names and tree (always 1)", [kept[1]])

    def _open_dossiers(self, catalogue, sizes: dict[str, dict[str, int]]) -> BlocksFamily:
        """Open dossiers by state now, per unit subtree (pending transitions included)."""
        own = {u: Counter(c) for u, c in sizes.items()}
        for _, (old, (unit, actual)) in self.queries.pending_transitions(self.now()).items():
            if old is not None and old[0] in own:
                own[old[0]][old[1]] -= 1
                own[old[0]]["overdue_no_apology"] -= int(old[2])
            if unit is not None and unit in own:
                own[unit][actual.state] += 1
                own[unit]["overdue_no_apology"] += int(actual.no_apology)
        # Each unit's counts added to it and its ancestors: one pass over the units
        # with data, instead of summing every unit's subtree (the province's is all).
        totals: dict[str, list[int]] = {}
        for unit, counts in own.items():
            mine = [counts.get(state, 0) for state in OPEN_COUNTED]
            at = catalogue.get(unit)
            while at is not None:
                total = totals.setdefault(at.unit_id, [0] * len(OPEN_COUNTED))
                for i, n in enumerate(mine):
                    total[i] += n
                at = catalogue.get(at.parent_id) if at.parent_id is not None else None
        # A unit's lines are rendered again only when its counts changed.
        zero = (0,) * len(OPEN_COUNTED)
        kept, lines = self._open_lines, {}  # local: scrapes may run in parallel threads
        for u in catalogue.all():
            counts = tuple(totals.get(u.unit_id, zero))
            got = kept.get(u.unit_id)
            if got is None or got[0] != counts:
                unit = escape_label(u.unit_id)
                got = (counts, "".join(f'dvc_open_dossiers{{unit="{unit}",state="{state}"}} {sample_value(n)}\n'
                                       for state, n in zip(OPEN_COUNTED, counts)).encode())
            lines[u.unit_id] = got
        self._open_lines = lines
        return BlocksFamily("dvc_open_dossiers", "Open dossiers now, by state, of a unit's subtree",
                            [text for _, text in lines.values()])


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
