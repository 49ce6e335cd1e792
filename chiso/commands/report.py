"""`chiso report`: the period report (báo cáo tình hình giải quyết TTHC, kpis.md §7)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

import redis

from chiso.commands import need, settings_for_command
from chiso.queries import Queries, UnknownUnit
from processors.units import UnitCatalogue
from processors.vocabulary import REPORT_LINES
from store.keys import Keys
from store.reader import Store


def run(args: argparse.Namespace) -> int:
    settings = settings_for_command()
    need(settings, "redis")
    start, end = date.fromisoformat(args.date_from), date.fromisoformat(args.date_to)
    if start > end:
        sys.exit("chiso: --from must not be after --to")
    queries = Queries(Store(redis.Redis.from_url(settings.redis), Keys(settings.redis_prefix)),
                      UnitCatalogue.from_path(settings.units_path), settings.index.to_config())  # no calendar needed
    try:
        rep = queries.report(args.unit, start, end)
    except UnknownUnit:
        sys.exit(f"chiso: unknown unit {args.unit!r}")
    if args.json:
        print(json.dumps(rep, ensure_ascii=False, indent=2))
        return 0
    unit = queries.catalogue().get(args.unit) if args.unit else None
    print(f"Báo cáo tình hình giải quyết TTHC — {unit.name if unit else 'Tất cả đơn vị'}")
    print(f"Kỳ báo cáo: {start:%d/%m/%Y} – {end:%d/%m/%Y}")
    for line in REPORT_LINES:
        print(f"{line.vi:<28}{rep[line.id]:>12,}".replace(",", "."))
    return 0
