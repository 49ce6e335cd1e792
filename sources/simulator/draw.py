"""Random draws the simulator and the scenarios share."""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Sequence


def pick(rng: random.Random, cumulative: Sequence[float]) -> int:
    """Index drawn with weights given as running totals."""
    return min(bisect_right(cumulative, rng.random() * cumulative[-1]), len(cumulative) - 1)


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:  # normal approximation; exact enough for daily counts
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


