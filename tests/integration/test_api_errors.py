"""The API's errors explain (#12): JSON for every failure — 404, 405, 400, 413,
503 with a reason and Retry-After while Redis is down (never a text/plain 500) —
a header-read timeout against slowloris, and the wall saying "stale" and
"unknown" rather than green "no overdue dossiers" while it cannot read Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from chiso.embedded import EmbeddedProcess, die_with_parent, free_port, redis_server_binary, start_redis, wait_for_port
from store.keys import Keys
from tests.cluster import cluster_port
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

MAX_BYTES = 2000
HEADER_TIMEOUT_S = float(os.environ.get("TEST_HEADER_TIMEOUT_S", "1"))  # a large value shows the test can fail


@pytest.fixture
def stack(services, tmp_path) -> Iterator[tuple[Stack, EmbeddedProcess]]:
    """A server over the shared broker and a Redis of its own, which the test may stop."""
    broker, _ = services
    own_redis = start_redis(tmp_path / "redis")
    stack = Stack(broker, own_redis, tmp_path / "stack", "2026-11-30T10:00:00+07:00")
    stack.env.update(CHISO_INGEST_MAX_BYTES=str(MAX_BYTES), CHISO_HTTP_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
                     CHISO_INGEST_ALLOW_ANONYMOUS="true")
    stack.start("server")
    yield stack, own_redis
    stack.stop_all()
    own_redis.stop()


def json_error(r, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body["error"], str) and body["error"]
    return body


def test_json_errors_for_bad_requests(stack) -> None:
    stack, _ = stack
    http = stack.http
    assert "no such path /nope" in json_error(http.get("/nope"), 404)["error"]
    r = http.post("/api/v1/kpis")
    assert "Method Not Allowed" in json_error(r, 405)["error"] and "GET" in r.headers["allow"]
    json_error(http.get("/api/v1/kpis", params={"window": "fortnight"}), 400)
    json_error(http.get("/api/v1/report", params={"from": "2026-13-01", "to": "2026-12-01"}), 400)
    json_error(http.get("/api/v1/dossiers", params={"limit": "many"}), 400)
    big = b"[" + b" " * MAX_BYTES + b"]"
    assert "larger than" in json_error(http.post("/api/v1/events", content=big), 413)["error"]
    # without Content-Length (chunked): counted as it streams in
    assert json_error(http.post("/api/v1/events", content=iter([big[:1500], big[1500:]])), 413)
    json_error(http.post("/api/dvcqg/DongBoHoSoMC", content=big), 413)
    json_error(http.post("/api/dvcqg", content=big), 413)


def test_redis_down_is_503_json_with_retry_after_and_a_stale_wall(stack) -> None:
    stack, own_redis = stack
    http = stack.http
    assert http.get("/api/v1/kpis", params={"unit": "dng", "window": "30d"}).status_code == 200
    snap = http.get("/wall/snapshot", params={"unit": "dng"}).json()
    assert snap["dossiers"]["available"] is True and snap["dossiers"].get("known", True) is True
    own_redis.stop()
    for path, params in [("/api/v1/kpis", {"unit": "dng", "window": "30d"}),
                         ("/api/v1/report", {"from": "2026-11-01", "to": "2026-11-30"}),
                         ("/api/v1/dossiers", {}), ("/api/v1/open", {}), ("/api/v1/ranking", {"parent": "dng"}),
                         ("/api/v1/units", {})]:
        r = http.get(path, params=params)
        body = json_error(r, 503)
        assert body["reason"] == "redis_unavailable" and "Redis is unavailable" in body["error"], (path, body)
        assert int(r.headers["retry-after"]) > 0
    assert http.get("/healthz").status_code == 200  # the process lives; readiness is /readyz
    assert "dvc_scrape_errors_total" in http.get("/metrics").text  # the exporter counts failed scrapes itself
    # the wall: stale because of the store, and the urgent list unknown — not "no overdue dossiers"
    deadline = time.monotonic() + 60
    while True:
        snap = http.get("/wall/snapshot", params={"unit": "dng"}).json()
        if snap.get("status", {}).get("stale") and snap.get("dossiers", {}).get("known") is False:
            break
        assert time.monotonic() < deadline, snap.get("status")
        time.sleep(0.5)
    assert snap["status"]["reason"] == "store"
    assert snap["dossiers"]["items"] == []


def closed_before(sock: socket.socket, deadline: float) -> bool:
    """True when the server closes the connection (recv gives b"" or a reset) before the deadline."""
    sock.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_a_half_sent_request_is_closed_by_the_header_timeout(stack) -> None:
    stack, _ = stack
    slow = []
    for _ in range(30):
        s = socket.create_connection(("127.0.0.1", stack.port))
        s.sendall(b"GET /api/v1/units HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never the rest
        slow.append(s)
    # keep-alive: after one full request, a half-sent second one is timed too
    kept = socket.create_connection(("127.0.0.1", stack.port))
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    kept.settimeout(30)
    assert kept.recv(4096).startswith(b"HTTP/1.1 200")
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    try:
        # generous: the timeout is 1 s; this only says "closed, not left open"
        deadline = time.monotonic() + 60
        assert all(closed_before(s, deadline) for s in slow)
        assert closed_before(kept, deadline)
    finally:
        for s in [*slow, kept]:
            s.close()
    assert stack.http.get("/healthz").status_code == 200  # a prompt client is served as before


def test_anything_unexpected_is_500_json(stack) -> None:
    stack, _ = stack
    units_key = Keys(stack.settings.redis_prefix).units
    stack.redis.delete(units_key)
    stack.redis.rpush(units_key, "not what the server expects")  # a corrupt key: WRONGTYPE on read
    try:
        body = json_error(stack.http.get("/api/v1/units"), 500)
        assert body["reason"] == "internal" and "see the server log" in body["error"]
    finally:
        stack.redis.delete(units_key)
    assert stack.http.get("/api/v1/units").status_code == 200


def test_broker_down_is_503_json_with_retry_after_for_ingest(stack) -> None:
    stack, _ = stack
    stack.kill("server")
    stack.env["CHISO_KAFKA"] = f"127.0.0.1:{free_port()}"  # nothing listens there
    stack.start("server")
    event = {"event_id": "e1", "type": "received", "dossier_id": "d1", "unit_id": "dng-p-hai-van",
             "procedure_id": "1.001193", "channel": "online", "online_service": "full",
             "occurred_at": "2026-11-30T08:00:00+07:00", "due_at": "2026-12-05T17:00:00+07:00"}
    r = stack.http.post("/api/v1/events", json=[event])
    body = json_error(r, 503)
    assert body["reason"] == "broker_unavailable" and "not stored, retry" in body["error"]
    assert int(r.headers["retry-after"]) > 0


def start_with_redis_absent(stack: Stack, port: int) -> None:
    """The server started while nothing listens on CHISO_REDIS, layout ``auto``:
    it cannot ask whether Redis is a cluster and takes the single node's layout."""
    stack.kill("server")
    stack.env.update(CHISO_REDIS=f"redis://127.0.0.1:{port}/0", CHISO_REDIS_CLUSTER="auto")
    stack.start("server")
    body = json_error(stack.http.get("/api/v1/units"), 503)
    assert body["reason"] == "redis_unavailable", body


def test_a_layout_taken_without_redis_is_used_once_redis_confirms_it(stack, tmp_path) -> None:
    stack, _ = stack
    port = free_port()
    start_with_redis_absent(stack, port)
    late_redis = start_redis(tmp_path / "late-redis", port=port)
    try:
        r = stack.http.get("/api/v1/units")
        assert r.status_code == 200, r.text
    finally:
        late_redis.stop()


def test_a_layout_taken_without_redis_that_redis_contradicts_is_503_not_zeros(stack, tmp_path) -> None:
    stack, _ = stack
    port = cluster_port()
    start_with_redis_absent(stack, port)
    node_dir = tmp_path / "cluster-node"
    node_dir.mkdir()
    node = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
         "--cluster-config-file", str(node_dir / "nodes.conf"), "--save", "", "--appendonly", "no",
         "--dir", str(node_dir), "--logfile", str(node_dir / "redis.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent)
    try:
        wait_for_port(port, proc=node)
        for path in ("/api/v1/units", "/api/v1/kpis?unit=dng&window=30d", "/metrics"):
            body = json_error(stack.http.get(path), 503)
            assert body["reason"] == "redis_layout" and "CHISO_REDIS_CLUSTER=yes" in body["error"], body
    finally:
        node.terminate()
        node.wait(timeout=30)
