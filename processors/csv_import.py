"""Dossier exports (CSV, one row per dossier) turned into dossier events.

A one-stop system's export (iGate, the provincial "Hệ thống thông tin giải quyết
TTHC") says, per dossier, where it stands *now*: when it was received, when it is
due, whether and when it ended, was paid, rated, synced. Each row becomes the events
that produce those facts (events.md), with deterministic ids
``{prefix}:{dossier_id}:{type}``: importing the same file twice, or a later export
of the same dossiers, only adds duplicates and the events that are new.

A *mapping* (TOML, see docs/csv-import.md and chiso/data/csv-mapping-igate.toml)
names the CSV column of each field, the value maps (``"Trực tuyến"`` → ``online``),
the date formats and the time used for dates without one.

Pure: text in, event dicts out. No Kafka, no Redis, no clock, no file system.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, Iterable, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from processors.events import InvalidEvent, event_from_dict

# -- the fields a mapping can feed --------------------------------------------------

TEXT_FIELDS = ("dossier_id", "unit_id", "procedure_id", "officer_id", "receiving_officer_id", "reason")
ENUM_TARGETS: dict[str, tuple[str, ...]] = {
    "channel": ("online", "direct", "postal"),
    "online_service": ("full", "partial", "none"),
    "status": ("open", "resolved", "withdrawn", "rejected"),
    "payment_method": ("online", "offline"),
    "rating": ("very_satisfied", "satisfied", "dissatisfied"),
}
# Enum fields whose value map may send a value to "" (= no value: no event).
ENUM_MAY_BE_EMPTY = ("payment_method", "rating")
BOOL_FIELDS = ("digitized", "result_electronic", "synced")
AMOUNT_FIELDS = ("fee_vnd",)
DATE_FIELDS = ("received_at", "due_at", "ended_at", "returned_at", "paid_at", "assigned_at",
               "rated_at", "synced_at")
FIELDS = TEXT_FIELDS + tuple(ENUM_TARGETS) + BOOL_FIELDS + AMOUNT_FIELDS + DATE_FIELDS
REQUIRED = ("dossier_id", "unit_id", "procedure_id", "channel", "online_service",
            "received_at", "due_at")
# Fields that may have a [defaults] value (used when the column is absent or empty).
DEFAULTABLE = ("unit_id", "procedure_id", "channel", "online_service", "status",
               "payment_method") + BOOL_FIELDS

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
        if fld in BOOL_FIELDS:
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
    if fld in BOOL_FIELDS or fld == "boolean":
        return None if isinstance(target, bool) else "must map to true or false"
    if fld in AMOUNT_FIELDS:
        ok = isinstance(target, int) and not isinstance(target, bool) and target >= 0
        return None if ok else "must map to an integer ≥ 0"
    if fld == "unit_id":
        return None if isinstance(target, str) and target.strip() else "must map to a unit id"
    return f"no value map for this field (maps: {', '.join((*ENUM_TARGETS, 'boolean', *BOOL_FIELDS, *AMOUNT_FIELDS, 'unit_id'))})"


def _check_default(fld: str, value: Any) -> str | None:
    if fld in ENUM_TARGETS:
        return None if value in ENUM_TARGETS[fld] else f"one of {', '.join(ENUM_TARGETS[fld])}"
    if fld in BOOL_FIELDS:
        return None if isinstance(value, bool) else "true or false"
    return None if isinstance(value, str) and value.strip() else "a non-empty string"


# -- cell parsers ------------------------------------------------------------------

_CURRENCY = re.compile(r"\s*(vnđ|vnd|đồng|đ|₫)\.?$")
_THOUSANDS = re.compile(r"\d{1,3}(?:\.\d{3})+|\d{1,3}(?:,\d{3})+")
_DECIMAL = re.compile(r"(\d{1,3}(?:([.,])\d{3})*|\d+)([.,])(\d{1,2})")


def parse_amount(text: str) -> int:
    """A VND amount as exports write it: '75.000', '1.200.000 đ', '50,000', '50000.00'."""
    s = _CURRENCY.sub("", norm(text)).replace(" ", "").replace("\u00a0", "")
    if s.isdigit():
        return int(s)
    if _THOUSANDS.fullmatch(s):
        return int(s.replace(".", "").replace(",", ""))
    m = _DECIMAL.fullmatch(s)
    if m and m.group(2) != m.group(3) and int(m.group(4)) == 0:  # '50000.00', '1.200.000,00'
        return int(re.sub(r"[.,]", "", m.group(1)))
    raise ValueError(text)


def parse_datetime(text: str, formats: Iterable[str], tz: ZoneInfo, default_time: time) -> tuple[datetime, bool]:
    """(local instant, whether the text had a time of day). Raises ValueError."""
    s = " ".join(text.split())
    for fmt in formats:
        try:
            value = datetime.strptime(s, fmt)
        except ValueError:
            continue
        has_time = any(d in fmt for d in ("%H", "%I", "%M"))
        if value.tzinfo is not None:
            return value.astimezone(tz), has_time
        if not has_time:
            value = datetime.combine(value.date(), default_time)
        return value.replace(tzinfo=tz), has_time
    raise ValueError(text)


def instant(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


# -- rows -------------------------------------------------------------------------

@dataclass(frozen=True)
class RowError:
    line: int              # the file line the row starts on (the header is line 1)
    reason: str
    dossier_id: str | None = None

    def __str__(self) -> str:
        who = f" ({self.dossier_id})" if self.dossier_id else ""
        return f"line {self.line}{who}: {self.reason}"


@dataclass(frozen=True)
class RowResult:
    line: int
    dossier_id: str
    events: list[dict]
    warnings: tuple[str, ...] = ()


class RowRejected(Exception):
    """Raised by Converter.convert: the row is not imported."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


class Converter:
    """Binds a mapping to a file's header; converts its rows."""

    def __init__(self, mapping: Mapping, header: list[str], unit_prefix: str | None = None) -> None:
        self.mapping = mapping
        self.unit_prefix = mapping.unit_prefix if unit_prefix is None else unit_prefix
        self.index: dict[str, int] = {}
        self.columns: dict[str, str] = {}   # field -> the header it reads, as the file spells it
        exact = {}
        folded: dict[str, list[int]] = {}
        for i, h in enumerate(header):
            exact.setdefault(norm(h), i)
            folded.setdefault(fold(h), []).append(i)
        for fld, candidates in mapping.columns.items():
            for cand in candidates:
                i = exact.get(norm(cand))
                if i is None and len(folded.get(fold(cand), ())) == 1:
                    i = folded[fold(cand)][0]
                if i is not None:
                    self.index[fld] = i
                    self.columns[fld] = header[i]
                    break
        missing = [f for f in REQUIRED if f not in self.index and f not in mapping.defaults]
        if missing:
            wanted = "; ".join(f"{f}: {' / '.join(mapping.columns.get(f, ()))}" for f in missing)
            raise CsvImportError(f"{mapping.name}: required column(s) not in the file's header — {wanted}. "
                                 f"Header: {', '.join(header)}")

    def label(self, fld: str) -> str:
        return self.columns.get(fld) or (self.mapping.columns.get(fld) or (fld,))[0]

    # -- one row --

    def convert(self, line: int, cells: list[str]) -> RowResult:
        """The events of one row. Raises RowRejected with every problem found."""
        m = self.mapping
        problems: list[str] = []
        warnings: list[str] = []

        def cell(fld: str) -> str:
            i = self.index.get(fld)
            if i is None or i >= len(cells):
                return ""
            return unicodedata.normalize("NFC", cells[i]).strip()

        def text(fld: str, required: bool = False) -> str | None:
            raw = cell(fld)
            if raw:
                return " ".join(raw.split()) if fld != "reason" else raw.replace("\r\n", "\n")
            if fld in m.defaults:
                return m.defaults[fld]
            if required:
                problems.append(f"{self.label(fld)} is empty")
            return None

        def enum(fld: str, required: bool = False, use_default: bool = True) -> str | None:
            raw = cell(fld)
            if not raw:
                if use_default and fld in m.defaults:
                    return m.defaults[fld]
                if required:
                    problems.append(f"{self.label(fld)} is empty")
                return None
            table = m.value_map(fld)
            value = table.get(raw) if table else _MISSING
            if value is _MISSING and norm(raw) in ENUM_TARGETS[fld]:
                value = norm(raw)  # already the contract's word
            if value is _MISSING:
                problems.append(f"{self.label(fld)}: unknown value {raw!r} (add it to [values.{fld}])")
                return None
            return value or None

        def boolean(fld: str) -> bool | None:
            raw = cell(fld)
            if not raw:
                return m.defaults.get(fld)
            table = m.value_map(fld)
            value = table.get(raw) if table else _MISSING
            if value is _MISSING:
                problems.append(f"{self.label(fld)}: unknown value {raw!r} (add it to [values.boolean] or [values.{fld}])")
                return None
            return value

        def amount(fld: str) -> int | None:
            raw = cell(fld)
            if not raw:
                return None
            table = m.value_map(fld)
            value = table.get(raw) if table else _MISSING
            if value is not _MISSING:
                return value
            try:
                return parse_amount(raw)
            except ValueError:
                problems.append(f"{self.label(fld)}: cannot read {raw!r} as an amount in VND")
                return None

        def when(fld: str, required: bool = False) -> tuple[datetime, bool] | None:
            raw = cell(fld)
            if not raw:
                if required:
                    problems.append(f"{self.label(fld)} is empty")
                return None
            try:
                return parse_datetime(raw, m.date_formats, m.tz, m.default_times[fld])
            except ValueError:
                problems.append(f"{self.label(fld)}: cannot read {raw!r} as a date "
                                f"(formats: {', '.join(m.date_formats[:3])}{', …' if len(m.date_formats) > 3 else ''})")
                return None

        def not_before(fld: str, value: tuple[datetime, bool] | None, floor: datetime | None,
                       floor_fld: str, strict: bool) -> datetime | None:
            """A date-only value on the floor's local date never falls before the floor
            (it takes the floor's instant); an earlier value is a problem if strict."""
            if value is None:
                return None
            at, has_time = value
            if floor is None or at >= floor:
                return at
            if not has_time and at.date() == floor.astimezone(m.tz).date():
                return floor
            if strict:
                problems.append(f"{self.label(fld)} ({instant(at)}) is before {self.label(floor_fld)} ({instant(floor)})")
            return at

        dossier_id = text("dossier_id", required=True)
        unit_raw = text("unit_id", required=True)
        unit_id = None
        if unit_raw:
            table = m.value_map("unit_id")
            mapped = table.get(unit_raw) if table else _MISSING
            unit_id = self.unit_prefix + (unit_raw if mapped is _MISSING else mapped)
        procedure_id = text("procedure_id", required=True)
        channel = enum("channel", required=True)
        online_service = enum("online_service", required=True)
        status = enum("status")
        payment_method = enum("payment_method", use_default=False)  # its default needs a payment date
        rating = enum("rating")
        digitized = boolean("digitized")
        result_electronic = boolean("result_electronic")
        synced = boolean("synced")
        fee = amount("fee_vnd")
        officer = text("officer_id")
        receiving_officer = text("receiving_officer_id")
        reason = text("reason")

        received = when("received_at", required=True)
        received_at = received[0] if received else None
        due_at = not_before("due_at", when("due_at", required=True), received_at, "received_at", True)
        ended_raw = when("ended_at")
        returned_raw = when("returned_at")
        paid_at = not_before("paid_at", when("paid_at"), received_at, "received_at", False)
        assigned_at = not_before("assigned_at", when("assigned_at"), received_at, "received_at", True)
        synced_at = not_before("synced_at", when("synced_at"), received_at, "received_at", False)
        rated_raw = when("rated_at")

        if status is None and not cell("status"):  # no status: an end date means resolved
            status = "resolved" if ended_raw else "open"
        ended_at = None
        if status in ("resolved", "withdrawn", "rejected"):
            if ended_raw is None and not cell("ended_at"):
                problems.append(f"{self.label('status')} {cell('status') or status!r} needs a date in {self.label('ended_at')}")
            ended_at = not_before("ended_at", ended_raw, received_at, "received_at", True)
        elif ended_raw is not None:
            warnings.append(f"{self.label('ended_at')} ignored: {self.label('status')} is {cell('status')!r}")
        returned_at = None
        if returned_raw is not None:
            if status == "resolved" and ended_at is not None:
                returned_at = not_before("returned_at", returned_raw, ended_at, "ended_at", True)
            elif status != "resolved":
                warnings.append(f"{self.label('returned_at')} ignored: the dossier was not resolved")
        if payment_method is None and paid_at is not None and "payment_method" in m.defaults:
            payment_method = m.defaults["payment_method"]
        if paid_at is not None and payment_method is None:
            problems.append(f"{self.label('paid_at')} is given but {self.label('payment_method')} is empty")

        if problems:
            raise RowRejected(RowError(line, "; ".join(problems), dossier_id))
        assert dossier_id and unit_id and procedure_id and channel and online_service and received_at and due_at

        prefix = f"{m.event_id_prefix}:{dossier_id}"
        events: list[dict] = []

        def emit(kind: str, at: datetime, **extra: Any) -> None:
            event = {"event_id": f"{prefix}:{kind}", "dossier_id": dossier_id, "type": kind,
                     "occurred_at": instant(at)}
            event.update({k: v for k, v in extra.items() if v is not None})
            if m.source:
                event["source"] = m.source
            events.append(event)

        paid = payment_method is not None
        emit("received", received_at, unit_id=unit_id, procedure_id=procedure_id, channel=channel,
             online_service=online_service, due_at=instant(due_at),
             fee_required=bool(fee) or paid, digitized=bool(digitized), officer_id=receiving_officer)
        if officer:
            emit("assigned", assigned_at or received_at, officer_id=officer)
        if paid:
            emit("paid", paid_at or received_at, method=payment_method, amount_vnd=fee)
        if status == "resolved":
            emit("resolved", ended_at, result_electronic=bool(result_electronic))
            if returned_at is not None:
                emit("returned", returned_at)
        elif status == "withdrawn":
            emit("withdrawn", ended_at)
        elif status == "rejected":
            if reason and len(reason) > MAX_REASON:
                reason = reason[: MAX_REASON - 1] + "…"
            emit("rejected", ended_at, reason=reason)
        if rating:
            floor = returned_at or ended_at or received_at
            rated_at = not_before("rated_at", rated_raw, floor, "returned_at", False) if rated_raw else floor
            emit("rated", rated_at, rating=rating)
        if synced:
            emit("synced", synced_at or received_at)

        for event in events:  # the contract has the last word (lengths, formats)
            checked = event_from_dict(event)
            if isinstance(checked, InvalidEvent):
                raise RowRejected(RowError(line, f"{event['type']} event invalid: {checked.detail}", dossier_id))
        return RowResult(line, dossier_id, events, tuple(warnings))


# -- files ------------------------------------------------------------------------

def decode_export(data: bytes, encoding: str = "utf-8") -> str:
    """The file's text, NFC-normalised. UTF-8 with or without BOM, UTF-16 with BOM
    (Excel's "Unicode text"), or the named encoding (e.g. cp1258)."""
    enc = encoding.lower().replace("_", "-")
    if enc in ("utf-8", "utf8") and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        enc = "utf-16"
    elif enc in ("utf-8", "utf8"):
        enc = "utf-8-sig"
    try:
        text = data.decode(enc)
    except LookupError:
        raise CsvImportError(f"unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CsvImportError(
            f"line {line}: not {encoding} (byte {data[exc.start:exc.start + 1]!r} at offset {exc.start}); "
            "try --encoding cp1258 (Windows Vietnamese) or save the file as \"CSV UTF-8\"") from None
    return unicodedata.normalize("NFC", text.lstrip("\ufeff"))


def sniff_delimiter(text: str) -> str:
    """The most frequent of , ; TAB | on the header line (',' if none)."""
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_rows(text: str, delimiter: str | None = None) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """(header, rows as (start line, cells)). Blank rows are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter or sniff_delimiter(text))
    header: list[str] | None = None
    try:
        for header in reader:
            if any(c.strip() for c in header):
                break
    except csv.Error as exc:
        raise CsvImportError(f"line {reader.line_num}: {exc}") from None
    if not header or not any(c.strip() for c in header):
        raise CsvImportError("the file has no header row")
    header = [h.lstrip("\ufeff").strip() for h in header]

    def rows() -> Iterator[tuple[int, list[str]]]:
        last = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield last + 1, [f"\0{exc}"]
                return
            start, last = last + 1, reader.line_num
            if any(c.strip() for c in cells):
                yield start, cells

    return header, rows()


@dataclass
class Conversion:
    """Everything an import produced, in file order."""

    columns: dict[str, str]
    rows: int = 0
    events: list[dict] = field(default_factory=list)
    imported: list[RowResult] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def warnings(self) -> list[RowError]:
        return [RowError(r.line, w, r.dossier_id) for r in self.imported for w in r.warnings]


def iter_export(text: str, mapping: Mapping, *, delimiter: str | None = None,
                unit_prefix: str | None = None) -> tuple[Converter, Iterator[RowResult | RowError]]:
    """Convert lazily: (the bound converter, one RowResult or RowError per data row).
    A dossier code seen on an earlier row makes a RowError (one row per dossier)."""
    header, rows = read_rows(text, delimiter)
    converter = Converter(mapping, header, unit_prefix)
    width = len(header)

    def results() -> Iterator[RowResult | RowError]:
        seen: dict[str, int] = {}
        for line, cells in rows:
            if len(cells) == 1 and cells[0].startswith("\0"):
                yield RowError(line, f"the CSV cannot be read from here on: {cells[0][1:]}")
                return
            if len(cells) > width and any(c.strip() for c in cells[width:]):
                yield RowError(line, f"{len(cells)} cells but the header has {width} "
                                     "(an unquoted delimiter in a cell?)")
                continue
            try:
                result = converter.convert(line, cells)
            except RowRejected as rejected:
                yield rejected.error
                continue
            if result.dossier_id in seen:
                yield RowError(line, f"dossier {result.dossier_id} is already on line {seen[result.dossier_id]}",
                               result.dossier_id)
                continue
            seen[result.dossier_id] = line
            yield result

    return converter, results()


def convert_export(text: str, mapping: Mapping, *, delimiter: str | None = None,
                   unit_prefix: str | None = None) -> Conversion:
    converter, results = iter_export(text, mapping, delimiter=delimiter, unit_prefix=unit_prefix)
    out = Conversion(columns=dict(converter.columns))
    for r in results:
        add_result(out, r, keep_events=True)
    return out


def add_result(out: Conversion, r: RowResult | RowError, keep_events: bool = True) -> None:
    out.rows += 1
    if isinstance(r, RowError):
        out.errors.append(r)
    else:
        out.imported.append(r)
        if keep_events:
            out.events.extend(r.events)
