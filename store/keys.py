"""The Redis layout, in one place: every key is spelled here and only here.

Python code builds keys with ``Keys``; Lua scripts call the functions that
``lua_key_functions`` generates from the same patterns (``store/scripts.py``
prepends them to every script), so renaming a key is a one-line change.

    {p}d:{dossier}           string "{version}|{deflated json}": the dossier's event
                             set and the contribution it last applied (store/codecs.py);
                             after the retention, a tombstone "0|" with a TTL (store/retention.py)
    {p}closed                sorted set dossier -> unix time of its end, for the closed
                             dossiers whose snapshot is still kept (store/retention.py)
    {p}p:{petition}          the same for a petition: its events and the record it placed;
                             after the retention, a tombstone as for a dossier
    {p}closedp               sorted set petition -> unix time of its first answer, for the
                             answered petitions whose snapshot is still kept
    {p}pt:{unit}             hash petition -> its record (processors/petitions.py), read
                             whole by the petition indicators; kept after the retention
    {p}asof                  sorted set of as-of instants (processors/measures.py): member
                             JSON [name, unit, reception date, key], score = microseconds;
                             read for today's part of running windows, pruned by the timer
    {p}a:{unit}:{bucket}     hash field -> count, no field at 0 (apply.lua deletes it);
                             a field "+<codes>" is a bundle of named fields
                             (processors/measures.py BUNDLED, expanded by the reader);
                             bucket = YYYY-MM-DD | YYYY-MM (before Dec 2026 also YYYY:
                             no longer written nor read)
    {p}units                 set of unit ids that have counters
    {p}procedures_seen       set of procedure ids received dossiers carry (unknown ones are reported)
    {p}years                 set of years that hold any dated counter
    {p}g                     hash of global counters: orphans, petition_orphans, dup,
                             ev:{type}, inv:{reason}
    {p}wm                    hash "{topic}:{partition}" -> last applied offset
    {p}wmfp                  hash "{topic}:{partition}" -> fingerprint of the record at that
                             offset (store/identity.py), written with the watermark
    {p}state:generation      id of this state, new at every rebuild (store/identity.py)
    {p}state:rebuilding      JSON {reason, at, targets}: a rebuild is under way until every
                             watermark reaches its target (readiness is 503 until then)
    {p}state:halted          JSON {reason, at}: the log was reset and CHISO_ON_LOG_RESET=halt
    {p}state:owners          hash partition -> JSON {worker, until}: which worker applies it
    {p}state:partitions      Redis Cluster only: the Kafka partition count the keys are
                             tagged by, recorded at first start (store/layout.py)
    {p}state:rules           the counting rules the counters were written with
                             (CountingRules.fingerprint), recorded by the first worker and
                             by `chiso rebuild`; a worker with other rules refuses to start
    {p}applied_at            unix time of the last applied batch
    {p}seq, {p}unit_seq      change feed: a counter bumped by every script call that changes
                             a unit's counters, petitions or open dossiers (apply, timer
                             transitions, retention sweep), and per unit the value at its
                             last change
    {p}open                  hash dossier -> JSON [unit, state, no_apology, alerted states]
    {p}o:{unit}:{state}      sorted set of the unit's open dossiers in that state
                             (state also overdue_no_apology), score = effective due
    {p}timer                 sorted set dossier -> unix time of its next state change
    {p}outbox                list of alerts queued, not yet published
    {p}alerts_pos            hash partition -> offset after the last published alert
    {p}publisher             lease of the one process publishing alerts
    {p}n:seen                `chiso notify`: sorted set alert id -> unix time first taken in
                             (de-duplicates redelivered alerts; trimmed after notify_dedup_days)
    {p}n:jobs                hash delivery id -> delivery JSON (store/notify_queue.py)
    {p}n:due                 sorted set delivery id -> unix time of its next attempt
                             (a claimed delivery is pushed forward by the claim timeout)
    {p}n:tries               hash delivery id -> failed attempts so far
    {p}n:dead                hash delivery id -> delivery JSON with its last error, given up
    {p}n:digest:{unit}       hash alert id -> alert JSON waiting for the unit's digest
    {p}n:digest_units        set of units with alerts waiting for a digest
    {p}n:digest_next         unix time of the next digest run
    {p}n:stats               hash of the notifier's counters: sent:{channel},
                             failed:{channel}, retries:{channel}, unrouted
    {p}dvcqg:r:{dossier}     set of the reception candidates accepted from the national
                             portal's sync format (sources/dvcqg/reception.py); grows only
    {p}dvcqg:unknown         hash agency value -> snapshots rejected because no unit matched

On a Redis Cluster (``Keys(partitions=N)``, store/layout.py) the same keys are
tagged: ``{p}`` becomes ``{p}{P}:`` (``chiso:{3}:d:...``) for every key the
apply path, the timer, the retention sweep and the alert publisher touch (the
outbox, its lease and positions included), P being the Kafka partition whose
batches write it (``Keys.shard``), so one script call only touches keys of one
hash slot. The notifier's ``n:*`` keys carry the fixed tag ``{n}``, the
national portal import's ``dvcqg:*`` ``{dvcqg}``, the state's identity
(``state:*`` except the fingerprints, which the apply script writes)
``{state}``. Readers iterate
``Keys.shards`` and sum (counters) or unite (sets) what each partition holds;
on a single node ``shards`` is ``[self]`` and nothing is tagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_PREFIX = "chiso:"

# name -> pattern after the prefix; ``{x}`` are the key's parameters, in order.
PATTERNS: dict[str, str] = {
    "dossier": "d:{dossier}",
    "closed": "closed",
    "petition": "p:{petition}",
    "closed_petitions": "closedp",
    "petitions": "pt:{unit}",
    "asof": "asof",
    "procedures_seen": "procedures_seen",
    "counters": "a:{unit}:{bucket}",
    "units": "units",
    "years": "years",
    "globals": "g",
    "watermarks": "wm",
    "fingerprints": "wmfp",
    "generation": "state:generation",
    "rebuilding": "state:rebuilding",
    "halted": "state:halted",
    "owners": "state:owners",
    "partitions": "state:partitions",
    "rules": "state:rules",
    "applied_at": "applied_at",
    "seq": "seq",
    "unit_seq": "unit_seq",
    "open": "open",
    "open_set": "o:{unit}:{state}",
    "timer": "timer",
    "outbox": "outbox",
    "alerts_pos": "alerts_pos",
    "publisher": "publisher",
    "notify_seen": "n:seen",
    "notify_jobs": "n:jobs",
    "notify_due": "n:due",
    "notify_tries": "n:tries",
    "notify_dead": "n:dead",
    "notify_digest": "n:digest:{unit}",
    "notify_digest_units": "n:digest_units",
    "notify_digest_next": "n:digest_next",
    "notify_stats": "n:stats",
    "receptions": "dvcqg:r:{dossier}",
    "unknown_agencies": "dvcqg:unknown",
}

_PARAM = re.compile(r"\{(\w+)\}")


def _params(pattern: str) -> list[str]:
    return _PARAM.findall(pattern)


# name -> (the pattern with positional fields, its number of parameters): a key
# is built for every record of every batch, so the pattern is parsed once here.
_POSITIONAL: dict[str, tuple[str, int]] = {
    name: (_PARAM.sub("{}", pattern), len(_params(pattern))) for name, pattern in PATTERNS.items()
}


# The state's identity keys that the apply path does not write: on a cluster
# they live together under one fixed tag (store/identity.py).
_STATE_SHARED = frozenset({"generation", "rebuilding", "halted", "owners", "partitions", "rules"})


@dataclass(frozen=True)
class Keys:
    prefix: str = DEFAULT_PREFIX
    # 0: one Redis node, nothing tagged (the layout every single node has).
    # N > 0: Redis Cluster, the apply path's keys tagged by Kafka partition 0..N-1.
    partitions: int = 0

    @property
    def clustered(self) -> bool:
        return self.partitions > 0

    def shard(self, partition: int) -> Keys:
        """The keys Kafka partition ``partition``'s batches write: the same keys
        on a single node, ``{prefix}{P}:...`` on a cluster."""
        if not self.partitions:
            return self
        if not 0 <= partition < self.partitions:
            raise ValueError(f"partition {partition} is outside the {self.partitions} partitions of the layout")
        return Keys(f"{self.prefix}{{{partition}}}:")

    @property
    def shards(self) -> list[Keys]:
        """Every partition's keys, for readers that sum or unite over them."""
        return [self.shard(p) for p in range(self.partitions)] if self.partitions else [self]

    def shard_of_field(self, field: str) -> Keys:
        """The keys holding watermark field ``{topic}:{partition}``."""
        return self.shard(int(field.rsplit(":", 1)[1])) if self.partitions else self

    def _tagged(self, tag: str) -> Keys:
        return Keys(f"{self.prefix}{{{tag}}}:") if self.partitions else self

    @property
    def route(self) -> str:
        """A key declared to every script call of these keys, so that a cluster
        client sends it to the node serving their slot (the scripts compute the
        other keys from the prefix; Redis accepts them in the declared key's slot)."""
        return self._key("watermarks")

    def _key(self, name: str, *args: str) -> str:
        pattern, arity = _POSITIONAL[name]
        if len(args) != arity:
            raise TypeError(f"key {name!r} takes {arity} parameters, got {len(args)}")
        return self.prefix + pattern.format(*args)

    def dossier(self, dossier_id: str) -> str:
        return self._key("dossier", dossier_id)

    @property
    def closed(self) -> str:
        return self._key("closed")

    def petition(self, petition_id: str) -> str:
        return self._key("petition", petition_id)

    @property
    def closed_petitions(self) -> str:
        return self._key("closed_petitions")

    def petitions(self, unit: str) -> str:
        return self._key("petitions", unit)

    @property
    def asof(self) -> str:
        return self._key("asof")

    @property
    def procedures_seen(self) -> str:
        return self._key("procedures_seen")

    def counters(self, unit: str, bucket: str) -> str:
        return self._key("counters", unit, bucket)

    def open_set(self, unit: str, state: str) -> str:
        return self._key("open_set", unit, state)

    def receptions(self, dossier_id: str) -> str:
        return self._key("receptions", dossier_id)

    @property
    def units(self) -> str:
        return self._key("units")

    @property
    def years(self) -> str:
        return self._key("years")

    @property
    def globals(self) -> str:
        return self._key("globals")

    @property
    def watermarks(self) -> str:
        return self._key("watermarks")

    def state(self, name: str) -> str:
        """A key of the state's identity (store/identity.py): ``fingerprints``,
        ``generation``, ``rebuilding``, ``halted`` or ``owners``."""
        if name in _STATE_SHARED:
            return self._tagged("state")._key(name)
        return self._key(name)

    @property
    def applied_at(self) -> str:
        return self._key("applied_at")

    @property
    def seq(self) -> str:
        return self._key("seq")

    @property
    def unit_seq(self) -> str:
        return self._key("unit_seq")

    @property
    def open(self) -> str:
        return self._key("open")

    @property
    def timer(self) -> str:
        return self._key("timer")

    @property
    def outbox(self) -> str:
        return self._key("outbox")

    @property
    def alerts_pos(self) -> str:
        return self._key("alerts_pos")

    @property
    def publisher(self) -> str:
        return self._key("publisher")

    @property
    def dvcqg(self) -> Keys:
        """The national portal import's keys (store/dvcqg.py): ``{dvcqg}``-tagged on a
        cluster (its reception sets are not in the dossier's partition)."""
        return self._tagged("dvcqg")

    @property
    def notifier(self) -> Keys:
        """The keys the notifier's scripts use together: ``{n}``-tagged on a cluster."""
        return self._tagged("n")

    def notify(self, name: str) -> str:
        """A key of the notifier's delivery state: ``notify("jobs")`` is ``{p}n:jobs``."""
        return self.notifier._key(f"notify_{name}")

    def notify_digest(self, unit: str) -> str:
        return self.notifier._key("notify_digest", unit)
    @property
    def unknown_agencies(self) -> str:
        return self._key("unknown_agencies")


def watermark_field(topic: str, partition: int) -> str:
    return f"{topic}:{partition}"


def lua_key_functions() -> str:
    """One Lua function ``key_<name>(...)`` per pattern, reading the prefix from
    the script's ``PREFIX`` local (every script receives it as ARGV[1])."""
    lines = []
    for name, pattern in PATTERNS.items():
        params = _params(pattern)
        parts = ["PREFIX"]
        for literal, param in zip(_PARAM.split(pattern)[::2], [*params, None]):
            if literal:
                parts.append(repr(literal))
            if param:
                parts.append(param)
        lines.append(f"local function key_{name}({', '.join(params)}) return {' .. '.join(parts)} end")
    return "\n".join(lines) + "\n"
