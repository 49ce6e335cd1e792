"""The exporter over a real Redis: a fresh registry per test, bounded series."""

from __future__ import annotations

import asyncio
import random
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
from processors.catalogue import ProcedureCatalogue
from processors.timeutil import local_date
from processors.units import UnitCatalogue
from processors.windows import named_window
from store.keys import Keys
from store.plan import PlanRules, RawMessage
from store.reader import Store
from store.timer import DeadlineTimer
from store.writer import BatchApplier
from tests.gen import history, petition_events
from tests.index_pipeline import CATALOGUE_TEXT

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


TREE = ("unit_id,name,parent_id,level\np,Tỉnh,,province\ndng-sxd,Sở Xây dựng,p,department\n"
        "dng-stp,Sở Tư pháp,p,department\ndng-stc,Sở Tài chính,p,department\n"
        "dng-p-hai-chau,Phường Hải Châu,dng-sxd,commune\ndng-x-hoa-vang,Xã Hòa Vang,dng-stp,commune\n")


def test_a_kept_exporter_equals_a_fresh_one_through_events_time_and_new_units(services) -> None:
    """The exporter keeps each unit's subtree sums and applies the changed units'
    differences (procedure counts included): after new dossiers and petitions,
    time moving within a day, units appearing and a new day, its whole exposition
    must equal a fresh exporter's, byte for byte."""
    url = f"redis://127.0.0.1:{services[1].port}/0"
    prefix = f"z{uuid.uuid4().hex[:6]}:"
    windows = ["today", "7d", "30d", "mtd", "qtd", "ytd", "all"]
    clock = {"now": NOW}

    def queries() -> Queries:
        units = UnitCatalogue.from_csv_text(TREE)
        procedures = ProcedureCatalogue.from_csv_text(CATALOGUE_TEXT, units)
        return Queries(Store(redis.Redis.from_url(url), Keys(prefix)), units, procedures=procedures,
                       clock=lambda: clock["now"])

    def exporter():
        return build_registry(ChisoCollector(queries(), windows, lambda: clock["now"]))

    def text(registry) -> str:
        kept = "\n".join(l for l in render_registry(registry).decode().splitlines()
                         if not l.startswith("dvc_scrape_duration"))
        assert_equals_the_api(kept)
        return kept

    def assert_equals_the_api(exposition: str) -> None:
        """Independent of how the exporter sums: the API sums each scope itself."""
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(exposition) for s in family.samples}
        q = queries()
        for unit in q.scope_units(None, "subtree"):
            for name in windows:
                window = named_window(name, local_date(clock["now"]))
                answer = q.kpis(unit, window)
                at = (("unit", unit), ("window", name))
                assert samples[("dvc_index_score", at)] == answer["index"]["score"], (unit, name)
                for measure, n in answer["measures"].items():
                    assert samples[("dvc_kpi_measure", (("measure", measure), *at))] == n, (unit, name, measure)
                for code, ind in answer["index"]["indicators"].items():
                    labels = (("indicator", code), *at)
                    assert samples.get(("dvc_index_indicator_points", labels)) == ind["points"], (unit, name, code)
                stake = q.stake(None, unit, window)["items"][0]["at_stake"]
                assert samples[("dvc_index_points_at_stake", at)] == stake, (unit, name)

    def apply(events: list[dict], offset: int) -> None:
        async def run() -> None:
            r = aioredis.from_url(url)

            async def no_dead_letters(_):
                return None

            applier = BatchApplier(r, Keys(prefix), no_dead_letters, PlanRules(WorkingCalendar()),
                                   lambda: clock["now"])
            await applier.apply([RawMessage("t", 0, offset + i, orjson.dumps(e)) for i, e in enumerate(events)])
            await r.aclose()

        asyncio.run(run())

    def moved_to(unit: str, events: list[dict]) -> list[dict]:
        return [{**e, "unit_id": unit} if "unit_id" in e else e for e in events]

    rng = random.Random(83)
    kept = exporter()
    first = history(81, 120)
    apply(first + [e for i in range(40) for e in petition_events(rng, f"P81-{i}")], 0)
    steps = [text(kept)]
    assert steps[-1] == text(exporter())
    assert 'dvc_index_indicator_points{unit="p",indicator="online_service_used",window="all"}' in steps[-1]

    apply(history(82, 40) + [e for i in range(10) for e in petition_events(rng, f"P82-{i}")], 10_000)
    steps.append(text(kept))
    assert steps[-1] == text(exporter())

    # dossiers move: an earlier reception at another unit, with another procedure, so
    # that a unit loses dossiers and procedures (its procedure counts shrink)
    apply([{**e, "event_id": f"{e['event_id']}-moved", "unit_id": "dng-p-hai-chau", "procedure_id": "2.001583",
            "occurred_at": (datetime.fromisoformat(e["occurred_at"]) - timedelta(hours=1)).isoformat()}
           for e in first if e["type"] == "received" and e["unit_id"] == "dng-x-hoa-vang"], 15_000)
    steps.append(text(kept))
    assert steps[-1] == text(exporter())

    clock["now"] = NOW + timedelta(hours=5)  # instants pass, dossiers and petitions turn late
    steps.append(text(kept))
    assert steps[-1] == text(exporter())

    # the timer moves those dossiers in Redis (no event): the kept exporter reads
    # again the open dossiers of the units it names in the change feed
    async def tick() -> int:
        r = aioredis.from_url(url)
        moved = await DeadlineTimer(r, Keys(prefix), WorkingCalendar(), lambda: clock["now"]).tick()
        await r.aclose()
        return moved

    assert asyncio.run(tick()) > 0
    after_tick = text(kept)
    assert after_tick == text(exporter())
    assert after_tick == steps[-1]  # the same numbers: the stored states now are what was computed before

    # a catalogued unit's first dossiers, and a unit the catalogue lacks
    apply(moved_to("dng-stc", history(84, 6)) + moved_to("brand-new-unit", history(85, 6)), 20_000)
    steps.append(text(kept))
    assert steps[-1] == text(exporter())
    assert 'dvc_kpi_measure{unit="brand-new-unit",measure="received",window="all"}' in steps[-1]

    clock["now"] = NOW + timedelta(days=1)  # a new day: every window's dates move
    steps.append(text(kept))
    assert steps[-1] == text(exporter())
    assert text(kept) == steps[-1]  # nothing changed: the same answer
    assert len(set(steps)) == len(steps)  # every step changed something


def test_a_scrape_that_fails_half_way_is_followed_by_a_full_rebuild(services) -> None:
    """A scrape that fails after it took the change feed's position (here: an open
    set of the wrong type, read after the feed) must not leave the kept sums and
    open dossiers behind: it is counted as an error, and the next scrape equals a
    fresh exporter's."""
    url = f"redis://127.0.0.1:{services[1].port}/0"
    prefix = f"f{uuid.uuid4().hex[:6]}:"
    keys = Keys(prefix)
    windows = ["today", "30d", "all"]
    r = redis.Redis.from_url(url)

    def registry():
        q = Queries(Store(redis.Redis.from_url(url), keys), UnitCatalogue.from_csv_text(TREE))
        return build_registry(ChisoCollector(q, windows, lambda: NOW))

    def lines(reg) -> tuple[str, float]:
        text = render_registry(reg).decode()
        errors = [float(l.split()[-1]) for l in text.splitlines() if l.startswith("dvc_scrape_errors_total ")]
        return "\n".join(l for l in text.splitlines() if not l.startswith("dvc_scrape_")), errors[0]

    def apply(events: list[dict], offset: int) -> None:
        async def run() -> None:
            ar = aioredis.from_url(url)

            async def no_dead_letters(_):
                return None

            applier = BatchApplier(ar, keys, no_dead_letters, PlanRules(WorkingCalendar()), lambda: NOW)
            await applier.apply([RawMessage("t", 0, offset + i, orjson.dumps(e)) for i, e in enumerate(events)])
            await ar.aclose()

        asyncio.run(run())

    apply(history(73, 60), 0)
    kept = registry()
    assert lines(kept) == lines(registry())
    second = history(74, 30)
    apply(second, 10_000)
    # a unit the new dossiers changed, one of whose open sets is empty: made the wrong type
    unit = next(e["unit_id"] for e in second if "unit_id" in e and r.zcard(keys.open_set(e["unit_id"], "paused")) == 0)
    r.set(keys.open_set(unit, "paused"), "not a sorted set")
    failed, errors = lines(kept)
    assert errors == 1
    r.delete(keys.open_set(unit, "paused"))
    after, errors = lines(kept)
    assert errors == 1  # no new error
    assert after == lines(registry())[0]
    assert f'dvc_open_dossiers{{unit="{unit}",state="not_due"}}' in after  # open counts are compared too
