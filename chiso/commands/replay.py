"""`chiso replay FILE|-`: a JSON Lines file of events into the input topic."""

from __future__ import annotations

import argparse
import sys

from chiso.commands import need, settings_for_command
from sources.producers import make_producer, replay_lines


def run(args: argparse.Namespace) -> int:
    settings = settings_for_command()
    need(settings, "kafka")
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
