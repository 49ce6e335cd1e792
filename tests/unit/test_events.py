"""Validation of the contract's event (events.md, the JSON schema): the types and
fields the index methodology added, and petition events keyed by petition_id."""

from __future__ import annotations

import pytest

from processors.events import EVENT_TYPES, Event, InvalidEvent, event_from_dict

AT = "2026-11-02T08:00:00+07:00"


def test_the_types_are_the_schema_types() -> None:
    assert {"stopped", "complaint", "petition_received", "petition_resolved", "petition_rated",
            "petition_reopened"} <= set(EVENT_TYPES)


def test_received_keeps_the_digitisation_flags() -> None:
    e = event_from_dict({"event_id": "e1", "dossier_id": "D1", "type": "received", "occurred_at": AT,
                         "unit_id": "u", "procedure_id": "1.001193", "channel": "online",
                         "online_service": "full", "due_at": AT, "reused_data": True,
                         "personal_store": False, "citizen_data": True})
    assert isinstance(e, Event) and e.key == "D1" and not e.is_petition
    assert (e.get("reused_data"), e.get("personal_store"), e.get("citizen_data")) == (True, False, True)


def test_petition_events_are_keyed_by_petition_id() -> None:
    e = event_from_dict({"event_id": "p1", "petition_id": "P1", "type": "petition_received", "occurred_at": AT,
                         "unit_id": "u", "category": "staff", "dossier_id": "D9"})
    assert isinstance(e, Event) and e.key == "P1" and e.is_petition and e.get("dossier_id") == "D9"


@pytest.mark.parametrize("event, reason", [
    ({"event_id": "p1", "dossier_id": "D1", "type": "petition_resolved", "occurred_at": AT}, "missing_field"),
    ({"event_id": "p1", "petition_id": "P1", "type": "petition_received", "occurred_at": AT}, "missing_field"),
    ({"event_id": "p1", "petition_id": "P1", "type": "petition_rated", "occurred_at": AT}, "missing_field"),
    ({"event_id": "c1", "petition_id": "P1", "type": "complaint", "occurred_at": AT}, "missing_field"),
    ({"event_id": "p1", "petition_id": "P1", "type": "petition_received", "occurred_at": AT, "unit_id": "u",
      "category": "other"}, "bad_value"),
    ({"event_id": "s1", "dossier_id": "D1", "type": "received", "occurred_at": AT, "unit_id": "u",
      "procedure_id": "1", "channel": "online", "online_service": "full", "due_at": AT, "citizen_data": "yes"},
     "wrong_type"),
])
def test_invalid_petition_and_flag_events(event: dict, reason: str) -> None:
    got = event_from_dict(event)
    assert isinstance(got, InvalidEvent) and got.reason == reason, got


def test_stopped_and_complaint_are_dossier_events() -> None:
    for kind in ("stopped", "complaint"):
        e = event_from_dict({"event_id": kind, "dossier_id": "D1", "type": kind, "occurred_at": AT})
        assert isinstance(e, Event) and e.key == "D1"

