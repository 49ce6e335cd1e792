"""HTTP ingest and `chiso replay` deliver every event exactly as sent."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from tests.gen import INVALID_SAMPLES, history
from tests.integration.test_pipeline import read_topic

pytestmark = pytest.mark.integration


def topic_values(stack, n: int) -> list:
    return read_topic(stack.settings.kafka, stack.settings.events_topic, n, timeout_s=30)


def test_ingest_checks_token_size_and_body_then_delivers_every_event(make_stack) -> None:
    stack = make_stack()
    stack.env.update(CHISO_INGEST_TOKEN="s3cret", CHISO_INGEST_MAX_BYTES="200000")
    stack.start("server")
    events = history(51, 40)
    body = orjson.dumps(events)
    url = "/api/v1/events"
    assert stack.http.post(url, content=body).status_code == 401
    assert stack.http.post(url, content=body, headers={"Authorization": "Bearer nope"}).status_code == 401
    auth = {"Authorization": "Bearer s3cret"}
    big = stack.http.post(url, content=b"[" + b" " * 300000 + b"]", headers=auth)
    assert big.status_code == 413 and "error" in big.json()
    bad = stack.http.post(url, content=b"[{not json", headers=auth)
    assert bad.status_code == 400 and "error" in bad.json()
    assert stack.http.get(url).status_code == 405

    ok = stack.http.post(url, content=body, headers=auth)
    assert ok.status_code == 202, ok.text
    assert ok.json()["accepted"] == len(events) and ok.json()["invalid"] == 0

    ndjson = b"\n".join([orjson.dumps(events[0]), *INVALID_SAMPLES.values()]) + b"\n"
    mixed = stack.http.post(url, content=ndjson, headers={**auth, "Content-Type": "application/x-ndjson"})
    assert mixed.status_code == 202
    results = mixed.json()["results"]
    assert results[0]["status"] == "accepted"
    reasons = [r["reason"] for r in results[1:]]
    # not_utf8 is rejected by the JSON decoder of the body as a whole line: not_json
    assert all(r["status"] == "invalid" and r["reason"] for r in results[1:])
    assert set(reasons) >= set(INVALID_SAMPLES) - {"not_utf8"}

    sent = len(events) + 1 + len(INVALID_SAMPLES)
    records = topic_values(stack, sent)
    assert len(records) == sent
    valid = [r for r in records if r.value not in INVALID_SAMPLES.values()]
    got = [orjson.loads(r.value) for r in valid]
    assert sorted(got, key=lambda e: e["event_id"]) == sorted(events + [events[0]], key=lambda e: e["event_id"])
    for r in valid:
        assert r.key == orjson.loads(r.value)["dossier_id"].encode()


def test_ingest_is_off_without_a_token_unless_explicitly_allowed(make_stack) -> None:
    stack = make_stack()
    stack.start("server")
    r = stack.http.post("/api/v1/events", content=orjson.dumps(history(52, 2)))
    assert r.status_code == 403 and "CHISO_INGEST_TOKEN" in r.json()["error"]
    stack.kill("server")
    stack.env["CHISO_INGEST_ALLOW_ANONYMOUS"] = "true"
    stack.start("server")
    assert stack.http.post("/api/v1/events", content=orjson.dumps(history(52, 2))).status_code == 202


def test_replay_sends_every_line_as_is_and_lists_invalid_lines(make_stack, tmp_path) -> None:
    stack = make_stack()
    events = history(53, 30)
    lines = [orjson.dumps(e) for e in events]
    lines.insert(3, INVALID_SAMPLES["missing_field"])
    lines.insert(10, INVALID_SAMPLES["not_json"])
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n\n")
    out = subprocess.run([sys.executable, "-m", "chiso.cli", "replay", str(path)], env=stack.env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"sent {len(lines)} event(s)" in out.stdout
    assert "line 4: missing_field" in out.stdout and "line 11: not_json" in out.stdout
    from_stdin = subprocess.run([sys.executable, "-m", "chiso.cli", "replay", "-", "--rate", "500"], env=stack.env,
                                input=b"\n".join(lines[:5]), capture_output=True, timeout=120)
    assert from_stdin.returncode == 0 and b"sent 5 event(s)" in from_stdin.stdout
    records = topic_values(stack, len(lines) + 5)
    assert sorted(r.value for r in records) == sorted(lines + lines[:5])
