"""Open-dossier states at now (kpis.md §8) and their next transition instant."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from processors.calendar import WorkingCalendar
from processors.events import event_from_dict
from processors.facts import dossier_facts
from processors.open_state import open_state
from tests import reference as ref
from tests.gen import dossiers

VN = timezone(timedelta(hours=7))
CAL = WorkingCalendar()
THRESHOLD = CAL.config.warning_threshold_s


def facts_of(events):
    return dossier_facts("D", [event_from_dict(e) for e in events])


def ref_state(events, now):
    return ref.open_state(ref.RefDossier.of(events), now, CAL.working_time_s, THRESHOLD)


@settings(max_examples=400, deadline=None)
@given(events=dossiers("D"), hours=st.integers(-24, 8 * 24), minutes=st.sampled_from([0, 1, 29, 30, 59]))
def test_state_equals_the_reference(events: list[dict], hours: int, minutes: int) -> None:
    now = datetime(2024, 3, 14, 8, 0, tzinfo=VN) + timedelta(hours=hours, minutes=minutes)
    got = open_state(facts_of(events), now, CAL)
    assert (got.state, got.no_apology) == ref_state(events, now)


@settings(max_examples=250, deadline=None)
@given(events=dossiers("D"), hours=st.integers(-24, 8 * 24), data=st.data())
def test_nothing_changes_before_the_next_change_instant(events: list[dict], hours: int, data: st.DataObject) -> None:
    """The timer sleeps until next_change_at: no state change may happen before it."""
    now = datetime(2024, 3, 14, 8, 0, tzinfo=VN) + timedelta(hours=hours)
    got = open_state(facts_of(events), now, CAL)
    horizon = got.next_change_at or now + timedelta(days=20)
    span_us = int((horizon - now) / timedelta(microseconds=1))
    probes = [now + timedelta(microseconds=x) for x in data.draw(st.lists(st.integers(0, max(span_us - 1, 0)), max_size=6))]
    if span_us > 0:
        probes.append(horizon - timedelta(microseconds=1))
    for t in probes:
        assert ref_state(events, t) == (got.state, got.no_apology), t


def _received(at: datetime, due: datetime) -> dict:
    return {"event_id": "r", "dossier_id": "D", "type": "received", "occurred_at": at.isoformat(),
            "unit_id": "u", "procedure_id": "p", "channel": "online", "online_service": "full", "due_at": due.isoformat()}


def test_a_due_date_moved_after_it_passed_does_not_rescue_a_late_dossier() -> None:
    #  Mon 08:00 received ── Wed 17:00 due ── Thu 09:00 due_changed(→ next Mon) ── Thu 10:00 resolved
    received_at = datetime(2024, 3, 11, 8, 0, tzinfo=VN)
    due = datetime(2024, 3, 13, 17, 0, tzinfo=VN)
    events = [
        _received(received_at, due),
        {"event_id": "m", "dossier_id": "D", "type": "due_changed", "occurred_at": "2024-03-14T09:00:00+07:00", "due_at": "2024-03-18T17:00:00+07:00"},
    ]
    now = datetime(2024, 3, 14, 9, 30, tzinfo=VN)
    assert open_state(facts_of(events), now, CAL).state == "overdue"
    resolved = events + [{"event_id": "t", "dossier_id": "D", "type": "resolved", "occurred_at": "2024-03-14T10:00:00+07:00"}]
    assert facts_of(resolved).timeliness == "late"
    # moved in time (before the due) it does count
    in_time = [events[0], {**events[1], "occurred_at": "2024-03-13T09:00:00+07:00"}]
    assert open_state(facts_of(in_time), now, CAL).state == "not_due"


def test_a_dossier_paused_after_its_due_stays_overdue() -> None:
    #  received ── due Wed 17:00 ── paused Thu 09:00 ....(paused for a week)....
    events = [
        _received(datetime(2024, 3, 11, 8, 0, tzinfo=VN), datetime(2024, 3, 13, 17, 0, tzinfo=VN)),
        {"event_id": "p", "dossier_id": "D", "type": "paused", "occurred_at": "2024-03-14T09:00:00+07:00"},
    ]
    f = facts_of(events)
    for days in (0, 1, 3, 7):
        now = datetime(2024, 3, 14, 10, 0, tzinfo=VN) + timedelta(days=days)
        s = open_state(f, now, CAL)
        assert s.state == "overdue" and s.paused
        assert s.effective_due == datetime(2024, 3, 13, 17, 0, tzinfo=VN) + (now - datetime(2024, 3, 14, 9, 0, tzinfo=VN))


def test_a_dossier_paused_before_its_due_is_paused_and_its_due_slides() -> None:
    events = [
        _received(datetime(2024, 3, 11, 8, 0, tzinfo=VN), datetime(2024, 3, 13, 17, 0, tzinfo=VN)),
        {"event_id": "p", "dossier_id": "D", "type": "supplement_requested", "occurred_at": "2024-03-12T09:00:00+07:00"},
    ]
    s = open_state(facts_of(events), datetime(2024, 3, 20, 9, 0, tzinfo=VN), CAL)
    assert s.state == "paused" and s.next_change_at is None
    resumed = events + [{"event_id": "q", "dossier_id": "D", "type": "supplement_received", "occurred_at": "2024-03-20T09:00:00+07:00"}]
    s = open_state(facts_of(resumed), datetime(2024, 3, 20, 9, 0, tzinfo=VN), CAL)
    # 8 days paused: the due slid from Wed 13/3 17:00 to Thu 21/3 17:00
    assert s.effective_due == datetime(2024, 3, 21, 17, 0, tzinfo=VN)
    assert s.state == "not_due"


def test_nearing_due_counts_working_time_across_a_weekend() -> None:
    # due Monday 10:00; Friday 10:30 has 2.5 h (Mon) + 5 h... = 7 h of office time left: nearing
    events = [_received(datetime(2024, 3, 11, 8, 0, tzinfo=VN), datetime(2024, 3, 18, 10, 0, tzinfo=VN))]
    f = facts_of(events)
    assert open_state(f, datetime(2024, 3, 15, 10, 30, tzinfo=VN), CAL).state == "nearing_due"
    before = open_state(f, datetime(2024, 3, 15, 9, 30, tzinfo=VN), CAL)
    assert before.state == "not_due"
    assert before.next_change_at == datetime(2024, 3, 15, 10, 0, tzinfo=VN)  # exactly 7.5 h of office time left
