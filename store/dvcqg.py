"""The reception candidates accepted from the national portal's sync format, per
dossier (``{p}dvcqg:r:{dossier}``, a set that only grows), and the agency values
no unit matched (``{p}dvcqg:unknown``).

Candidates are opaque strings here (their meaning is sources/dvcqg/reception.py).
Adding is a compare-and-set per dossier (``receptions_add.lua``): the caller read
each set, derived and *sent* the events the new candidates add, and only then adds
them, to each set that did not change meanwhile. A crash before the add leaves the set as it was, so the
same request sent again derives and sends the same events (duplicates the pipeline
drops); a lost race returns the dossiers to read and derive again.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis.asyncio as aioredis

from store.keys import Keys
from store.scripts import ReceptionAdd, receptions_add_argv, script

MAX_UNKNOWN_AGENCIES = 1000  # distinct values kept; a bound on a list that input fills


class ReceptionStore:
    def __init__(self, redis: aioredis.Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys.dvcqg
        self._add = redis.register_script(script("receptions_add"))

    async def read(self, dossier_ids: Iterable[str]) -> dict[str, set[bytes]]:
        ids = sorted(set(dossier_ids))
        if not ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for d in ids:
                pipe.smembers(self.keys.receptions(d))
            replies = await pipe.execute()
        return dict(zip(ids, replies))

    async def add(self, adds: list[ReceptionAdd]) -> list[str]:
        """Add each dossier's candidates if its set is unchanged since it was read;
        the dossiers whose sets changed (nothing added to them)."""
        if not adds:
            return []
        reply = await self._add(keys=[self.keys.route], args=receptions_add_argv(self.keys.prefix, adds))
        return [d.decode() if isinstance(d, bytes) else d for d in reply]

    async def note_unknown_agencies(self, values: Iterable[str]) -> None:
        values = list(values)
        if not values:
            return
        key = self.keys.unknown_agencies
        if await self.redis.hlen(key) >= MAX_UNKNOWN_AGENCIES:
            values = [v for v in values if await self.redis.hexists(key, v)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for v in values:
                pipe.hincrby(key, v, 1)
            await pipe.execute()

    async def unknown_agencies(self) -> dict[str, int]:
        raw = await self.redis.hgetall(self.keys.unknown_agencies)
        return {k.decode(): int(v) for k, v in raw.items()}
