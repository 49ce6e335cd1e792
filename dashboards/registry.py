"""Every dashboard by uid; building them all; the PromQL they run (for tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from dashboards.common import SAMPLE_VALUES, substitute, to_dict
from dashboards.ops import ops
from dashboards.overview import overview
from dashboards.unit import unit_dashboard
from processors.index import IndexConfig

# uid → factory of the dashboard builder; the order is the order in docs and folders.
DASHBOARDS: dict[str, Callable] = {
    "chiso-overview": overview,
    "chiso-unit": unit_dashboard,
    "chiso-ops": ops,
}


def build_all(config: IndexConfig = IndexConfig()) -> dict[str, dict]:
    """Every dashboard as JSON data, keyed by uid, with the index settings'
    maxima and band limits (the committed files use the defaults)."""
    built = {uid: to_dict(factory(config)) for uid, factory in DASHBOARDS.items()}
    for uid, data in built.items():
        assert data["uid"] == uid, (uid, data["uid"])
    return built


def _values(values: Mapping[str, str] | None) -> dict[str, str]:
    return {**SAMPLE_VALUES, **(values or {})}


def all_queries(values: Mapping[str, str] | None = None) -> Iterator[tuple[str, str, str]]:
    """(dashboard uid, panel title, PromQL) for every panel target, ready to run.

    Template variables are replaced by `values` over `SAMPLE_VALUES` (window 30d,
    unit and parent `dng`, `$__rate_interval` 1m, ...).
    """
    chosen = _values(values)
    for uid, data in build_all().items():
        for panel in data.get("panels", []):
            for query in panel.get("targets", []):
                yield uid, panel["title"], substitute(query["expr"], chosen)


def variable_queries(values: Mapping[str, str] | None = None) -> Iterator[tuple[str, str, str]]:
    """(dashboard uid, variable name, PromQL) inside each `query_result(...)` variable."""
    chosen = _values(values)
    for uid, data in build_all().items():
        for variable in data["templating"].get("list", []):
            query = variable.get("query")
            if variable["type"] == "query" and isinstance(query, str) and query.startswith("query_result("):
                yield uid, variable["name"], substitute(query[len("query_result("):-1], chosen)

