"""Synchronous reads of the Redis layout, for the HTTP server, the exporter and
the commands (Starlette runs them in its thread pool).

Sums of counters over date ranges are made inside Redis (``sum_windows.lua``),
so that only per-window totals cross the network.

On a Redis Cluster every read is made once per Kafka partition's keys
(``Keys.shards``, store/keys.py) and summed (counters) or united (sets); on a
single node there is one shard, the untagged keys. The shards are read
concurrently (``_per_shard``): each one's keys are on one master, so the
masters answer at once instead of one partition after another.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import TypeVar

import orjson
import redis

from processors.dossier_update import DossierState
from processors.measures import expand_fields
from processors.open_state import STATES
from processors.petitions import PetitionRecord
from processors.stake import OpenInfo
from processors.windows import MAX_DATE, MIN_DATE, buckets
from store.change_feed import FeedHistory
from store.codecs import decode_dossier, decode_open_info, decode_open_record, decode_petition_record
from store.keys import Keys
from store.scripts import script

OPEN_COUNTED = (*STATES, "overdue_no_apology")
T = TypeVar("T")
MAX_SHARD_THREADS = 8


def _chunked(units: list[str], size: int) -> list[list[str]]:
    """``units`` in order, in chunks of at most ``size``: cut once, then sent to every shard."""
    return [units[i:i + size] for i in range(0, len(units), size)]


class Store:
    """Thin, synchronous access to the counters (Starlette runs it in a thread pool)."""

    UNITS_PER_SCRIPT = 50  # keeps each script call short: Redis runs nothing else meanwhile
    UNITS_PER_RECORDS_SCRIPT = 200  # petition_records.lua, open_with_info.lua: a few commands per unit

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.r = client
        self.k = keys
        self._sum_windows = client.register_script(script("sum_windows"))
        self._open_counts = client.register_script(script("open_counts"))
        self._petition_records = client.register_script(script("petition_records"))
        self._open_with_info = client.register_script(script("open_with_info"))
        self._feed = FeedHistory()  # Redis Cluster: one change sequence out of the partitions'
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def _per_shard(self, read: Callable[[Keys], T]) -> list[T]:
        """``read(shard)`` for every shard, in the shards' order. On a Redis
        Cluster they run concurrently: one after another, a province's KPIs
        took 3-4x a single node's time on a local 3-master cluster with 8
        partitions (docs/performance.md). redis-py's cluster client is safe to
        share between threads; each read makes its own pipelines."""
        shards = self.k.shards
        if len(shards) == 1:
            return [read(shards[0])]
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(min(len(shards), MAX_SHARD_THREADS), thread_name_prefix="chiso-shard")
        return list(self._pool.map(read, shards))

    @staticmethod
    def _per_chunk(run: Callable[..., T], shard: Keys, head: list, chunks: list[list[str]]) -> list[T]:
        """One call of the script ``run`` on ``shard`` per chunk of units, in the
        chunks' order; every unit script takes (prefix, *head, *units)."""
        return [run(keys=[shard.route], args=[shard.prefix, *head, *chunk]) for chunk in chunks]

    def window_sums(self, units: list[str], ranges: list[tuple[date, date]],
                    cutoffs: list[date] | None = None) -> dict[str, list[Counter[str]]]:
        """Per unit, the counters summed over each (start, end) range, computed
        in Redis from the union of the ranges' buckets, as-of fields reduced at
        each range's cutoff (processors/asof.py; default: the range's end)."""
        years = self.years()
        plan: dict[str, list[int]] = {}
        cuts = cutoffs if cutoffs is not None else [end for _, end in ranges]
        for wi, ((start, end), cut) in enumerate(zip(ranges, cuts)):
            for b in buckets(start, end, years, cut):
                plan.setdefault(b, []).append(wi)
        tail: list = [len(ranges), *(c.isoformat() for c in cuts), len(plan)]
        for b, ws in plan.items():
            tail += [b, len(ws), *ws]

        chunks = _chunked(units, self.UNITS_PER_SCRIPT)

        def read(shard: Keys) -> list[tuple[str, bytes]]:
            return [pair for chunk, encoded in zip(chunks, self._per_chunk(self._sum_windows, shard, tail, chunks))
                    for pair in zip(chunk, encoded)]

        out: dict[str, list[Counter[str]]] = {}
        for answers in self._per_shard(read):
            for unit, encoded in answers:
                # bundles (processors/measures.py) counted under the fields they name
                got = [expand_fields(w) for w in orjson.loads(encoded)]
                if unit not in out:
                    out[unit] = got
                else:
                    for total, part in zip(out[unit], got):
                        total.update(part)
        return out

    def change_feed(self) -> tuple[int, dict[str, int]]:
        """(current sequence, unit -> sequence of its last counter change)."""

        def read(shard: Keys) -> tuple[int, dict[str, int]]:
            pipe = self.r.pipeline(transaction=True)  # one shard's keys share a slot
            pipe.get(shard.seq)
            pipe.hgetall(shard.unit_seq)
            seq, per_unit = pipe.execute()
            return int(seq or 0), {u.decode(): int(v) for u, v in per_unit.items()}

        feeds = self._per_shard(read)
        if len(feeds) == 1:
            return feeds[0]
        return self._feed.combine(feeds)

    def open_counts(self, units: list[str]) -> dict[str, dict[str, int]]:
        """Per unit, the stored size of each open-state set."""
        chunks = _chunked(units, 500)

        def read(shard: Keys) -> list[dict[str, list[int]]]:
            return [orjson.loads(encoded) for encoded in
                    self._per_chunk(self._open_counts, shard, [len(OPEN_COUNTED), *OPEN_COUNTED], chunks)]

        out: dict[str, dict[str, int]] = {}
        zeros = [0] * len(OPEN_COUNTED)
        for per_chunk in self._per_shard(read):
            for chunk, counts in zip(chunks, per_chunk):
                for u in chunk:
                    got = dict(zip(OPEN_COUNTED, counts.get(u, zeros)))
                    out[u] = {s: out[u][s] + n for s, n in got.items()} if u in out else got
        return out

    def open_members(self, units: list[str], state: str) -> list[str]:
        out = []
        for shard in self.k.shards:
            pipe = self.r.pipeline(transaction=False)
            for u in units:
                pipe.zrange(shard.open_set(u, state), 0, -1)
            out += [m.decode() for members in pipe.execute() for m in members]
        return out

    def open_with_info(self, units: list[str], states: tuple[str, ...]) -> list[tuple[str, float, str, OpenInfo]]:
        """The open dossiers of the units in those states, with their effective
        due (the sets' score) and their OpenInfo: (dossier, due, unit, info)."""
        chunks = _chunked(units, self.UNITS_PER_RECORDS_SCRIPT)

        def read(shard: Keys) -> list[tuple[str, float, str, OpenInfo]]:
            found = []
            for flat in self._per_chunk(self._open_with_info, shard, [len(states), *states], chunks):
                for j in range(0, len(flat), 3):
                    raw = flat[j + 2]
                    if raw is None:
                        continue
                    unit, _state, info = decode_open_info(raw)
                    if info is not None:
                        found.append((flat[j].decode(), float(flat[j + 1]), unit, info))
            return found

        return [item for found in self._per_shard(read) for item in found]

    def due_transitions(self, now: datetime) -> list[str]:
        """Dossiers whose state may have changed by ``now`` but were not moved yet."""
        return [m.decode() for shard in self.k.shards
                for m in self.r.zrangebyscore(shard.timer, "-inf", now.timestamp())]

    def stored_open(self, dossier_ids: list[str]) -> dict[str, tuple[str, str, bool]]:
        """dossier -> (unit, state, no_apology) as stored."""
        if not dossier_ids:
            return {}
        return {d: decode_open_record(raw) for shard in self.k.shards
                for d, raw in zip(dossier_ids, self.r.hmget(shard.open, dossier_ids)) if raw is not None}

    def dossier_states(self, dossier_ids: list[str]) -> dict[str, DossierState]:
        if not dossier_ids:
            return {}
        out = {}
        for shard in self.k.shards:  # a dossier's keys are in the shard of its partition
            blobs = self.r.mget([shard.dossier(d) for d in dossier_ids])
            out.update({d: decode_dossier(b) for d, b in zip(dossier_ids, blobs) if b})
        return out

    def asof_between(self, after_us: int, until_us: int) -> list[bytes]:
        """The as-of instants in (after, until] (microseconds), as members."""
        if until_us <= after_us:
            return []
        return [m for members in self._per_shard(lambda shard: self.r.zrangebyscore(shard.asof, f"({after_us}", until_us))
                for m in members]

    def petition_records(self, units: list[str]) -> dict[str, list[PetitionRecord]]:
        """Per unit, the records of its petitions (processors/petitions.py)."""
        if not units:
            return {}
        chunks = _chunked(units, self.UNITS_PER_RECORDS_SCRIPT)

        def read(shard: Keys) -> list[list[bytes]]:
            return [values for per_unit in self._per_chunk(self._petition_records, shard, [], chunks)
                    for values in per_unit]

        out: dict[str, list[PetitionRecord]] = {}
        for per_unit in self._per_shard(read):
            for u, values in zip(units, per_unit):
                if values:
                    out.setdefault(u, []).extend(decode_petition_record(v) for v in values)
        return out

    def _union(self, key) -> set[bytes]:
        return set().union(*self._per_shard(lambda shard: self.r.smembers(key(shard))))

    def procedures_seen(self) -> set[str]:
        return {p.decode() for p in self._union(lambda k: k.procedures_seen)}

    def years(self) -> list[int]:
        return sorted(int(y) for y in self._union(lambda k: k.years))

    def seen_units(self) -> set[str]:
        return {u.decode() for u in self._union(lambda k: k.units)}

    def globals(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for got in self._per_shard(lambda shard: self.r.hgetall(shard.globals)):
            total.update({k.decode(): int(v) for k, v in got.items()})
        return dict(total)

    def watermarks(self) -> dict[str, int]:
        return {k.decode(): int(v) for shard in self.k.shards for k, v in self.r.hgetall(shard.watermarks).items()}

    def applied_at(self) -> float | None:
        got = [float(v) for shard in self.k.shards if (v := self.r.get(shard.applied_at)) is not None]
        return max(got) if got else None

    def sum_ranges(self, units: Iterable[str], ranges: list[tuple[date, date | None]]) -> list[Counter[str]]:
        """For each (start, end) range (end None: empty), the counters summed over
        ``units`` (the sums are made in Redis, see ``window_sums``)."""
        units = list(units)
        real = [(start, end) if end is not None else (MAX_DATE, MIN_DATE) for start, end in ranges]
        totals: list[Counter[str]] = [Counter() for _ in ranges]
        if units:
            for per_range in self.window_sums(units, real).values():
                for total, part in zip(totals, per_range):
                    total.update(part)
        return totals
