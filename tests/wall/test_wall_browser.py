"""The wall display in a real browser (headless Chromium driven by Playwright)
over a real stack: the embedded Tansu broker, redis-server, the stream worker and
the HTTP server as child processes, CHISO_NOW fixed, a simulated month of events.

Checks: the page shows the numbers the API gives; it updates live without a
reload; it says "dữ liệu không cập nhật" when the pipeline stops and when the
server goes away, and recovers when the server is back; Vietnamese text renders
with the vendored font; names from the catalogue are shown as text, never HTML.

Screenshots (1920×1080 and 3840×2160, each view) go to a temporary directory, or
to docs/screenshots/ when CHISO_WALL_SCREENSHOTS=1.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from chiso.embedded import free_port, start_broker, start_redis, wait_for_port
from chiso.settings import sample_units_path
from chiso.wall.snapshot import STAKE_DOSSIERS, best_and_worst, stake_part
from processors.calendar import WorkingCalendar
from processors.units import UnitCatalogue
from sources.producers import key_of, make_producer
from sources.simulator.config import SimConfig
from sources.simulator.simulator import Simulator
from streams.topics import ensure_topics
from tests.stack import kill_group, settings_from, stop_group, wait_ready
from tests.tools import require

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.timeout(300)]

LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
NOW = datetime.fromisoformat("2026-11-20T15:00:00+07:00")
TODAY = date(2026, 11, 20)
ROOT = "dng"
EVIL_ID = "dng-sxd-xss"
EVIL_NAME = ('<script>window.__xss=1</script><img src=x onerror="window.__xss=2"> '
             'Đội kiểm tra & "quy tắc" <b>Ủy ban</b>')
BANDS_VI = {"excellent": "Xuất sắc", "good": "Tốt", "fair": "Khá", "average": "Trung bình", "weak": "Yếu"}
REPO = Path(__file__).resolve().parents[2]

import playwright.sync_api as playwright_api  # noqa: E402 - a test dependency (pyproject [test])

# -- the stack (the pattern of tests/integration/conftest.py, module-scoped) ----------------


class Stack:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.broker = start_broker(workdir / "services")
        self.store = start_redis(workdir / "services")
        tag = uuid.uuid4().hex[:8]
        self.port = free_port()
        units = workdir / "units.csv"
        units.write_text(catalogue_with_evil_unit(), encoding="utf-8")
        self.env = dict(
            os.environ,
            CHISO_KAFKA=f"127.0.0.1:{self.broker.port}",
            CHISO_REDIS=f"redis://127.0.0.1:{self.store.port}/0",
            CHISO_HTTP_PORT=str(self.port),
            CHISO_UNITS=str(units),
            CHISO_NOW=NOW.isoformat(),
            CHISO_EVENTS_TOPIC=f"events-{tag}", CHISO_DLQ_TOPIC=f"dlq-{tag}", CHISO_ALERTS_TOPIC=f"alerts-{tag}",
            CHISO_GROUP_ID=f"chiso-{tag}", CHISO_REDIS_PREFIX=f"w{tag}:", CHISO_STATE_DIR=str(workdir),
            CHISO_PARTITIONS="4", CHISO_BATCH_WITHIN_S="0.1", PYTHONUNBUFFERED="1",
            # The wall, tuned for a quick test: stale after 4 s of lag without progress.
            CHISO_WALL_STALE_AFTER_S="4", CHISO_WALL_LAG_EVERY_S="1", CHISO_WALL_HEARTBEAT_S="2",
            CHISO_WALL_REFRESH_S="5",
        )
        self.settings = settings_from(self.env)
        ensure_topics(self.settings.kafka, self.settings.topics, self.settings.partitions)
        self.procs: dict[str, subprocess.Popen] = {}
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(base_url=self.base, timeout=30)
        self.producer = make_producer(self.settings.kafka)

    def start(self, name: str) -> None:
        command = {"worker": "worker", "server": "serve"}[name]
        log = open(self.workdir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "chiso.cli", command], env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        if name == "server":
            wait_for_port(self.port, 30, self.procs[name])

    def kill(self, name: str) -> None:
        kill_group(self.procs.pop(name))

    def send(self, events: list[dict]) -> None:
        for e in events:
            value = orjson.dumps(e)  # keyed by dossier_id, or petition_id (the simulator sends petitions)
            self.producer.send(self.settings.events_topic, key=key_of(value), value=value)
        self.producer.flush()

    def get(self, path: str, **params) -> dict:
        r = self.http.get(path, params=params)
        assert r.status_code == 200, (path, params, r.text)
        return r.json()

    def wait_ready(self, timeout_s: float = 120) -> None:
        wait_ready(self.http, timeout_s, self.logs)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.workdir.glob("*.log"))

    def stop(self) -> None:
        for name in list(self.procs):
            stop_group(self.procs.pop(name))
        self.producer.close()
        self.http.close()
        self.broker.stop()
        self.store.stop()


def catalogue_with_evil_unit() -> str:
    """The sample catalogue plus a team under Sở Xây dựng whose name is markup."""
    text = Path(sample_units_path()).read_text(encoding="utf-8")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([EVIL_ID, EVIL_NAME, "dng-sxd", "team"])
    return text.rstrip("\n") + "\n" + out.getvalue()


def history() -> list[dict]:
    """45 days of simulated Đà Nẵng up to NOW, ~80 dossiers a working day."""
    units = UnitCatalogue.from_path(sample_units_path()).all()
    sim = Simulator(units, 766, WorkingCalendar(), SimConfig(dossiers_per_working_day=80.0),
                    start=NOW - timedelta(days=45))
    return sim.events_until(NOW)


def at(delta: timedelta) -> str:
    return (NOW + delta).isoformat()


def late_dossiers(tag: str, n: int, unit: str = "dng-p-hai-chau") -> list[dict]:
    """n dossiers received today and resolved late, direct, not synced: they pull
    the score down."""
    events = []
    for i in range(n):
        d = f"WALL-{tag}-{i:03d}"
        events.append({"event_id": f"{d}-r", "dossier_id": d, "type": "received", "occurred_at": at(-timedelta(hours=5)),
                       "unit_id": unit, "procedure_id": "1.001193", "channel": "direct", "online_service": "full",
                       "due_at": at(-timedelta(hours=3)), "source": "wall-test"})
        events.append({"event_id": f"{d}-z", "dossier_id": d, "type": "resolved", "occurred_at": at(-timedelta(hours=1)),
                       "source": "wall-test"})
    return events


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("wall"))
    try:
        s.start("worker")
        s.start("server")
        s.send(history())
        s.wait_ready()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=require("chromium"), args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    pg.on("console", lambda msg: pg.errors.append(msg.text) if msg.type == "error" else None)
    yield pg
    context.close()


def open_wall(page, stack: Stack, query: str = "rotate=0") -> None:
    page.goto(f"{stack.base}/wall?{query}")
    page.wait_for_function("() => window.chisoWall && window.chisoWall.kpis && window.chisoWall.ranking"
                           " && window.chisoWall.trend && window.chisoWall.open && window.chisoWall.status",
                           timeout=20_000)


def value(page, selector: str) -> float | None:
    raw = page.get_attribute(selector, "data-value")
    return float(raw) if raw else None


def shown_number(text: str) -> float:
    return float(text.strip().rstrip("%").replace(".", "").replace(",", "."))


def wait_quiet(stack: Stack, unit: str = ROOT, window: str = "30d") -> None:
    """Ready, and the wall's parts for (unit, window) are what the API answers
    now: a display that is still connected keeps the topic's parts, which the
    server rebuilds only after it sees the last batch (conclusive, not a sleep).
    Its status too must say caught up: the hub probes the lag on its own clock
    and sends it with the heartbeat, so /readyz at 0 does not make it 0 there."""
    stack.wait_ready()
    deadline = time.monotonic() + 120  # a bound, not a timing
    while True:
        snap = stack.get("/wall/snapshot", unit=unit, window=window)
        top = snap["hello"]["top"]
        want = {
            "kpis": stack.get("/api/v1/kpis", unit=unit, window=window),
            "ranking": best_and_worst(stack.get("/api/v1/ranking", parent=unit, window=window), top),
            "stake": stake_part(stack.get("/api/v1/stake", parent=unit, window=window, limit=STAKE_DOSSIERS), top),
        }
        status = snap.get("status", {})
        caught_up = status.get("lag") == 0 and status.get("stale") is False
        if caught_up and all(snap.get(part) == answer for part, answer in want.items()):
            return
        assert time.monotonic() < deadline, f"the wall never caught up with the API\n{stack.logs()}"
        time.sleep(0.2)


# -- the page shows what the API says --------------------------------------------------------


def test_wall_shows_the_api_numbers(stack: Stack, page) -> None:
    wait_quiet(stack)
    open_wall(page, stack)
    page.wait_for_function("() => document.getElementById('wall').dataset.conn === 'live'")
    api = stack.get("/api/v1/kpis", unit=ROOT, window="30d")
    idx = api["index"]
    assert idx["score"] is not None

    assert value(page, "#score") == pytest.approx(idx["score"])
    assert shown_number(page.text_content("#score")) == pytest.approx(idx["score"], abs=0.001)  # 2 decimals
    assert page.text_content("#band") == BANDS_VI[idx["band"]]
    for group, points in idx["groups"].items():
        shown = f"#group-{group} .points"
        if points is None:
            assert page.text_content(shown) == "—"
        else:
            assert value(page, shown) == pytest.approx(points)
            assert shown_number(page.text_content(shown)) == pytest.approx(points, abs=0.001)
    maxima = {"transparency": 18, "timeliness": 20, "online_service": 12, "online_payment": 10,
              "satisfaction": 18, "digitization": 22}
    for group, top in maxima.items():
        assert page.text_content(f"#group-{group} .max").strip() == f"/ {top}"
    assert value(page, "#tile-received .tval") == api["measures"]["received"]
    assert value(page, "#tile-on_time .tval") == pytest.approx(api["ratios"]["on_time"])

    # Ranking: best first, as /api/v1/ranking orders them.
    ranking = [i for i in stack.get("/api/v1/ranking", parent=ROOT, window="30d")["items"] if i["score"] is not None]
    page.click(".views-nav .vn[data-view=units]")
    best = page.eval_on_selector_all("#best .rank-row", "rows => rows.map(r => r.dataset.unit)")
    worst = page.eval_on_selector_all("#worst .rank-row", "rows => rows.map(r => r.dataset.unit)")
    assert best == [i["unit"] for i in ranking[:10]]
    assert worst == [i["unit"] for i in ranking[10:]][-10:][::-1]
    first = page.query_selector("#best .rank-row")
    assert first.query_selector(".uname").text_content() == ranking[0]["name"]
    assert float(first.query_selector(".uscore").get_attribute("data-value")) == pytest.approx(ranking[0]["score"], abs=0.005)
    assert shown_number(first.query_selector(".uscore").text_content()) == pytest.approx(ranking[0]["score"], abs=0.001)
    on_time = first.query_selector(".c3").text_content()
    assert shown_number(on_time) == pytest.approx(100 * ranking[0]["ratios"]["on_time"], abs=0.05)

    # Deadlines: the counts of /api/v1/open, the dossiers of /api/v1/dossiers in order.
    open_ = stack.get("/api/v1/open", unit=ROOT)
    page.click(".views-nav .vn[data-view=deadlines]")
    for state in ("overdue", "nearing_due", "paused", "not_due", "open", "overdue_no_apology"):
        assert value(page, f"#open-{state} .cval") == open_[state], state
    assert value(page, "#tile-overdue .tval") == open_["overdue"]
    overdue = stack.get("/api/v1/dossiers", unit=ROOT, state="overdue", limit=15)["items"]
    nearing = stack.get("/api/v1/dossiers", unit=ROOT, state="nearing_due", limit=15)["items"]
    rows = page.eval_on_selector_all("#urgent tr", "rows => rows.map(r => r.dataset.dossier)")
    assert rows == [d["dossier_id"] for d in overdue + nearing]
    assert open_["overdue"] > 0  # the simulated month leaves some late dossiers open
    ticker = page.text_content("#ticker-track")
    assert overdue[0]["procedure_name"] in ticker and (overdue[0]["officer_id"] or "") in ticker

    # Trend: one point a day; the day alone (from=D&to=D) and the 7 days ending there (from=D-6&to=D).
    points = orjson.loads(page.get_attribute("#trend-chart", "data-points"))
    assert [p[0] for p in points] == [(TODAY - timedelta(days=29 - i)).isoformat() for i in range(30)]
    for day, alone, rolling, received in points:
        d = date.fromisoformat(day)
        answer = stack.get("/api/v1/kpis", unit=ROOT, **{"from": day, "to": day})
        want = answer["index"]["score"]
        assert alone == (pytest.approx(want, abs=1e-4) if want is not None else None), day
        assert received == answer["measures"]["received"]
        week = stack.get("/api/v1/kpis", unit=ROOT, **{"from": (d - timedelta(days=6)).isoformat(), "to": day})
        want = week["index"]["score"]
        assert rolling == (pytest.approx(want, abs=1e-4) if want is not None else None), day
    assert page.query_selector("#trend-chart canvas") is not None  # uPlot drew it

    # Indicators: every one of the 21, its points and what it lost, as the API says.
    for code, ind in idx["indicators"].items():
        shown = f"#indicator-{code} .points"
        assert value(page, shown) == (pytest.approx(ind["points"]) if ind["points"] is not None else None), code
        assert float(page.get_attribute(f"#indicator-{code} .ilost", "data-value")) == pytest.approx(
            ind["max"] - (ind["points"] or 0.0)), code
    assert page.text_content("#indicator-dossier_on_time .iname") == "Hồ sơ xử lý đúng hạn, trong hạn"

    # Points at stake: the units with the most, and the dossiers that would cost the most.
    page.wait_for_function("() => window.chisoWall.stake")
    stake = stack.get("/api/v1/stake", parent=ROOT, window="30d", limit=15)
    shown_units = page.eval_on_selector_all("#stake-units li", "rows => rows.map(r => r.dataset.unit)")
    assert shown_units == [i["unit"] for i in stake["items"][:10]]
    shown_dossiers = page.eval_on_selector_all("#stake-dossiers tr", "rows => rows.map(r => r.dataset.dossier)")
    assert shown_dossiers == [d["dossier_id"] for d in stake["dossiers"]]
    assert stake["dossiers"], "the simulated month leaves dossiers open and in time"
    first_cost = float(page.get_attribute("#stake-dossiers tr .cost", "data-value"))
    assert first_cost == pytest.approx(stake["dossiers"][0]["cost"])
    assert page.errors == []


def test_screenshots_and_layout_at_1080p_and_4k(stack: Stack, browser, tmp_path: Path) -> None:
    out = REPO / "docs" / "screenshots" if os.environ.get("CHISO_WALL_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    wait_quiet(stack)
    for width, height, tag in ((1920, 1080, "1080p"), (3840, 2160, "4k")):
        context = browser.new_context(viewport={"width": width, "height": height})
        pg = context.new_page()
        open_wall(pg, stack, "rotate=0")
        pg.wait_for_function("() => document.fonts.status === 'loaded'")
        for view in ("overview", "indicators", "units", "stake", "deadlines"):
            pg.click(f".views-nav .vn[data-view={view}]")
            pg.wait_for_function(  # the fade-in has ended: the screenshot shows the view itself
                f"() => document.getElementById('view-{view}').getAnimations().every(a => a.playState === 'finished')")
            # Nothing spills out of the screen, and everything scales with it.
            assert pg.evaluate("document.documentElement.scrollWidth") <= width
            box = pg.query_selector(f"#view-{view}").bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1
            assert box["y"] + box["height"] <= height + 1
            pg.screenshot(path=str(out / f"wall-{view}-{tag}.png"))
        size = pg.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
        assert size == pytest.approx(20 * width / 1920, rel=0.01)  # 1 rem = 1/54 of the height
        context.close()
    assert (out / "wall-overview-4k.png").stat().st_size > 50_000


def test_vietnamese_text_and_the_vendored_font(stack: Stack, page) -> None:
    open_wall(page, stack)
    assert page.text_content(".title") == "Bộ chỉ số phục vụ người dân, doanh nghiệp"
    assert page.text_content("#unit-name") == "UBND thành phố Đà Nẵng"
    assert page.text_content("#group-online_service .gname") == "Dịch vụ công trực tuyến"
    assert page.text_content("#group-digitization .gname") == "Số hóa hồ sơ"
    assert page.text_content("#window-label").startswith("30 ngày qua · 22/10/2026")
    assert page.evaluate("document.documentElement.lang") == "vi"
    # The Vietnamese subset of Be Vietnam Pro was loaded from the server itself and covers the text.
    page.wait_for_function("() => document.fonts.status === 'loaded'")
    loaded = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert any("/wall/static/fonts/be-vietnam-pro-vietnamese-" in u for u in loaded), loaded
    assert all(u.startswith(stack.base) or u.startswith("data:") for u in loaded), "nothing from outside"
    assert page.evaluate("document.fonts.check(\"800 40px 'Be Vietnam Pro'\", 'Bộ chỉ số Đà Nẵng ỗ ự')")
    family = page.evaluate("getComputedStyle(document.querySelector('.title')).fontFamily")
    assert family.startswith('"Be Vietnam Pro"')

    page.goto(f"{stack.base}/wall?lang=en&rotate=0")
    page.wait_for_function("() => window.chisoWall && window.chisoWall.kpis")
    assert page.text_content(".title") == "Public service index for citizens and businesses"
    assert page.text_content("#group-timeliness .gname") == "Timeliness"
    assert page.evaluate("document.documentElement.lang") == "en"


# -- live --------------------------------------------------------------------------------------


def test_rotates_views_and_honours_the_view_parameter(stack: Stack, page) -> None:
    open_wall(page, stack, "view=deadlines&rotate=0")
    page.wait_for_function("() => document.getElementById('wall').dataset.view === 'deadlines'")
    assert page.is_visible("#view-deadlines") and page.is_hidden("#view-overview")
    time.sleep(1.5)
    assert page.get_attribute("#wall", "data-view") == "deadlines"  # rotate=0: stays
    open_wall(page, stack, "rotate=1")
    views = ["overview", "indicators", "units", "stake", "deadlines"]
    page.wait_for_function("() => window.chisoWall.stake && window.chisoWall.ranking")
    seen = []
    deadline = time.monotonic() + 60  # a bound, not a timing: rotation shows every view in turn
    while time.monotonic() < deadline and len(set(seen)) < len(views):
        seen.append(page.get_attribute("#wall", "data-view"))
        time.sleep(0.2)
    order = list(dict.fromkeys(seen))
    cycle = views * 2
    assert len(order) == len(views) and any(cycle[i:i + len(views)] == order for i in range(len(views))), seen


def test_updates_live_without_reload(stack: Stack, page) -> None:
    wait_quiet(stack)
    open_wall(page, stack)
    page.evaluate("window.__sameDocument = true")
    before = value(page, "#score")
    received_before = value(page, "#tile-received .tval")
    received_today = stack.get("/api/v1/kpis", unit=ROOT, window="today")["measures"]["received"]
    stack.send(late_dossiers("live", 60))
    # From the moment the API answers new numbers to the moment the page shows them.
    api_changed = page_changed = None
    deadline = time.monotonic() + 120  # a bound, not a timing
    while (api_changed is None or page_changed is None) and time.monotonic() < deadline:
        t = time.monotonic()
        if api_changed is None and stack.get("/api/v1/kpis", unit=ROOT, window="today")["measures"]["received"] != received_today:
            api_changed = t
        if page_changed is None and value(page, "#tile-received .tval") != received_before:
            page_changed = t
        time.sleep(0.05)
    assert api_changed is not None and page_changed is not None
    # Information, not a check (tests assert no timing): how soon the page
    # followed the API (the poller reads Redis every 0.5 s, then the score is
    # the first part rebuilt).
    print(f"page updated {page_changed - api_changed:.2f}s after the API")
    stack.wait_ready()  # every event applied: the API's answer below is final
    api = stack.get("/api/v1/kpis", unit=ROOT, window="30d")
    assert api["measures"]["received"] == received_before + 60
    page.wait_for_function(f"() => Math.abs(Number(document.getElementById('score').dataset.value) - {api['index']['score']}) < 1e-9",
                           timeout=120_000)  # a bound, not a timing
    assert value(page, "#score") < before
    assert page.evaluate("window.__sameDocument") is True  # no reload


def test_stale_warning_when_the_pipeline_stops(stack: Stack, page) -> None:
    wait_quiet(stack)
    open_wall(page, stack)
    assert page.get_attribute("#wall", "data-stale") == "0"
    assert page.is_hidden("#stale")
    stack.kill("worker")
    try:
        stack.send(late_dossiers("stale", 5))
        page.wait_for_function("() => document.getElementById('wall').dataset.stale === '1'", timeout=30_000)
        assert page.get_attribute("#wall", "data-stale-reason") == "pipeline"
        assert page.is_visible("#stale")
        assert page.text_content("#stale-title") == "DỮ LIỆU KHÔNG CẬP NHẬT"
        assert "sự kiện đang chờ" in page.text_content("#stale-reason")
    finally:
        stack.start("worker")
    page.wait_for_function("() => document.getElementById('wall').dataset.stale === '0'", timeout=90_000)
    assert page.is_hidden("#stale")


def test_recovers_after_a_server_restart(stack: Stack, page) -> None:
    wait_quiet(stack)
    open_wall(page, stack)
    page.evaluate("window.__sameDocument = true")
    received_before = value(page, "#tile-received .tval")
    stack.kill("server")
    page.wait_for_function("() => document.getElementById('wall').dataset.stale === '1'", timeout=15_000)
    assert page.get_attribute("#wall", "data-stale-reason") == "disconnected"
    assert page.get_attribute("#wall", "data-conn") in ("connecting", "offline")
    assert page.text_content("#stale-title") == "DỮ LIỆU KHÔNG CẬP NHẬT"
    stack.start("server")
    page.wait_for_function("() => document.getElementById('wall').dataset.conn === 'live'"
                           " && document.getElementById('wall').dataset.stale === '0'", timeout=30_000)
    # The new stream carries new numbers too.
    stack.send(late_dossiers("restart", 7))
    page.wait_for_function(f"() => document.querySelector('#tile-received .tval').dataset.value === '{int(received_before) + 7}'",
                           timeout=20_000)
    assert page.evaluate("window.__sameDocument") is True
    page.errors[:] = [e for e in page.errors if "ERR_CONNECTION_REFUSED" not in e and "Failed to load resource" not in e]


# -- safe --------------------------------------------------------------------------------------


def evil_events() -> list[dict]:
    d1, d2 = "WALL-XSS-1", "WALL-XSS-2"
    return [
        {"event_id": f"{d1}-r", "dossier_id": d1, "type": "received", "occurred_at": at(-timedelta(days=3)),
         "unit_id": EVIL_ID, "procedure_id": "<i>1.009994</i>", "channel": "online", "online_service": "full",
         "due_at": at(-timedelta(days=1)), "officer_id": "<b>cb</b>", "source": "wall-test"},
        {"event_id": f"{d2}-r", "dossier_id": d2, "type": "received", "occurred_at": at(-timedelta(hours=6)),
         "unit_id": EVIL_ID, "procedure_id": "1.009994", "channel": "online", "online_service": "full",
         "due_at": at(-timedelta(hours=2)), "source": "wall-test"},
        {"event_id": f"{d2}-z", "dossier_id": d2, "type": "resolved", "occurred_at": at(-timedelta(hours=1)),
         "source": "wall-test"},
    ]


def test_names_are_shown_as_text_never_as_markup(stack: Stack, page) -> None:
    stack.send(evil_events())
    wait_quiet(stack, unit="dng-sxd")
    open_wall(page, stack, "unit=dng-sxd&view=units&rotate=0")
    page.wait_for_function("() => document.querySelectorAll('#best .rank-row').length > 0")
    assert page.text_content(f"#best .rank-row[data-unit='{EVIL_ID}'] .uname") == EVIL_NAME
    page.click(".views-nav .vn[data-view=deadlines]")
    cells = page.eval_on_selector_all("#urgent td.uname", "tds => tds.map(t => t.textContent)")
    assert EVIL_NAME in cells
    assert "<i>1.009994</i>" in page.eval_on_selector_all("#urgent td.proc", "tds => tds.map(t => t.textContent)")
    assert EVIL_NAME in page.text_content("#ticker-track")

    page.goto(f"{stack.base}/wall?unit={EVIL_ID}&rotate=0")
    page.wait_for_function("() => window.chisoWall && window.chisoWall.meta")
    assert page.text_content("#unit-name") == EVIL_NAME
    assert page.text_content("#unit-path") == "UBND thành phố Đà Nẵng › Sở Xây dựng › "

    # An unknown unit in the URL is shown as text too.
    page.goto(f"{stack.base}/wall?unit=%3C%2Fscript%3E%3Cimg%20src%3Dx%20onerror%3D%22window.__xss%3D3%22%3E&rotate=0")
    page.wait_for_function("() => !document.getElementById('error').hidden")
    assert "</script><img src=x" in page.text_content("#error")

    for _ in range(2):
        assert page.evaluate("window.__xss") is None
        assert page.evaluate("document.querySelectorAll('#wall img, #wall script, #wall b, #wall i').length") == 0
        page.goto(f"{stack.base}/wall?unit=dng-sxd&view=deadlines&rotate=0")
        page.wait_for_function("() => window.chisoWall && window.chisoWall.dossiers")


def test_the_event_stream_and_snapshot(stack: Stack) -> None:
    """The SSE stream as a non-browser client sees it; /wall/snapshot is the same."""
    wait_quiet(stack, window="7d")
    seen: dict[str, dict] = {}
    with httpx.Client(base_url=stack.base, timeout=10) as client:
        with client.stream("GET", "/wall/events", params={"unit": ROOT, "window": "7d"}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            event = None
            for line in r.iter_lines():
                if line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and event:
                    seen[event] = orjson.loads(line.split(":", 1)[1])
                if {"hello", "meta", "kpis", "ranking", "open", "dossiers", "trend", "status"} <= seen.keys():
                    break
    assert seen["kpis"] == stack.get("/api/v1/kpis", unit=ROOT, window="7d")
    assert seen["meta"]["name"] == "UBND thành phố Đà Nẵng"
    assert seen["open"]["available"] is True
    assert seen["status"]["stale"] is False and seen["status"]["lag"] == 0
    snap = stack.get("/wall/snapshot", unit=ROOT, window="7d")
    assert snap["kpis"] == seen["kpis"]
    assert snap["ranking"] == seen["ranking"]
    ranking = [i for i in stack.get("/api/v1/ranking", parent=ROOT, window="7d")["items"] if i["score"] is not None]
    assert [i["unit"] for i in snap["ranking"]["best"]] == [i["unit"] for i in ranking[:10]]
    assert snap["ranking"]["scored"] == len(ranking)
    assert snap["ranking"]["best"][0]["score"] == pytest.approx(ranking[0]["score"], abs=0.005)
    bad = stack.http.get("/wall/snapshot", params={"unit": "no-such-unit"})
    assert bad.status_code == 404 and bad.json()["problem"]["kind"] == "unit"
