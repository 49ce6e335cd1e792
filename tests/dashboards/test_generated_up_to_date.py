"""The committed dashboards/generated/*.json are exactly what the code builds."""

from __future__ import annotations

import json

from dashboards.build import GENERATED, main, write_all
from dashboards.common import encode
from dashboards.registry import DASHBOARDS


def read_all(folder):
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.json"))}


def test_committed_json_matches_a_fresh_build(tmp_path):
    write_all(tmp_path)
    fresh, committed = read_all(tmp_path), read_all(GENERATED)
    assert sorted(committed) == sorted(fresh), "run: python -m dashboards.build"
    for name, text in fresh.items():
        assert committed[name] == text, f"{name} is stale: run python -m dashboards.build"


def test_one_file_per_dashboard_named_by_uid(tmp_path):
    write_all(tmp_path)
    assert sorted(read_all(tmp_path)) == sorted(f"{uid}.json" for uid in DASHBOARDS)


def test_output_is_deterministic_sorted_and_newline_terminated(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    write_all(first)
    write_all(second)
    assert read_all(first) == read_all(second)
    for text in read_all(first).values():
        assert text.endswith("}\n") and not text.endswith("\n\n")
        assert encode(json.loads(text)) == text  # sorted keys, 2-space indent
        assert text.startswith('{\n  "')
        assert "\\u" not in text  # Vietnamese stays readable in diffs


def test_main_writes_into_out_and_removes_stale_files(tmp_path, capsys):
    (tmp_path / "old-dashboard.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("kept\n", encoding="utf-8")
    assert main(["--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{uid}.json" for uid in DASHBOARDS] + ["notes.txt"])
    assert "chiso-overview.json" in capsys.readouterr().out
