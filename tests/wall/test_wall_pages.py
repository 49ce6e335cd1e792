"""The landing page, the API documentation page and the wall's static assets,
through the real app (Starlette's test client); no broker or Redis is needed for
these pages. Also the small Markdown renderer behind /docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from chiso.api import create_app
from chiso.settings import Settings
from chiso.wall import STATIC, _script_json
from chiso.wall.pages import markdown_to_html

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def client():
    # Nothing listens on this port: none of these pages may need Redis or Kafka.
    settings = Settings(redis="redis://127.0.0.1:9/0", kafka=None)
    with TestClient(create_app(settings)) as c:
        yield c


def test_landing_links_to_the_wall_the_docs_and_metrics(client) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    hrefs = re.findall(r'href="([^"]+)"', r.text)
    for target in ("/wall", "/docs", "/metrics", "/healthz", "/readyz"):
        assert target in hrefs, target
    assert "/api/v1/ranking?parent=dng&amp;window=30d" in hrefs
    assert "Bộ chỉ số phục vụ người dân, doanh nghiệp" in r.text
    assert "Content-Security-Policy" in r.headers


def test_docs_page_renders_the_api_documentation(client) -> None:
    r = client.get("/docs")
    assert r.status_code == 200
    assert "<h1" in r.text and "/api/v1/kpis" in r.text and "/api/v1/dossiers" in r.text
    assert "<table>" in r.text and "<pre><code" in r.text
    assert "<script" not in r.text


def test_wall_page_is_self_contained_and_locked_down(client) -> None:
    r = client.get("/wall")
    assert r.status_code == 200
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp and "connect-src 'self'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    # Every asset is local: no http(s):// or protocol-relative URL in the page or its assets.
    for src in re.findall(r'(?:src|href)="([^"]+)"', r.text):
        assert src.startswith("/wall/static/") or src.startswith("data:"), src
        if src.startswith("/wall/static/"):
            asset = client.get(src)
            assert asset.status_code == 200, src
    for path in STATIC.rglob("*"):
        if path.suffix in (".js", ".css", ".html") and path.name != "uPlot.iife.min.js":
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"(?:url\(|src=|href=)\s*['\"]?(?:https?:)?//", text), path
    # The config block is JSON the page parses, not markup.
    config = re.search(r'<script id="wall-config" type="application/json">(.*?)</script>', r.text, re.S).group(1)
    assert "<" not in config and '"default_unit":"dng"' in config
    assert '"maxima":{"transparency":18.0' in config


def test_vendored_files_and_their_licences_are_there() -> None:
    for name in ("vendor/uPlot.iife.min.js", "vendor/uPlot.min.css", "vendor/uPlot.LICENSE", "fonts/OFL.txt",
                 "fonts/be-vietnam-pro-vietnamese-400-normal.woff2", "fonts/be-vietnam-pro-vietnamese-800-normal.woff2"):
        assert (STATIC / name).is_file(), name
    assert "MIT License" in (STATIC / "vendor/uPlot.LICENSE").read_text()
    assert "SIL OPEN FONT LICENSE" in (STATIC / "fonts/OFL.txt").read_text()


def test_wall_javascript_never_writes_html() -> None:
    js = (STATIC / "wall.js").read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in js, sink


def test_script_json_cannot_close_the_script_element() -> None:
    text = _script_json({"name": "</script><script>alert(1)</script>&"})
    assert "<" not in text and ">" not in text and "&" not in text


def test_markdown_renderer_escapes_everything() -> None:
    out = markdown_to_html(
        "# T <b>\n\nA `<x>` and **b<i>** [ok](/docs#a) [bad](javascript:alert(1))\n\n"
        "| a | b |\n| --- | --- |\n| <script> | `c` |\n\n```json\n{\"a\": \"<script>\"}\n```\n\n- item <u>\n"
    )
    assert "<script>" not in out and "<b>" not in out and "<i>" not in out and "<u>" not in out
    assert '<a href="/docs#a">ok</a>' in out
    assert 'href="javascript' not in out
    assert "<table>" in out and "<pre><code class=\"lang-json\">" in out and "<li>item &lt;u&gt;</li>" in out


def test_api_documentation_exists_in_english() -> None:
    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    for endpoint in ("/api/v1/kpis", "/api/v1/ranking", "/api/v1/open", "/api/v1/dossiers", "/api/v1/report",
                     "/api/v1/units", "/healthz", "/readyz", "/metrics", "/wall/events"):
        assert endpoint in text, endpoint


def test_api_documentation_shows_how_to_send_events() -> None:
    """POST /api/v1/events is documented (docs/api.md, rendered at /docs) with a curl
    example whose event the contract accepts, and the JSON error statuses."""
    import json
    import re

    from processors.events import Event, event_from_dict

    text = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    assert "## Sending events: `POST /api/v1/events`" in text and "curl -sS -X POST" in text
    body = re.search(r"--data-binary '(\[.*?\])'", text, re.S).group(1)
    assert all(isinstance(event_from_dict(e), Event) for e in json.loads(body))
    for status in ("| 404 |", "| 405 |", "| 413 |", "| 503 |", "| 500 |", "Retry-After", "CHISO_HTTP_HEADER_TIMEOUT_S"):
        assert status in text, status
