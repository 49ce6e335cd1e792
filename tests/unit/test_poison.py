"""No single message may stop more than itself (the batch plan, pure): random
bytes, mutated events, extreme instants, oversized values and a dossier whose
stored record is broken are dead-lettered with a reason; the watermark moves past
them and every valid event still counts."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.calendar import WorkingCalendar
from processors.events import INVALID_REASONS, Event, decode_event
from processors.facts import dossier_facts
from processors.measures import contribution
from store.plan import MAX_DEAD_LETTER_RAW, PlanRules, RawMessage, build_plan
from tests.gen import dossier_events

NOW = datetime(2024, 3, 20, 8, 0, tzinfo=UTC)
RULES = PlanRules(WorkingCalendar())
TOPIC = "events"

EXTREME = [
    {"type": "received", "occurred_at": "0001-01-01T00:00:00+07:00"},
    {"type": "due_changed", "due_at": "9999-12-31T20:00:00Z"},
    {"type": "resolved", "occurred_at": "9999-12-31T17:00:00Z"},
    {"occurred_at": "2024-03-15T08:00:00+14:60"},
    {"occurred_at": "2024-03-15T08:00:00+00:99"},
    {"event_id": "x" * 1_000_000},
    {"dossier_id": "\x00" * 180_000},
    {"reason": "\x00" * 400_000},
    {"type": "paid", "method": "online", "amount_vnd": -1},
    {"channel": None},
]


def mutations() -> st.SearchStrategy[dict]:
    return st.sampled_from(EXTREME) | st.dictionaries(
        st.sampled_from(["event_id", "dossier_id", "type", "occurred_at", "due_at", "unit_id", "rating", "method"]),
        st.one_of(st.none(), st.integers(-2**63, 2**63 - 1), st.text(max_size=30), st.booleans(),
                  st.lists(st.integers(0, 9), max_size=2)),
        max_size=3)


def plan_of(messages: list[bytes], blobs: dict | None = None):
    raw = [RawMessage(TOPIC, 0, i, v) for i, v in enumerate(messages)]
    decoded = [(m, decode_event(m.value)) for m in raw]
    keys = {("d", ev.key) for _, ev in decoded if isinstance(ev, Event)}
    return build_plan(decoded, {f"{TOPIC}:0": -1}, {k: (blobs or {}).get(k) for k in keys}, RULES, NOW, NOW)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 10_000), junk=st.lists(st.binary(max_size=200), max_size=6),
       mutated=st.lists(mutations(), max_size=6), data=st.data())
def test_junk_never_stops_a_batch_and_valid_events_all_count(seed, junk, mutated, data) -> None:
    rng = random.Random(seed)
    valid = [e for i in range(4) for e in dossier_events(rng, f"D{i}")]
    messages = [orjson.dumps(e) for e in valid] + junk
    for change in mutated:
        base = dict(rng.choice(valid)) if valid else {"event_id": "m", "dossier_id": "M", "type": "synced",
                                                      "occurred_at": "2024-03-15T08:00:00+07:00"}
        base.update(change)
        base["event_id"] = change.get("event_id", f"mut-{rng.random()}")
        messages.append(orjson.dumps(base))
    order = data.draw(st.permutations(messages))
    plan = plan_of(list(order))
    assert plan.args is not None and plan.args.watermarks == [(f"{TOPIC}:0", -1, len(messages) - 1)]
    accepted = [ev for ev in (decode_event(m) for m in messages) if isinstance(ev, Event)]
    assert {e["event_id"] for e in valid} <= {ev.event_id for ev in accepted}
    assert {e.event_id for u in plan.result.updates for e in u.added} == {ev.event_id for ev in accepted}
    assert plan.result.invalid == len(plan.dead_letters) == len(messages) - len(accepted)
    for dl in plan.dead_letters:
        assert dl["reason"] in INVALID_REASONS
        assert len(orjson.dumps(dl)) < 1_000_000  # always fits a Kafka record
    # every dossier's contribution is applied as a batch recomputation would
    want: Counter = Counter()
    by_key: dict[str, list[Event]] = {}
    for ev in accepted:
        by_key.setdefault(ev.key, []).append(ev)
    for d, evs in by_key.items():
        want.update(contribution(dossier_facts(d, evs)).cells)
    got: Counter = Counter()
    for u in plan.result.updates:
        got.update(u.delta)
    assert +got == +Counter({c: n for c, n in want.items() if c[1] != "" or c[2] == "orphans"})


@pytest.mark.parametrize("change, reason", [
    ({"type": "received", "occurred_at": "0001-01-01T00:00:00+07:00"}, "out_of_range"),
    ({"type": "due_changed", "due_at": "9999-12-31T20:00:00Z"}, "out_of_range"),
    ({"type": "resolved", "occurred_at": "9999-12-31T17:00:00Z"}, "out_of_range"),
    ({"occurred_at": "2024-03-15T08:00:00+14:60"}, "bad_datetime"),
])
def test_the_reported_poison_messages_are_invalid(change: dict, reason: str) -> None:
    event = {"event_id": "p", "dossier_id": "D", "type": "synced", "occurred_at": "2024-03-15T08:00:00+07:00",
             "unit_id": "u", "procedure_id": "1", "channel": "online", "online_service": "full",
             "due_at": "2024-03-20T17:00:00+07:00", "method": "online", **change}
    got = decode_event(orjson.dumps(event))
    assert not isinstance(got, Event) and got.reason == reason


def test_oversized_values_become_bounded_dead_letters() -> None:
    nul = orjson.dumps({"event_id": "n", "dossier_id": "D", "type": "synced",
                        "occurred_at": "2024-03-15T08:00:00+07:00", "reason": "\x00" * 180_000, "junk": 1})
    huge_id = orjson.dumps({"event_id": "x" * 1_000_000, "dossier_id": "D", "type": "synced",
                            "occurred_at": "2024-03-15T08:00:00+07:00"})
    plan = plan_of([nul, huge_id, b"\xff" * 300_000])
    assert len(plan.dead_letters) == 3
    for dl in plan.dead_letters:
        assert len(orjson.dumps(dl)) < 1_000_000
    cut = [dl for dl in plan.dead_letters if dl.get("raw_truncated")]
    assert len(cut) == 3 and all(len(dl["raw"]) == MAX_DEAD_LETTER_RAW and len(dl["raw_sha256"]) == 64 for dl in cut)
    assert {dl["raw_length"] for dl in cut} == {len(nul), len(huge_id), 300_000}


def test_a_dossier_that_cannot_be_applied_costs_only_its_own_messages() -> None:
    good = [e for e in dossier_events(random.Random(3), "GOOD")]
    broken = {"event_id": "b1", "dossier_id": "BROKEN", "type": "synced", "occurred_at": "2024-03-15T08:00:00+07:00"}
    plan = plan_of([orjson.dumps(e) for e in good] + [orjson.dumps(broken)],
                   blobs={("d", "BROKEN"): b"7|this is not a deflated record"})
    assert [dl["reason"] for dl in plan.dead_letters] == ["unprocessable"]
    assert plan.dead_letters[0]["raw"] == orjson.dumps(broken).decode()
    assert {e.event_id for u in plan.result.updates for e in u.added} == {e["event_id"] for e in good}
    assert plan.args.globals["inv:unprocessable"] == 1
    assert plan.args.watermarks == [(f"{TOPIC}:0", -1, len(good))]
