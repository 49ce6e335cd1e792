"""Exact allocations for the scenarios: a flag given to exactly k dossiers, picked
at random with realistic weights, optionally at least one in each of some
groups and none outside them."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Hashable, Iterable, Sequence


def weighted_sample(rng: random.Random, items: Sequence[int], k: int,
                    weight: Callable[[int], float]) -> set[int]:
    """k distinct items, each drawn with probability proportional to its weight
    (Efraimidis-Spirakis keys)."""
    if k > len(items):
        raise ValueError(f"cannot pick {k} of {len(items)}")
    if k <= 0:
        return set()
    keys = [(math.log(1.0 - rng.random()) / weight(i), i) for i in items]
    keys.sort(reverse=True)
    return {i for _, i in keys[:k]}


def sample_covering(rng: random.Random, items: Iterable[int], k: int, weight: Callable[[int], float],
                    group: Callable[[int], Hashable], groups: Iterable[Hashable]) -> set[int]:
    """k distinct items whose group is one of ``groups``, at least one of each
    group: one drawn uniformly per group first, the rest by weight."""
    wanted = set(groups)
    members: dict[Hashable, list[int]] = {}
    for i in items:
        g = group(i)
        if g in wanted:
            members.setdefault(g, []).append(i)
    missing = wanted - set(members)
    if missing:
        raise ValueError(f"no item in group(s) {sorted(map(str, missing))[:5]}")
    chosen = {rng.choice(members[g]) for g in sorted(members, key=str)}
    rest = [i for g in sorted(members, key=str) for i in members[g] if i not in chosen]
    return chosen | weighted_sample(rng, rest, k - len(chosen), weight)


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """``total`` split in proportion to ``weights``, in whole numbers that add up."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    out = [math.floor(x) for x in raw]
    by_remainder = sorted(range(len(raw)), key=lambda i: (out[i] - raw[i], i))
    for i in by_remainder[: total - sum(out)]:
        out[i] += 1
    return out
