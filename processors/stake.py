"""Points at stake (index.md §5): what a unit can still win or lose before a
window ends, and what it has lost already.

An open dossier of the window that is still in time costs, if it becomes late,
the difference it makes to two indicators: ``dossier_on_time`` (20/denominator
while nothing caps it) and ``dossier_satisfaction`` (6/(0.9 * denominator) while
its 90 % cap is not reached, and only if the dossier still counts there: not
rated dissatisfied, no complaint). Costs are exact, from the indicators' own
formula, so caps and thresholds are honoured.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from processors.facts import DossierFacts
from processors.index import Fraction2, IndexConfig, exact_points, indicator
from processors.lateness import late_at
from processors.rules import CountingRules
from processors.timeutil import epoch_us, local_date


@dataclass(frozen=True, slots=True)
class OpenInfo:
    """Kept with each open dossier's state, so that the points at stake need not
    read the dossier itself: its reception date, when it becomes late (index.md
    §2), and when it stopped counting for satisfaction for another reason."""

    received_on: date
    late_us: int | None
    unhappy_us: int | None  # the first dissatisfied rating or complaint

    def encode(self) -> str:
        return f"{self.received_on.isoformat()}|{self.late_us or ''}|{self.unhappy_us or ''}"

    @classmethod
    def decode(cls, text: str) -> OpenInfo | None:
        if not text:
            return None
        day, late, unhappy = text.split("|")
        return cls(date.fromisoformat(day), int(late) if late else None, int(unhappy) if unhappy else None)

    def late_by(self, x_us: int) -> bool:
        return self.late_us is not None and self.late_us <= x_us

    def counts_for_satisfaction(self, x_us: int) -> bool:
        return not self.late_by(x_us) and not (self.unhappy_us is not None and self.unhappy_us <= x_us)


def open_info(f: DossierFacts, rules: CountingRules = CountingRules()) -> OpenInfo:
    assert f.received_at is not None
    late = late_at(f, rules)
    unhappy = min((t for t in (f.dissatisfied_at, f.complaint_at) if t is not None), default=None)
    return OpenInfo(local_date(f.received_at), epoch_us(late) if late is not None else None,
                    epoch_us(unhappy) if unhappy is not None else None)


def lateness_cost(indicators: dict, counted_in_satisfaction: bool, config: IndexConfig = IndexConfig()) -> Fraction:
    """The points one more late dossier costs a scope whose indicators are
    ``indicators`` (an index answer's, with exact ``_points``)."""
    cost = Fraction(0)
    codes = ["dossier_on_time", *(["dossier_satisfaction"] if counted_in_satisfaction else [])]
    for code in codes:
        ind = indicators[code]
        num, den = ind["numerator"], ind["denominator"]
        if not den or not num:
            continue
        now = exact_points(indicator(code, Fraction2(num, den), config))
        after = exact_points(indicator(code, Fraction2(num - 1, den), config))
        cost += now - after
    return cost
