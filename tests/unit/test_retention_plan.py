"""The plan's side of the retention rule (store/plan.py), pure: a tombstoned
dossier's new events are dead-lettered ``expired`` and counted, never applied;
a dossier's end instant is passed on for the closed set."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from processors.calendar import WorkingCalendar
from processors.events import INVALID_REASONS, decode_event
from store.identity import fingerprint
from store.plan import PlanRules, RawMessage, build_plan
from store.retention import TOMBSTONE
from store.scripts import DOSSIER

pytestmark = pytest.mark.unit

NOW = datetime(2024, 3, 20, 8, 0, tzinfo=UTC)
RECEIVED = {"event_id": "A-1", "dossier_id": "A", "type": "received", "occurred_at": "2024-03-14T08:00:00+07:00",
            "unit_id": "dng-sxd", "procedure_id": "1.009994", "channel": "online", "online_service": "full",
            "due_at": "2024-03-19T17:00:00+07:00"}
RESOLVED = {"event_id": "A-2", "dossier_id": "A", "type": "resolved", "occurred_at": "2024-03-18T10:00:00+07:00"}


def plan(events: list[dict], blob: bytes | None):
    msgs = [RawMessage("in", 0, i, orjson.dumps(e)) for i, e in enumerate(events)]
    return build_plan([(m, decode_event(m.value)) for m in msgs], {"in:0": -1}, {(DOSSIER, "A"): blob},
                      PlanRules(WorkingCalendar()), NOW, NOW)


def test_events_of_a_tombstoned_dossier_are_dead_lettered_expired() -> None:
    p = plan([RECEIVED, RESOLVED], TOMBSTONE)
    assert "expired" in INVALID_REASONS
    assert [d["reason"] for d in p.dead_letters] == ["expired", "expired"]
    assert p.result.invalid == 2 and p.result.accepted == 0
    assert p.args is not None  # the watermark moves: a redelivery is skipped, not dead-lettered twice
    assert p.args.records == [] and p.args.cells == {} and p.args.closed == []
    assert p.args.globals == {"inv:expired": 2}


def test_a_closed_dossier_is_recorded_with_its_end_and_an_open_one_is_not() -> None:
    closed = plan([RECEIVED, RESOLVED], None)
    end = datetime.fromisoformat(RESOLVED["occurred_at"]).timestamp()
    assert closed.dead_letters == [] and closed.args is not None
    assert closed.args.closed == [("A", end)]
    # then the fingerprint of the record at the new watermark (offset 1: RESOLVED)
    # (after the dossiers' closed set, the petitions': none here)
    assert closed.args.flat("x:")[-7:] == [1, "A", f"{end:.6f}", 0, 1, "in:0", fingerprint(orjson.dumps(RESOLVED))]
    still_open = plan([RECEIVED], None)
    assert still_open.args is not None and still_open.args.closed == [("A", None)]
    assert still_open.args.flat("x:")[-7:] == [1, "A", "", 0, 1, "in:0", fingerprint(orjson.dumps(RECEIVED))]
