"""Write every dashboard to `dashboards/generated/<uid>.json`.

    python -m dashboards.build [--out DIR]

The output is deterministic (sorted keys, 2-space indent, final newline), so the
committed files diff cleanly and a test can tell when they are stale.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dashboards.common import encode
from dashboards.registry import build_all

GENERATED = Path(__file__).resolve().parent / "generated"


def write_all(out_dir: Path = GENERATED) -> list[Path]:
    """Write the dashboards into `out_dir`, removing stale `*.json` files there."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for uid, data in build_all().items():
        path = out_dir / f"{uid}.json"
        path.write_text(encode(data), encoding="utf-8")
        written.append(path)
    for stale in set(out_dir.glob("*.json")) - set(written):
        stale.unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.build", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=GENERATED, help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    for path in write_all(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
