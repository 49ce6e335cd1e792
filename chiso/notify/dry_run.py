"""`chiso notify --dry-run`: what the notifier would send now, sent nowhere.

Reads the alerts its consumer group has not yet taken (from the committed
offsets to the true end of the topic), renders every delivery they would make,
and shows when the next digest goes and what waits for it. Commits nothing and
writes nothing to Redis.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

import orjson
import redis
from aiokafka import AIOKafkaConsumer, TopicPartition

from chiso.notify.channels import webhook_payload
from chiso.notify.config import Recipients
from chiso.notify.messages import Messages
from chiso.notify.routing import intake_of
from chiso.notify.schedule import first_digest_at
from processors.calendar import WorkingCalendar
from processors.units import UnitCatalogue
from store.layout import Mode, async_client, is_cluster, layout_keys
from store.notify_queue import NotifyQueue
from streams.alerts import read_to_end


async def committed_positions(bootstrap: str, topic: str, group_id: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer.topics()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)  # assignment only: no group join, nothing committed
        out = {}
        for tp in tps:
            offset = await consumer.committed(tp)
            if offset is not None:
                out[tp.partition] = offset
        return out
    finally:
        await consumer.stop()


def redacted(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.path not in ("", "/") else url


async def dry_run(kafka: str, topic: str, redis_url: str, prefix: str, recipients: Recipients,
                  units: UnitCatalogue, messages: Messages, calendar: WorkingCalendar,
                  now: datetime, limit: int, out: Callable[[str], None] = print,
                  redis_cluster: Mode = "no", partitions: int = 0) -> int:
    start = await committed_positions(kafka, topic, recipients.delivery.group_id)
    found = await read_to_end(kafka, topic, start)
    pending = [value for value, _ in sorted(found.items(), key=lambda kv: kv[1])]
    out(f"alerts not yet taken by the notifier: {len(pending)}" + (f" (showing {limit})" if len(pending) > limit else ""))
    for raw in pending[:limit]:
        try:
            intake = intake_of(raw, recipients, units)
        except (ValueError, KeyError, TypeError) as exc:
            out(f"--- malformed alert, skipped ({exc}): {raw[:200]!r}")
            continue
        alert = orjson.loads(raw)
        what = f"{alert['dossier_id']} {alert['state']} ({alert['unit_id']})"
        if not intake.jobs:
            out(f"--- {what}: no immediate recipient" + (f"; waits for the digest of {intake.digest_unit}" if intake.digest_unit else ""))
        for job_id, body_raw in intake.jobs:
            body = orjson.loads(body_raw)
            if body["channel"] == "email":
                message = messages.email(alert, body["language"])
                out(f"--- e-mail to {body['to']}: {what}\nSubject: {message.subject}\n\n{message.text}")
            else:
                hook = recipients.webhooks[body["to"]]
                payload = webhook_payload(hook, messages.chat(alert, body["language"]), alert, job_id)
                out(f"--- webhook {body['to']} ({redacted(hook.url.get_secret_value())}): {what}\n"
                    f"{orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()}")
        if intake.digest_unit:
            out(f"    and in the next digest of {intake.digest_unit}")
    await show_digest(redis_url, prefix, recipients, calendar, now, out, redis_cluster, partitions)
    return 0


async def show_digest(redis_url: str, prefix: str, recipients: Recipients, calendar: WorkingCalendar,
                      now: datetime, out: Callable[[str], None], redis_cluster: Mode = "no",
                      partitions: int = 0) -> None:
    try:  # the notifier's own layout (store/layout.py): on a cluster its keys carry the {n} tag
        keys = layout_keys(prefix, is_cluster(redis_url, redis_cluster, wait_s=0), partitions)
    except redis.RedisError as exc:
        out(f"(Redis unreachable, digest state unknown: {exc})")
        return
    r = async_client(redis_url, keys.clustered)
    try:
        queue = NotifyQueue(r, keys, recipients.delivery.dedup_days * 86400)
        stored = await queue.digest_next()
        due = (datetime.fromtimestamp(float(stored)).astimezone(now.tzinfo) if stored
               else first_digest_at(now, recipients.digest_at, calendar))
        waiting = {u: await r.hlen(keys.notify_digest(u)) for u in await queue.digest_units()}
        queued = await r.zcard(keys.notify("due"))
    except (OSError, redis.RedisError) as exc:
        out(f"(Redis unreachable, digest state unknown: {exc})")
        return
    finally:
        await r.aclose()
    listed = ", ".join(f"{u} ({n})" for u, n in waiting.items()) or "none"
    out(f"next digest: {due.isoformat()}; alerts waiting for it: {listed}")
    out(f"deliveries queued or being retried: {queued}")
