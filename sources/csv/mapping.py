"""The column mapping (TOML, docs/csv-import.md): which column feeds which field,
value maps, date formats; validated when loaded."""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# -- the fields a mapping can feed --------------------------------------------------

TEXT_FIELDS = ("dossier_id", "unit_id", "procedure_id", "officer_id", "receiving_officer_id", "reason")
ENUM_TARGETS: dict[str, tuple[str, ...]] = {
    "channel": ("online", "direct", "postal"),
    "online_service": ("full", "partial", "none"),
    "status": ("open", "resolved", "withdrawn", "rejected", "stopped"),
    "payment_method": ("online", "offline"),
    "rating": ("very_satisfied", "satisfied", "dissatisfied"),
}
# Enum fields whose value map may send a value to "" (= no value: no event).
ENUM_MAY_BE_EMPTY = ("payment_method", "rating")
BOOL_FIELDS = ("digitized", "result_electronic", "synced")
# The reception's flags of the index's digitisation indicators (events.md): sent
# only when the export has them (a column, or a [defaults] value).
FLAG_FIELDS = ("reused_data", "personal_store", "citizen_data")
AMOUNT_FIELDS = ("fee_vnd",)
DATE_FIELDS = ("received_at", "due_at", "ended_at", "returned_at", "paid_at", "assigned_at",
               "rated_at", "synced_at")
FIELDS = TEXT_FIELDS + tuple(ENUM_TARGETS) + BOOL_FIELDS + FLAG_FIELDS + AMOUNT_FIELDS + DATE_FIELDS
REQUIRED = ("dossier_id", "unit_id", "procedure_id", "channel", "online_service",
            "received_at", "due_at")
# Fields that may have a [defaults] value (used when the column is absent or empty).
DEFAULTABLE = ("unit_id", "procedure_id", "channel", "online_service", "status",
               "payment_method") + BOOL_FIELDS + FLAG_FIELDS

# The time given to a date without a time of day, unless the mapping says otherwise
# (local time; see docs/csv-import.md).
DEFAULT_TIMES = {
    "received_at": time(8, 0), "due_at": time(17, 0), "ended_at": time(16, 0),
    "returned_at": time(17, 0), "paid_at": time(8, 0), "assigned_at": time(8, 0),
    "rated_at": time(17, 0), "synced_at": time(17, 0),
}
DEFAULT_DATE_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y",
                        "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
MAX_REASON = 1024  # events.md: reason ≤ 1024 chars
DELIMITERS = (",", ";", "\t", "|")


class CsvImportError(ValueError):
    """The file or the mapping cannot be used at all (nothing is imported)."""


# -- text normalisation -------------------------------------------------------------

def norm(text: str) -> str:
    """Unicode NFC, case folded, runs of white space as one space, trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def fold(text: str) -> str:
    """``norm`` without diacritics (``đ`` → ``d``): 'Trực tuyến' ~ 'truc tuyen'."""
    decomposed = unicodedata.normalize("NFD", norm(text))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("đ", "d")


_MISSING = object()


class Lookup:
    """Case-, space- and Unicode-form-insensitive table; falls back to a
    diacritic-insensitive match when that is unambiguous."""

    def __init__(self, entries: dict[str, Any]) -> None:
        self.exact = {norm(k): v for k, v in entries.items()}
        folded: dict[str, Any] = {}
        clash: set[str] = set()
        for k, v in self.exact.items():
            f = fold(k)
            if f in folded and folded[f] != v:
                clash.add(f)
            folded[f] = v
        self.folded = {k: v for k, v in folded.items() if k not in clash}

    def get(self, text: str) -> Any:
        key = norm(text)
        if key in self.exact:
            return self.exact[key]
        return self.folded.get(fold(key), _MISSING)


# -- the mapping ------------------------------------------------------------------

@dataclass(frozen=True)
class Mapping:
    name: str
    columns: dict[str, tuple[str, ...]]          # field -> candidate headers, first present wins
    values: dict[str, Lookup]                    # field -> value map (booleans share "boolean")
    defaults: dict[str, Any]
    date_formats: tuple[str, ...] = DEFAULT_DATE_FORMATS
    default_times: dict[str, time] = field(default_factory=lambda: dict(DEFAULT_TIMES))
    tz: ZoneInfo = ZoneInfo("Asia/Ho_Chi_Minh")
    source: str | None = None
    event_id_prefix: str = "csv"
    unit_prefix: str = ""

    @classmethod
    def from_toml(cls, text: str, name: str = "mapping") -> Mapping:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CsvImportError(f"{name}: not valid TOML: {exc}") from exc
        return cls.from_dict(doc, name)

    @classmethod
    def from_dict(cls, doc: dict[str, Any], name: str = "mapping") -> Mapping:
        def fail(msg: str) -> CsvImportError:
            return CsvImportError(f"{name}: {msg}")

        _only(doc, ("import", "columns", "defaults", "values"), "", fail)
        opts = doc.get("import", {})
        _only(opts, ("source", "timezone", "event_id_prefix", "unit_prefix", "date_formats",
                     "default_times"), "[import]", fail)

        columns: dict[str, tuple[str, ...]] = {}
        for fld, headers in doc.get("columns", {}).items():
            if fld not in FIELDS:
                raise fail(f"[columns]: unknown field {fld!r} (fields: {', '.join(FIELDS)})")
            if isinstance(headers, str):
                headers = [headers]
            if not isinstance(headers, list) or not headers or not all(isinstance(h, str) and h.strip() for h in headers):
                raise fail(f"[columns] {fld}: give a header or a list of headers")
            columns[fld] = tuple(headers)

        values: dict[str, Lookup] = {}
        for fld, table in doc.get("values", {}).items():
            if not isinstance(table, dict):
                raise fail(f"[values.{fld}] must be a table")
            for raw, target in table.items():
                problem = _check_value_target(fld, target)
                if problem:
                    raise fail(f"[values.{fld}] {raw!r}: {problem}")
            values[fld] = Lookup(table)

        defaults = dict(doc.get("defaults", {}))
        for fld, value in defaults.items():
            if fld not in DEFAULTABLE:
                raise fail(f"[defaults]: {fld!r} cannot have a default (allowed: {', '.join(DEFAULTABLE)})")
            problem = _check_default(fld, value)
            if problem:
                raise fail(f"[defaults] {fld}: {problem}")

        missing = [f for f in REQUIRED if f not in columns and f not in defaults]
        if missing:
            raise fail(f"[columns] must name a column for {', '.join(missing)}")

        formats = opts.get("date_formats", list(DEFAULT_DATE_FORMATS))
        if not isinstance(formats, list) or not formats or not all(isinstance(f, str) and "%" in f for f in formats):
            raise fail("[import] date_formats: a list of strptime formats such as \"%d/%m/%Y %H:%M\"")

        times = dict(DEFAULT_TIMES)
        for fld, value in opts.get("default_times", {}).items():
            if fld not in DATE_FIELDS:
                raise fail(f"[import.default_times]: unknown date field {fld!r}")
            try:
                times[fld] = value if isinstance(value, time) else time.fromisoformat(str(value))
            except ValueError:
                raise fail(f"[import.default_times] {fld}: {value!r} is not a time such as \"08:00\"") from None

        try:
            tz = ZoneInfo(str(opts.get("timezone", "Asia/Ho_Chi_Minh")))
        except (ZoneInfoNotFoundError, ValueError):
            raise fail(f"[import] timezone: unknown time zone {opts.get('timezone')!r}") from None

        source = opts.get("source")
        if source is not None and (not isinstance(source, str) or len(source) > 64):
            raise fail("[import] source: a string of at most 64 characters")
        prefix = opts.get("event_id_prefix", "csv")
        if not isinstance(prefix, str) or not prefix or len(prefix) > 32:
            raise fail("[import] event_id_prefix: a non-empty string of at most 32 characters")
        unit_prefix = opts.get("unit_prefix", "")
        if not isinstance(unit_prefix, str):
            raise fail("[import] unit_prefix: a string")
        return cls(name=name, columns=columns, values=values, defaults=defaults,
                   date_formats=tuple(formats), default_times=times, tz=tz, source=source or None,
                   event_id_prefix=prefix, unit_prefix=unit_prefix)

    def value_map(self, fld: str) -> Lookup | None:
        if fld in self.values:
            return self.values[fld]
        if fld in BOOL_FIELDS + FLAG_FIELDS:
            return self.values.get("boolean")
        return None


def _only(table: Any, allowed: tuple[str, ...], where: str, fail) -> None:
    if not isinstance(table, dict):
        raise fail(f"{where or 'the file'} must be a table")
    unknown = [k for k in table if k not in allowed]
    if unknown:
        raise fail(f"{where or 'top level'}: unknown key(s) {', '.join(map(repr, unknown))} (allowed: {', '.join(allowed)})")


def _check_value_target(fld: str, target: Any) -> str | None:
    if fld in ENUM_TARGETS:
        allowed = ENUM_TARGETS[fld] + (("",) if fld in ENUM_MAY_BE_EMPTY else ())
        return None if target in allowed else f"must map to one of {', '.join(map(repr, allowed))}"
    if fld in BOOL_FIELDS + FLAG_FIELDS or fld == "boolean":
        return None if isinstance(target, bool) else "must map to true or false"
    if fld in AMOUNT_FIELDS:
        ok = isinstance(target, int) and not isinstance(target, bool) and target >= 0
        return None if ok else "must map to an integer ≥ 0"
    if fld == "unit_id":
        return None if isinstance(target, str) and target.strip() else "must map to a unit id"
    return (f"no value map for this field (maps: "
            f"{', '.join((*ENUM_TARGETS, 'boolean', *BOOL_FIELDS, *FLAG_FIELDS, *AMOUNT_FIELDS, 'unit_id'))})")


def _check_default(fld: str, value: Any) -> str | None:
    if fld in ENUM_TARGETS:
        return None if value in ENUM_TARGETS[fld] else f"one of {', '.join(ENUM_TARGETS[fld])}"
    if fld in BOOL_FIELDS + FLAG_FIELDS:
        return None if isinstance(value, bool) else "true or false"
    return None if isinstance(value, str) and value.strip() else "a non-empty string"


DEFAULT_MAPPING = "mapping-igate.toml"


def load_mapping(path: str | None = None) -> Mapping:
    """The mapping in ``path``, or the built-in iGate mapping."""
    if path is None:
        text = resources.files("sources.csv").joinpath(DEFAULT_MAPPING).read_text("utf-8")
        return Mapping.from_toml(text, f"built-in {DEFAULT_MAPPING}")
    try:
        text = Path(path).read_text("utf-8-sig")
    except OSError as exc:
        raise CsvImportError(f"cannot read mapping {path}: {exc.strerror or exc}") from None
    return Mapping.from_toml(text, path)
