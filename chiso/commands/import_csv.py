"""``chiso import-csv``: a one-stop system's dossier export (CSV) into the topic.

The conversion is ``sources.csv`` (pure); this module reads the file and
the mapping, sends the events with ``send_events`` (keyed by dossier_id, every send
acknowledged before the summary counts it) or, with ``--dry-run``, writes them to
stdout as JSON Lines, and prints the summary: rows imported, rows skipped with their
line numbers and reasons. See docs/csv-import.md.

Exit status: 0 when at least one row was imported (or the file has no data rows);
1 when every data row was skipped or sending failed; 2 when the file or the mapping
cannot be used at all (nothing is read or sent).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import orjson
from kafka.errors import KafkaError

from chiso.commands import need, settings_for_command
from chiso.settings import Settings
from processors.events import EVENT_TYPES
from processors.units import UnitCatalogue
from sources.csv.convert import RowError, RowResult
from sources.csv.mapping import CsvImportError, Mapping, load_mapping
from sources.csv.reader import Conversion, add_result, decode_export, iter_export
from sources.producers import make_producer, send_events

MAX_LISTED = 50  # skipped rows / notes printed; the rest are counted


def parse_delimiter(value: str | None) -> str | None:
    if value is None:
        return None
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}
    value = named.get(value.lower(), value)
    if len(value) != 1:
        raise CsvImportError(f"--delimiter: one character (or tab), not {value!r}")
    return value


class _Acked:
    """A producer whose failed sends are counted (kafka-python reports them on the
    future only; ``flush`` does not raise)."""

    def __init__(self, producer: Any) -> None:
        self.producer = producer
        self.failed: list[Exception] = []

    def send(self, *args: Any, **kwargs: Any) -> Any:
        future = self.producer.send(*args, **kwargs)
        future.add_errback(self.failed.append)
        return future


def run(args: argparse.Namespace) -> int:
    settings = None
    if not args.dry_run:
        settings = settings_for_command()
        need(settings, "kafka")
    return import_csv(args, settings)


def import_csv(args: argparse.Namespace, settings: Settings | None = None, out: IO[str] | None = None,
               err: IO[str] | None = None) -> int:
    """The command. ``settings`` (with ``kafka`` set) is needed unless ``args.dry_run``."""
    out = out or sys.stdout
    err = err or sys.stderr
    report = err if args.dry_run else out
    try:
        mapping = load_mapping(args.mapping)
        delimiter = parse_delimiter(args.delimiter)
        if args.file == "-":
            data = sys.stdin.buffer.read()
        else:
            data = Path(args.file).read_bytes()
        text = decode_export(data, args.encoding)
        converter, results = iter_export(text, mapping, delimiter=delimiter, unit_prefix=args.unit_prefix)
    except OSError as exc:
        print(f"chiso import-csv: cannot read {args.file}: {exc.strerror or exc}", file=err)
        return 2
    except CsvImportError as exc:
        print(f"chiso import-csv: {exc}", file=err)
        return 2

    conversion = Conversion(columns=dict(converter.columns))
    by_type: Counter[str] = Counter()
    units: Counter[str] = Counter()
    producer = None
    if args.dry_run:
        def sink(events: list[dict]) -> None:
            for event in events:
                out.write(orjson.dumps(event).decode("utf-8") + "\n")
    else:
        try:
            producer = _Acked(make_producer(settings.kafka))
        except Exception as exc:  # noqa: BLE001 - kafka-python: NoBrokersAvailable and friends
            print(f"chiso import-csv: cannot reach Kafka at {settings.kafka}: {exc}", file=err)
            return 1

        def sink(events: list[dict]) -> None:
            send_events(producer, settings.events_topic, events)

    try:
        for result in results:
            add_result(conversion, result, keep_events=False)
            if isinstance(result, RowResult):
                sink(result.events)
                by_type.update(e["type"] for e in result.events)
                units[result.events[0]["unit_id"]] += 1
    except KafkaError as exc:
        # The bootstrap answered but the partition leaders did not (metadata
        # timeout and friends): nothing after this row was sent. Importing again
        # is safe, the worker counts repeats as duplicates.
        print(f"chiso import-csv: Kafka at {settings.kafka} stopped accepting events ({exc}); "
              f"run the import again when it is reachable", file=err)
        return 1
    finally:
        if producer is not None:
            producer.producer.flush()
            producer.producer.close()

    failed = len(producer.failed) if producer is not None else 0
    _print_summary(report, args, mapping, conversion, by_type, units, settings, failed)
    if failed or (conversion.rows and not conversion.imported):
        return 1
    return 0


def _print_summary(report: IO[str], args: argparse.Namespace, mapping: Mapping, conversion: Conversion,
                   by_type: Counter[str], units: Counter[str], settings: Any, failed: int) -> None:
    p: Callable[..., None] = lambda *a: print(*a, file=report)  # noqa: E731
    p(f"chiso import-csv: {args.file} (mapping: {mapping.name})")
    p("columns: " + ", ".join(f"{f} ← {h}" for f, h in conversion.columns.items()))
    skipped = len(conversion.errors)
    p(f"{conversion.rows} row(s): {len(conversion.imported)} imported, {skipped} skipped")
    counts = ", ".join(f"{t} {by_type[t]}" for t in EVENT_TYPES if by_type[t])
    total = sum(by_type.values())
    if args.dry_run:
        p(f"{total} event(s) written to stdout (dry run: nothing sent){': ' + counts if counts else ''}")
    else:
        p(f"{total - failed} event(s) sent to {settings.events_topic}{': ' + counts if counts else ''}")
        if failed:
            p(f"{failed} event(s) were NOT acknowledged by Kafka (run the import again: "
              "events already in the topic are ignored as duplicates)")
    _print_list(p, "skipped rows (not sent):", conversion.errors)
    _print_list(p, "notes (row imported):", conversion.warnings)
    unknown = _units_not_in_catalogue(units, settings)
    if unknown:
        listed = ", ".join(f"{u} ({n})" for u, n in unknown.most_common(10))
        more = f", … {len(unknown) - 10} more" if len(unknown) > 10 else ""
        p(f"unit ids not in the unit catalogue (counted as units of their own; see --unit-prefix "
          f"and [values.unit_id]): {listed}{more}")


def _print_list(p: Callable[..., None], title: str, items: list[RowError]) -> None:
    if not items:
        return
    p(title)
    for item in items[:MAX_LISTED]:
        p(f"  {item}")
    if len(items) > MAX_LISTED:
        p(f"  … and {len(items) - MAX_LISTED} more")


def _units_not_in_catalogue(units: Counter[str], settings: Any) -> Counter[str]:
    """Advice only: never fails the import."""
    if not units:
        return Counter()
    try:
        catalogue = UnitCatalogue.from_path((settings or Settings()).units_path)
    except Exception:  # noqa: BLE001 - advice only, never fails the import
        return Counter()
    return Counter({u: n for u, n in units.items() if u not in catalogue})
