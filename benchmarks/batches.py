"""Feeding a benchmark's messages through the real write path in batches of the
size a worker applies (store.writer.BatchApplier, no Kafka)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


async def apply_in_batches(applier: Any, messages: Iterable, size: int = 5000) -> None:
    """``applier``: any tree's BatchApplier (index_reads.py also drives an older checkout's)."""
    batch: list = []
    for m in messages:
        batch.append(m)
        if len(batch) == size:
            await applier.apply(batch)
            batch = []
    if batch:
        await applier.apply(batch)
