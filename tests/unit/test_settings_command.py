"""`chiso settings` (#12): effective settings with their source, secrets hidden;
the runtime file is per state directory and trusted only while its `chiso up` runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from chiso.cli import main
from chiso.errors import UserError
from chiso.instance import hold_instance, running_instance
from chiso.runtime import redact_url, resolve, runtime_file
from chiso.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in [k for k in os.environ if k.startswith("CHISO_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CHISO_STATE_DIR", str(tmp_path / "state"))


def test_settings_prints_values_sources_and_hides_secrets(monkeypatch, tmp_path, capsys) -> None:
    toml = tmp_path / "chiso.toml"
    toml.write_text('http_port = 9000\n[calendar]\nwarning_threshold_hours = 4\n', encoding="utf-8")
    monkeypatch.setenv("CHISO_SETTINGS", str(toml))
    monkeypatch.setenv("CHISO_INGEST_TOKEN", "top-secret-token")
    monkeypatch.setenv("CHISO_REDIS", "redis://:hunter2@10.0.0.5:6379/0")
    monkeypatch.setenv("CHISO_PARTITIONS", "4")
    assert main(["settings", "--json"]) == 0
    out = capsys.readouterr().out
    assert "top-secret-token" not in out and "hunter2" not in out
    rep = json.loads(out)
    rows = {r["name"]: r for r in rep["settings"]}
    assert rows["partitions"]["value"] == 4 and rows["partitions"]["source"] == "CHISO_PARTITIONS"
    assert rows["http_port"]["value"] == 9000 and rows["http_port"]["source"] == str(toml)
    assert rows["calendar.warning_threshold_hours"]["source"] == str(toml)
    assert rows["calendar.timezone"]["source"] == "default"
    assert rows["calendar.timezone"]["variable"] == "CHISO_CALENDAR__TIMEZONE"
    assert rows["ingest_token"]["value"] == "**********"
    assert rep["redis"] == "redis://:***@10.0.0.5:6379/0" and rep["state_dir"] == str(tmp_path / "state")
    assert rep["uses"] == "using Kafka not set (default), Redis redis://:***@10.0.0.5:6379/0 (CHISO_REDIS)"
    assert main(["settings"]) == 0
    text = capsys.readouterr().out
    assert "CHISO_HTTP_PORT" in text and "state directory" in text and "hunter2" not in text


def test_redact_url() -> None:
    assert redact_url("redis://:pw@h:1/0") == "redis://:***@h:1/0"
    assert redact_url("redis://user:pw@h/0") == "redis://user:***@h/0"
    assert redact_url("redis://h:1/0") == "redis://h:1/0"


def test_the_runtime_file_counts_only_while_its_chiso_up_holds_the_state_dir(tmp_path) -> None:
    settings = Settings()
    settings.state_dir.mkdir(parents=True)
    runtime_file(settings).write_text(json.dumps({"kafka": "127.0.0.1:1111", "redis": "redis://127.0.0.1:2222/0"}))
    resolved, sources = resolve(settings)  # left by an instance that is gone: ignored
    assert resolved.kafka is None and sources["kafka"] == "default"
    assert running_instance(settings.state_dir) is None
    fd = hold_instance(settings.state_dir)
    try:
        assert running_instance(settings.state_dir) == os.getpid()
        resolved, sources = resolve(settings)
        assert resolved.kafka == "127.0.0.1:1111" and resolved.redis == "redis://127.0.0.1:2222/0"
        assert sources["kafka"] == f"the running `chiso up` (pid {os.getpid()}) of {settings.state_dir}"
        with pytest.raises(UserError, match=f"another `chiso up` \\(pid {os.getpid()}\\) is running"):
            hold_instance(settings.state_dir)  # a second one on the same state directory
        other = Settings(state_dir=tmp_path / "other")  # another state directory: its own runtime file
        assert resolve(other)[0].kafka is None and runtime_file(other) != runtime_file(settings)
    finally:
        os.close(fd)
    assert running_instance(settings.state_dir) is None


def test_a_taken_port_is_one_line(tmp_path: Path) -> None:
    import socket

    from chiso.instance import check_port_free

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(UserError, match=f"port {port} on 127.0.0.1: already in use"):
            check_port_free("127.0.0.1", port)
    check_port_free("127.0.0.1", port)  # free again
