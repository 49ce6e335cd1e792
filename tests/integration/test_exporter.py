"""The exporter over a real Redis: a fresh registry per test, bounded series."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone

import orjson
import pytest
import redis
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from chiso.exposition import render_registry
from chiso.metrics import ChisoCollector, build_registry
from chiso.queries import Queries
from processors.calendar import WorkingCalendar
from processors.units import UnitCatalogue
from store.keys import Keys
from store.plan import PlanRules, RawMessage
from store.reader import Store
from store.writer import BatchApplier
from tests.gen import history

pytestmark = pytest.mark.integration

NOW = datetime(2024, 3, 20, 15, 0, tzinfo=timezone(timedelta(hours=7)))
CATALOGUE = 'unit_id,name,parent_id,level\np,"Tỉnh ""Mẫu""\nmới",,province\ndng-sxd,Sở Xây dựng,p,department\ndng-stp,Sở Tư pháp,p,department\ndng-p-hai-chau,Phường Hải Châu,dng-sxd,commune\n'


def fill(url: str, prefix: str) -> None:
    async def run() -> None:
        r = aioredis.from_url(url)

        async def no_dead_letters(_):
            return None

        applier = BatchApplier(r, Keys(prefix), no_dead_letters, PlanRules(WorkingCalendar()), lambda: NOW)
        msgs = [RawMessage("t", 0, i, orjson.dumps(e)) for i, e in enumerate(history(61, 200))]
        await applier.apply(msgs)
        await r.aclose()

    asyncio.run(run())


def scrape(url: str, prefix: str, windows: list[str], levels: list[str] | None = None) -> dict:
    queries = Queries(Store(redis.Redis.from_url(url), Keys(prefix)), UnitCatalogue.from_csv_text(CATALOGUE))
    registry = build_registry(ChisoCollector(queries, windows, lambda: NOW, levels=levels))
    text = render_registry(registry).decode()
    out: dict = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_series_are_bounded_by_the_window_and_level_settings(services) -> None:
    url = f"redis://127.0.0.1:{services[1].port}/0"
    prefix = f"x{uuid.uuid4().hex[:6]}:"
    fill(url, prefix)
    full = scrape(url, prefix, ["today", "7d", "30d", "mtd", "qtd", "ytd", "all"])
    assert {l["window"] for l, _ in full["dvc_kpi_measure"]} == {"today", "7d", "30d", "mtd", "qtd", "ytd", "all"}
    small = scrape(url, prefix, ["30d"], levels=["province"])
    assert {(l["unit"], l["window"]) for l, _ in small["dvc_kpi_measure"]} == {("p", "30d")}
    # the province's figures are still its whole subtree
    sub = {l["measure"]: v for l, v in full["dvc_kpi_measure"] if l["unit"] == "p" and l["window"] == "30d"}
    parts = [{l["measure"]: v for l, v in full["dvc_kpi_measure"] if l["unit"] == u and l["window"] == "30d"}
             for u in ("dng-sxd", "dng-stp")]
    assert sub["received"] == parts[0]["received"] + parts[1]["received"] > 0
    # names with quotes and a newline survive the exposition
    names = {l["unit"]: l["name"] for l, _ in full["dvc_unit_info"]}
    assert names["p"] == 'Tỉnh "Mẫu"\nmới'
    assert {l["parent"] for l, _ in full["dvc_unit_info"] if l["unit"] == "p"} == {""}
    # an unknown unit seen in events is exported as its own root
    assert any(l["unit"] == "unknown-unit" and l["level"] == "unknown" for l, _ in full["dvc_unit_info"])
    # null ratios are left out, never NaN
    assert all(v == v for _, v in full.get("dvc_kpi_ratio", []))
    today_ratios = {(l["unit"], l["kpi"]) for l, _ in full.get("dvc_kpi_ratio", []) if l["window"] == "today"}
    today_measures = {(l["unit"], l["measure"]): v for l, v in full["dvc_kpi_measure"] if l["window"] == "today"}
    for unit in ("p", "dng-stp"):
        if today_measures[(unit, "resolved")] == 0:
            assert (unit, "on_time") not in today_ratios
    assert full["dvc_scrape_duration_seconds"][0][1] >= 0
    assert full["dvc_scrape_errors_total"][0][1] == 0


def test_a_scrape_after_new_events_equals_a_fresh_full_scrape(services) -> None:
    """The exporter keeps rendered units between scrapes and re-reads only the
    units the change feed names: that must never show anything but a full read."""
    url = f"redis://127.0.0.1:{services[1].port}/0"
    prefix = f"y{uuid.uuid4().hex[:6]}:"
    windows = ["today", "7d", "30d", "ytd", "all"]
    queries = Queries(Store(redis.Redis.from_url(url), Keys(prefix)), UnitCatalogue.from_csv_text(CATALOGUE))
    kept = build_registry(ChisoCollector(queries, windows, lambda: NOW))

    def fresh() -> str:
        q = Queries(Store(redis.Redis.from_url(url), Keys(prefix)), UnitCatalogue.from_csv_text(CATALOGUE))
        return kpi_lines(render_registry(build_registry(ChisoCollector(q, windows, lambda: NOW))).decode())

    def kpi_lines(text: str) -> str:
        return "\n".join(sorted(l for l in text.splitlines() if l.startswith(("dvc_kpi", "dvc_index"))))

    async def apply(seed: int, offset: int) -> None:
        r = aioredis.from_url(url)

        async def no_dead_letters(_):
            return None

        applier = BatchApplier(r, Keys(prefix), no_dead_letters, PlanRules(WorkingCalendar()), lambda: NOW)
        await applier.apply([RawMessage("t", 0, offset + i, orjson.dumps(e)) for i, e in enumerate(history(seed, 60))])
        await r.aclose()

    asyncio.run(apply(71, 0))
    first = kpi_lines(render_registry(kept).decode())
    assert first == fresh()
    asyncio.run(apply(72, 10_000))  # new dossiers, in some units only
    second = kpi_lines(render_registry(kept).decode())
    assert second != first
    assert second == fresh()
    assert kpi_lines(render_registry(kept).decode()) == second  # nothing changed: same answer
