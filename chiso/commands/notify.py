"""`chiso notify`: deliver the deadline alerts of ``dossier-alerts`` by e-mail and
webhooks (docs/thong-bao.md); ``--dry-run`` prints what would be sent."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from chiso.commands import need, settings_for_command
from chiso.notify.config import NotifyConfigError, Recipients, load_recipients, unknown_units
from chiso.notify.messages import Messages
from chiso.notify.schedule import inside_office_hours
from processors.calendar import WorkingCalendar


def fail(message: str) -> int:
    print(f"chiso notify: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    settings = settings_for_command()
    path = args.recipients or settings.notify_recipients
    if not path:
        return fail("no recipients file: set CHISO_NOTIFY_RECIPIENTS or pass --recipients FILE (docs/thong-bao.md)")
    try:
        recipients: Recipients = load_recipients(path)
        units, procedures = settings.load_catalogues()
    except (NotifyConfigError, ValueError) as exc:
        return fail(str(exc))
    for unit in unknown_units(recipients, units):
        print(f"chiso notify: warning: units.{unit}: not in the unit catalogue (CHISO_UNITS); its alerts would "
              "never come", file=sys.stderr)
    calendar = WorkingCalendar(settings.calendar.to_config())
    if not inside_office_hours(recipients.digest_at, calendar):
        return fail(f"{path}: digest_at: {recipients.digest_at:%H:%M} is outside office hours "
                    f"({', '.join(f'{a:%H:%M}-{b:%H:%M}' for a, b in calendar.config.office_hours)})")
    # after the configuration's checks, so that a mistake in it stays one line
    need(settings, "kafka", also=("redis",))
    messages = Messages(recipients, units, procedures)
    if args.dry_run:
        from chiso.notify.dry_run import dry_run

        print(f"chiso notify --dry-run: nothing is sent or recorded. {path}: {len(recipients.units)} units, "
              f"{len(recipients.officers)} officers, {len(recipients.webhooks)} webhooks"
              + (f", SMTP {recipients.smtp.host}:{recipients.smtp.port} ({recipients.smtp.security})"
                 if recipients.smtp else ", no SMTP"))
        return asyncio.run(dry_run(settings.kafka, settings.alerts_topic, settings.redis_url, settings.redis_prefix,
                                   recipients, units, messages, calendar, settings.clock()(), args.limit,
                                   redis_cluster=settings.redis_cluster_mode, partitions=settings.partitions))

    from chiso.notify.service import Notifier, NotifierConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = NotifierConfig(settings.kafka, settings.redis_url, settings.redis_prefix, settings.alerts_topic,
                            settings.session_timeout_s, settings.clock(), settings.redis_cluster_mode,
                            settings.partitions)
    return asyncio.run(_serve(Notifier(config, recipients, units, messages, calendar)))


async def _serve(notifier) -> int:
    task = asyncio.create_task(notifier.run())
    loop = asyncio.get_running_loop()
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
    return 0
