"""The ``chiso`` command (outputs.md): up, simulate, replay, report, and the
single processes `chiso up` supervises (worker, serve)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from chiso.settings import Settings


def _settings() -> Settings:
    from chiso.up import with_runtime

    return with_runtime(Settings())


def _need(settings: Settings, *names: str) -> None:
    missing = [n for n in names if not getattr(settings, n)]
    if missing:
        vars_ = ", ".join(f"CHISO_{n.upper()}" for n in missing)
        sys.exit(f"chiso: {vars_} not set and no running `chiso up` found")


def cmd_up(args: argparse.Namespace) -> int:
    from chiso.up import up

    return up(Settings(), simulate=not args.no_simulate, workers=args.workers)


def cmd_worker(args: argparse.Namespace) -> int:
    from streams.worker import main

    sys.argv = [sys.argv[0]]
    main()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from chiso.server import main

    main()
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from streams.producers import make_producer, replay_lines

    settings = _settings()
    _need(settings, "kafka")
    stream = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")
    producer = make_producer(settings.kafka)
    try:
        summary = replay_lines(producer, settings.events_topic, stream, rate=args.rate)
    finally:
        producer.close()
        if stream is not sys.stdin.buffer:
            stream.close()
    print(f"sent {summary.sent} event(s) to {settings.events_topic}; {len(summary.invalid)} invalid (sent on, they go to {settings.dlq_topic})")
    for line_no, reason in summary.invalid[:50]:
        print(f"  line {line_no}: {reason}")
    if len(summary.invalid) > 50:
        print(f"  … and {len(summary.invalid) - 50} more")
    return 0


REPORT_LABELS_VI = {
    "carried_over": "Tồn kỳ trước", "received": "Tiếp nhận trong kỳ",
    "received_online": "  trực tuyến", "received_direct": "  trực tiếp", "received_postal": "  bưu chính công ích",
    "to_process": "Tổng số phải giải quyết", "resolved": "Đã giải quyết",
    "resolved_early": "  trước hạn", "resolved_on_time": "  đúng hạn", "resolved_late": "  trễ hạn",
    "withdrawn": "Rút hồ sơ", "rejected": "Từ chối", "in_progress": "Đang giải quyết",
    "in_progress_not_due": "  chưa đến hạn", "in_progress_overdue": "  quá hạn",
}


def cmd_report(args: argparse.Namespace) -> int:
    import redis

    from chiso.queries import Queries, Store, UnknownUnit
    from chiso.redis_keys import Keys
    from processors.units import UnitCatalogue

    settings = _settings()
    _need(settings, "redis")
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
    for key, label in REPORT_LABELS_VI.items():
        print(f"{label:<28}{rep[key]:>12,}".replace(",", "."))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from streams.simulate import run

    settings = _settings()
    _need(settings, "kafka")
    return run(settings, rate=args.rate, seed=args.seed, history_days=args.history_days,
               speedup=args.speedup, scenario=args.scenario, limit=args.limit)


def cmd_dashboards(args: argparse.Namespace) -> int:
    import os

    if args.action == "build":
        from dashboards.build import main as build_main

        return build_main([]) or 0
    from dashboards.push import push_dashboards

    token = args.token or os.environ.get("GRAFANA_TOKEN")
    if not token:
        sys.exit("chiso: give --token or set GRAFANA_TOKEN (a Grafana service-account token)")
    for result in push_dashboards(args.url, token, args.folder):
        print(f"{result.get('status', '?')}: {result.get('uid')} v{result.get('version')} {result.get('url', '')}")
    return 0


def cmd_import_csv(args: argparse.Namespace) -> int:
    from streams.csv_import import run

    settings = None
    if not args.dry_run:
        settings = _settings()
        _need(settings, "kafka")
    return run(args, settings)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chiso", description="Live public-service index from dossier events")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("up", help="run broker, Redis, workers, HTTP server and simulator on this machine")
    s.add_argument("--no-simulate", action="store_true", help="do not feed simulated events")
    s.add_argument("--workers", type=int, default=1, help="stream worker processes (default 1)")
    s.set_defaults(func=cmd_up)

    s = sub.add_parser("simulate", help="feed realistic events into the configured Kafka")
    s.add_argument("--rate", type=float, default=None, help="live events per second (default CHISO_SIMULATE_RATE)")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--history-days", type=int, default=30, help="days of history sent first (default 30)")
    s.add_argument("--speedup", type=float, default=1.0, help="simulated seconds per real second after the history")
    s.add_argument("--scenario", default=None, help="send a fixed scenario instead (quang-nam-2024q2)")
    s.add_argument("--limit", type=int, default=None, help="stop after this many events")
    s.set_defaults(func=cmd_simulate)

    s = sub.add_parser("replay", help="send a JSON Lines file of events (or - for stdin) into Kafka")
    s.add_argument("file")
    s.add_argument("--rate", type=float, default=None, help="at most this many events per second")
    s.set_defaults(func=cmd_replay)

    s = sub.add_parser("import-csv", help="turn a one-stop system's dossier export (CSV) into events (docs/csv-import.md)")
    s.add_argument("file", help="the CSV file, or - for stdin")
    s.add_argument("--mapping", default=None, help="column mapping TOML (default: the built-in iGate mapping)")
    s.add_argument("--dry-run", action="store_true", help="print the events as JSON Lines instead of sending them")
    s.add_argument("--unit-prefix", default=None, help="put before every unit id, e.g. dng-")
    s.add_argument("--delimiter", default=None, help="cell delimiter (default: guessed from the header: , ; tab |)")
    s.add_argument("--encoding", default="utf-8", help="file encoding (default utf-8, BOM or not; e.g. cp1258)")
    s.set_defaults(func=cmd_import_csv)

    s = sub.add_parser("report", help="print the period report (báo cáo tình hình giải quyết TTHC)")
    s.add_argument("--unit", default=None, help="unit id (default: all units)")
    s.add_argument("--from", dest="date_from", required=True, help="first date, YYYY-MM-DD")
    s.add_argument("--to", dest="date_to", required=True, help="last date, YYYY-MM-DD")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=cmd_report)

    s = sub.add_parser("dashboards", help="build the Grafana dashboards, or push them to a Grafana")
    s.add_argument("action", choices=["push", "build"])
    s.add_argument("--url", default="http://localhost:3000", help="Grafana base URL (push)")
    s.add_argument("--token", default=None, help="service-account token (or GRAFANA_TOKEN; the env keeps it out of `ps`)")
    s.add_argument("--folder", default="Chỉ số phục vụ", help="folder title (push)")
    s.set_defaults(func=cmd_dashboards)

    s = sub.add_parser("worker", help="run one stream worker process")
    s.set_defaults(func=cmd_worker)
    s = sub.add_parser("serve", help="run the HTTP server process")
    s.set_defaults(func=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
