"""A petition's plan (phản ánh, kiến nghị — events.md) and the events it becomes;
shared by the simulator and the scenarios."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sources.simulator.lifecycle import Step, numbered_events, on_time_instant
from sources.simulator.office import OfficeTime
from sources.simulator.procedures import WORKING_DAY_S

# index.md: without a due_at, a petition is due at the end of office hours on the
# 15th working day after its reception. Units that set their own limit set a
# shorter one (simple questions about a procedure).
DEFAULT_WORKING_DAYS = 15
SHORT_WORKING_DAYS = 10
CATEGORIES = ("procedure", "staff")


@dataclass(slots=True)
class PetitionPlan:
    """Everything that will happen to one petition (instants in epoch seconds)."""

    petition_id: str
    unit_id: str
    received_at: int
    limit: int                     # its time limit: due_at if given, else the default
    due_given: bool                # the reception carries due_at
    category: str                  # procedure | staff
    resolved_at: int | None = None
    rated: tuple[int, str] | None = None
    reopened_at: int | None = None


def petition_limit(office: OfficeTime, received_at: int, due_given: bool) -> int:
    return office.due_after(received_at, SHORT_WORKING_DAYS if due_given else DEFAULT_WORKING_DAYS)


def answer_in_time(rng: random.Random, office: OfficeTime, plan: PetitionPlan) -> int:
    """An answer after the reception and by the limit, mostly well before it."""
    return on_time_instant(rng, office, plan.received_at + 600, plan.limit)


def answer_late(rng: random.Random, office: OfficeTime, plan: PetitionPlan) -> int:
    """An answer a few hours to a few working days past the limit."""
    return office.add(plan.limit, 600 + int(rng.expovariate(1 / (2.5 * WORKING_DAY_S))))


def follow_up_s(rng: random.Random) -> int:
    """Wall-clock time from the answer to the petitioner's rating or reopening."""
    return 600 + int(rng.expovariate(1 / 86400))


def petition_timed_events(plan: PetitionPlan, office: OfficeTime, source: str) -> list[tuple[int, dict]]:
    """The plan's events as contract dicts with their instants, in time order."""
    received: dict[str, object] = {"unit_id": plan.unit_id, "category": plan.category}
    if plan.due_given:
        received["due_at"] = office.iso(plan.limit)
    steps: list[Step] = [(plan.received_at, "petition_received", received)]
    if plan.resolved_at is not None:
        steps.append((plan.resolved_at, "petition_resolved", {}))
    if plan.rated is not None:
        steps.append((plan.rated[0], "petition_rated", {"rating": plan.rated[1]}))
    if plan.reopened_at is not None:
        steps.append((plan.reopened_at, "petition_reopened", {}))
    return numbered_events("petition_id", plan.petition_id, steps, office, source)
