"""Typed settings: defaults that work on a fresh machine, the contract's names, one province file."""

from __future__ import annotations

from datetime import date, time

import pytest
from pydantic import ValidationError

from chiso.settings import Settings, sample_units_path
from processors.units import UnitCatalogue

CHISO_VARS = ("CHISO_KAFKA", "CHISO_REDIS", "CHISO_HTTP_PORT", "CHISO_UNITS", "CHISO_NOW", "CHISO_SETTINGS",
              "CHISO_METRICS_WINDOWS", "CHISO_METRICS_LEVELS", "CHISO_INGEST_TOKEN")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in CHISO_VARS:
        monkeypatch.delenv(name, raising=False)


def test_defaults_work_on_a_fresh_machine() -> None:
    s = Settings()
    assert s.kafka is None and s.redis is None  # chiso up starts embedded ones
    assert s.http_port == 8000 and s.now is None
    assert len(UnitCatalogue.from_path(s.units_path)) > 100
    assert s.units_path == sample_units_path()
    assert s.events_topic == "dossier-events" and s.dlq_topic == "dossier-events-dlq" and s.alerts_topic == "dossier-alerts"


def test_contract_names_come_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("CHISO_KAFKA", "k1:9092,k2:9092")
    monkeypatch.setenv("CHISO_REDIS", "redis://r:6379/1")
    monkeypatch.setenv("CHISO_HTTP_PORT", "8081")
    monkeypatch.setenv("CHISO_NOW", "2024-06-14T17:00:00+07:00")
    monkeypatch.setenv("CHISO_METRICS_WINDOWS", "30d,ytd")
    s = Settings()
    assert (s.kafka, s.redis, s.http_port) == ("k1:9092,k2:9092", "redis://r:6379/1", 8081)
    assert s.now.isoformat() == "2024-06-14T17:00:00+07:00"
    assert s.metrics_windows == ["30d", "ytd"]


@pytest.mark.parametrize("name,value", [("CHISO_NOW", "2024-06-14T17:00:00"), ("CHISO_HTTP_PORT", "x"),
                                        ("CHISO_METRICS_WINDOWS", "30d,fortnight")])
def test_bad_values_are_refused_at_start(monkeypatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


def test_a_province_keeps_calendar_and_index_settings_in_one_file(monkeypatch, tmp_path) -> None:
    path = tmp_path / "province.toml"
    path.write_text(
        'http_port = 9000\n'
        '[calendar]\n'
        'office_hours = [["08:00", "12:00"], ["13:00", "17:00"]]\n'
        'extra_working_days = [2026-01-10]\n'
        'extra_holidays = [2026-09-03]\n'
        'warning_threshold_hours = 16\n'
        '[index]\n'
        'bands = [[85.0, "excellent"], [75.0, "good"], [65.0, "fair"], [50.0, "average"]]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("CHISO_SETTINGS", str(path))
    monkeypatch.setenv("CHISO_HTTP_PORT", "9100")  # the environment wins over the file
    s = Settings()
    assert s.http_port == 9100
    cal = s.calendar.to_config()
    assert cal.office_hours == ((time(8), time(12)), (time(13), time(17)))
    assert date(2026, 1, 10) in cal.extra_working_days and date(2026, 9, 3) in cal.extra_holidays
    assert cal.warning_threshold_s == 16 * 3600
    assert s.index.to_config().bands[0] == (85.0, "excellent")


def test_secrets_never_print(monkeypatch) -> None:
    monkeypatch.setenv("CHISO_INGEST_TOKEN", "top-secret-token")
    s = Settings()
    assert s.ingest_token.get_secret_value() == "top-secret-token"
    assert "top-secret-token" not in repr(s) and "top-secret-token" not in str(s.redacted())


def test_the_shipped_example_settings_file_loads(monkeypatch) -> None:
    from pathlib import Path

    monkeypatch.setenv("CHISO_SETTINGS", str(Path(__file__).resolve().parents[2] / "deploy" / "chiso.example.toml"))
    s = Settings()
    assert s.metrics_windows == ["today", "30d", "ytd"]
    assert s.retention_days == 180 and s.retention_tombstone_days is None
    assert s.calendar.to_config().warning_threshold_s == 7.5 * 3600
    config = s.index.to_config()
    assert config.maxima["dossier_on_time"] == 20 and config.group_max("digitization") == 22
    assert config.thresholds["dossier_satisfaction"] == 0.9 and s.index.counting_rules().second_supplement_is_late


def test_retention_settings_reach_the_worker_and_reject_negatives(monkeypatch) -> None:
    monkeypatch.setenv("CHISO_KAFKA", "127.0.0.1:9092")
    monkeypatch.setenv("CHISO_RETENTION_DAYS", "30")
    monkeypatch.setenv("CHISO_RETENTION_TOMBSTONE_DAYS", "0")
    config = Settings().worker_config()
    assert (config.retention_days, config.retention_tombstone_days) == (30, 0)
    monkeypatch.setenv("CHISO_RETENTION_DAYS", "-1")
    with pytest.raises(ValidationError):
        Settings()
