"""The 21 indicators of index.md §3 from what the counters hold for one scope
(a unit, its subtree, or every unit) and one window, as of its instant x.

``ScopeInputs.fields`` are the scope's counters summed over the window's dates,
with the as-of fields (``name@D``) already reduced at x (measures.py): e.g.
``received`` (dossiers of the window), ``ix.late`` (those late as of x).
``procedures`` says, per unit of the scope, which procedure ids had a dossier of
the window of each kind (``po`` online, ``pf`` fee required, ``pc`` citizen
data, ``pp`` paid online by x). The catalogue decides which of them count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from processors.asof import procedure_sets
from processors.catalogue import ProcedureCatalogue
from processors.index import Fraction2, IndexConfig, index_answer, indicator
from processors.petitions import PetitionCounts

# What ScopeInputs.fields must carry besides the plain measures.
DOSSIER_INPUTS = ("ix.fee", "ix.reuse", "ix.pstore", "ix.cit")
ASOF_INPUTS = ("ix.late", "ix.bad", "ix.sync", "ix.eres", "ix.deres", "ix.fpo")
# The procedure counts: procedure kind of ScopeInputs.procedures -> the catalogue
# kind a unit must offer for the procedure to count (``_active``).
ACTIVE_KINDS = {"po": "online", "pp": "fee", "pf": "fee", "pc": "citizen"}


@dataclass
class ScopeInputs:
    fields: Mapping[str, int]
    procedures: Mapping[str, Mapping[str, set[str]]] = field(default_factory=dict)
    petitions: PetitionCounts = PetitionCounts()
    units: list[str] = field(default_factory=list)
    root: bool = False
    # The procedure counts per kind of ACTIVE_KINDS, when the caller keeps them
    # itself (the exporter updates them incrementally); None: from ``procedures``.
    active: Mapping[str, Fraction2] | None = None


def _active(inputs: ScopeInputs, catalogue: ProcedureCatalogue, kind: str, offered: str) -> Fraction2:
    """A procedure count (index.md §3): the union over the scope's units of each
    unit's own procedures of the ``offered`` kind that had such a dossier of that
    unit; over the union of the units' procedures of that kind."""
    denominator: set[str] = set()
    numerator: set[str] = set()
    for unit in inputs.units:
        own = catalogue.of_unit_kind(unit, offered)
        denominator |= own
        active = inputs.procedures.get(unit, {}).get(kind)
        if active:
            numerator |= own & active
    return Fraction2(len(numerator), len(denominator))


def _catalogue_wide(catalogue: ProcedureCatalogue, first: date, last: date) -> dict[str, Fraction2]:
    """The transparency indicators on the catalogue: province-wide."""
    decided = [p for p in catalogue.all() if p.decided_on is not None and first <= p.decided_on <= last]
    return {
        "publish_on_time": Fraction2(sum(p.published_on_time for p in decided), len(decided)),
        "public_update_on_time": Fraction2(sum(p.public_on_time for p in decided), len(decided)),
        "public_content_full": Fraction2(sum(p.content_complete for p in catalogue.all()), len(catalogue)),
    }


def indicators_of(inputs: ScopeInputs, catalogue: ProcedureCatalogue, first: date, last: date,
                  config: IndexConfig = IndexConfig()) -> dict[str, dict]:
    """Every indicator's answer (with its exact points under ``_points``)."""
    f = inputs.fields
    dossiers = f.get("received", 0)

    def share(numerator: int, denominator: int = dossiers) -> Fraction2:
        return Fraction2(numerator, denominator)

    def active(kind: str) -> Fraction2:
        if inputs.active is not None:
            return inputs.active[kind]
        return _active(inputs, catalogue, kind, ACTIVE_KINDS[kind])

    if inputs.root:
        # catalogue.md: the root's online_catalogue counts every procedure.
        offered = catalogue.all()
    else:
        ids = catalogue.of_units(inputs.units)
        offered = [p for p in catalogue.all() if p.procedure_id in ids]

    counts: dict[str, Fraction2] = {
        **_catalogue_wide(catalogue, first, last),
        "dossier_sync": share(f.get("ix.sync", 0)),
        "dossier_on_time": share(dossiers - f.get("ix.late", 0)),
        "online_catalogue": Fraction2(sum(p.online for p in offered), len(offered)),
        "online_service_used": active("po"),
        "online_channel": share(f.get("received_online", 0)),
        "online_paid_dossiers": Fraction2(f.get("ix.fpo", 0), f.get("ix.fee", 0)),
        "online_paid_procedures": active("pp"),
        "fee_data_procedures": active("pf"),
        "dossier_satisfaction": share(dossiers - f.get("ix.bad", 0)),
        "petition_on_time": Fraction2(inputs.petitions.on_time, inputs.petitions.on_time_of),
        "petition_satisfaction": Fraction2(inputs.petitions.satisfied, inputs.petitions.received),
        "original_result": share(f.get("ix.eres", 0)),
        "digitized_with_result": share(f.get("ix.deres", 0)),
        "reused_data": share(f.get("ix.reuse", 0)),
        "personal_store": share(f.get("ix.pstore", 0)),
        "citizen_data_dossiers": share(f.get("ix.cit", 0)),
        "citizen_data_procedures": active("pc"),
    }
    out = {code: indicator(code, c, config,
                           scored=not (code == "online_catalogue" and config.online_catalogue_root_only and not inputs.root))
           for code, c in counts.items()}
    out["e_certified_copy"] = indicator("e_certified_copy", None, config, ratio_override=config.e_certified_copy_share)
    return out


def index_of(inputs: ScopeInputs, catalogue: ProcedureCatalogue, first: date, last: date,
             config: IndexConfig = IndexConfig()) -> dict:
    """The ``index`` part of an answer (index.md §4)."""
    return index_answer(indicators_of(inputs, catalogue, first, last, config), config)


@dataclass
class UnitWindow:
    """One unit's inputs over one window, as of its x: its own counters (reduced,
    today's instants included) and its petition counts."""

    fields: Counter[str] = field(default_factory=Counter)
    petitions: PetitionCounts = PetitionCounts()


def scope_inputs(units: list[str], own: Mapping[str, UnitWindow], root: bool) -> ScopeInputs:
    """A scope's inputs from its units' own (units without data may be absent)."""
    fields: Counter[str] = Counter()
    petitions = PetitionCounts()
    procedures: dict[str, dict[str, set[str]]] = {}
    for u in units:
        data = own.get(u)
        if data is None:
            continue
        fields.update(data.fields)
        petitions = petitions + data.petitions
        procedures[u] = procedure_sets(data.fields)
    return ScopeInputs(fields, procedures, petitions, list(units), root)
