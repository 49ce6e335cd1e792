"""Consumer lag against what the workers have *applied* (streams/lag.py), shared
by ``/readyz``, the exporter and the wall; and readiness itself.

Ready (200) means: every partition's true end is known, and applied, by a
worker that currently owns the partition, with no rebuild under way and no
halted log reset (store/identity.py). Anything else is 503 with the reasons.
"""

from __future__ import annotations

import asyncio
import time

from chiso.http import Context
from store.identity import StateStatus, read_status
from streams.lag import lag_by_partition


async def current_lag(ctx: Context, max_age_s: float | None = None) -> dict[int, int]:
    if ctx.lag_probe is None:
        raise RuntimeError("no Kafka configured")
    offsets = await ctx.lag_probe.offsets(max_age_s)
    watermarks = await asyncio.to_thread(ctx.queries.store.watermarks)
    lag = lag_by_partition(ctx.settings.events_topic, offsets, watermarks)
    ctx.last_lag = lag
    return lag


def state_problems(topic: str, partitions: list[int], status: StateStatus, now: float) -> list[str]:
    """Why the applied state cannot be trusted as complete, besides the lag."""
    problems = []
    if status.halted:
        problems.append(f"halted: {status.halted.get('reason')} (CHISO_ON_LOG_RESET=halt; run `chiso rebuild`)")
    if status.rebuilding:
        targets = status.rebuilding.get("targets") or {}
        behind = [f for f, t in targets.items() if status.watermarks.get(f, -1) < t]
        if behind or not targets:
            problems.append(f"rebuilding: {status.rebuilding.get('reason')}")
    unowned = [p for p in partitions if status.owners.get(p, {}).get("until", 0) < now]
    if unowned:
        problems.append(f"no worker applies partitions {unowned} of {topic}")
    return problems


async def readiness(ctx: Context) -> tuple[bool, dict]:
    # ends measured after the request came: every event the broker acknowledged
    # before it is counted (a cached measure could answer for an older end)
    lag = await current_lag(ctx, max_age_s=0)
    status = await asyncio.to_thread(read_status, ctx.queries.store.r, ctx.queries.store.k)
    topic = ctx.settings.events_topic
    problems = state_problems(topic, sorted(lag), status, time.time())
    offsets = await ctx.lag_probe.offsets()  # the measure just taken
    beyond = [p for p, (_, end) in sorted(offsets.items()) if status.watermarks.get(f"{topic}:{p}", -1) >= end]
    if beyond:  # the log is shorter than what was applied: lost or recreated (the workers' rule applies)
        problems.append(f"the event log was reset: partitions {beyond} end before what Redis applied")
    total = sum(lag.values())
    if total:
        problems.insert(0, f"{total} events not applied yet")
    body = {"ready": not problems, "lag": total, "partitions": {str(p): n for p, n in sorted(lag.items())},
            "generation": status.generation}
    if problems:
        body["reasons"] = problems
    return not problems, body

