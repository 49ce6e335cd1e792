"""Dossier exports (CSV, one row per dossier) turned into dossier events.

A one-stop system's export (iGate, the provincial "Hệ thống thông tin giải quyết
TTHC") says, per dossier, where it stands *now*: when it was received, when it is
due, whether and when it ended, was paid, rated, synced. Each row becomes the events
that produce those facts (events.md), with deterministic ids
``{prefix}:{dossier_id}:{type}``: importing the same file twice, or a later export
of the same dossiers, only adds duplicates and the events that are new.

A *mapping* (TOML, see docs/csv-import.md and sources/csv/mapping-igate.toml)
names the CSV column of each field, the value maps (``"Trực tuyến"`` → ``online``),
the date formats and the time used for dates without one.

Pure: text in, event dicts out. No Kafka, no Redis, no clock, no file system.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from processors.events import InvalidEvent, event_from_dict
from sources.csv.cells import instant, parse_amount, parse_datetime
from sources.csv.mapping import (
    _MISSING,
    ENUM_TARGETS,
    FLAG_FIELDS,
    MAX_REASON,
    REQUIRED,
    CsvImportError,
    Mapping,
    fold,
    norm,
)

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
        flags = {fld: value for fld in FLAG_FIELDS if (value := boolean(fld)) is not None}
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
        if status in ("resolved", "withdrawn", "rejected", "stopped"):
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
             fee_required=bool(fee) or paid, digitized=bool(digitized), **flags, officer_id=receiving_officer)
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
        elif status in ("rejected", "stopped"):
            if reason and len(reason) > MAX_REASON:
                reason = reason[: MAX_REASON - 1] + "…"
            emit(status, ended_at, reason=reason)
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
