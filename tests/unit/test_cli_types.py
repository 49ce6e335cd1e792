"""Errors that explain (#12): the argparse types of `chiso`, and the mapping of
known errors to one line and an exit status (chiso.errors.describe)."""

from __future__ import annotations

import argparse
from datetime import date

import pytest
import redis
from kafka.errors import KafkaTimeoutError
from pydantic import ValidationError

from chiso.cli import build_parser, cli_date, http_url, main, non_negative_int, positive_float, positive_int
from chiso.errors import UserError, describe
from chiso.settings import Settings, SettingsError

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for name in [k for k in os.environ if k.startswith("CHISO_")]:
        monkeypatch.delenv(name)


def test_dates_accept_iso_and_the_reports_own_form() -> None:
    assert cli_date("2026-11-01") == date(2026, 11, 1)
    assert cli_date("01/11/2026") == date(2026, 11, 1)
    assert cli_date("1/2/2026") == date(2026, 2, 1)


@pytest.mark.parametrize("text", ["2026-13-01", "31/11/2026", "2026/11/01", "11-01-2026", "", "hôm nay"])
def test_bad_dates_are_refused_in_both_languages(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="ngày không hợp lệ / invalid date"):
        cli_date(text)


@pytest.mark.parametrize(("kind", "text"), [(positive_float, "-5"), (positive_float, "0"), (positive_float, "nan"),
                                            (positive_float, "inf"), (positive_float, "abc"), (positive_int, "0"),
                                            (positive_int, "1.5"), (non_negative_int, "-1")])
def test_non_positive_numbers_are_refused(kind, text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        kind(text)


def test_good_numbers_pass() -> None:
    assert positive_float("2.5") == 2.5 and positive_int("3") == 3 and non_negative_int("0") == 0


@pytest.mark.parametrize("text", ["localhost:3000", "grafana.local", "ftp://x", "http://"])
def test_urls_need_a_scheme_and_a_host(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="not an http"):
        http_url(text)
    assert http_url("https://grafana.example.vn/") == "https://grafana.example.vn/"


def test_a_parse_mistake_is_one_line_and_status_2(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["replay", "x.jsonl", "--rate", "-5"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("chiso replay: argument --rate: must be positive")


def test_known_errors_map_to_lines_and_statuses() -> None:
    assert describe(UserError("bad", 1)) == (["bad"], 1)
    assert describe(SettingsError("CHISO_UNITS=/x: no such file")) == (["CHISO_UNITS=/x: no such file"], 2)
    lines, status = describe(FileNotFoundError(2, "No such file or directory", "/nope"))
    assert lines == ["cannot read /nope: No such file or directory"] and status == 2
    assert describe(redis.exceptions.ConnectionError("Error 111"))[1] == 1
    assert describe(KafkaTimeoutError("Unable to bootstrap from 127.0.0.1:1"))[0][0].startswith(
        "lỗi Kafka / Kafka error: ")
    assert describe(ZeroDivisionError()) is None  # a bug keeps its traceback


def test_bad_settings_values_are_one_line_per_key(monkeypatch) -> None:
    monkeypatch.setenv("CHISO_HTTP_PORT", "abc")
    monkeypatch.setenv("CHISO_PARTITIONS", "x")
    with pytest.raises(ValidationError) as exc:
        Settings()
    lines, status = describe(exc.value)
    assert status == 2 and len(lines) == 2
    assert lines[0].startswith("bad setting CHISO_HTTP_PORT='abc': ") and lines[1].startswith("bad setting CHISO_PARTITIONS='x'")


def test_a_settings_file_that_is_not_there_or_has_unknown_keys_stops(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CHISO_SETTINGS", str(tmp_path / "nope.toml"))
    with pytest.raises(SettingsError, match="nope.toml: no such file"):
        Settings()
    path = tmp_path / "chiso.toml"
    path.write_text('http_prot = 9000\n[calendar]\ntimezon = "Asia/Bangkok"\n[index]\nbands = []\n', encoding="utf-8")
    monkeypatch.setenv("CHISO_SETTINGS", str(path))
    with pytest.raises(SettingsError, match=r"unknown keys http_prot, calendar\.timezon"):
        Settings()
    path.write_text('http_port = "abc"\n', encoding="utf-8")
    with pytest.raises(ValidationError) as exc:
        Settings()
    assert describe(exc.value)[0] == [f"bad setting http_port='abc' in {path} (or CHISO_HTTP_PORT): "
                                      "Input should be a valid integer, unable to parse string as an integer"]
    path.write_text("http_port = = 1\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="not valid TOML"):
        Settings()


def test_a_catalogue_that_is_not_there_names_its_setting(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CHISO_UNITS", str(tmp_path / "units.csv"))
    with pytest.raises(SettingsError, match="CHISO_UNITS=.*units.csv: no such file"):
        Settings().load_catalogues()
    monkeypatch.delenv("CHISO_UNITS")
    monkeypatch.setenv("CHISO_PROCEDURES", str(tmp_path))
    with pytest.raises(SettingsError, match="CHISO_PROCEDURES=.*: not a file"):
        Settings().load_catalogues()


def test_main_prints_one_line_for_a_command_mistake(capsys, tmp_path) -> None:
    assert main(["replay", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"chiso replay: {tmp_path} is a directory; give a JSON Lines file (or - for stdin)\n"


def test_the_walls_settings_are_named_with_their_own_prefix(monkeypatch) -> None:
    from chiso.wall.settings import WallSettings

    monkeypatch.setenv("CHISO_WALL_POLL_S", "often")
    with pytest.raises(ValidationError) as exc:
        WallSettings()
    assert describe(exc.value)[0] == ["bad setting CHISO_WALL_POLL_S='often': "
                                      "Input should be a valid number, unable to parse string as a number"]
