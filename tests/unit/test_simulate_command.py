"""`chiso simulate`: a bad catalogue is one clear line; a scenario says which
catalogue and settings the server needs for its figures."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from chiso.cli import main as chiso_main
from chiso.commands.simulate import _serve_hint
from sources.scenarios import SCENARIOS


def test_a_bad_procedure_catalogue_is_one_line_before_anything_is_sent(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "procedures.csv"
    bad.write_text("procedure_id,name,applies_to,online_service\n1.001193,Khai sinh,level:commune,sometimes\n")
    monkeypatch.setenv("CHISO_STATE_DIR", str(tmp_path))  # no running `chiso up` to borrow from
    monkeypatch.setenv("CHISO_KAFKA", "127.0.0.1:9")      # never reached
    monkeypatch.setenv("CHISO_PROCEDURES", str(bad))
    assert chiso_main(["simulate"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"chiso: {bad}:2: column online_service") and "\n" not in err


def test_the_scenario_hint_names_the_catalogue_and_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = SCENARIOS["quang-nam-2024q2"]
    env = spec.server_env()
    assert env["CHISO_PROCEDURES"] == spec.procedures_path and Path(spec.procedures_path).is_file()
    monkeypatch.delenv("CHISO_PROCEDURES", raising=False)
    hint = _serve_hint("quang-nam-2024q2", env, spec.first, spec.last)
    assert f"CHISO_PROCEDURES={spec.procedures_path}" in hint
    assert "CHISO_INDEX__E_CERTIFIED_COPY_SHARE=1.0" in hint
    assert "this shell does not set CHISO_PROCEDURES" in hint
    assert "/api/v1/kpis?from=2024-03-15&to=2024-06-14" in hint
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert "does not set" not in _serve_hint("x", env, date(2024, 3, 15), date(2024, 6, 14))
