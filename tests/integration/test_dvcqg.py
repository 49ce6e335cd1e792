"""The portal-format endpoints and `chiso import-dvcqg` over the real broker,
worker and Redis: snapshots in through HTTP, every answer equal to the batch
reference over the events the lifecycles mean; the reply shapes one-stop clients
read; dead letters with the raw item; a server SIGKILLed after producing a
snapshot's events and before accepting it loses and duplicates nothing."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson
import pytest

from sources.dvcqg.derive import Derived, Origin
from sources.dvcqg.ledger import MemoryLedger, derive_item
from sources.dvcqg.payload import PROGRESS, SYNC
from sources.samples import sample_procedures_path
from store.codecs import decode_dossier
from tests import reference as ref
from tests.dvcqg_gen import Lifecycle, lifecycles
from tests.dvcqg_samples import AGENCIES_CSV, OPENCPS_RECEIVED, TANDAN_RETURNED, catalogues, deriver, facts_of, step
from tests.index_pipeline import ref_procedures
from tests.integration.test_pipeline import NAMED, NOW, RANGES, assert_kpis_equal, metric_samples, read_topic

pytestmark = pytest.mark.integration
TOKEN = "mot-cua-token"
SAMPLE_PROCEDURES = ref_procedures(Path(sample_procedures_path()).read_text("utf-8"))
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def dvcqg_stack(make_stack, tmp_path: Path, now: str | None = NOW):
    stack = make_stack(now=now)
    agencies = tmp_path / "agencies.csv"
    agencies.write_text(AGENCIES_CSV, encoding="utf-8")
    # The lifecycles use the sample catalogue's procedures.
    stack.env.update(CHISO_DVCQG_TOKEN=TOKEN, CHISO_DVCQG_AGENCIES=str(agencies), CHISO_PROCEDURES=sample_procedures_path())
    return stack


def expected_events(*items: tuple[str, dict], origin: Origin = Origin()) -> dict[str, dict]:
    ledger = MemoryLedger()
    out: dict[str, dict] = {}
    for service, item in items:
        d = derive_item(deriver(), service, item, origin)
        assert isinstance(d, Derived)
        out.update({e["event_id"]: e for e in ledger.accept([d])})
    return out


def topic_events(stack, n: int) -> dict[str, dict]:
    records = read_topic(stack.settings.kafka, stack.settings.events_topic, n, timeout_s=30)
    out = {}
    for r in records:
        e = orjson.loads(r.value)
        assert r.key == e["dossier_id"].encode()
        out[e["event_id"]] = e
    return out


def test_shapes_auth_replies_and_dead_letters(make_stack, tmp_path) -> None:
    stack = dvcqg_stack(make_stack, tmp_path)
    stack.start("server")
    http = stack.http
    sync, progress = "/api/dvcqg/DongBoHoSoMC", "/api/dvcqg/CapNhatTienDoHoSoMC"

    sent = 0

    def counted(r: httpx.Response) -> httpx.Response:
        nonlocal sent
        sent += r.json().get("events", 0)
        return r

    assert http.post(sync, json=OPENCPS_RECEIVED).status_code == 401
    wrong = http.post(sync, json=OPENCPS_RECEIVED, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error_code"] != 0 and wrong.json()["error"]
    assert http.get(sync).status_code == 405

    # OpenCPS: session from the auth call, the envelope, the look-ups it makes first, both services on one URL
    session = http.post("/api/dvcqg/auth", json={"username": "opencps", "password": TOKEN}).json()
    assert session == {"error_code": 0, "message": "Thành công", "session": TOKEN}
    assert http.post("/api/dvcqg/auth", json={"username": "x", "password": "nope"}).status_code == 401
    lookup = http.post("/api/dvcqg", json={"session": TOKEN, "service": "TraCuuHoSo", "mahoso": "x"})
    assert lookup.json() == {"error_code": 0, "message": "Thành công", "result": []}
    envelope = {"session": TOKEN, "madonvi": "000.00.00.H22", "isUpdating": "False", "service": "DongBoHoSoMC",
                "data": [OPENCPS_RECEIVED]}
    ok = counted(http.post("/api/dvcqg", json=envelope))
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert (body["error_code"], body["message"], body["accepted"], body["rejected"]) == (0, "Thành công", 1, 0)
    steps = [step(OPENCPS_RECEIVED["MaHoSo"], "20240315090000", "4"), step(OPENCPS_RECEIVED["MaHoSo"],
                                                                           "20240316100000", "5")]
    ok = counted(http.post("/api/dvcqg", json={"session": TOKEN, "madonvi": "000.00.00.H22",
                                               "service": "CapNhatTienDoHoSoMC", "data": steps}))
    assert ok.json()["error_code"] == 0 and ok.json()["accepted"] == 2

    # a gateway: bare array, bearer token, unit code in the query string; then {"data": [...]} and one object
    finished = dict(TANDAN_RETURNED, MaHoSo="X-240823-0002", DonViXuLy="")
    ok = counted(http.post(sync, params={"MaDinhDanhDV": "000.00.12.H22", "isUpdating": "True"}, json=[finished],
                           headers=AUTH))
    assert ok.json()["error_code"] == 0
    assert counted(http.post(sync, json={"data": [TANDAN_RETURNED]}, headers=AUTH)).json()["error_code"] == 0
    assert counted(http.post(progress, json=step(TANDAN_RETURNED["MaHoSo"], "20240826093000", "9"),
                             headers=AUTH)).json()["error_code"] == 0
    assert counted(http.post(sync, json=TANDAN_RETURNED, headers=AUTH)).json()["error_code"] == 0  # repeated

    # malformed: a clear 4xx naming the field, the raw item in the dead-letter topic; valid items of the body kept
    bad_date = dict(OPENCPS_RECEIVED, MaHoSo="BAD-1", NgayHenTra="18/03/2024")
    unknown = dict(OPENCPS_RECEIVED, MaHoSo="H99.01-240101-0001", DonViXuLy="UBND xã Không Có")
    valid = dict(OPENCPS_RECEIVED, MaHoSo="000.00.12.H22-240315-0008")
    mixed = counted(http.post(sync, json=[bad_date, valid, unknown], headers=AUTH))
    assert mixed.status_code == 422
    answer = mixed.json()
    assert answer["error_code"] != 0 and "NgayHenTra" in answer["message"] and "NgayHenTra" in answer["error"]
    assert (answer["accepted"], answer["rejected"]) == (1, 2)
    assert [r["status"] for r in answer["results"]] == ["rejected", "accepted", "rejected"]
    assert answer["results"][0]["errors"][0]["field"] == "NgayHenTra"
    assert answer["results"][2]["reason"] == "dvcqg_unknown_agency"
    not_json = http.post(sync, content=b'{"session": "mot-cua-token", "data": [', headers=AUTH)
    assert not_json.status_code == 400 and not_json.json()["error_code"] != 0
    agencies = http.get("/api/dvcqg/unknown-agencies", headers=AUTH).json()
    assert agencies == {"items": [{"agency": "UBND xã Không Có", "rejected": 1}]}

    dead = [orjson.loads(r.value) for r in read_topic(stack.settings.kafka, stack.settings.dlq_topic, 3)]
    assert sorted(d["reason"] for d in dead) == ["dvcqg_bad_field", "dvcqg_not_json", "dvcqg_unknown_agency"]
    by_reason = {d["reason"]: d for d in dead}
    assert orjson.loads(by_reason["dvcqg_bad_field"]["raw"]) == {"service": "DongBoHoSoMC", "data": [bad_date]}
    assert "NgayHenTra" in by_reason["dvcqg_bad_field"]["detail"]
    assert by_reason["dvcqg_not_json"]["raw"] == '{"session": "***", "data": ['
    assert all(d["rejected_at"] and d["source"].startswith("POST /api/dvcqg") for d in dead)
    assert TOKEN not in str(dead)

    want = expected_events((SYNC, OPENCPS_RECEIVED), *[(PROGRESS, s) for s in steps], (SYNC, TANDAN_RETURNED),
                           (PROGRESS, step(TANDAN_RETURNED["MaHoSo"], "20240826093000", "9")), (SYNC, valid))
    want.update(expected_events((SYNC, finished), origin=Origin(unit_code="000.00.12.H22")))  # unit: the query
    got = topic_events(stack, sent)
    assert got == want
    assert [e["unit_id"] for e in got.values() if e["dossier_id"] == "X-240823-0002" and e["type"] == "received"] \
        == ["dng-sxd"]
    samples = metric_samples(stack)
    assert samples[("dvc_dvcqg_items_total", (("outcome", "dvcqg_unknown_agency"), ("service", SYNC)))] == 1


def test_the_token_falls_back_to_the_ingest_token_and_is_required(make_stack, tmp_path) -> None:
    stack = make_stack()
    stack.start("server")
    r = stack.http.post("/api/dvcqg/DongBoHoSoMC", json=OPENCPS_RECEIVED)
    assert r.status_code == 403 and "CHISO_DVCQG_TOKEN" in r.json()["error"]
    stack.kill("server")
    stack.env["CHISO_INGEST_TOKEN"] = "ingest"
    stack.start("server")
    r = stack.http.post("/api/dvcqg/DongBoHoSoMC", json=OPENCPS_RECEIVED, headers={"Authorization": "Bearer ingest"})
    assert r.status_code == 200 and r.json()["error_code"] == 0


def test_a_bad_agency_mapping_stops_the_server_with_one_clear_line(make_stack, tmp_path) -> None:
    stack = make_stack()
    bad = tmp_path / "agencies.csv"
    bad.write_text("agency,unit_id\nH56.14,dng-nope\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "chiso.cli", "serve"], env=dict(stack.env, CHISO_DVCQG_AGENCIES=str(bad)),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert out.stderr.strip() == f"chiso serve: {bad}:2: column unit_id: 'dng-nope' is not a unit of the unit catalogue"


def assert_matches_reference(stack, events: list[dict]) -> None:
    """/api/v1/kpis (named windows and date ranges) and /api/v1/report for the
    units the lifecycles use, against the batch reference over ``events``."""
    dossiers = ref.group(events)
    units, _ = catalogues()
    scopes = [(None, "subtree", None), ("dng", "subtree", set(units.subtree("dng"))), ("dng", "self", {"dng"}),
              ("dng-sxd", "subtree", {"dng-sxd"}), ("dng-p-hai-chau", "self", {"dng-p-hai-chau"}),
              ("dng-x-hoa-vang", "subtree", {"dng-x-hoa-vang"})]
    every = {u.unit_id for u in units.all()} | {e["unit_id"] for e in events if e["type"] == "received"}
    for unit, scope, ids in scopes:
        params = {"scope": scope, **({"unit": unit} if unit else {})}
        root = unit in (None, "dng") and scope == "subtree"
        scoped = every if ids is None else ids
        for name, (lo, hi) in NAMED.items():
            answer = stack.http.get("/api/v1/kpis", params={**params, "window": name}).json()
            assert answer["window"]["name"] == name, answer
            assert_kpis_equal(answer, events, scoped, root, lo, hi, procedures=SAMPLE_PROCEDURES)
        for lo, hi in RANGES:
            window = {"from": lo.isoformat(), "to": hi.isoformat()}
            assert_kpis_equal(stack.http.get("/api/v1/kpis", params={**params, **window}).json(),
                              events, scoped, root, lo, hi, procedures=SAMPLE_PROCEDURES)
            if scope == "subtree":
                rep = stack.http.get("/api/v1/report", params={**({"unit": unit} if unit else {}), **window}).json()
                want = ref.report(dossiers, ids, lo, hi)
                assert {k: v for k, v in rep.items() if k not in ("unit", "from", "to")} == \
                    {k: want.get(k, 0) for k in rep if k not in ("unit", "from", "to")}


def bodies(lives: list[Lifecycle], rng: random.Random) -> list[tuple[str, dict | list]]:
    """Every item in a body of its own service and origin, in every shape, shuffled
    across dossiers, a tenth of them sent twice."""
    items = [(svc, item, life.madonvi) for life in lives for svc, item in life.items]
    items += rng.sample(items, len(items) // 10)
    rng.shuffle(items)
    out: list[tuple[str, dict | list]] = []
    i = 0
    while i < len(items):
        svc, _, madonvi = items[i]
        chunk = [items[i]]
        i += 1
        while i < len(items) and len(chunk) < rng.choice((1, 3, 12)) and items[i][0] == svc and items[i][2] == madonvi:
            chunk.append(items[i])
            i += 1
        data = [c[1] for c in chunk]
        path = f"/api/dvcqg/{svc}"
        if madonvi or rng.random() < 0.3:
            out.append(("/api/dvcqg", {"session": TOKEN, "madonvi": madonvi or "", "service": svc, "data": data}))
        elif len(data) == 1 and rng.random() < 0.5:
            out.append((path, data[0]))
        else:
            out.append((path, rng.choice((data, {"data": data}))))
    return out


def post_all(stack, posts: list[tuple[str, object]], workers: int = 4) -> None:
    def post(p):
        with httpx.Client(base_url=str(stack.http.base_url), timeout=60, headers=AUTH) as client:
            r = client.post(p[0], content=orjson.dumps(p[1]))
            assert r.status_code == 200 and r.json()["error_code"] == 0, r.text

    with ThreadPoolExecutor(workers) as pool:  # concurrent requests: the receptions' compare-and-set races
        list(pool.map(post, posts))


def test_snapshots_through_http_give_every_answer_of_the_reference(make_stack, tmp_path) -> None:
    stack = dvcqg_stack(make_stack, tmp_path)
    lives = lifecycles(seed=31, n=400)
    stack.start("server")
    stack.start("worker")
    post_all(stack, bodies(lives, random.Random(31)))
    stack.wait_ready()
    intended = [e for life in lives for e in life.intended]
    assert_matches_reference(stack, intended)
    # every dossier's reception in Redis is the join of its snapshots, accepted once
    for life in lives[:50]:
        members = stack.redis.smembers(f"{stack.settings.redis_prefix}dvcqg:r:{life.dossier_id}")
        assert members and len(members) <= len([i for i in life.items if i[0] == SYNC])


def test_sigkill_after_producing_and_before_accepting_loses_and_duplicates_nothing(make_stack, tmp_path) -> None:
    """Redis writes are paused (CLIENT PAUSE WRITE), so the server produces the
    snapshot's events, then blocks on the compare-and-set that accepts it. Once the
    events are in the topic (read, not waited for), SIGKILL; the client, without an
    answer, sends the snapshot again to the restarted server."""
    stack = dvcqg_stack(make_stack, tmp_path)
    lives = lifecycles(seed=32, n=6)
    first, rest = lives[0], lives[1:]
    snapshot = next(item for svc, item in first.items if svc == SYNC)
    body = {"session": TOKEN, "madonvi": first.madonvi or "", "service": SYNC, "data": [snapshot]}
    expected = expected_events((SYNC, snapshot))
    stack.start("server")
    stack.start("worker")
    stack.wait_ready()
    replies: list = []
    stack.redis.execute_command("CLIENT", "PAUSE", "120000", "WRITE")
    try:
        thread = threading.Thread(target=lambda: replies.append(_post_quietly(stack, body)), daemon=True)
        thread.start()
        produced = topic_events(stack, len(expected))
        assert set(produced) == set(expected)
        stack.kill("server")
        thread.join(30)
    finally:
        stack.redis.execute_command("CLIENT", "UNPAUSE")
    assert replies == [None]  # no answer: the one-stop system will send it again
    key = f"{stack.settings.redis_prefix}dvcqg:r:{first.dossier_id}"
    assert stack.redis.scard(key) == 0  # not accepted
    stack.start("server")
    post_all(stack, [("/api/dvcqg", body)] + bodies(lives, random.Random(32)), workers=2)
    stack.wait_ready()
    assert_matches_reference(stack, [e for life in lives for e in life.intended])
    stored = decode_dossier(stack.redis.get(f"{stack.settings.redis_prefix}d:{first.dossier_id}"))
    ids = list(stored.events)
    assert len(ids) == len(set(ids)) and set(expected) <= set(ids)
    assert metric_samples(stack)[("dvc_events_duplicate_total", ())] >= len(expected)
    assert rest  # the other dossiers went through the restarted server too


def _post_quietly(stack, body: dict) -> dict | None:
    try:
        with httpx.Client(base_url=str(stack.http.base_url), timeout=120, headers=AUTH) as client:
            return client.post("/api/dvcqg", content=orjson.dumps(body)).json()
    except httpx.HTTPError:
        return None


def test_two_snapshots_racing_on_one_dossier_still_give_their_join(make_stack, tmp_path) -> None:
    """With Redis writes paused, two requests for one dossier both read no accepted
    reception, both send their own candidate, and both wait on the compare-and-set.
    On resuming, one wins; the other sees the set changed, derives again and sends
    the join of the two, which neither request could have sent alone."""
    stack = dvcqg_stack(make_stack, tmp_path)
    early = dict(OPENCPS_RECEIVED, TrangThaiHoSo="4")
    late = dict(OPENCPS_RECEIVED, TrangThaiHoSo="9", NgayKetThucXuLy="20240319100000", NgayHenTra="20240320170000",
                DuocThanhToanTrucTuyen="1", DanhSachLePhi=[{"Gia": "5000"}], HoSoCoThanhPhanSoHoa="1")
    alone = {**expected_events((SYNC, early)), **expected_events((SYNC, late))}
    both = expected_events((SYNC, early), (SYNC, late))
    assert set(both) - set(alone), "the join is an event of its own"
    stack.start("server")
    replies: list = []
    stack.redis.execute_command("CLIENT", "PAUSE", "120000", "WRITE")
    try:
        threads = [threading.Thread(target=lambda s=s: replies.append(_post_quietly(stack, {"data": [s]})))
                   for s in (early, late)]
        for t in threads:
            t.start()
        assert set(topic_events(stack, len(alone))) == set(alone)  # both sent, neither accepted yet
    finally:
        stack.redis.execute_command("CLIENT", "UNPAUSE")
    for t in threads:
        t.join(60)
    assert [r["error_code"] for r in replies] == [0, 0]
    got = topic_events(stack, len(alone) + len(set(both) - set(alone)))
    assert got == both
    f = facts_of(OPENCPS_RECEIVED["MaHoSo"], list(got.values()))
    assert (f.fee_required, f.digitized, f.initial_due.strftime("%Y%m%d%H%M")) == (True, True, "202403181700")
    assert stack.redis.scard(f"{stack.settings.redis_prefix}dvcqg:r:{OPENCPS_RECEIVED['MaHoSo']}") == 2
