"""The ``chiso`` command (outputs.md): the command line; each command lives in
``chiso/commands/<name>.py``.

Mistakes end in ONE line on stderr and a non-zero exit status, never a
traceback: argparse ``type=`` functions check values (dates, positive numbers,
URLs) and :func:`main` maps the errors commands raise (``chiso.errors``).
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import re
import sys
from datetime import date
from urllib.parse import urlsplit

from chiso.errors import describe


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (``chiso report: argument --from: …``)
    and a pointer to ``--help``, not the whole usage."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def cli_date(text: str) -> date:
    """A date as YYYY-MM-DD or dd/mm/yyyy (the form the report prints)."""
    value = text.strip()
    try:
        if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", value):
            day, month, year = (int(v) for v in value.split("/"))
            return date(year, month, day)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"ngày không hợp lệ / invalid date {text!r}: {exc}") from None
    raise argparse.ArgumentTypeError(f"ngày không hợp lệ / invalid date {text!r}: "
                                     "dùng / use dd/mm/yyyy or YYYY-MM-DD")


def _number(kind: type, text: str, lo: float, what: str) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    if value < lo or (what == "positive" and value == 0):
        raise argparse.ArgumentTypeError(f"must be {what}, not {text}")
    return value


def positive_int(text: str) -> int:
    return _number(int, text, 1, "positive")  # type: ignore[return-value]


def non_negative_int(text: str) -> int:
    return _number(int, text, 0, "zero or more")  # type: ignore[return-value]


def positive_float(text: str) -> float:
    return _number(float, text, 0, "positive")  # type: ignore[return-value]


def http_url(text: str) -> str:
    """An http(s) URL with a host (a URL without scheme is the usual mistake)."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL; e.g. http://localhost:3000")
    return text.strip()


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="chiso", description="Live public-service index from dossier events")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("up", help="run broker, Redis, workers, HTTP server and simulator on this machine")
    s.add_argument("--no-simulate", action="store_true", help="do not feed simulated events")
    s.add_argument("--workers", type=positive_int, default=1, help="stream worker processes (default 1)")
    s.set_defaults(command_module="up")

    s = sub.add_parser("simulate", help="feed realistic events into the configured Kafka")
    s.add_argument("--rate", type=positive_float, default=None, help="live events per second (default CHISO_SIMULATE_RATE)")
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--history-days", type=non_negative_int, default=30, help="days of history sent first (default 30)")
    s.add_argument("--speedup", type=positive_float, default=1.0, help="simulated seconds per real second after the history")
    s.add_argument("--scenario", default=None, help="send a fixed scenario instead (quang-nam-2024q2)")
    s.add_argument("--limit", type=positive_int, default=None, help="stop after this many events")
    s.set_defaults(command_module="simulate")

    s = sub.add_parser("replay", help="send a JSON Lines file of events (or - for stdin) into Kafka")
    s.add_argument("file")
    s.add_argument("--rate", type=positive_float, default=None, help="at most this many events per second")
    s.set_defaults(command_module="replay")

    s = sub.add_parser("import-csv", help="turn a one-stop system's dossier export (CSV) into events (docs/csv-import.md)")
    s.add_argument("file", help="the CSV file, or - for stdin")
    s.add_argument("--mapping", default=None, help="column mapping TOML (default: the built-in iGate mapping)")
    s.add_argument("--dry-run", action="store_true", help="print the events as JSON Lines instead of sending them")
    s.add_argument("--unit-prefix", default=None, help="put before every unit id, e.g. dng-")
    s.add_argument("--delimiter", default=None, help="cell delimiter (default: guessed from the header: , ; tab |)")
    s.add_argument("--encoding", default="utf-8", help="file encoding (default utf-8, BOM or not; e.g. cp1258)")
    s.set_defaults(command_module="import_csv")

    s = sub.add_parser("import-dvcqg", help="send an archive of past syncs to the national portal (JSON Lines) "
                                            "through the portal-format adapter (docs/ket-noi-mot-cua.md)")
    s.add_argument("file", help="the JSON Lines file (one request body a line), or - for stdin")
    s.set_defaults(command_module="import_dvcqg")

    s = sub.add_parser("report", help="print the period report (báo cáo tình hình giải quyết TTHC)")
    s.add_argument("--unit", default=None, help="unit id (default: all units)")
    s.add_argument("--from", dest="date_from", type=cli_date, required=True,
                   help="first date, dd/mm/yyyy or YYYY-MM-DD")
    s.add_argument("--to", dest="date_to", type=cli_date, required=True, help="last date, dd/mm/yyyy or YYYY-MM-DD")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(command_module="report")

    s = sub.add_parser("dashboards", help="build the Grafana dashboards, or push them to a Grafana")
    s.add_argument("action", choices=["push", "build"])
    s.add_argument("--url", type=http_url, default="http://localhost:3000", help="Grafana base URL (push)")
    s.add_argument("--token", default=None, help="service-account token (or GRAFANA_TOKEN; the env keeps it out of `ps`)")
    s.add_argument("--folder", default="Chỉ số phục vụ", help="folder title (push)")
    s.set_defaults(command_module="dashboards")

    s = sub.add_parser("notify", help="deliver deadline alerts by e-mail and webhooks (docs/thong-bao.md)")
    s.add_argument("--recipients", default=None, help="recipients file (default CHISO_NOTIFY_RECIPIENTS)")
    s.add_argument("--dry-run", action="store_true", help="print what would be sent now; send and record nothing")
    s.add_argument("--limit", type=positive_int, default=50, help="at most this many alerts shown by --dry-run (default 50)")
    s.set_defaults(command_module="notify")

    s = sub.add_parser("settings", help="print the effective settings (secrets hidden), where each came from, "
                                        "and which Kafka, Redis and state directory the commands use")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(command_module="settings")
    s = sub.add_parser("rebuild", help="apply the whole available event log again into fresh Redis state")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(command_module="rebuild")

    s = sub.add_parser("worker", help="run one stream worker process")
    s.set_defaults(command_module="worker")
    s = sub.add_parser("serve", help="run the HTTP server process")
    s.set_defaults(command_module="serve")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    name = f"chiso {args.command}"
    try:
        # Each command's module is imported only when it runs: `chiso report` need
        # not load Faust, nor `chiso worker` the HTTP server.
        command = importlib.import_module(f"chiso.commands.{args.command_module}")
        status = command.run(args) or 0
        sys.stdout.flush()  # inside the try: a reader gone by now is a broken pipe too
        return status
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - known errors are one line; others keep their traceback
        known = describe(exc)
        if known is None:
            raise
        lines, status = known
        for line in lines:
            print(f"{name}: {line}", file=sys.stderr)
        return status


def _quiet_broken_pipe() -> int:
    """The reader went away (``chiso … | head``): stop quietly. stdout is pointed at
    /dev/null so that the interpreter's final flush does not complain either."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout has no file descriptor (tests)
        pass
    return 141  # 128 + SIGPIPE, what a shell reports for a process ended by a closed pipe


if __name__ == "__main__":
    sys.exit(main())
