"""Quảng Nam, 15/3-14/6/2024: events that reproduce the province's published figures.

Source: a 2024 provincial report on Quảng Nam's service index (Bộ chỉ số phục vụ
người dân, doanh nghiệp) for the period 15/3/2024-14/6/2024. It publishes the
period report and the points of all six groups, online service included:

    carried_over 8,351   received 105,344 (online 77,112)   to_process 113,695
    resolved 104,126     in_progress 9,569                  withdrawn + rejected 0
    points: transparency 13.2, timeliness 18.4, online_service 7.7,
            online_payment 7.6, satisfaction 17.6, digitization 15.6;
            total 80.1, band good

Once every event of ``events()`` is applied, with the scenario's procedure
catalogue (``PROCEDURES_PATH``, served as CHISO_PROCEDURES) and ``SETTINGS``, the
period report (kpis.md §7) for 2024-03-15..2024-06-14 over all units gives the
report's figures exactly, and the index of that window for the root scope
(index.md, as of the end of 14/6) gives each group *exactly* at its published
value to 2 decimals: every count an indicator reads is chosen (``targets``) and
the catalogue-based indicators come from the scenario's catalogue. The choices
are documented in docs/simulator.md.

How "exactly" is reached: the dossiers are drawn as the simulator would draw them
(office hours, holidays, unit weights, clock events), but every flag a figure
counts is *allocated* to an exact number of dossiers, picked at random with
realistic weights, instead of being drawn independently; each procedure gets its
exact number of dossiers and online dossiers (the catalogue's ``scenario_*``
columns). Times are then placed so that each dossier lands where its flags say
(quang_nam_dossiers.py). Petitions are placed the same way (quang_nam_petitions.py).

The units are the sample catalogue's: the communes of the former Quảng Nam (all
but the 16 of the former Đà Nẵng) and the city's departments, which stand in for
Quảng Nam's. The root ``dng`` receives nothing.
"""

from __future__ import annotations

import csv
import heapq
from collections.abc import Iterator, Sequence
from datetime import date
from importlib import resources
from itertools import accumulate

from processors.calendar import WorkingCalendar
from processors.catalogue import ProcedureCatalogue
from processors.units import Unit, UnitCatalogue
from sources.samples import sample_units_text
from sources.scenarios.quang_nam_dossiers import DossierBuilder, DossierCounts, ProcedureDesign
from sources.scenarios.quang_nam_petitions import PetitionBuilder, PetitionCounts
from sources.simulator.lifecycle import plan_events, timed_events
from sources.simulator.office import OfficeTime
from sources.simulator.petitions import petition_timed_events
from sources.simulator.procedures import simulated
from sources.simulator.simulator import unit_profile

FROM = date(2024, 3, 15)
TO = date(2024, 6, 14)
SOURCE = "igate-qnam"
SEED = 20240614

# Published (kpis.md §7 and index.md names).
PUBLISHED_REPORT = {
    "carried_over": 8_351, "received": 105_344, "received_online": 77_112,
    "to_process": 113_695, "resolved": 104_126, "in_progress": 9_569,
    "withdrawn": 0, "rejected": 0,
}
PUBLISHED_POINTS = {
    "transparency": 13.2, "timeliness": 18.4, "online_service": 7.7,
    "online_payment": 7.6, "satisfaction": 17.6, "digitization": 15.6,
}
PUBLISHED_SCORE = 80.1
PUBLISHED_BAND = "good"

# The scenario's procedure catalogue: 100 real procedures (codes and names of the
# national database) with Quảng Nam's 2024 online levels, publication record and
# the scenario's design columns (docs/simulator.md).
PROCEDURES_PATH = str(resources.files("sources").joinpath("scenarios/quang_nam_2024q2_procedures.csv"))
# Settings the figures assume, besides CHISO_PROCEDURES: index.md's defaults,
# stated so that a province settings file cannot change them unnoticed.
SETTINGS = {
    "CHISO_INDEX__E_CERTIFIED_COPY_SHARE": "1.0",  # every commune offers e-certified copies: 2 points
}

# Our choices where the report is silent: exact counts over the dossiers received
# in the period (N = 105,344) and the petitions. Each gives an indicator's points
# to 2 decimals (index.md §3; the sum of a group's rounded points is published).
RECEIVED_POSTAL = 1_264            # 1.2 % by public postal service
CARRIED_OPEN_AT_END = 151          # old dossiers (land, building permits) still open on 14/6
IN_TIME = 96_916                   # timeliness 20 x 96,916 / N = 18.3999 -> 18.40
SYNCED = 70_580                    # dossier_sync 6 x 70,580 / N = 4.0200 -> 4.02
DIGITIZED = 84_275                 # 80 %: no points alone
E_RESULT = 89_542                  # original_result 6 x 89,542 / N = 5.1000 -> 5.10
DIGITIZED_E_RESULT = 73_741        # digitized_with_result 4 x 73,741 / N = 2.8000 -> 2.80
REUSED = 63_206                    # reused_data 2 x min(1, 0.6000 / 0.8) -> 1.50
PERSONAL_STORE = 23_176            # personal_store 4 x 23,176 / N = 0.8800 -> 0.88
CITIZEN_DATA = 90_596              # citizen_data_dossiers 2 x 90,596 / N = 1.7200 -> 1.72
FEE_REQUIRED = 83_200              # 92 % of the 90,447 dossiers of fee procedures owe the fee
PAID_ONLINE = 61_845               # online_paid_dossiers 6 x 61,845 / 83,200 = 4.4600 -> 4.46
COMPLAINTS = 420                   # 0.4 %: dossier satisfaction stays above its 90 % cap
DISSATISFIED = 950                 # ratings of the period's dossiers that are `dissatisfied`
PETITIONS = PetitionCounts(
    first=FROM, last=TO, carried_in=12, carried_in_late=1, received=218,
    answered_late=2, open_late=1, dissatisfied=6, reopened=2,
)                                  # petition_on_time 6 x 226 / 230 -> 5.90; petition_satisfaction 6 x 207 / 218 -> 5.70

# Communes of the former Đà Nẵng: not part of Quảng Nam in 2024.
FORMER_DA_NANG = frozenset({
    "dng-p-hai-van", "dng-p-lien-chieu", "dng-p-hoa-khanh", "dng-p-thanh-khe",
    "dng-p-an-khe", "dng-p-hai-chau", "dng-p-hoa-cuong", "dng-p-cam-le",
    "dng-p-son-tra", "dng-p-an-hai", "dng-p-ngu-hanh-son", "dng-x-ba-na",
    "dng-p-hoa-xuan", "dng-x-hoa-vang", "dng-x-hoa-tien", "dng-dk-hoang-sa",
})


def unit_catalogue() -> UnitCatalogue:
    return UnitCatalogue.from_csv_text(sample_units_text())


def scenario_units(catalogue: UnitCatalogue | None = None) -> list[Unit]:
    return [u for u in (catalogue or unit_catalogue()).all() if u.unit_id not in FORMER_DA_NANG]


def procedure_catalogue(units: UnitCatalogue | None = None) -> ProcedureCatalogue:
    return ProcedureCatalogue.from_path(PROCEDURES_PATH, units or unit_catalogue())


def _design_rows() -> dict[str, dict[str, str]]:
    with open(PROCEDURES_PATH, encoding="utf-8") as fh:
        return {row["procedure_id"]: row for row in csv.DictReader(fh)}


def targets() -> dict[str, int]:
    """Every exact count the scenario allocates (published or chosen)."""
    rows = _design_rows().values()
    return {
        **PUBLISHED_REPORT,
        "received_postal": RECEIVED_POSTAL, "carried_open_at_end": CARRIED_OPEN_AT_END,
        "in_time": IN_TIME, "synced": SYNCED, "digitized": DIGITIZED, "e_result": E_RESULT,
        "digitized_e_result": DIGITIZED_E_RESULT, "reused": REUSED, "personal_store": PERSONAL_STORE,
        "citizen_data": CITIZEN_DATA, "fee_required": FEE_REQUIRED, "paid_online": PAID_ONLINE,
        "complaints": COMPLAINTS, "dissatisfied": DISSATISFIED,
        "paid_online_procedures": sum(r["scenario_paid_online"] == "true" for r in rows),
        "citizen_data_procedures": sum(r["scenario_citizen_data"] == "true" for r in rows),
        "petitions_received": PETITIONS.received, "petitions_carried_in": PETITIONS.carried_in,
    }


def dossier_counts() -> DossierCounts:
    rows = _design_rows().values()
    return DossierCounts(
        first=FROM, last=TO, carried_over=PUBLISHED_REPORT["carried_over"],
        received=PUBLISHED_REPORT["received"], received_online=PUBLISHED_REPORT["received_online"],
        received_postal=RECEIVED_POSTAL, carried_open_at_end=CARRIED_OPEN_AT_END,
        in_progress=PUBLISHED_REPORT["in_progress"], in_time=IN_TIME, synced=SYNCED, digitized=DIGITIZED,
        e_result=E_RESULT, digitized_e_result=DIGITIZED_E_RESULT, reused=REUSED, personal_store=PERSONAL_STORE,
        citizen_data=CITIZEN_DATA, fee_required=FEE_REQUIRED, paid_online=PAID_ONLINE,
        paid_online_procedures=frozenset(r["procedure_id"] for r in rows if r["scenario_paid_online"] == "true"),
        citizen_data_procedures=frozenset(r["procedure_id"] for r in rows if r["scenario_citizen_data"] == "true"),
        complaints=COMPLAINTS, dissatisfied=DISSATISFIED,
    )


def events() -> Iterator[dict]:
    """The whole scenario, ordered by (occurred_at, event_id); ~114k dossiers."""
    yield from Scenario().events()


def dossiers() -> Iterator[list[dict]]:
    """The dossiers' events, one dossier's at a time (cheap to aggregate)."""
    yield from Scenario().dossiers()


class Scenario:
    """The scenario's dossier and petition plans, built once; every view comes from them."""

    def __init__(self, units: Sequence[Unit] | None = None) -> None:
        self.office = OfficeTime(WorkingCalendar())
        catalogue = unit_catalogue()
        procedures = procedure_catalogue(catalogue)
        chosen = list(units) if units is not None else scenario_units(catalogue)
        profiles = [p for p in (unit_profile(u, procedures) for u in chosen) if p.weight > 0]
        designs = []
        for code, row in _design_rows().items():
            p = procedures.get(code)
            assert p is not None
            offered = [u for u in profiles if code in procedures.of_unit(u.unit.unit_id)]
            if int(row["scenario_received"]) and not offered:
                raise ValueError(f"procedure {code} has dossiers but no scenario unit handles it")
            designs.append(ProcedureDesign(
                simulated(p), int(row["scenario_received"]), int(row["scenario_online"]), tuple(offered),
                tuple(accumulate(u.weight for u in offered)),
            ))
        self.plans = DossierBuilder(self.office, designs, dossier_counts(), SEED).build()
        self.petition_plans = PetitionBuilder(self.office, profiles, PETITIONS, SEED + 1).build()

    def dossiers(self) -> Iterator[list[dict]]:
        for plan in self.plans:
            yield plan_events(plan, self.office, SOURCE)

    def petitions(self) -> Iterator[list[dict]]:
        for plan in self.petition_plans:
            yield [ev for _, ev in petition_timed_events(plan, self.office, SOURCE)]

    def events(self) -> Iterator[dict]:
        # Plans come in reception order and no event precedes its reception, so an
        # event earlier than the next reception can go out.
        receptions = heapq.merge(
            ((p.received_at, 0, i) for i, p in enumerate(self.plans)),
            ((p.received_at, 1, i) for i, p in enumerate(self.petition_plans)),
        )
        heap: list[tuple[int, str, dict]] = []
        for at, kind, i in receptions:
            while heap and heap[0][0] < at:
                yield heapq.heappop(heap)[2]
            timed = (timed_events(self.plans[i], self.office, SOURCE) if kind == 0
                     else petition_timed_events(self.petition_plans[i], self.office, SOURCE))
            for ts, ev in timed:
                heapq.heappush(heap, (ts, ev["event_id"], ev))
        while heap:
            yield heapq.heappop(heap)[2]


__all__ = ["events", "dossiers", "Scenario", "targets", "scenario_units", "procedure_catalogue", "FROM", "TO",
           "PUBLISHED_REPORT", "PUBLISHED_POINTS", "PUBLISHED_SCORE", "PUBLISHED_BAND", "PROCEDURES_PATH",
           "SETTINGS"]
