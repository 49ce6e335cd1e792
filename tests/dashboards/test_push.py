"""dashboards.push against a small stand-in for Grafana's HTTP API on 127.0.0.1.

The stand-in answers like Grafana's documented folder and dashboard endpoints
(GET/POST /api/folders, POST /api/dashboards/db) and records every request;
grafana-client itself is used for real.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from grafana_client.client import GrafanaUnauthorizedError

from dashboards.push import push_dashboards
from dashboards.registry import DASHBOARDS

TOKEN = "glsa_test_token_0123456789"


class FakeGrafana:
    """State of the stand-in: folders, dashboards, and the requests seen."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.folders: list[dict] = []
        self.dashboards: dict[str, dict] = {}
        self.lock = threading.Lock()

    def add_folder(self, title: str, uid: str) -> dict:
        folder = {"id": len(self.folders) + 1, "uid": uid, "title": title}
        self.folders.append(folder)
        return folder

    def handle(self, method: str, path: str, headers, body) -> tuple[int, object]:
        with self.lock:
            self.requests.append({"method": method, "path": path, "headers": dict(headers), "body": body})
            if headers.get("Authorization") != f"Bearer {TOKEN}":
                return 401, {"message": "invalid API key"}
            if method == "GET" and path == "/api/folders":
                return 200, [dict(f) for f in self.folders]
            if method == "POST" and path == "/api/folders":
                uid = body.get("uid") or f"auto{len(self.folders) + 1}"
                if any(f["uid"] == uid for f in self.folders):
                    return 409, {"message": "a folder with the same uid already exists"}
                if any(f["title"] == body["title"] for f in self.folders):
                    return 409, {"message": "a folder or dashboard in the general folder with the same name already exists"}
                folder = self.add_folder(body["title"], uid)
                return 200, {**folder, "url": f"/dashboards/f/{uid}/", "version": 1}
            if method == "POST" and path == "/api/dashboards/db":
                dashboard = body["dashboard"]
                if not any(f["uid"] == body.get("folderUid") for f in self.folders):
                    return 400, {"message": "folder not found"}
                uid = dashboard["uid"]
                if uid in self.dashboards and not body.get("overwrite"):
                    return 412, {"status": "version-mismatch", "message": "The dashboard has been changed by someone else"}
                version = self.dashboards.get(uid, {}).get("version", 0) + 1
                number = list(self.dashboards).index(uid) + 1 if uid in self.dashboards else len(self.dashboards) + 1
                self.dashboards[uid] = {"version": version, "folderUid": body["folderUid"], "dashboard": dashboard}
                slug = re.sub(r"[^a-z0-9]+", "-", uid.lower()).strip("-")
                return 200, {"id": number, "uid": uid, "url": f"/d/{uid}/{slug}", "status": "success",
                             "version": version, "slug": slug}
            return 404, {"message": "Not found"}


@pytest.fixture
def grafana():
    state = FakeGrafana()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw.decode("utf-8")) if raw else None
            status, answer = state.handle(self.command, urlsplit(self.path).path, self.headers, body)
            payload = json.dumps(answer).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, *args):  # keep pytest output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def calls(state: FakeGrafana) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in state.requests]


def test_first_push_creates_the_folder_and_uploads_every_dashboard(grafana):
    results = push_dashboards(grafana.url, TOKEN)

    assert calls(grafana) == [("GET", "/api/folders"), ("POST", "/api/folders")] + [
        ("POST", "/api/dashboards/db")] * len(DASHBOARDS)
    for request in grafana.requests:
        assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert grafana.requests[1]["body"] == {"title": "Chỉ số phục vụ", "uid": "chiso"}
    uploads = [r["body"] for r in grafana.requests[2:]]
    assert [u["dashboard"]["uid"] for u in uploads] == list(DASHBOARDS)
    for upload in uploads:
        assert upload["folderUid"] == "chiso"
        assert upload["overwrite"] is True
        assert sorted(upload) == ["dashboard", "folderUid", "message", "overwrite"]
        assert "id" not in upload["dashboard"]
        assert upload["dashboard"]["panels"] and upload["dashboard"]["title"]
    assert uploads[0]["dashboard"]["title"] == "Tổng quan Bộ chỉ số phục vụ"
    assert [r["status"] for r in results] == ["success"] * len(DASHBOARDS)
    assert [r["uid"] for r in results] == list(DASHBOARDS)


def test_second_push_reuses_the_folder(grafana):
    push_dashboards(grafana.url, TOKEN)
    first = len(grafana.requests)
    results = push_dashboards(grafana.url, TOKEN)

    second = calls(grafana)[first:]
    assert second == [("GET", "/api/folders")] + [("POST", "/api/dashboards/db")] * len(DASHBOARDS)
    assert calls(grafana).count(("POST", "/api/folders")) == 1
    assert len(grafana.folders) == 1
    assert [r["version"] for r in results] == [2] * len(DASHBOARDS)
    assert len(grafana.dashboards) == len(DASHBOARDS)


def test_an_existing_folder_with_the_same_title_is_used(grafana):
    grafana.add_folder("Chỉ số phục vụ", "made-by-hand")
    grafana.add_folder("Khác", "other")

    push_dashboards(grafana.url, TOKEN)

    assert ("POST", "/api/folders") not in calls(grafana)
    assert {d["folderUid"] for d in grafana.dashboards.values()} == {"made-by-hand"}


def test_custom_folder_and_dashboards(grafana):
    grafana.add_folder("Old title", "leaders")
    dashboard = {"uid": "x-test", "title": "Thử nghiệm", "panels": [], "id": 42, "version": 7}

    results = push_dashboards(grafana.url, TOKEN, "Lãnh đạo", folder_uid="leaders", dashboards=[dashboard])

    assert calls(grafana) == [("GET", "/api/folders"), ("POST", "/api/dashboards/db")]
    body = grafana.requests[1]["body"]
    assert body["dashboard"] == {"uid": "x-test", "title": "Thử nghiệm", "panels": []}
    assert body["folderUid"] == "leaders" and body["overwrite"] is True
    assert results == [{"id": 1, "uid": "x-test", "url": "/d/x-test/x-test", "status": "success",
                        "version": 1, "slug": "x-test"}]


def test_a_wrong_token_fails_before_anything_is_written(grafana):
    with pytest.raises(GrafanaUnauthorizedError):
        push_dashboards(grafana.url, "wrong-token")
    assert calls(grafana) == [("GET", "/api/folders")]
    assert grafana.folders == [] and grafana.dashboards == {}


def test_command_line(grafana, monkeypatch, capsys):
    from dashboards.push import main

    monkeypatch.delenv("GRAFANA_TOKEN", raising=False)
    assert main(["--url", grafana.url]) == 2
    assert grafana.requests == []

    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    assert main(["--url", grafana.url]) == 0
    out = capsys.readouterr().out
    assert all(f"success: {uid} v1" in out for uid in DASHBOARDS)
    assert set(grafana.dashboards) == set(DASHBOARDS)


def test_chiso_dashboards_push(grafana, capsys):
    from chiso.cli import main

    assert main(["dashboards", "push", "--url", grafana.url, "--token", TOKEN]) == 0
    out = capsys.readouterr().out
    assert all(f"success: {uid} v1" in out for uid in DASHBOARDS)
    assert set(grafana.dashboards) == set(DASHBOARDS)
    assert all(r["headers"].get("Authorization") == f"Bearer {TOKEN}" for r in grafana.requests)
