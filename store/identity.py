"""What event log the Redis state reflects, and the checks that keep them in step.

Redis is the source of truth for what is applied (docs/architecture.md, "State
identity"). Besides the per-partition watermark (the last applied offset,
store/writer.py) the apply script writes, in the same step, a *fingerprint* of
the record at that offset; a rebuild stamps the state with a new *generation*
id. With those the worker (streams/positions.py) can tell, per partition:

- Redis is behind the log (empty, or restored from an older snapshot): the
  watermark is missing or behind what the group committed. The partition is
  read again from watermark + 1; idempotence makes that exact.
- The log is not the one the state reflects (broker lost data, topic
  recreated): the record at the watermark is gone or differs. Which of the new
  offsets are new cannot be told, so a documented rule applies (rebuild,
  continue as a new log, or halt), never a silent skip.

``GapGuard`` keeps application contiguous: a batch whose first offset is past
watermark + 1 (and past the partition's first available offset) is refused with
``LogGap`` instead of being applied over a hole. It is checked on the same
watermark read that the apply script compares-and-sets, so no rollback or
rebuild can slip between the check and the write.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import orjson
import redis
import redis.asyncio as aioredis

from store.keys import PATTERNS, Keys, watermark_field
from store.scripts import script

# Keys holding what the worker derived from the events: a rebuild deletes them
# and applies the log again. Kept: the change feed (bumped instead), alert
# publication and notifier state, and what imports wrote directly (dvcqg).
DERIVED = ("dossier", "petition", "petitions", "asof", "procedures_seen", "counters", "units", "years",
           "globals", "watermarks", "fingerprints", "applied_at", "open", "open_set", "timer", "closed",
           "closed_petitions")


def fingerprint(value: bytes | None) -> str:
    """A short hash of a record's value: enough to tell two logs apart."""
    return hashlib.blake2b(value or b"", digest_size=8).hexdigest()


def batch_fingerprints(messages: Iterable, watermarks: Sequence[tuple[str, int, int]]) -> list[tuple[str, str]]:
    """(field, fingerprint of the record at the new watermark) for each
    ``(field, expected, new)`` the apply script writes. Stops when every one
    is found: pass the messages latest first, and it looks at a few."""
    wanted = {f: new for f, _, new in watermarks}
    found: dict[str, str] = {}
    for m in messages:
        f = watermark_field(m.topic, m.partition)
        if wanted.get(f) == m.offset and f not in found:
            found[f] = fingerprint(m.value)
            if len(found) == len(wanted):
                break
    return [(f, found[f]) for f, _, _ in watermarks if f in found]


class LogGap(Exception):
    """A batch starts past the next offset to apply: something is missing."""

    def __init__(self, gaps: dict[tuple[str, int], tuple[int, int]]) -> None:
        self.gaps = gaps  # (topic, partition) -> (watermark, first offset in the batch)
        super().__init__(", ".join(f"{t}:{p} applied to {w}, batch starts at {f}" for (t, p), (w, f) in gaps.items()))


def edge_offsets(messages: Iterable, lowest: bool = False) -> dict[tuple[str, int], int]:
    """The highest (or lowest) offset of each (topic, partition) among
    ``messages``: one pass, no per-message string (a batch holds thousands of
    messages, a few partitions)."""
    edge: dict[tuple[str, int], int] = {}
    get = edge.get
    for m in messages:
        tp = (m.topic, m.partition)
        seen = get(tp)
        if seen is None or (m.offset < seen if lowest else m.offset > seen):
            edge[tp] = m.offset
    return edge


@dataclass
class GapGuard:
    """``floors``: field -> the partition's first available offset, where a
    partition with nothing applied may legitimately start (log retention)."""

    floors: dict[str, int] = field(default_factory=dict)

    def check(self, messages: Iterable, watermarks: dict[str, int]) -> None:
        gaps = {}
        for (topic, partition), offset in edge_offsets(messages, lowest=True).items():
            f = watermark_field(topic, partition)
            applied = watermarks.get(f, -1)
            if offset > applied + 1 and offset > self.floors.get(f, 0):
                gaps[(topic, partition)] = (applied, offset)
        if gaps:
            raise LogGap(gaps)


def derived_globs(keys: Keys) -> list[str]:
    prefix = "".join("\\" + c if c in "*?[]\\" else c for c in keys.prefix)
    out = []
    for name in DERIVED:
        pattern = PATTERNS[name]
        for param in ("dossier", "petition", "unit", "bucket", "state"):
            pattern = pattern.replace("{" + param + "}", "*")
        out.append(prefix + pattern)
    return out


def _by_shard(keys: Keys, fields: Iterable[str]) -> dict[Keys, list[str]]:
    """Watermark fields grouped by the keys holding them (one group on a single node)."""
    out: dict[Keys, list[str]] = {}
    for f in fields:
        out.setdefault(keys.shard_of_field(f), []).append(f)
    return out


def new_generation() -> str:
    return uuid.uuid4().hex


def rebuilding_flag(reason: str, targets: dict[str, int] | None = None) -> bytes:
    """targets: field -> the offset a rebuild is done at (true end - 1)."""
    return orjson.dumps({"reason": reason, "at": time.time(), "targets": targets or {}})


class StateIdentity:
    """The worker's and ``chiso rebuild``'s side (asyncio)."""

    def __init__(self, redis_client: aioredis.Redis, keys: Keys) -> None:
        self.redis = redis_client
        self.keys = keys
        self._flush = redis_client.register_script(script("flush_state"))

    async def generation(self) -> str:
        """The state's generation id; a state without one (new, or written before
        generations existed) is given one now."""
        await self.redis.set(self.keys.state("generation"), new_generation(), nx=True)
        return (await self.redis.get(self.keys.state("generation"))).decode()

    async def applied(self, fields: Sequence[str]) -> dict[str, tuple[int | None, str | None]]:
        """field -> (watermark or None, fingerprint or None)."""
        out: dict[str, tuple[int | None, str | None]] = {}
        for shard, some in _by_shard(self.keys, fields).items():
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hmget(shard.watermarks, some)
                pipe.hmget(shard.state("fingerprints"), some)
                wms, fps = await pipe.execute()
            out.update({f: (int(w) if w is not None else None, fp.decode() if fp is not None else None)
                        for f, w, fp in zip(some, wms, fps)})
        return out

    async def flush(self, reason: str, rules: str, targets: dict[str, int] | None = None,
                    expect: str | None = None) -> str | None:
        """Delete every derived key at once (one script: no batch can be half
        inside), stamp a new generation, raise the rebuilding flag and record
        the counting rules what follows is counted with (``rules``,
        ``CountingRules.fingerprint``): a worker still running with other rules
        can write nothing after this (apply.lua). Returns the new generation.

        ``expect``: flush only if the state is still that generation (a worker
        that saw a reset log; None, and nothing done, when another flush came
        in between: what it saw is gone). On one node the script checks it in
        the same step.

        On a Redis Cluster there is one script per partition's keys: the
        rebuilding flag is raised first (and ``expect`` checked with it, in one
        transaction), so that readiness says 503 while the partitions are
        flushed one by one."""
        generation = new_generation()
        flag = rebuilding_flag(reason, targets)
        if not self.keys.clustered:
            done = await self._flush(keys=[self.keys.route], args=[self.keys.prefix, generation, flag, rules,
                                                                   expect or "", *derived_globs(self.keys)])
            return generation if done >= 0 else None
        if expect is None:
            await self.redis.set(self.keys.state("rebuilding"), flag)
        elif not await self._if_generation(expect, lambda pipe: pipe.set(self.keys.state("rebuilding"), flag)):
            return None
        for shard in self.keys.shards:
            await self._flush(keys=[shard.route], args=[shard.prefix, generation, flag, rules, "",
                                                        *derived_globs(shard)])
            # the script (shared with the single node) also stamped the partition's
            # own copies of the identity keys, which nothing reads: the real ones are
            # under {state}. Except the rules: the partition's copy is what its apply
            # script checks (one slot per script call).
            await self.redis.delete(*(shard.state(n) for n in ("generation", "halted", "rebuilding")))
        await self.redis.set(self.keys.state("generation"), generation)
        await self.redis.set(self.keys.state("rules"), rules)
        await self.redis.delete(self.keys.state("halted"))
        await self.redis.set(self.keys.state("rebuilding"), flag)
        return generation

    async def forget_partitions(self, fields: Sequence[str]) -> None:
        """Rule ``continue``: the partitions start a new log; what was applied
        from the old one stays (dossier snapshots de-duplicate by event id)."""
        for shard, some in _by_shard(self.keys, fields).items():
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hdel(shard.watermarks, *some)
                pipe.hdel(shard.state("fingerprints"), *some)
                await pipe.execute()

    async def halt(self, reason: str, generation: str) -> bool:
        """Raise the halt flag, only if the state is still ``generation`` (the
        one the reset was seen in); False, and nothing written, when a flush
        (`chiso rebuild`) came in between. Without that, a check that compared
        before the rebuild's flush and wrote after it halted the rebuilt state,
        which nothing clears but another rebuild."""
        value = orjson.dumps({"reason": reason, "at": time.time()})
        return await self._if_generation(generation, lambda pipe: pipe.set(self.keys.state("halted"), value))

    async def _if_generation(self, generation: str, write: Callable[[aioredis.client.Pipeline], object]) -> bool:
        """``write`` only if the state is still ``generation``."""
        return await self._if_unchanged(self.keys.state("generation"), generation.encode(), write)

    async def _if_unchanged(self, key: str, value: bytes,
                            write: Callable[[aioredis.client.Pipeline], object]) -> bool:
        """Queue ``write`` in a transaction that runs only if ``key`` still
        holds ``value``; False when it does not (or changed meanwhile). The
        identity keys share the {state} slot, so this holds on a Redis Cluster."""
        async with self.redis.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                if await pipe.get(key) != value:
                    return False
                pipe.multi()
                write(pipe)
                await pipe.execute()
            except redis.WatchError:
                return False
        return True

    async def halted(self) -> str | None:
        raw = await self.redis.get(self.keys.state("halted"))
        return orjson.loads(raw)["reason"] if raw else None

    async def end_rebuild_if_done(self) -> None:
        raw = await self.redis.get(self.keys.state("rebuilding"))
        if raw is None:
            return
        targets = orjson.loads(raw).get("targets") or {}
        applied = await self.applied(list(targets)) if targets else {}
        if all((applied[f][0] if applied[f][0] is not None else -1) >= t for f, t in targets.items()):
            # delete only the flag that was read (a newer rebuild keeps its own)
            key = self.keys.state("rebuilding")
            await self._if_unchanged(key, raw, lambda pipe: pipe.delete(key))

    async def own(self, worker: str, partitions: Iterable[int], ttl_s: float) -> None:
        parts = list(partitions)
        if parts:
            value = orjson.dumps({"worker": worker, "until": time.time() + ttl_s})
            await self.redis.hset(self.keys.state("owners"), mapping={str(p): value for p in parts})

    async def disown(self, worker: str, partitions: Iterable[int]) -> None:
        for p in partitions:
            raw = await self.redis.hget(self.keys.state("owners"), str(p))
            if raw and orjson.loads(raw).get("worker") == worker:
                await self.redis.hdel(self.keys.state("owners"), str(p))


@dataclass(frozen=True)
class StateStatus:
    """What readiness reads besides the lag (chiso/readiness.py)."""

    generation: str | None
    rebuilding: dict | None
    halted: dict | None
    owners: dict[int, dict]
    watermarks: dict[str, int]


def read_status(client: redis.Redis, keys: Keys) -> StateStatus:
    with client.pipeline(transaction=False) as pipe:
        pipe.get(keys.state("generation"))
        pipe.get(keys.state("rebuilding"))
        pipe.get(keys.state("halted"))
        pipe.hgetall(keys.state("owners"))
        for shard in keys.shards:
            pipe.hgetall(shard.watermarks)
        generation, rebuilding, halted, owners, *per_shard = pipe.execute()
    wms = {k: v for got in per_shard for k, v in got.items()}
    return StateStatus(
        generation=generation.decode() if generation else None,
        rebuilding=orjson.loads(rebuilding) if rebuilding else None,
        halted=orjson.loads(halted) if halted else None,
        owners={int(p): orjson.loads(v) for p, v in owners.items()},
        watermarks={k.decode(): int(v) for k, v in wms.items()},
    )
