"""The reception of a synced dossier: a join over its snapshots, kept monotone.

chiso's facts take a dossier's reception, with its flags and first appointment,
from its *first* ``received`` event (kpis.md §1), and events already sent can never
be retracted. Snapshots, though, each tell part of the reception: a fee shows up once
payment is asked for, ``DuocThanhToanTrucTuyen`` once it is paid, while the
appointment at reception is stated best by the *earliest* snapshot (later ones carry
the appointment moved by supplements). So every snapshot gives a reception
*candidate*, and the dossier's reception is their **join**:

- ``received_at``: the earliest stated; ``due_at``: the earliest stated;
- each flag (``fee_required``, ``digitized``, ``reused_data``, ``personal_store``,
  ``citizen_data``): set if any snapshot sets it;
- ``channel``: the highest of direct < postal < online (an absent ``KenhThucHien``
  means direct, so an explicit one wins); ``online_service``: the highest of
  none < partial < full.

Candidates join only within a *group* (same unit and procedure): snapshots that
disagree on those are kept apart, and the group whose reception sorts first wins.

To stay monotone, the events are the ``received`` events of **every join of a
non-empty subset of the candidates** (their closure under join), not just of the
join of all: whatever order snapshots arrive in, each event sent on the way belongs
to the final set, and the final set depends only on the set of snapshots. Event ids
encode the lattice order (flags descending, due ascending, channel and level
descending, all fixed width), so that in chiso's order (``occurred_at``,
``event_id``) the join of all sorts before every other element of its group: the
first ``received`` the facts read is always the join of what has been accepted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import orjson

from processors.timeutil import iso_instant
from sources.dvcqg.model import LOCAL, parse_local

FLAGS = ("fee_required", "digitized", "reused_data", "personal_store", "citizen_data")
ALL_FLAGS = (1 << len(FLAGS)) - 1
CHANNELS = ("direct", "postal", "online")      # join order
LEVELS = ("none", "partial", "full")            # join order
ID_PREFIX = "dvcqg"


def stamp(at: datetime) -> str:
    """An instant as 14 local digits: fixed width, so text order is time order."""
    return at.astimezone(LOCAL).strftime("%Y%m%d%H%M%S")


def flags_of(**values: bool) -> int:
    return sum(1 << i for i, name in enumerate(FLAGS) if values.get(name))


@dataclass(frozen=True, slots=True)
class Reception:
    unit_id: str
    procedure_id: str
    received_at: datetime
    due_at: datetime
    flags: int = 0
    channel: int = 0          # index in CHANNELS
    online_service: int = 0   # index in LEVELS

    @property
    def group(self) -> tuple[str, str]:
        return (self.unit_id, self.procedure_id)

    def join(self, other: Reception) -> Reception:
        assert self.group == other.group
        return Reception(
            self.unit_id, self.procedure_id,
            min(self.received_at, other.received_at), min(self.due_at, other.due_at),
            self.flags | other.flags, max(self.channel, other.channel),
            max(self.online_service, other.online_service),
        )

    def encode(self) -> str:
        """The stored form: compact, canonical (equal candidates, equal strings)."""
        return orjson.dumps([self.unit_id, self.procedure_id, stamp(self.received_at), stamp(self.due_at),
                             self.flags, self.channel, self.online_service]).decode()

    @classmethod
    def decode(cls, text: str | bytes) -> Reception:
        unit, procedure, received, due, flags, channel, level = orjson.loads(text)
        return cls(unit, procedure, parse_local(received), parse_local(due), flags, channel, level)

    def event(self, dossier_id: str, source: str) -> dict:
        group = hashlib.blake2b(f"{self.unit_id}\x1f{self.procedure_id}".encode(), digest_size=4).hexdigest()
        rank = f"{ALL_FLAGS - self.flags:02d}{stamp(self.due_at)}{len(CHANNELS) - 1 - self.channel}" \
               f"{len(LEVELS) - 1 - self.online_service}"
        event = {
            "event_id": f"{ID_PREFIX}:{dossier_id}:received:{stamp(self.received_at)}:{group}:{rank}",
            "dossier_id": dossier_id, "type": "received", "occurred_at": iso_instant(self.received_at),
            "unit_id": self.unit_id, "procedure_id": self.procedure_id, "channel": CHANNELS[self.channel],
            "online_service": LEVELS[self.online_service], "due_at": iso_instant(self.due_at),
        }
        event.update({name: bool(self.flags >> i & 1) for i, name in enumerate(FLAGS)})
        event["source"] = source
        return event


def closure(candidates: Iterable[Reception]) -> set[Reception]:
    """Every join of a non-empty subset (within a group). Join is associative,
    commutative and idempotent, so adding candidates one at a time gives the same
    set in any order."""
    out: set[Reception] = set()
    for c in candidates:
        if c in out:
            continue
        out |= {x.join(c) for x in out if x.group == c.group} | {c}
    return out


def added_receptions(stored: Iterable[Reception], added: Iterable[Reception]) -> set[Reception]:
    """What accepting ``added`` adds to the closure of ``stored``: the only new
    ``received`` events (the others were sent when ``stored`` was accepted)."""
    before = closure(stored)
    after = set(before)
    for c in added:
        if c in after:
            continue
        after |= {x.join(c) for x in after if x.group == c.group} | {c}
    return after - before
