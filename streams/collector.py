"""The garbage collector of a process that applies events, tuned for its work.

Planning a batch allocates many short-lived tuples and dicts per event, and the
applier keeps ~2,048 decoded dossier states between batches (store/writer.py),
millions of long-lived objects. With CPython's default thresholds (700, 10, 10)
the collector starts a young collection every 700 net allocations and walks the
older generations every 10th and 100th time, which took ~10-20% of a worker's own
time on both feeds (``benchmarks/own_work.py --gc``, docs/performance.md). Those
objects are freed by reference counting (a plan builds no reference cycles), so
collecting less often costs little: at most ``YOUNG`` objects wait for the next
collection.
"""

from __future__ import annotations

import gc

YOUNG = 50_000   # net allocations between young collections (default 700)
MIDDLE = 20      # young collections between middle ones (default 10)
OLD = 100        # middle collections between full ones (default 10); CPython also
                 # waits until the objects awaiting a full pass are 25% of the old ones


def tune_collector() -> None:
    """Call once the process has loaded what it keeps for life (modules, Faust,
    the catalogue): ``gc.freeze`` moves it out of every later collection."""
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
