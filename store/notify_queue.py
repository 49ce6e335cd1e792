"""The notifier's durable delivery state in Redis (``chiso notify``).

Deliveries go through three steps, each one atomic script:

1. **intake** (``notify_intake.lua``): an alert read from ``dossier-alerts``
   becomes its deliveries (and an entry in a unit's digest), once per alert id,
   before the consumer commits its offset. A redelivered alert changes nothing.
2. **claim** (``notify_claim.lua``): due deliveries are pushed forward by the
   claim timeout and handed to the sender.
3. **settle** (``notify_settle.lua``): sent (removed, counted), retry (due again
   at the back-off instant) or failed (kept aside with the error, counted).

A process that dies between a send and its settle leaves the delivery claimed;
it is attempted again when the claim timeout passes. So every delivery is made
at least once, and twice only when a crash falls between the receiving server's
acknowledgement and the settle (one Redis round trip).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis

from store.codecs import decode_open_record
from store.keys import Keys
from store.scripts import NotifyDigestRun, NotifyIntake, NotifySettle, notify_intake_argv, script


@dataclass(frozen=True, slots=True)
class Claimed:
    job_id: str
    body: dict
    failed_attempts: int


class NotifyQueue:
    def __init__(self, redis: aioredis.Redis, keys: Keys, dedup_s: float) -> None:
        self.redis = redis
        self.keys = keys
        self.dedup_s = dedup_s
        self._intake = redis.register_script(script("notify_intake"))
        self._claim = redis.register_script(script("notify_claim"))
        self._settle = redis.register_script(script("notify_settle"))
        self._digest = redis.register_script(script("notify_digest"))

    async def intake(self, alerts: list[NotifyIntake], now: float) -> int:
        """Queue the alerts' deliveries; returns how many alerts were new."""
        if not alerts:
            return 0
        return await self._intake(keys=[self.keys.notifier.route], args=notify_intake_argv(self.keys.notifier.prefix, now, self.dedup_s, alerts))

    async def claim(self, now: float, claim_s: float, limit: int) -> list[Claimed]:
        flat = await self._claim(keys=[self.keys.notifier.route], args=[self.keys.notifier.prefix, f"{now:.6f}", f"{claim_s:.3f}", limit])
        return [Claimed(flat[i].decode(), orjson.loads(flat[i + 1]), int(flat[i + 2])) for i in range(0, len(flat), 3)]

    async def settle(self, outcome: NotifySettle) -> bool:
        return bool(await self._settle(keys=[self.keys.notifier.route], args=outcome.argv(self.keys.notifier.prefix)))

    async def digest_next(self) -> str | None:
        raw = await self.redis.get(self.keys.notify("digest_next"))
        return raw.decode() if raw is not None else None

    async def digest_units(self) -> list[str]:
        return sorted(u.decode() for u in await self.redis.smembers(self.keys.notify("digest_units")))

    async def run_digest(self, run: NotifyDigestRun) -> int:
        """Queue the digests; -1 when another process already ran this one."""
        return await self._digest(keys=[self.keys.notifier.route], args=run.argv(self.keys.notifier.prefix))

    async def open_states(self, dossier_ids: list[str]) -> dict[str, str | None]:
        """Each dossier's open state now (None: no longer open)."""
        if not dossier_ids:
            return {}
        out: dict[str, str | None] = dict.fromkeys(dossier_ids)
        for shard in self.keys.shards:  # a dossier's open record is in its partition's keys
            raw = await self.redis.hmget(shard.open, dossier_ids)
            out.update({d: decode_open_record(r)[1] for d, r in zip(dossier_ids, raw) if r is not None})
        return out

    async def open_counts(self, unit: str, states: tuple[str, ...]) -> dict[str, int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for shard in self.keys.shards:
                for s in states:
                    pipe.zcard(shard.open_set(unit, s))
            counts = await pipe.execute()
        return {s: sum(counts[i::len(states)]) for i, s in enumerate(states)}
