"""`chiso report`: the period report (báo cáo tình hình giải quyết TTHC, kpis.md §7)."""

from __future__ import annotations

import argparse
import json

from chiso.commands import need, settings_for_command
from chiso.errors import UserError
from chiso.queries import Queries, UnknownUnit
from processors.units import UnitCatalogue
from processors.vocabulary import REPORT_LINES
from store.reader import Store


def run(args: argparse.Namespace) -> int:
    settings = settings_for_command()
    need(settings, "redis")
    start, end = args.date_from, args.date_to  # dates already (chiso.cli.cli_date)
    if start > end:
        raise UserError(f"--from ({start:%d/%m/%Y}) phải không sau --to ({end:%d/%m/%Y}) / "
                        "--from must not be after --to")
    queries = Queries(Store(*settings.redis_layout(wait_s=0)),
                      UnitCatalogue.from_path(settings.units_path), settings.index.to_config())  # no calendar needed
    try:
        rep = queries.report(args.unit, start, end)
    except UnknownUnit:
        raise UserError(f"không có đơn vị / unknown unit {args.unit!r} (GET /api/v1/units lists them)") from None
    if args.json:
        print(json.dumps(rep, ensure_ascii=False, indent=2))
        return 0
    unit = queries.catalogue().get(args.unit) if args.unit else None
    print(f"Báo cáo tình hình giải quyết TTHC — {unit.name if unit else 'Tất cả đơn vị'}")
    print(f"Kỳ báo cáo: {start:%d/%m/%Y} – {end:%d/%m/%Y}")
    for line in REPORT_LINES:
        print(f"{line.vi:<28}{rep[line.id]:>12,}".replace(",", "."))
    return 0
