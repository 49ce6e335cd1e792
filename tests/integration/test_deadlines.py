"""Open-dossier states and the alert stream, over the real broker and Redis."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from chiso.settings import sample_units_path
from processors.calendar import WorkingCalendar
from processors.units import UnitCatalogue
from tests import reference as ref
from tests.gen import history
from tests.integration.test_pipeline import NOW, messy_feed, read_topic, send

pytestmark = pytest.mark.integration

CAL = WorkingCalendar()


def expected_states(events: list[dict], now: datetime) -> dict[str, tuple[str, str, bool]]:
    """dossier -> (unit, state, no_apology) for the open ones, per the reference."""
    out = {}
    for d, dossier in ref.group(events).items():
        state, no_apology = ref.open_state(dossier, now, CAL.working_time_s, CAL.config.warning_threshold_s)
        if state is not None:
            out[d] = (dossier.r["unit_id"], state, no_apology)
    return out


def wait_outbox_empty(stack, timeout_s: float = 60) -> None:
    key = f"{stack.settings.redis_prefix}outbox"
    deadline = time.monotonic() + timeout_s
    while stack.redis.llen(key) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stack.redis.llen(key) == 0, "alerts still queued"


def test_open_states_and_urgent_lists_equal_the_reference(make_stack) -> None:
    stack = make_stack(now=NOW)
    events, messages = messy_feed(seed=21, dossiers=800)
    stack.start("server")
    stack.start("worker")
    send(stack, messages)
    stack.wait_ready()
    now = datetime.fromisoformat(NOW)
    want = expected_states(events, now)
    known = {u.unit_id for u in UnitCatalogue.from_path(sample_units_path()).all()}
    for unit, units in ((None, None), ("dng", known), ("dng-sxd", {"dng-sxd"}), ("unknown-unit", {"unknown-unit"})):
        answer = stack.http.get("/api/v1/open", params={"unit": unit} if unit else {}).json()
        mine = [v for v in want.values() if units is None or v[0] in units]
        counts = Counter(v[1] for v in mine)
        assert answer["open"] == len(mine)
        for state in ("overdue", "paused", "nearing_due", "not_due"):
            assert answer[state] == counts[state], (unit, state)
        assert answer["overdue_no_apology"] == sum(1 for v in mine if v[2])
        listed = stack.http.get("/api/v1/dossiers", params={**({"unit": unit} if unit else {}), "state": "overdue,nearing_due", "limit": 1000}).json()
        ids = [i["dossier_id"] for i in listed["items"]]
        assert sorted(ids) == sorted(d for d, v in want.items() if v[1] in ("overdue", "nearing_due") and (units is None or v[0] in units))
        dues = [datetime.fromisoformat(i["due_at"]) for i in listed["items"]]
        assert dues == sorted(dues), "most urgent first"
    page = stack.http.get("/api/v1/dossiers", params={"state": "overdue", "limit": 5, "offset": 5}).json()
    assert len(page["items"]) == min(5, max(0, page["total"] - 5))
    assert stack.http.get("/api/v1/dossiers", params={"state": "late"}).status_code == 400
    assert stack.http.get("/api/v1/dossiers", params={"limit": "x"}).status_code == 400
    assert stack.http.get("/api/v1/open", params={"unit": "nope"}).status_code == 404


def test_alerts_are_sent_exactly_once_per_dossier_and_state_across_sigkills(make_stack) -> None:
    stack = make_stack(now=NOW)
    events, messages = messy_feed(seed=22, dossiers=2500)
    stack.start("server")
    stack.start("worker")
    send(stack, messages)
    outbox = f"{stack.settings.redis_prefix}outbox"
    kills = 0
    deadline = time.monotonic() + 120
    # Kill while alerts are being queued and published.
    while kills < 3 and time.monotonic() < deadline:
        published = int(stack.redis.hget(f"{stack.settings.redis_prefix}g", "alerts:overdue") or 0)
        if published > 50 * (kills + 1) or (stack.redis.llen(outbox) > 0 and kills == 0):
            stack.kill("worker")
            kills += 1
            stack.start("worker")
        time.sleep(0.05)
    assert kills >= 1
    stack.wait_ready(timeout_s=180)
    wait_outbox_empty(stack, 90)
    want = expected_states(events, datetime.fromisoformat(NOW))
    expected_alerts = {(d, v[1]) for d, v in want.items() if v[1] in ("overdue", "nearing_due")}
    records = read_topic(stack.settings.kafka, stack.settings.alerts_topic, len(expected_alerts), timeout_s=30)
    time.sleep(1)
    records = read_topic(stack.settings.kafka, stack.settings.alerts_topic, len(records) + 10**9, timeout_s=5)
    alerts = [orjson.loads(r.value) for r in records]
    keys = Counter((a["dossier_id"], a["state"]) for a in alerts)
    assert [k for k, n in keys.items() if n > 1] == [], "an alert was sent twice"
    assert expected_alerts <= set(keys), "a dossier in an alert state was never alerted"
    for a in alerts:
        assert set(a) >= {"dossier_id", "unit_id", "state", "due_at", "at"}


def test_the_timer_moves_a_dossier_as_time_passes(make_stack) -> None:
    stack = make_stack()  # the real clock
    stack.start("server")
    stack.start("worker")
    send(stack, [orjson.dumps(e) for e in history(31, 3)])
    stack.wait_ready()  # the worker has joined; now time the deadline from here
    now = datetime.now(UTC)
    # Far enough ahead that a busy machine still applies it before its due (a
    # bound on the worker's latency, not a timing of the timer).
    due = now + timedelta(seconds=20)
    event = {"event_id": "tick-r", "dossier_id": "TICK", "type": "received", "occurred_at": now.isoformat(),
             "unit_id": "dng-sxd", "procedure_id": "1.009994", "channel": "online",
             "online_service": "full", "due_at": due.isoformat()}
    send(stack, [orjson.dumps(event)])
    stored = f"{stack.settings.redis_prefix}o:dng-sxd:nearing_due"
    while stack.redis.zscore(stored, "TICK") is None and datetime.now(UTC) < due:
        time.sleep(0.05)
    assert stack.redis.zscore(stored, "TICK") is not None, "not applied before its due"
    first = stack.http.get("/api/v1/dossiers", params={"unit": "dng-sxd", "state": "nearing_due,overdue"}).json()
    assert [(i["dossier_id"], i["state"]) for i in first["items"] if i["dossier_id"] == "TICK"] in ([("TICK", "nearing_due")], [("TICK", "overdue")])
    # Moved by the timer itself (not only recomputed at read time): the stored set
    # comes to hold it once the due has passed; the wait is bounded, not timed.
    overdue = f"{stack.settings.redis_prefix}o:dng-sxd:overdue"
    give_up = due + timedelta(seconds=90)
    while stack.redis.zscore(overdue, "TICK") is None and datetime.now(UTC) < give_up:
        time.sleep(0.2)
    assert stack.redis.zscore(overdue, "TICK") is not None, "the timer never moved it to overdue"
    assert datetime.now(UTC) >= due
    assert stack.http.get("/api/v1/open", params={"unit": "dng-sxd", "scope": "self"}).json()["overdue"] >= 1
    wait_outbox_empty(stack)
    alerts = [orjson.loads(r.value) for r in read_topic(stack.settings.kafka, stack.settings.alerts_topic, 2, timeout_s=10)]
    assert sorted(a["state"] for a in alerts if a["dossier_id"] == "TICK") == ["nearing_due", "overdue"]
