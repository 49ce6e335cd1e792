"""Typed settings from the environment (``CHISO_*``) and an optional TOML file.

The names fixed by the contract (outputs.md) are CHISO_KAFKA, CHISO_REDIS,
CHISO_HTTP_PORT, CHISO_UNITS, CHISO_NOW and CHISO_PROCEDURES; everything else has a default that
works on a fresh machine. A province keeps its calendar and index settings in
one TOML file named by CHISO_SETTINGS (see docs/settings.md); environment
variables win over the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from processors.calendar import CalendarConfig
from processors.catalogue import ProcedureCatalogue
from processors.index import SPECS, IndexConfig
from processors.rules import CountingRules
from processors.timeutil import fixed_or_system_clock
from processors.units import UnitCatalogue
from processors.windows import WINDOW_NAMES
from sources.samples import sample_procedures_path, sample_units_path
from sources.simulator.feed import FeedConfig
from store.layout import open_reader, open_sync
from streams.config import Topics, WorkerConfig

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class SettingsError(ValueError):
    """A setting that cannot be used (a file that is not there, an unknown key):
    the message names the setting and the reason, on one line."""


def _settings_file() -> str | None:
    return os.environ.get("CHISO_SETTINGS") or None


def env_name(loc: tuple[Any, ...], prefix: str = "CHISO_") -> str:
    """The environment variable of a field path: ("calendar", "timezone") -> CHISO_CALENDAR__TIMEZONE."""
    names = [str(part) for part in loc[:2] if isinstance(part, str)]
    return prefix + "__".join(n.upper() for n in names)


# Settings classes other than Settings, by the title pydantic gives their errors.
ENV_PREFIXES = {"WallSettings": "CHISO_WALL_"}


def validation_lines(exc: ValidationError) -> list[str]:
    """One line per bad setting: where it was set (variable or file key), its value and the reason."""
    lines = []
    prefix = ENV_PREFIXES.get(exc.title, "CHISO_")
    toml = _settings_file() if prefix == "CHISO_" else None
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        if not loc:
            lines.append(f"bad settings: {err['msg']}")
            continue
        var = env_name(loc, prefix)
        value = repr(err.get("input"))
        if len(value) > 80:
            value = value[:77] + "..."
        if var in os.environ or not toml:
            lines.append(f"bad setting {var}={value}: {err['msg']}")
        else:
            key = ".".join(str(p) for p in loc[:2] if isinstance(p, str))
            lines.append(f"bad setting {key}={value} in {toml} (or {var}): {err['msg']}")
    return lines


def _toml_table() -> dict[str, Any]:
    path = _settings_file()
    if not path:
        return {}
    import tomllib

    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, ValueError):
        return {}


def setting_source(name: str) -> str:
    """Where the value of setting ``name`` ("http_port", or "calendar.timezone")
    comes from: its environment variable, the CHISO_SETTINGS file, or the default
    (the environment wins over the file)."""
    path = name.split(".")
    var = env_name(tuple(path))
    top = env_name((path[0],))
    for key in os.environ:
        k = key.upper()
        if k == var or (len(path) == 1 and k.startswith(var + "__")) or (len(path) > 1 and k == top):
            return k
    table: Any = _toml_table()
    for part in path:
        if not isinstance(table, dict) or part not in table:
            return "default"
        table = table[part]
    return str(_settings_file())


class StrictTomlSource(TomlConfigSettingsSource):
    """The CHISO_SETTINGS file, strictly: a file that is not there, TOML that does
    not parse and keys that no setting has stop start-up (naming the key), rather
    than being silently ignored."""

    def __init__(self, settings_cls: type[BaseSettings], toml_file: str) -> None:
        path = Path(toml_file)
        if not path.is_file():
            raise SettingsError(f"CHISO_SETTINGS={toml_file}: no such file")
        try:
            super().__init__(settings_cls, toml_file=path)
        except ValueError as exc:  # tomllib.TOMLDecodeError
            raise SettingsError(f"CHISO_SETTINGS={toml_file}: not valid TOML: {exc}") from None
        unknown = unknown_keys(settings_cls, self.toml_data)
        if unknown:
            raise SettingsError(f"CHISO_SETTINGS={toml_file}: unknown key{'s' if len(unknown) > 1 else ''} "
                                f"{', '.join(unknown)} (see docs/settings.md)")


def unknown_keys(model: type[BaseModel], data: dict[str, Any], prefix: str = "") -> list[str]:
    """Keys of ``data`` (a TOML table) that are no field of ``model``; nested models too."""
    out = []
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            out.append(f"{prefix}{key}")
            continue
        sub = field.annotation
        if isinstance(value, dict) and isinstance(sub, type) and issubclass(sub, BaseModel):
            out.extend(unknown_keys(sub, value, f"{prefix}{key}."))
    return out


def _existing_file(setting: str, value: str) -> str:
    path = Path(value)
    if not path.exists():
        raise SettingsError(f"{setting}={value}: no such file")
    if not path.is_file():
        raise SettingsError(f"{setting}={value}: not a file")
    return value


class CalendarSettings(BaseModel):
    timezone: str = "Asia/Ho_Chi_Minh"
    office_hours: list[tuple[time, time]] = [(time(7, 30), time(11, 30)), (time(13, 30), time(17, 0))]
    extra_holidays: list[date] = []
    removed_holidays: list[date] = []
    extra_working_days: list[date] = []
    warning_threshold_hours: float = 7.5  # one working day of office time

    def to_config(self) -> CalendarConfig:
        return CalendarConfig(
            timezone=self.timezone,
            office_hours=tuple(self.office_hours),
            extra_holidays=frozenset(self.extra_holidays),
            removed_holidays=frozenset(self.removed_holidays),
            extra_working_days=frozenset(self.extra_working_days),
            warning_threshold_s=self.warning_threshold_hours * 3600.0,
        )


class IndexSettings(BaseModel):
    """index.md's settings (docs/settings.md): per-indicator maxima and thresholds
    (a partial table overrides the defaults), bands, the root-only rule of
    online_catalogue, the province's share of e-certified copies, and the
    counting rules, which shape what is stored (changing one needs a rebuild)."""

    maxima: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    bands: list[tuple[float, str]] = list(IndexConfig().bands)
    online_catalogue_root_only: bool = True
    e_certified_copy_share: float = Field(1.0, ge=0.0, le=1.0)
    second_supplement_is_late: bool = True
    sync_max_delay_hours: float | None = Field(None, gt=0)
    petition_working_days: int = Field(15, ge=1, le=365)

    @field_validator("maxima", "thresholds")
    @classmethod
    def _known_indicators(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(SPECS))
        if unknown:
            raise ValueError(f"unknown indicators {unknown}; expected some of {', '.join(SPECS)}")
        if any(v <= 0 for v in value.values()):
            raise ValueError("maxima and thresholds must be positive")
        return value

    def to_config(self) -> IndexConfig:
        defaults = IndexConfig()
        return IndexConfig(
            maxima={**defaults.maxima, **self.maxima}, thresholds={**defaults.thresholds, **self.thresholds},
            bands=tuple(self.bands), online_catalogue_root_only=self.online_catalogue_root_only,
            e_certified_copy_share=self.e_certified_copy_share,
        )

    def counting_rules(self) -> CountingRules:
        delay = timedelta(hours=self.sync_max_delay_hours) if self.sync_max_delay_hours is not None else None
        return CountingRules(self.second_supplement_is_late, delay, self.petition_working_days)


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "chiso"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHISO_", env_nested_delimiter="__", extra="ignore")

    # Fixed by the contract.
    kafka: str | None = Field(None, description="bootstrap servers; unset: `chiso up` starts an embedded broker")
    redis: str | None = Field(None, description="Redis URL; unset: `chiso up` starts an embedded Redis")
    http_port: int = Field(8000, ge=1, le=65535)
    units: str | None = Field(None, description="unit catalogue CSV; unset: the sample catalogue (Đà Nẵng)")
    now: datetime | None = Field(None, description="fixed RFC 3339 instant used as now")
    procedures: str | None = Field(None, description="procedure catalogue CSV; unset: the sample catalogue (Đà Nẵng)")

    # The project's own.
    http_host: str = "127.0.0.1"
    # A client must send a request's line and headers within this time (slowloris).
    http_header_timeout_s: float = Field(10.0, gt=0)
    events_topic: str = "dossier-events"
    dlq_topic: str = "dossier-events-dlq"
    alerts_topic: str = "dossier-alerts"
    partitions: int = 8
    group_id: str = "chiso"
    redis_prefix: str = "chiso:"
    # Redis Cluster key layout (store/layout.py, docs/architecture.md): "yes" tags
    # every key the apply path touches by its Kafka partition; "no" keeps the
    # single node's untagged keys; "auto" asks the server (INFO cluster). With
    # CHISO_REDIS unset (embedded Redis) it is always a single node.
    redis_cluster: Literal["auto", "yes", "no"] = "auto"
    batch_max: int = 2000
    batch_within_s: float = 0.25
    # "kafka+batch": one Faust message per fetched partition batch (streams/transport.py);
    # "kafka": Faust's own per-message path (~3x slower; kept for comparison).
    transport: Literal["kafka+batch", "kafka"] = "kafka+batch"
    session_timeout_s: float = 10.0  # Tansu makes a first group join wait half of it
    # State identity (docs/architecture.md): what a worker does when the log the
    # Redis state reflects is gone (broker lost data, topic recreated):
    # rebuild = flush chiso's keys and apply the available log again; continue =
    # keep the counters, read the partition as a new log (the embedded broker's
    # restart under `chiso up`); halt = stop applying, /readyz 503 with the reason.
    on_log_reset: Literal["rebuild", "continue", "halt"] = "rebuild"
    identity_check_s: float = Field(30.0, gt=0, description="seconds between a worker's checks of Redis against the broker")
    owner_ttl_s: float = Field(20.0, gt=0, description="a partition counts as owned this long after its worker's last heartbeat")
    state_dir: Path = Field(default_factory=default_state_dir)
    simulate_rate: float = 20.0      # at most this many live events per second from the simulator
    # Demo scale: Quảng Nam received ~1,672 dossiers a working day; a tenth keeps the
    # embedded broker's memory (never freed) modest for a long-running demo.
    simulate_dossiers_per_day: float = 170.0
    simulate_seed: int = 766
    # What /metrics exports per unit: windows, and unit levels (empty: every level).
    # A national deployment limits these to bound the number of series.
    metrics_windows: Annotated[list[str], NoDecode] = ["today", "7d", "30d", "mtd", "qtd", "ytd", "all"]
    metrics_levels: Annotated[list[str], NoDecode] = []
    ingest_token: SecretStr | None = None  # bearer token for POST /api/v1/events
    ingest_allow_anonymous: bool = False   # only for local use: ingest without a token
    ingest_max_bytes: int = Field(5_000_000, gt=0)  # larger bodies answer 413 (events, portal format)
    # The national portal's sync format (POST /api/dvcqg/..., chiso import-dvcqg).
    dvcqg_token: SecretStr | None = None   # its bearer token; unset: CHISO_INGEST_TOKEN
    dvcqg_agencies: str | None = Field(None, description="CSV agency,unit_id: portal unit codes and names -> unit ids")
    dvcqg_source: str = "dvcqg"            # the `source` of the events derived from syncs
    dvcqg_mark_synced: bool = True         # a sync to chiso is a copy of the sync to the portal: `synced`
    # Bounded memory (docs/performance.md "Memory budget"): a closed dossier's snapshot
    # (an answered petition's) is replaced by a tombstone this many days after its end
    # (its first answer); 0 keeps every snapshot.
    retention_days: int = Field(180, ge=0)
    retention_tombstone_days: int | None = Field(None, ge=0)  # unset: retention_days; 0: forever
    calendar: CalendarSettings = CalendarSettings()
    index: IndexSettings = IndexSettings()
    # `chiso notify`'s recipients file (docs/thong-bao.md); when set, `chiso up` runs the notifier.
    notify_recipients: str | None = None

    @field_validator("metrics_windows", "metrics_levels", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """Accept "30d,ytd" as well as a JSON list from the environment."""
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("metrics_windows")
    @classmethod
    def _known_windows(cls, value: list[str]) -> list[str]:
        unknown = [w for w in value if w not in WINDOW_NAMES]
        if unknown:
            raise ValueError(f"unknown windows {unknown}; expected some of {', '.join(WINDOW_NAMES)}")
        return value

    @field_validator("now")
    @classmethod
    def _now_has_offset(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("CHISO_NOW must be an RFC 3339 instant with an offset")
        return value

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[Any] = [init_settings, env_settings]
        toml_path = _settings_file()
        if toml_path:
            sources.append(StrictTomlSource(settings_cls, toml_path))
        return tuple(sources)

    @property
    def units_path(self) -> str:
        """The unit catalogue; a CHISO_UNITS that names no file raises SettingsError."""
        return _existing_file("CHISO_UNITS", self.units) if self.units else sample_units_path()

    @property
    def procedures_path(self) -> str:
        """The procedure catalogue; a CHISO_PROCEDURES that names no file raises SettingsError."""
        return _existing_file("CHISO_PROCEDURES", self.procedures) if self.procedures else sample_procedures_path()

    def load_catalogues(self) -> tuple[UnitCatalogue, ProcedureCatalogue]:
        """Both catalogues; a bad file raises with where (file, line, column)."""
        units = UnitCatalogue.from_path(self.units_path)
        return units, ProcedureCatalogue.from_path(self.procedures_path, units)

    def clock(self) -> Callable[[], datetime]:
        """The domain's *now*: CHISO_NOW when set, else the real clock."""
        return fixed_or_system_clock(self.now)

    @property
    def topics(self) -> Topics:
        return Topics(self.events_topic, self.dlq_topic, self.alerts_topic)

    def worker_config(self) -> WorkerConfig:
        if not self.kafka:
            raise ValueError("CHISO_KAFKA is not set (chiso up sets it for the embedded broker)")
        return WorkerConfig(
            kafka=self.kafka, redis_url=self.redis or DEFAULT_REDIS_URL, clock=self.clock(),
            state_dir=self.state_dir, topics=self.topics, partitions=self.partitions,
            group_id=self.group_id, redis_prefix=self.redis_prefix, batch_max=self.batch_max,
            batch_within_s=self.batch_within_s, session_timeout_s=self.session_timeout_s,
            on_log_reset=self.on_log_reset, identity_check_s=self.identity_check_s, owner_ttl_s=self.owner_ttl_s,
            calendar=self.calendar.to_config(), counting=self.index.counting_rules(),
            retention_days=self.retention_days, retention_tombstone_days=self.retention_tombstone_days,
            transport=self.transport, redis_cluster=self.redis_cluster_mode,
        )

    def feed_config(self, seed: int | None = None, rate: float | None = None) -> FeedConfig:
        assert self.kafka
        return FeedConfig(
            kafka=self.kafka, topic=self.events_topic, units_path=self.units_path,
            procedures_path=self.procedures_path, calendar=self.calendar.to_config(), fixed_now=self.now,
            dossiers_per_day=self.simulate_dossiers_per_day,
            seed=self.simulate_seed if seed is None else seed, rate=rate or self.simulate_rate,
        )

    @property
    def redis_url(self) -> str:
        return self.redis or DEFAULT_REDIS_URL

    @property
    def redis_cluster_mode(self) -> str:
        """CHISO_REDIS_CLUSTER, except that the embedded Redis is a single node."""
        return self.redis_cluster if self.redis else "no"

    def redis_layout(self, **kwargs):  # kwargs: store.layout.open_sync's
        """(sync client, Keys) of the configured layout, the partition count checked."""
        return open_sync(self.redis_url, self.redis_cluster_mode, self.redis_prefix, self.partitions, **kwargs)

    def redis_reader(self, **kwargs):  # kwargs: redis client options
        """(sync client, Keys, LayoutCheck) for the HTTP server, which starts without Redis."""
        return open_reader(self.redis_url, self.redis_cluster_mode, self.redis_prefix, self.partitions, **kwargs)

    def redacted(self) -> dict[str, Any]:
        """For logs and `chiso settings`: secrets never print (SecretStr, a password in the Redis URL)."""
        data = self.model_dump(mode="json")
        if self.redis:
            from urllib.parse import urlsplit

            parts = urlsplit(self.redis)
            if parts.password is not None:
                host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
                data["redis"] = parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl()
        return data
