"""Random dossier histories for tests: messy on purpose (events before their
reception, ties in time, several receptions, moves after the due, pauses past
the due, T before R, mixed offsets), all within the contract."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol

from hypothesis import strategies as st

UNITS = ("dng-sxd", "dng-stp", "dng-p-hai-chau", "dng-x-hoa-vang", "unknown-unit")
TYPES = (
    "assigned", "supplement_requested", "supplement_received", "paused", "resumed",
    "due_changed", "paid", "resolved", "returned", "withdrawn", "rejected", "stopped", "rated",
    "synced", "apology_issued", "complaint", "received",
)
ZONES = (timezone(timedelta(hours=7)), UTC, timezone(timedelta(hours=-5)))
# Procedure ids of tests/data/procedures-test.csv, and one the catalogue lacks.
PROCEDURES = ("1.001193", "2.000815", "1.001612", "2.001583", "9.999999")
BASE = datetime(2024, 3, 14, 8, 0, tzinfo=timezone(timedelta(hours=7)))


class Chooser(Protocol):
    """What the generators draw from: a seeded ``random.Random`` (integration
    tests, benchmarks) or ``Drawn`` (property tests, so that failures shrink)."""

    def choice(self, seq: Sequence[Any]) -> Any: ...
    def randrange(self, start: int, stop: int | None = None) -> int: ...
    def random(self) -> float: ...


class Drawn:
    """A ``Chooser`` whose every choice is a hypothesis draw: hypothesis sees, and
    shrinks, each decision the generator makes."""

    def __init__(self, draw: Callable[[st.SearchStrategy], Any]) -> None:
        self.draw = draw  # a composite's ``draw``, or ``DataObject.draw``

    def choice(self, seq: Sequence[Any]) -> Any:
        return self.draw(st.sampled_from(seq))

    def randrange(self, start: int, stop: int | None = None) -> int:
        lo, hi = (0, start) if stop is None else (start, stop)
        return self.draw(st.integers(lo, hi - 1))

    def random(self) -> float:
        return self.draw(st.floats(0.0, 1.0, exclude_max=True))


@st.composite
def dossiers(draw: Any, dossier_id: str = "D", max_extra: int = 8) -> list[dict]:
    """One dossier's messy history, as a hypothesis strategy."""
    return dossier_events(Drawn(draw), dossier_id, max_extra)


@st.composite
def histories(draw: Any, max_dossiers: int = 12, max_extra: int = 8) -> list[dict]:
    """Several dossiers' histories, as a hypothesis strategy."""
    n = draw(st.integers(0, max_dossiers))
    out: list[dict] = []
    for i in range(n):
        out.extend(dossier_events(Drawn(draw), f"D{i:05d}", max_extra))
    return out


def _at(rng: Chooser, t: datetime) -> str:
    return t.astimezone(rng.choice(ZONES)).isoformat()


def dossier_events(rng: Chooser, dossier_id: str, max_extra: int = 8) -> list[dict]:
    t0 = BASE + timedelta(hours=rng.randrange(0, 6 * 24))
    evs: list[dict] = []
    n = 0

    def ev(kind: str, at: datetime, **extra) -> dict:
        nonlocal n
        n += 1
        e = {"event_id": f"{dossier_id}-{n}", "dossier_id": dossier_id, "type": kind,
             "occurred_at": _at(rng, at), "source": "test"}
        e.update(extra)
        return e

    def received(at: datetime) -> dict:
        return ev("received", at, unit_id=rng.choice(UNITS), procedure_id=rng.choice(PROCEDURES),
                  channel=rng.choice(("online", "direct", "postal")),
                  online_service=rng.choice(("full", "partial", "none")),
                  due_at=_at(rng, at + timedelta(hours=rng.choice((4, 20, 30, 50, 80)))),
                  **({"fee_required": rng.random() < 0.5} if rng.random() < 0.8 else {}),
                  **({"digitized": rng.random() < 0.6} if rng.random() < 0.8 else {}),
                  **({"officer_id": "o-r"} if rng.random() < 0.3 else {}),
                  **{flag: rng.random() < 0.5 for flag in ("reused_data", "personal_store", "citizen_data")
                     if rng.random() < 0.7})

    if rng.random() < 0.92:
        evs.append(received(t0))
    for _ in range(rng.randrange(0, max_extra + 1)):
        kind = rng.choice(TYPES)
        # mostly after reception, sometimes before; sometimes exactly tied
        dues = [e["due_at"] for e in evs if "due_at" in e]
        if rng.random() < 0.1 and evs:
            at = datetime.fromisoformat(rng.choice(evs)["occurred_at"])
        elif rng.random() < 0.2 and dues:  # at a deadline or just after: the boundary cases
            at = datetime.fromisoformat(rng.choice(dues)) + rng.choice((timedelta(0), timedelta(microseconds=1)))
        else:
            at = t0 + timedelta(hours=rng.randrange(-12, 5 * 24))
        extra: dict = {}
        if kind == "received":
            evs.append(received(at))
            continue
        if kind == "assigned":
            extra["officer_id"] = rng.choice(("o-1", "o-2"))
        elif kind in ("supplement_received", "resumed") and rng.random() < 0.4:
            extra["due_at"] = _at(rng, at + timedelta(hours=rng.choice((-3, 5, 30))))
        elif kind == "due_changed":
            extra["due_at"] = _at(rng, at + timedelta(hours=rng.choice((-2, 6, 40))))
        elif kind == "paid":
            extra["method"] = rng.choice(("online", "offline"))
            extra["amount_vnd"] = rng.choice((0, 50000))
        elif kind == "resolved" and rng.random() < 0.7:
            extra["result_electronic"] = rng.random() < 0.5
        elif kind == "rated":
            extra["rating"] = rng.choice(("very_satisfied", "satisfied", "dissatisfied"))
        elif kind == "rejected" and rng.random() < 0.5:
            extra["reason"] = "thiếu giấy tờ"
        evs.append(ev(kind, at, **extra))
    return evs


def petition_events(rng: Chooser, petition_id: str) -> list[dict]:
    """One petition's messy history: sometimes no reception, answers before or
    after the limit, ratings, reopenings, ties."""
    t0 = BASE + timedelta(hours=rng.randrange(0, 6 * 24))
    evs: list[dict] = []

    def ev(kind: str, at: datetime, **extra) -> None:
        evs.append({"event_id": f"{petition_id}-{len(evs) + 1}", "petition_id": petition_id, "type": kind,
                    "occurred_at": _at(rng, at), "source": "test", **extra})

    if rng.random() < 0.9:
        extra = {"unit_id": rng.choice(UNITS)}
        if rng.random() < 0.5:
            extra["due_at"] = _at(rng, t0 + timedelta(hours=rng.choice((5, 30, 70, 200))))
        if rng.random() < 0.5:
            extra["category"] = rng.choice(("procedure", "staff"))
        ev("petition_received", t0, **extra)
    for _ in range(rng.randrange(0, 4)):
        kind = rng.choice(("petition_resolved", "petition_rated", "petition_reopened"))
        at = t0 + timedelta(hours=rng.randrange(-10, 30 * 24))
        if kind == "petition_rated":
            ev(kind, at, rating=rng.choice(("very_satisfied", "satisfied", "dissatisfied")))
        else:
            ev(kind, at)
    return evs


@st.composite
def petitions(draw: Any, max_petitions: int = 6) -> list[dict]:
    n = draw(st.integers(0, max_petitions))
    out: list[dict] = []
    for i in range(n):
        out.extend(petition_events(Drawn(draw), f"P{i:05d}"))
    return out


def history(seed: int, dossiers: int, max_extra: int = 8) -> list[dict]:
    rng = random.Random(seed)
    out: list[dict] = []
    for i in range(dossiers):
        out.extend(dossier_events(rng, f"D{seed}-{i:05d}", max_extra))
    return out


INVALID_SAMPLES: dict[str, bytes] = {
    "not_utf8": b"\xff\xfe{\"event_id\": 1}",
    "not_json": b"{not json",
    "not_object": b"[1, 2, 3]",
    "missing_field": b'{"event_id":"bad-1","dossier_id":"X","type":"received","occurred_at":"2024-03-15T08:00:00+07:00"}',
    "wrong_type": b'{"event_id":"bad-2","dossier_id":"X","type":"paid","occurred_at":"2024-03-15T08:00:00+07:00","method":"online","amount_vnd":"10"}',
    "unknown_type": b'{"event_id":"bad-3","dossier_id":"X","type":"teleported","occurred_at":"2024-03-15T08:00:00+07:00"}',
    "bad_value": b'{"event_id":"bad-4","dossier_id":"X","type":"rated","occurred_at":"2024-03-15T08:00:00+07:00","rating":"meh"}',
    "bad_length": b'{"event_id":"","dossier_id":"X","type":"synced","occurred_at":"2024-03-15T08:00:00+07:00"}',
    "bad_datetime": b'{"event_id":"bad-6","dossier_id":"X","type":"synced","occurred_at":"2024-03-15T08:00:00"}',
    "out_of_range": b'{"event_id":"bad-7","dossier_id":"X","type":"resolved","occurred_at":"9999-12-31T17:00:00Z"}',
}

# Messages that once stopped the whole pipeline (issue #12), each with the reason it
# must now be dead-lettered for.
POISON: list[tuple[bytes, str]] = [
    (b'{"event_id":"p-1","dossier_id":"P1","type":"received","occurred_at":"0001-01-01T00:00:00+07:00",'
     b'"unit_id":"dng-sxd","procedure_id":"1","channel":"online","online_service":"full",'
     b'"due_at":"2024-03-20T17:00:00+07:00"}', "out_of_range"),
    (b'{"event_id":"p-2","dossier_id":"D13-00001","type":"due_changed","occurred_at":"2024-03-15T08:00:00+07:00",'
     b'"due_at":"9999-12-31T20:00:00Z"}', "out_of_range"),
    (b'{"event_id":"p-3","dossier_id":"X","type":"synced","occurred_at":"2024-03-15T08:00:00+14:60"}', "bad_datetime"),
    # 180 kB of raw NUL bytes: 1 MB once escaped in a dead letter
    (b'{"event_id":"p-4","dossier_id":"X","type":"synced","unknown":"' + b"\x00" * 180_000 + b'"}', "not_json"),
    (b'{"event_id":"' + b"x" * 900_000 + b'","dossier_id":"X","type":"synced","occurred_at":"2024-03-15T08:00:00+07:00"}',
     "bad_length"),
]
