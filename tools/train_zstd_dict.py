"""Train the zstd dictionary shipped as store/zstd/dossier.dict (store/codecs.py).

    .venv/bin/python tools/train_zstd_dict.py

Samples are the JSON bodies of dossier snapshots (what ``encode_dossier``
compresses) after every event of simulated dossiers: 60 days of the sample
catalogue (Đà Nẵng) from the simulator, fixed seed. A dossier's snapshot is
~0.5 KB of repetitive field names and values, so a 16 KB dictionary more than
halves it and zstd level 1 writes it ~4x faster than zlib. The dictionary is
part of the stored format: blobs name it by its id, and a replaced dictionary
must keep the old one readable (``store/codecs.py`` reads zlib blobs written
before zstd, too).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import zstandard

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from processors.calendar import WorkingCalendar  # noqa: E402
from processors.dossier_update import DossierState, apply_events  # noqa: E402
from processors.events import event_from_dict  # noqa: E402
from processors.timeutil import LOCAL_TZ  # noqa: E402
from processors.units import UnitCatalogue  # noqa: E402
from sources.samples import sample_units_path  # noqa: E402
from sources.simulator.config import SimConfig  # noqa: E402
from sources.simulator.simulator import Simulator  # noqa: E402
from store.codecs import dossier_doc  # noqa: E402

OUT = ROOT / "store" / "zstd" / "dossier.dict"
SIZE = 16 * 1024


def samples() -> list[bytes]:
    units = UnitCatalogue.from_path(sample_units_path()).all()
    end = datetime(2025, 6, 1, tzinfo=LOCAL_TZ)
    sim = Simulator(units, 766, WorkingCalendar(), SimConfig(dossiers_per_working_day=150.0),
                    start=end - timedelta(days=60))
    by_dossier: dict[str, list] = defaultdict(list)
    for raw in sim.events_until(end):
        ev = event_from_dict(raw)
        if hasattr(ev, "key") and not ev.is_petition:
            by_dossier[ev.key].append(ev)
    out = []
    for dossier_id, events in by_dossier.items():
        state = DossierState()
        for e in events:
            update = apply_events(dossier_id, state, [e])
            if update.changed:
                state = update.state
                out.append(orjson.dumps(dossier_doc(state)))
    return out


def main() -> None:
    data = samples()
    trained = zstandard.train_dictionary(SIZE, data, level=1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_bytes(trained.as_bytes())
    print(f"{len(data):,} samples -> {OUT.relative_to(ROOT)} ({len(trained.as_bytes()):,} bytes, id {trained.dict_id()})")


if __name__ == "__main__":
    main()
