"""`chiso replay FILE|-`: a JSON Lines file of events into the input topic.

Exit status: 0 when at least one valid event was sent (or the input is empty);
1 when every line was invalid (they are sent on all the same: the worker
dead-letters them); 2 when the file cannot be read (nothing is sent).
"""

from __future__ import annotations

import argparse
import sys
from typing import BinaryIO

from chiso.commands import need, settings_for_command
from chiso.errors import UserError
from sources.producers import make_producer, replay_lines


def open_input(name: str) -> BinaryIO:
    """The file (or stdin for ``-``); a mistake is one line."""
    if name == "-":
        return sys.stdin.buffer
    try:
        return open(name, "rb")
    except IsADirectoryError:
        raise UserError(f"{name} is a directory; give a JSON Lines file (or - for stdin)") from None
    except OSError as exc:
        raise UserError(f"cannot read {name}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    stream = open_input(args.file)  # a mistake in the name is reported before anything connects
    try:
        settings = settings_for_command()
        need(settings, "kafka")
        producer = make_producer(settings.kafka)
        try:
            summary = replay_lines(producer, settings.events_topic, stream, rate=args.rate)
        finally:
            producer.close()
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    print(f"sent {summary.sent} event(s) to {settings.events_topic}; {len(summary.invalid)} invalid (sent on, they go to {settings.dlq_topic})")
    for line_no, reason in summary.invalid[:50]:
        print(f"  line {line_no}: {reason}")
    if len(summary.invalid) > 50:
        print(f"  … and {len(summary.invalid) - 50} more")
    if summary.sent and len(summary.invalid) == summary.sent:
        print(f"chiso replay: every line of {args.file} is invalid: no event counted", file=sys.stderr)
        return 1
    return 0
