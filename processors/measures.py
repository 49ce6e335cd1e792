"""What one dossier contributes to the per-unit, per-local-date counters.

A dossier's *contribution* is a multiset of (unit, local date, field) cells, each
worth +1. The stream keeps, per dossier, the contribution it last applied; when an
event changes the facts it applies ``new - old`` (see ``contribution_delta``), so a
late or reordered event retracts the old cells and adds the new ones.

Fields:
- the measures of kpis.md §2, dated as the table says;
- ``closed``: a T exists, dated by the later of reception and T (the period
  report's carried-over and in-progress lines are prefix sums of received - closed);
- ``od+`` / ``od-``: start and end of each interval of as-of instants at which
  the dossier is in progress and overdue (``facts.overdue_intervals``);
- ``x|<line>|<reception date>``: a T dated before its reception's local date,
  which the period report must not count when the reception lies after the
  period (a rare data error, kept exact rather than ignored).
- the inputs of the index (index.md), all dated by the reception, since every
  dossier indicator counts the dossiers received in the window:
  ``ix.fee``, ``ix.reuse``, ``ix.pstore``, ``ix.cit`` (flags), and per procedure
  ``po|<procedure>`` (received online), ``pf|<procedure>`` (fee required),
  ``pc|<procedure>`` (citizen data);
- *as-of* inputs, which count only once an instant t has passed the window's
  as-of instant x: ``<name>@<D>`` with D = the local date of (t - 1 us), so that
  "t <= the end of date b" is "D <= b". For a running window (x = now) the
  dates before today come from these fields, and today's instants from the
  dossier's *instants* (``Contribution.instants``, a sorted set in Redis):
  ``ix.late`` (late, index.md §2), ``ix.bad`` (late, rated dissatisfied or
  complained about), ``ix.sync``, ``ix.eres`` (electronic result), ``ix.deres``
  (digitised and electronic result), ``ix.fpo`` (fee required, paid online) and
  ``pp|<procedure>`` (paid online).

*Bundles.* The plain fields a dossier contributes on one date (reception,
outcome, payment, rating, ``closed`` and the index flags: ``BUNDLED``) are one
cell ``+<codes>`` (one letter per field, sorted) when there are two or more of
them: a bundle counts 1 for each field it names. A dossier then contributes ~10
cells instead of ~21, and the apply script updates as many fewer counters (each
in its day and month bucket), which was most of its time. Readers expand the
summed counters (``expand_fields``); expansion is linear, so counters written
before bundles existed, or with other bundles, add up to the same numbers, and a
dossier stored with named cells retracts them exactly when it changes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache

import orjson

from processors.facts import DossierFacts, overdue_intervals
from processors.lateness import late_at
from processors.rules import CountingRules
from processors.timeutil import epoch_us, local_date

Cell = tuple[str, str, str]  # (unit_id, "YYYY-MM-DD", field); unit "" = global
# An as-of instant: (member, microseconds since the epoch). The member names what
# counts once the instant has passed: JSON [name, unit, reception date, key].
Instant = tuple[bytes, int]

MEASURES = (
    "received", "received_online", "received_direct", "received_postal",
    "received_online_eligible", "received_online_eligible_online",
    "received_digitized", "received_synced",
    "resolved", "resolved_early", "resolved_on_time", "resolved_late",
    "resolved_e_result", "resolved_late_no_apology",
    "withdrawn", "rejected", "paid", "paid_online", "rated", "rated_satisfied",
)
CLOSED = "closed"
# Fields bundled per date (see the module doc), each with its one-letter code.
# Codes are stored in Redis: never reuse or change one, only add.
BUNDLED = {
    "received": "a", "received_online": "b", "received_direct": "c", "received_postal": "d",
    "received_online_eligible": "e", "received_online_eligible_online": "f",
    "received_digitized": "g", "received_synced": "h",
    "resolved": "i", "resolved_early": "j", "resolved_on_time": "k", "resolved_late": "l",
    "resolved_e_result": "m", "resolved_late_no_apology": "n",
    "withdrawn": "o", "rejected": "p", "paid": "q", "paid_online": "r", "rated": "s", "rated_satisfied": "t",
    CLOSED: "u", "ix.fee": "v", "ix.reuse": "w", "ix.pstore": "x", "ix.cit": "y",
}
BUNDLE_PREFIX = "+"
_BUNDLED_NAME = {code: name for name, code in BUNDLED.items()}
OVERDUE_FROM = "od+"
OVERDUE_UNTIL = "od-"
ANOMALY_PREFIX = "x|"
GLOBAL_UNIT = ""
ORPHANS = "orphans"
ASOF_SEPARATOR = "@"
PROCEDURE_FIELDS = ("po", "pf", "pc", "pp")  # per-procedure inputs, "<kind>|<procedure_id>"
_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Contribution:
    cells: list[Cell]
    instants: list[Instant]


def asof_date(t: datetime) -> date:
    """The last local date whose end is not before t: "t <= end of date b" is
    "asof_date(t) <= b"."""
    return local_date(t - _US)


def instant_member(name: str, unit: str, r_date: str, key: str) -> bytes:
    # Copied to a bytes object of its own size: a result of orjson.dumps (3.13)
    # keeps its ~4 KB write buffer, and members live on in the worker's cache of
    # decoded states (~5 per dossier, 2,048 dossiers: ~40 MB).
    return bytes(memoryview(orjson.dumps([name, unit, r_date, key])))


def parse_instant_member(member: bytes | str) -> tuple[str, str, str, str]:
    name, unit, r_date, key = orjson.loads(member)
    return name, unit, r_date, key


def contribution(f: DossierFacts, rules: CountingRules = CountingRules()) -> Contribution:
    if f.orphan:
        return Contribution([(GLOBAL_UNIT, "", ORPHANS)], [])
    assert f.unit is not None and f.received_at is not None
    u = f.unit
    cells: list[Cell] = []
    r_date = local_date(f.received_at).isoformat()

    append = cells.append
    codes_on: dict[str, list[str]] = {}  # date -> codes of the bundled fields on it
    code_of = BUNDLED.get

    def add(at_date: str, *fields: str) -> None:
        # a plain loop: extend() over a generator cost ~0.3 µs more per call,
        # ~17 calls per dossier update
        for field in fields:
            code = code_of(field)
            if code is None:
                append((u, at_date, field))
            elif at_date in codes_on:
                codes_on[at_date].append(code)
            else:
                codes_on[at_date] = [code]

    add(r_date, "received", f"received_{f.channel}")
    if f.online_service != "none":
        add(r_date, "received_online_eligible")
        if f.channel == "online":
            add(r_date, "received_online_eligible_online")
    if f.digitized:
        add(r_date, "received_digitized")
    if f.synced:
        add(r_date, "received_synced")

    if f.end_type is not None and f.end_at is not None:
        t_date = local_date(f.end_at).isoformat()
        # kpis.md §1: `stopped` counts with `rejected` in the measures.
        lines = ["rejected" if f.end_type == "stopped" else f.end_type]
        if f.end_type == "resolved":
            lines.append(f"resolved_{f.timeliness}")
            if f.result_electronic:
                add(t_date, "resolved_e_result")
            if f.timeliness == "late" and not f.apology:
                add(t_date, "resolved_late_no_apology")
        add(t_date, *lines)
        add(max(r_date, t_date), CLOSED)
        if t_date < r_date:
            add(t_date, *(f"{ANOMALY_PREFIX}{line}|{r_date}" for line in lines))

    if f.paid_at is not None:
        paid_date = local_date(f.paid_at).isoformat()
        add(paid_date, "paid", *(("paid_online",) if f.paid_online else ()))
    if f.rated_at is not None:
        rated_date = local_date(f.rated_at).isoformat()
        add(rated_date, "rated", *(("rated_satisfied",) if f.satisfied else ()))

    for a, b in overdue_intervals(f):
        add(local_date(a).isoformat(), OVERDUE_FROM)
        if b is not None:
            add(local_date(b).isoformat(), OVERDUE_UNTIL)

    instants = _index_inputs(f, rules, r_date, add)
    for at_date, codes in codes_on.items():
        if len(codes) == 1:
            append((u, at_date, _BUNDLED_NAME[codes[0]]))
        else:
            codes.sort()  # one spelling per set of fields, so that a later update retracts it
            append((u, at_date, BUNDLE_PREFIX + "".join(codes)))
    return Contribution(cells, instants)


class UnknownBundle(ValueError):
    """A bundle names a code this version does not know: the counters were
    written by a newer chiso. Leaving the code out would make numbers silently
    wrong, so reading stops with what to do."""


@cache  # a few hundred spellings at most; the reader expands each for every unit and window
def _bundle_names(field: str) -> tuple[str, ...]:
    try:
        return tuple(_BUNDLED_NAME[code] for code in field[1:])
    except KeyError as e:
        raise UnknownBundle(f"counter field {field!r} has a bundle code {e.args[0]!r} this chiso does not know: "
                            "it was written by a newer version; upgrade again or run `chiso rebuild`") from None


def expand_fields(counts: Mapping[str, int | float]) -> Counter[str]:
    """Summed counters with every bundle counted under the fields it names
    (values as integers: Lua's cjson may send whole numbers as floats)."""
    out: Counter[str] = Counter()
    for field, value in counts.items():
        n = int(value)
        if field[:1] == BUNDLE_PREFIX:
            for name in _bundle_names(field):
                out[name] += n
        else:
            out[field] += n
    return out


def named_cells(cells: Iterable[Cell]) -> list[Cell]:
    """Cells with every bundle written out as the cells it stands for."""
    out: list[Cell] = []
    for unit, day, field in cells:
        if field[:1] == BUNDLE_PREFIX:
            out.extend((unit, day, name) for name in _bundle_names(field))
        else:
            out.append((unit, day, field))
    return out


def _index_inputs(f: DossierFacts, rules: CountingRules, r_date: str, add) -> list[Instant]:
    """index.md's dossier inputs, dated by the reception (see the module doc)."""
    assert f.unit is not None and f.procedure_id is not None
    proc = f.procedure_id
    for flag, field in ((f.fee_required, "ix.fee"), (f.reused_data, "ix.reuse"),
                        (f.personal_store, "ix.pstore"), (f.citizen_data, "ix.cit")):
        if flag:
            add(r_date, field)
    if f.channel == "online":
        add(r_date, f"po|{proc}")
    if f.fee_required:
        add(r_date, f"pf|{proc}")
    if f.citizen_data:
        add(r_date, f"pc|{proc}")

    late = late_at(f, rules)
    bad = min((t for t in (late, f.dissatisfied_at, f.complaint_at) if t is not None), default=None)
    paid_online_at = f.paid_at if f.paid_online else None
    as_of: list[tuple[str, str, datetime | None]] = [
        ("ix.late", f.dossier_id, late),
        ("ix.bad", f.dossier_id, bad),
        ("ix.sync", f.dossier_id, f.synced_at(rules.sync_max_delay)),
        ("ix.eres", f.dossier_id, f.e_result_at),
        ("ix.deres", f.dossier_id, f.e_result_at if f.digitized else None),
        ("ix.fpo", f.dossier_id, paid_online_at if f.fee_required else None),
        (f"pp|{proc}", f"{proc}|{f.dossier_id}", paid_online_at),
    ]
    instants: list[Instant] = []
    for name, key, t in as_of:
        if t is None:
            continue
        add(r_date, f"{name}{ASOF_SEPARATOR}{asof_date(t).isoformat()}")
        instants.append((instant_member(name, f.unit, r_date, key), epoch_us(t)))
    return instants


def contribution_delta(old: Iterable[Cell], new: Iterable[Cell]) -> dict[Cell, int]:
    """new - old as signed counts, zero entries dropped (plain dict arithmetic:
    Counter's constructor and subtract cost ~3x more on ~25 cells)."""
    delta: dict[Cell, int] = {}
    get = delta.get
    for cell in new:
        delta[cell] = get(cell, 0) + 1
    for cell in old:
        delta[cell] = get(cell, 0) - 1
    return {cell: n for cell, n in delta.items() if n}
