"""The Lua scripts (``store/lua/*.lua``) and typed builders of their arguments.

Every script receives the key prefix as ARGV[1] and starts with the key
functions generated from ``store/keys.py``, so no key is spelled in Lua. The
positional argument lists are built here, from dataclasses, and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import msgpack

from store.keys import lua_key_functions

# Scripts that move open dossiers share set_open.lua.
_USES_SET_OPEN = frozenset({"apply", "transition", "retention_sweep"})


@cache
def script(name: str) -> str:
    """The full text of ``store/lua/<name>.lua``, with its prelude."""
    lua = resources.files("store").joinpath("lua")
    parts = ["local PREFIX = ARGV[1]\n", lua_key_functions()]
    if name in _USES_SET_OPEN:
        parts.append(lua.joinpath("set_open.lua").read_text("utf-8"))
    parts.append(lua.joinpath(f"{name}.lua").read_text("utf-8"))
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class OpenUpdate:
    """``set_open``'s arguments for one dossier: its open state at *now*
    (``state`` "" when not open), the effective due as score, the next instant
    its state may change without an event, and the alert to queue if the state
    is one that alerts."""

    dossier_id: str
    unit: str
    state: str
    no_apology: bool
    score: float
    next_at: float | None
    alert: bytes
    info: str = ""  # OpenInfo.encode(): what the points at stake read per open dossier

    def argv(self) -> list:
        next_at = f"{self.next_at:.6f}" if self.next_at is not None else ""
        return [self.dossier_id, self.unit, self.state, "1" if self.no_apology else "0",
                f"{self.score:.6f}", next_at, self.alert, self.info]


# apply.lua / transition.lua: the state is counted with other counting rules
# than the caller's (a rebuild recorded new ones): the script wrote nothing
OTHER_RULES = -3

DOSSIER, PETITION = "d", "p"  # record kinds: store/keys.py dossier / petition


@dataclass(slots=True)
class ApplyArgs:
    """Everything one batch writes (``apply.lua``)."""

    applied_at: float
    rules: str = ""  # CountingRules.fingerprint of the plan: apply.lua refuses other rules than the state's
    watermarks: list[tuple[str, int, int]] = field(default_factory=list)    # field, expected, new
    records: list[tuple[str, str, int, bytes]] = field(default_factory=list)  # kind, id, expected version, blob
    # (unit, day) -> {field: delta}, no zero delta: apply.lua counts each in the
    # day's and month's buckets (processors/windows.py bucket_field)
    cells: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    globals: dict[str, int] = field(default_factory=dict)                   # field -> delta
    units: set[str] = field(default_factory=set)
    years: set[str] = field(default_factory=set)
    open: list[OpenUpdate] = field(default_factory=list)
    asof_removed: list[bytes] = field(default_factory=list)                 # members
    asof_added: list[tuple[bytes, int]] = field(default_factory=list)       # (member, microseconds)
    petitions_removed: list[tuple[str, str]] = field(default_factory=list)  # (unit, petition)
    petitions_placed: list[tuple[str, str, bytes]] = field(default_factory=list)  # (unit, petition, record)
    procedures: set[str] = field(default_factory=set)                       # procedure ids seen
    closed: list[tuple[str, float | None]] = field(default_factory=list)     # dossier, end (unix s) or None: open
    # petition, its first answer (unix s) or None: unanswered
    closed_petitions: list[tuple[str, float | None]] = field(default_factory=list)
    # field, fingerprint of the record at the new watermark (store/identity.py)
    fingerprints: list[tuple[str, str]] = field(default_factory=list)

    def merge(self, part: ApplyArgs) -> None:
        """Add what one record's plan writes (records, open states, instants,
        petitions, procedures; cells are summed by the plan itself)."""
        self.records += part.records
        self.open += part.open
        self.asof_removed += part.asof_removed
        self.asof_added += part.asof_added
        self.petitions_removed += part.petitions_removed
        self.petitions_placed += part.petitions_placed
        self.procedures |= part.procedures
        self.units |= part.units
        self.closed += part.closed
        self.closed_petitions += part.closed_petitions

    def argv(self, prefix: str) -> list:
        """Two script arguments: the prefix, and every other argument as ONE
        msgpack array (``apply.lua`` unpacks it with Redis's cmsgpack into a
        local ``ARGV``, so the script indexes it as before). One argument instead
        of ~45 per event: redis-py encoded them one by one, ~45% of a worker's
        own time. Bytes are packed as msgpack *raw* strings (``use_bin_type``
        off) because Redis 7.0's cmsgpack has no binary type; Lua strings are
        byte strings, so blobs arrive unchanged."""
        flat = self.flat(prefix)
        return [prefix, msgpack.packb(flat[1:], use_bin_type=False)]

    def flat(self, prefix: str) -> list:
        """The positional arguments, ARGV[1..] as ``apply.lua`` reads them."""
        args: list = [prefix, f"{self.applied_at:.3f}", self.rules, len(self.watermarks)]
        for f, expected, new in self.watermarks:
            args += [f, str(expected), str(new)]
        args.append(len(self.records))
        for kind, record_id, version, blob in self.records:
            args += [kind, record_id, str(version), blob]
        args.append(len(self.cells))
        for (unit, day), fields in self.cells.items():
            args += [unit, day, len(fields)]
            for item in fields.items():
                args += item
        globals_ = [(k, n) for k, n in self.globals.items() if n]
        args.append(len(globals_))
        for name, n in globals_:
            args += [name, n]
        args.append(len(self.units))
        args += sorted(self.units)
        args.append(len(self.years))
        args += sorted(self.years)
        args.append(len(self.open))
        for update in self.open:
            args += update.argv()
        args.append(len(self.asof_removed))
        args += self.asof_removed
        args.append(len(self.asof_added))
        for member, us in self.asof_added:
            args += [us, member]
        args.append(len(self.petitions_removed))
        for unit, petition_id in self.petitions_removed:
            args += [unit, petition_id]
        args.append(len(self.petitions_placed))
        for unit, petition_id, record in self.petitions_placed:
            args += [unit, petition_id, record]
        args.append(len(self.procedures))
        args += sorted(self.procedures)
        for ended in (self.closed, self.closed_petitions):
            args.append(len(ended))
            for record_id, end in ended:
                args += [record_id, f"{end:.6f}" if end is not None else ""]
        args.append(len(self.fingerprints))
        for name, fp in self.fingerprints:
            args += [name, fp]
        return args


@dataclass(frozen=True, slots=True)
class Transition:
    """One dossier for ``transition.lua``: moved only if still at ``version``."""

    version: int
    update: OpenUpdate


def transition_argv(prefix: str, rules: str, transitions: list[Transition]) -> list:
    """``rules``: the fingerprint of the counting rules the states were computed with."""
    args: list = [prefix, rules, len(transitions)]
    for t in transitions:
        args += [str(t.version), *t.update.argv()]
    return args


@dataclass(frozen=True, slots=True)
class OutboxCommit:
    """``outbox_commit.lua``: published entries and the positions reached."""

    token: str
    published: int
    positions: dict[int, int]
    states: list[str]

    def argv(self, prefix: str) -> list:
        args: list = [prefix, self.token, self.published, len(self.positions)]
        for partition, offset in sorted(self.positions.items()):
            args += [partition, offset]
        return [*args, len(self.states), *self.states]


@dataclass(frozen=True, slots=True)
class OutboxTake:
    """``outbox_take.lua``: up to ``want`` alerts still true, scanning at most
    ``scan_max`` entries of the outbox's head."""

    token: str
    want: int
    scan_max: int

    def argv(self, prefix: str) -> list:
        return [prefix, self.token, self.want, self.scan_max]


@dataclass(frozen=True, slots=True)
class NotifyIntake:
    """One alert for ``notify_intake.lua``: its deliveries (id, JSON) and the unit
    whose digest collects it ("" for none)."""

    alert_id: str
    digest_unit: str
    alert: bytes
    jobs: tuple[tuple[str, bytes], ...]

    def argv(self) -> list:
        args: list = [self.alert_id, self.digest_unit, self.alert, len(self.jobs)]
        for job_id, body in self.jobs:
            args += [job_id, body]
        return args


def notify_intake_argv(prefix: str, now: float, keep_s: float, alerts: list[NotifyIntake]) -> list:
    args: list = [prefix, f"{now:.6f}", f"{keep_s:.0f}", len(alerts)]
    for a in alerts:
        args += a.argv()
    return args


@dataclass(frozen=True, slots=True)
class NotifySettle:
    """``notify_settle.lua``: the outcome of one delivery attempt."""

    job_id: str
    outcome: str          # sent | retry | failed
    channel: str
    retries: int = 0
    next_at: float = 0.0
    error: str = ""

    def argv(self, prefix: str) -> list:
        return [prefix, self.job_id, self.outcome, self.channel, self.retries, f"{self.next_at:.6f}", self.error]


@dataclass(frozen=True, slots=True)
class NotifyDigestRun:
    """``notify_digest.lua``: per unit waiting for a digest, its delivery (id and
    JSON ending in ``"items":[]}``) or None to drop what waits."""

    expected_next: str
    next_at: float
    now: float
    units: tuple[tuple[str, str, bytes | None], ...]

    def argv(self, prefix: str) -> list:
        args: list = [prefix, self.expected_next, f"{self.next_at:.6f}", f"{self.now:.6f}", len(self.units)]
        for unit, job_id, body in self.units:
            if body is not None and not body.endswith(b'"items":[]}'):
                raise ValueError("a digest delivery's JSON must end with an empty items list")
            args += [unit, job_id, body or b""]
        return args


@dataclass(frozen=True, slots=True)
class ReceptionAdd:
    """``receptions_add.lua`` for one dossier: the candidates to add if its set
    still has ``expected`` members (the size read before deriving)."""

    dossier_id: str
    expected: int
    members: tuple[str, ...]


def receptions_add_argv(prefix: str, adds: list[ReceptionAdd]) -> list:
    args: list = [prefix, len(adds)]
    for a in adds:
        args += [a.dossier_id, a.expected, len(a.members), *a.members]
    return args
