"""One change sequence out of the partitions' own, for a Redis Cluster.

Each partition's keys keep their own change feed (``seq``, and per unit the
value at its last change), bumped by the apply script that already runs in
that partition's slot. Readers that cache per unit (the exporter) want ONE
increasing number and, per unit, a number comparable with it: a unit changed
after a reading at sequence S iff its number is greater than S.

``FeedHistory`` issues that number: every reading whose vector of partition
sequences moved gets the next number, and remembers the vector. A unit's
number is the first issued number whose vector had reached, in every
partition, the unit's last change there. That is exact (no unit is missed, and
none is reported changed when it was not), whatever reads in between.
"""

from __future__ import annotations

import bisect
import threading

KEEP = 10_000  # readings remembered; an older change reads as the oldest (a harmless reload)


class FeedHistory:
    def __init__(self) -> None:
        self._numbers: list[int] = []
        self._columns: list[list[int]] = []  # per partition, its sequence at each reading (increasing)
        self._lock = threading.Lock()  # the HTTP server reads from a thread pool

    def combine(self, feeds: list[tuple[int, dict[str, int]]]) -> tuple[int, dict[str, int]]:
        vector = [seq for seq, _ in feeds]
        with self._lock:
            if len(self._columns) != len(vector):
                self._numbers, self._columns = [], [[] for _ in vector]
            if not self._numbers or [c[-1] for c in self._columns] != vector:
                self._numbers.append(self._numbers[-1] + 1 if self._numbers else 1)
                for column, seq in zip(self._columns, vector):
                    column.append(seq)
                if len(self._numbers) > KEEP:
                    del self._numbers[0]
                    for column in self._columns:
                        del column[0]
            numbers, last = self._numbers, len(self._numbers) - 1
            out: dict[str, int] = {}
            for column, (_, per_unit) in zip(self._columns, feeds):
                for unit, changed_at in per_unit.items():
                    number = numbers[min(bisect.bisect_left(column, changed_at), last)]
                    if number > out.get(unit, 0):
                        out[unit] = number
            return numbers[-1], out
