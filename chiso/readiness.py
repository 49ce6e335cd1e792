"""Consumer lag against what the workers have *applied* (streams/lag.py), shared
by ``/readyz``, the exporter and the wall."""

from __future__ import annotations

import asyncio

from chiso.http import Context
from streams.lag import lag_by_partition


async def current_lag(ctx: Context) -> dict[int, int]:
    if ctx.lag_probe is None:
        raise RuntimeError("no Kafka configured")
    offsets = await ctx.lag_probe.offsets()
    watermarks = await asyncio.to_thread(ctx.queries.store.watermarks)
    lag = lag_by_partition(ctx.settings.events_topic, offsets, watermarks)
    ctx.last_lag = lag
    return lag
