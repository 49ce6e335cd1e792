"""The pure pipeline the index runs on, without Redis: events -> facts ->
cells and instants -> per unit and date counters summed over a window -> read
as of x -> the indicators. The property and example tests of the index use it;
the integration tests check that Redis gives the same."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, datetime
from pathlib import Path

from processors.asof import add_today, as_of, parse_today, procedure_sets, reduce_fields
from processors.calendar import WorkingCalendar
from processors.catalogue import ProcedureCatalogue
from processors.events import Event, event_from_dict
from processors.facts import dossier_facts
from processors.index import IndexConfig
from processors.index_inputs import ScopeInputs, index_of
from processors.measures import contribution, named_cells
from processors.petitions import PetitionCounts, PetitionRecord, petition_counts, petition_facts, petition_record
from processors.rules import CountingRules
from processors.units import UnitCatalogue
from processors.windows import bucket_field, bucket_levels, buckets
from sources.samples import sample_units_text
from tests import reference as ref

VN = ref.VN
CAL = WorkingCalendar()
UNITS = UnitCatalogue.from_csv_text(sample_units_text()).with_seen(["unknown-unit"])
CATALOGUE_TEXT = (Path(__file__).resolve().parent / "data" / "procedures-test.csv").read_text("utf-8")
CATALOGUE = ProcedureCatalogue.from_csv_text(CATALOGUE_TEXT, UNITS)
BASE_DAY = date(2024, 3, 14)


def parsed(events: list[dict]) -> list[Event]:
    out = [event_from_dict(e) for e in events]
    assert all(isinstance(e, Event) for e in out), out
    return out  # type: ignore[return-value]


def ref_procedures(text: str = CATALOGUE_TEXT, unit_catalogue: UnitCatalogue = UNITS) -> dict[str, dict]:
    """A procedure catalogue as the reference reads it (its own parse, not
    processors'); the test catalogue by default."""
    out = {}
    for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff"))):
        units = set()
        for target in row["applies_to"].split(";"):
            if target.startswith("level:"):
                units |= {u.unit_id for u in unit_catalogue.all() if u.level == target[6:] and u.known}
            else:
                units.add(target)
        yes = lambda v: v.strip().lower() in ("true", "1")  # noqa: E731
        out[row["procedure_id"]] = {
            "online": row["online_service"] in ("full", "partial"), "fee": yes(row["fee_required"]),
            "citizen": yes(row["citizen"]), "published_on_time": yes(row["published_on_time"]),
            "public_on_time": yes(row["public_on_time"]), "content_complete": yes(row["content_complete"]),
            "decided_on": date.fromisoformat(row["decided_on"]) if row["decided_on"] else None, "units": units,
        }
    return out


REF_PROCEDURES = ref_procedures()


def appointment(at: datetime) -> datetime:
    return CAL.appointment(at, 15)


def pipeline_index(events: list[dict], pets: list[dict], scope: list[str], root: bool,
                   first: date, last: date, now: datetime, rules: CountingRules = CountingRules(),
                   config: IndexConfig = IndexConfig()) -> dict:
    """What the store and the read side compute, without Redis: per unit and
    date counters, summed over the window, read as of x."""
    # Counters per (unit, bucket) exactly as the write path keeps them (day, month
    # and year buckets, as-of inputs undated where a month or year allows it) ...
    stored: dict[tuple[str, str], Counter[str]] = {}
    years: set[int] = set()
    instants: list[tuple[bytes, int]] = []
    for d, evs in ref.group(events).items():
        c = contribution(dossier_facts(d, parsed(evs.events)), rules)
        for unit, day, field in named_cells(c.cells):
            if unit:
                years.add(int(day[:4]))
                for bucket in bucket_levels(day):
                    stored.setdefault((unit, bucket), Counter())[bucket_field(bucket, field)] += 1
        instants.extend(c.instants)
    # ... and read as the reader does: the window's buckets, reduced at its cutoff.
    reading = as_of(last, now)
    chosen = buckets(first, last, years, reading.cutoff)
    per_unit = {}
    for u in scope:
        total: Counter[str] = Counter()
        for b in chosen:
            total.update(stored.get((u, b), Counter()))
        per_unit[u] = reduce_fields(total, reading.cutoff)
    if reading.running:
        passed = [m for m, t in instants if reading.today_from_us < t <= reading.x_us]
        add_today(per_unit, parse_today(passed), first, last)
    fields: Counter[str] = Counter()
    for u in scope:
        fields.update(per_unit[u])
    records: list[PetitionRecord] = []
    for p, evs in ref.petition_events_of(pets).items():
        placed = petition_record(petition_facts(p, parsed(evs), CAL))
        if placed is not None and placed[0] in scope:
            records.append(placed[1])
    counts = petition_counts(records, first, last, reading.x_us) if records else PetitionCounts()
    inputs = ScopeInputs(fields, {u: procedure_sets(per_unit[u]) for u in scope}, counts, scope, root)
    return index_of(inputs, CATALOGUE, first, last, config)
