"""Where the write path's CPU time goes, from a py-spy raw profile of own_work.py.

    py-spy record -r 500 -f raw -o spy.txt -- .venv/bin/python benchmarks/own_work.py --runs 1 --feeds clustered
    .venv/bin/python benchmarks/spy_steps.py spy.txt 131.2   # the run's own work, µs per event

Only samples inside ``apply_feed`` count (not the set-up, not the reference
loops); each step's share is of those samples (a step's callees included, so
nested steps overlap), turned into µs per event with the CPU figure the run printed.
Sampling, unlike cProfile, does not inflate small functions.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from own_work import STEPS  # noqa: E402

EXTRA = (("processors/events.py", "event_from_dict"), ("processors/fast_events.py", "fast_event"),
         ("processors/measures.py", "_index_inputs"), ("processors/lateness.py", "late_at"),
         ("store/scripts.py", "flat"), ("msgpack", "packb"), ("store/identity.py", "batch_fingerprints"),
         ("redis", "execute"), ("asyncio", "_run_once"))


def main() -> None:
    path, us_per_event = Path(sys.argv[1]), float(sys.argv[2])
    totals: dict[tuple[str, str], int] = {}
    inside = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "apply_feed (" not in stack:
            continue
        n = int(count)
        inside += n
        frames = stack.split(";")
        for suffix, name in STEPS + EXTRA:
            # a frame reads "Class.function (path/file.py:line)"
            if any(f.split(" (")[0].rsplit(".", 1)[-1] == name and suffix in f for f in frames):
                totals[(suffix, name)] = totals.get((suffix, name), 0) + n
    print(f"{inside} samples inside apply_feed = {us_per_event:.1f} µs per event of CPU")
    for key in STEPS + EXTRA:
        share = totals.get(key, 0) / max(inside, 1)
        print(f"  {key[0] + ' ' + key[1]:48} {share * us_per_event:7.1f} µs  {share:5.1%}")


if __name__ == "__main__":
    main()
