"""``chiso import-dvcqg FILE|-``: an archive of past syncs to the national portal
(JSON Lines: one request body a line, as the one-stop system sent it: a dossier, an
array, ``{"data": [...]}`` or the OpenCPS envelope) through the same derivation
and the same guarantees as ``POST /api/dvcqg/...`` (chiso/dvcqg.py).

Lines are accepted in batches; a batch counts as imported only once the broker
acknowledged its events, so an interrupted import can simply be run again (the
events it sends again are duplicates, dropped by the pipeline). Lines that are not
JSON and items that are invalid go to the dead-letter topic with their reason and
are listed (line numbers) in the summary.

Exit status: 0 when every item was imported (or the file has none); 1 when some
were rejected, or sending failed; 2 when the file or the configuration cannot be
used at all (nothing is read or sent).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

from tqdm import tqdm

from chiso.commands import need, settings_for_command
from chiso.dvcqg import NOT_JSON, DvcqgIngest, dead_letter, deriver_from
from chiso.ingest import Ingest
from chiso.settings import Settings
from processors.catalogue import ProcedureCatalogueError
from processors.units import CatalogueError
from sources.dvcqg import payload
from sources.dvcqg.agencies import AgencyMapError
from sources.dvcqg.derive import Deriver, Origin, Rejected
from sources.dvcqg.ledger import Entry
from store.layout import async_client, is_cluster, layout_keys

BATCH_ITEMS = 500
MAX_LISTED = 50


@dataclass
class Summary:
    lines: int = 0
    items: int = 0
    accepted: int = 0
    events: int = 0
    by_service: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)   # "line N (MaHoSo): reason"
    rejected: int = 0


def _entries(text: bytes, where: str) -> list[Entry] | dict:
    """The line's items, or a dead-letter record when the line is not usable JSON."""
    try:
        body = payload.decode(text, "auto")
    except payload.PayloadError as exc:
        return dead_letter(NOT_JSON, str(exc), text, where, datetime.now(UTC).isoformat())
    origin = Origin(body.madonvi, body.unit_code)
    return [Entry(body.service, item, origin, where) for item in body.items]


def _batches(stream: IO[bytes], name: str, summary: Summary, bar: tqdm) -> Iterator[tuple[list[Entry], list[dict]]]:
    entries: list[Entry] = []
    dead: list[dict] = []
    for line_no, line in enumerate(stream, start=1):
        bar.update(len(line))
        if not line.strip():
            continue
        summary.lines += 1
        got = _entries(line.rstrip(b"\r\n"), f"{name}:{line_no}")
        if isinstance(got, dict):
            dead.append(got)
            summary.problems.append(f"line {line_no}: {got['detail']}")
        else:
            entries += got
        if len(entries) >= BATCH_ITEMS or len(dead) >= BATCH_ITEMS:
            yield entries, dead
            entries, dead = [], []
    if entries or dead:
        yield entries, dead


async def _import(settings: Settings, service: DvcqgIngest, stream: IO[bytes], name: str, total: int | None,
                  summary: Summary) -> None:
    with tqdm(total=total, unit="B", unit_scale=True, desc="import-dvcqg", file=sys.stderr,
              disable=None, leave=False) as bar:
        for entries, dead in _batches(stream, name, summary, bar):
            accepted = await service.accept(entries, dead)
            summary.items += len(accepted.outcomes)
            summary.events += accepted.events_sent
            for o in accepted.outcomes:
                summary.by_service[o.service] += 1
                if isinstance(o.result, Rejected):
                    summary.rejected += 1
                    who = f" ({o.result.dossier_id})" if o.result.dossier_id else ""
                    errors = "; ".join(str(e) for e in o.result.errors)
                    summary.problems.append(f"line {o.entry.where.rsplit(':', 1)[-1]}{who}: {o.result.reason}: {errors}")
                else:
                    summary.accepted += 1
            bar.set_postfix(items=summary.items, events=summary.events)


def run(args: argparse.Namespace) -> int:
    # aiokafka logs each failed connection; the command says it once, in one line
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    settings = settings_for_command()
    need(settings, "kafka", also=("redis",))
    return import_dvcqg(args, settings)


def import_dvcqg(args: argparse.Namespace, settings: Settings, out: IO[str] | None = None,
                 err: IO[str] | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        units, procedures = settings.load_catalogues()
        deriver = deriver_from(settings, units, procedures)
    except (AgencyMapError, CatalogueError, ProcedureCatalogueError, OSError) as exc:
        print(f"chiso import-dvcqg: {exc}", file=err)
        return 2
    if args.file == "-":
        stream, total, name = sys.stdin.buffer, None, "stdin"
    else:
        try:
            stream = open(args.file, "rb")  # closed below
        except OSError as exc:
            print(f"chiso import-dvcqg: cannot read {args.file}: {exc.strerror or exc}", file=err)
            return 2
        total, name = _size(stream), args.file
    summary = Summary()
    try:
        status = asyncio.run(_run(settings, deriver, stream, name, total, summary, err))
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if status is not None:
        return status
    _print_summary(out, name, settings, summary)
    return 1 if summary.problems else 0


async def _run(settings: Settings, deriver: Deriver, stream: IO[bytes], name: str, total: int | None, summary: Summary,
               err: IO[str]) -> int | None:
    ingest = Ingest(settings)
    try:  # single node or Redis Cluster (store/layout.py)
        cluster = is_cluster(settings.redis_url, settings.redis_cluster_mode, wait_s=0)
    except Exception as exc:  # noqa: BLE001 - any connection failure: one clear line
        print(f"chiso import-dvcqg: cannot reach Redis at {settings.redis_url}: {exc}", file=err)
        await ingest.stop()
        return 1
    client = async_client(settings.redis_url, cluster)
    try:
        try:
            await client.ping()
        except Exception as exc:  # noqa: BLE001 - any connection failure: one clear line
            print(f"chiso import-dvcqg: cannot reach Redis at {settings.redis_url}: {exc}", file=err)
            return 1
        try:
            await ingest.producer()
        except Exception as exc:  # noqa: BLE001 - aiokafka: KafkaConnectionError and friends
            print(f"chiso import-dvcqg: cannot reach Kafka at {settings.kafka}: {exc}", file=err)
            return 1
        service = DvcqgIngest(settings, ingest, client, deriver,
                              layout_keys(settings.redis_prefix, cluster, settings.partitions))
        try:
            await _import(settings, service, stream, name, total, summary)
        except Exception as exc:  # noqa: BLE001 - the broker or Redis went away mid-import
            print(f"chiso import-dvcqg: stopped after {summary.lines} line(s), the rest NOT imported "
                  f"({type(exc).__name__}: {exc}); run it again: what was sent is dropped as duplicates", file=err)
            return 1
        return None
    finally:
        await ingest.stop()
        await client.aclose()


def _size(stream: IO[bytes]) -> int | None:
    try:
        return stream.seek(0, 2) or None
    finally:
        stream.seek(0)


def _print_summary(out: IO[str], name: str, settings: Settings, s: Summary) -> None:
    p = lambda *a: print(*a, file=out)  # noqa: E731
    services = ", ".join(f"{k} {v}" for k, v in sorted(s.by_service.items())) or "none"
    p(f"chiso import-dvcqg: {name}: {s.lines} line(s), {s.items} item(s) ({services})")
    p(f"{s.accepted} item(s) imported, {s.rejected} rejected; {s.events} event(s) sent to {settings.events_topic}")
    if s.problems:
        p(f"problems (sent to {settings.dlq_topic} with the raw line or item):")
        for line in s.problems[:MAX_LISTED]:
            p(f"  {line}")
        if len(s.problems) > MAX_LISTED:
            p(f"  … and {len(s.problems) - MAX_LISTED} more")
