"""The notifier: three loops over the durable delivery state (store/notify_queue.py).

- **intake**: reads ``dossier-alerts`` in its own consumer group, turns each
  alert into deliveries (routing.py) in one Redis script, then commits the
  offsets. A crash in between re-reads the alerts; the script ignores alert ids
  it has seen, so nothing is queued twice.
- **send**: claims due deliveries, renders and sends them, settles each one:
  sent, retry later (back-off doubling from ``backoff_initial_s`` to
  ``backoff_max_s``), or failed for good (after ``attempts`` rounds, or at once
  when the server refuses it for good).
- **digest**: at each digest instant (schedule.py), each unit's waiting alerts
  become one digest delivery; not before intake has first read the topic to
  its end, so a digest due at start-up includes what was published before.

Two clocks: the domain's *now* (``CHISO_NOW`` when fixed) places digests on the
calendar; retries and claims use processing time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import orjson
from aiokafka import AIOKafkaConsumer
from redis.exceptions import RedisError

from chiso.notify.channels import (
    Retryable,
    SmtpChannel,
    Undeliverable,
    WebhookChannel,
    webhook_payload,
    with_quick_retries,
)
from chiso.notify.config import Recipients
from chiso.notify.messages import Messages
from chiso.notify.routing import delivery_id, intake_of
from chiso.notify.schedule import first_digest_at, in_office, next_digest_at
from processors.calendar import WorkingCalendar
from processors.open_state import ALERT_STATES
from processors.units import UnitCatalogue
from store.layout import async_client, prepare
from store.notify_queue import Claimed, NotifyQueue
from store.scripts import NotifyDigestRun, NotifyIntake, NotifySettle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotifierConfig:
    kafka: str
    redis_url: str
    redis_prefix: str
    alerts_topic: str
    session_timeout_s: float
    clock: Callable[[], datetime]          # the domain's now (digests)
    redis_cluster: str = "no"              # auto | yes | no (store/layout.py)
    partitions: int = 0                    # the Kafka partition count a Redis Cluster layout is tagged by


class Notifier:
    def __init__(self, config: NotifierConfig, recipients: Recipients, units: UnitCatalogue,
                 messages: Messages, calendar: WorkingCalendar) -> None:
        self.config = config
        self.recipients = recipients
        self.units = units
        self.messages = messages
        self.calendar = calendar
        self.delivery = recipients.delivery
        cluster, keys = prepare(config.redis_url, config.redis_cluster, config.redis_prefix, config.partitions)
        self.redis = async_client(config.redis_url, cluster)
        self.queue = NotifyQueue(self.redis, keys, self.delivery.dedup_days * 86400)
        self.smtp = SmtpChannel(recipients.smtp) if recipients.smtp else None
        self.http = httpx.AsyncClient()
        self.webhooks = WebhookChannel(self.http)
        self._wake = asyncio.Event()
        # Set once intake has read the topic to its end: a digest made before
        # that would miss alerts published before the digest instant.
        self._caught_up = asyncio.Event()

    async def run(self) -> None:
        try:
            await asyncio.gather(self.intake_forever(), self.send_forever(), self.digest_forever())
        finally:
            await self.http.aclose()
            await self.redis.aclose()

    # -- intake ------------------------------------------------------------------

    async def intake_forever(self) -> None:
        consumer = AIOKafkaConsumer(
            self.config.alerts_topic, bootstrap_servers=self.config.kafka, group_id=self.delivery.group_id,
            enable_auto_commit=False, auto_offset_reset="earliest",
            session_timeout_ms=int(self.config.session_timeout_s * 1000),
            heartbeat_interval_ms=int(max(1.0, self.config.session_timeout_s / 5) * 1000),
        )
        await consumer.start()
        try:
            while True:
                got = await consumer.getmany(timeout_ms=1000, max_records=500)
                records = [r for batch in got.values() for r in batch]
                if not records:
                    self._caught_up.set()
                    continue
                intakes = [i for i in (self.intake_of(r.value) for r in records) if i is not None]
                await retry_forever(lambda batch=intakes: self.queue.intake(batch, time.time()), "taking alerts in")
                await consumer.commit()
                self._wake.set()
        finally:
            await consumer.stop()

    def intake_of(self, raw: bytes) -> NotifyIntake | None:
        try:
            return intake_of(raw, self.recipients, self.units)
        except (ValueError, KeyError, TypeError) as exc:  # one bad message stops only itself
            log.warning("skipping a malformed alert (%s): %r", exc, raw[:200])
            return None

    # -- send --------------------------------------------------------------------

    async def send_forever(self) -> None:
        while True:
            claimed = await retry_forever(lambda: self.queue.claim(time.time(), self.delivery.claim_timeout_s, 50),
                                          "claiming deliveries")
            if claimed:
                await asyncio.gather(*(self.deliver(job) for job in claimed))
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=0.5)
            except TimeoutError:
                pass

    async def deliver(self, job: Claimed) -> None:
        channel = job.body["channel"]
        retries = 0

        def count_retry() -> None:
            nonlocal retries
            retries += 1

        try:
            send = await self.sender(job)
            await with_quick_retries(send, self.delivery.quick_attempts, self.delivery.quick_wait_s, count_retry)
            outcome = NotifySettle(job.job_id, "sent", channel, retries)
        except Retryable as exc:
            rounds = job.failed_attempts + 1
            if rounds >= self.delivery.attempts:
                outcome = NotifySettle(job.job_id, "failed", channel, retries, error=str(exc))
            else:
                wait = min(self.delivery.backoff_max_s, self.delivery.backoff_initial_s * 2 ** (rounds - 1))
                outcome = NotifySettle(job.job_id, "retry", channel, retries + 1, time.time() + wait, str(exc))
            log.warning("delivery %s (%s) failed: %s", job.job_id, channel, exc)
        except Undeliverable as exc:
            outcome = NotifySettle(job.job_id, "failed", channel, retries, error=str(exc))
            log.error("delivery %s (%s) refused for good: %s", job.job_id, channel, exc)
        except RedisError as exc:  # reading the digest's states: try the round again later
            outcome = NotifySettle(job.job_id, "retry", channel, retries + 1,
                                   time.time() + self.delivery.backoff_initial_s, str(exc))
        except Exception as exc:  # noqa: BLE001 - a delivery that cannot be built stops only itself
            log.exception("delivery %s (%s) cannot be made", job.job_id, channel)
            outcome = NotifySettle(job.job_id, "failed", channel, retries, error=f"{type(exc).__name__}: {exc}")
        await retry_forever(lambda: self.queue.settle(outcome), "settling a delivery")

    async def sender(self, job: Claimed):
        """A function that makes one attempt at the delivery."""
        body = job.body
        language = body["language"]
        if body["channel"] == "webhook":
            hook = self.recipients.webhooks.get(body["to"])
            if hook is None:
                raise Undeliverable(f"webhook {body['to']!r} is no longer configured")
            alert = body["alert"]
            payload = webhook_payload(hook, self.messages.chat(alert, language), alert, job.job_id)
            return lambda: self.webhooks.send(hook, payload, job.job_id)
        if self.smtp is None:
            raise Undeliverable("no [smtp] section configured")
        if body["channel"] == "digest":
            message = await self.digest_message(body)
            to = body["to"]
        else:
            message = self.messages.email(body["alert"], language)
            to = [body["to"]]
        return lambda: self.smtp.send(to, message, job.job_id)

    async def digest_message(self, body: dict):
        items = body["items"]
        states = await self.queue.open_states(sorted({a["dossier_id"] for a in items}))
        counts = await self.queue.open_counts(body["unit"], ALERT_STATES)
        return self.messages.digest(body["unit"], items, states, counts,
                                    datetime.fromisoformat(body["run_at"]), body["language"])

    # -- digest ------------------------------------------------------------------

    async def digest_forever(self) -> None:
        await self._caught_up.wait()
        while True:
            await retry_forever(self.digest_once, "running the digest")
            await asyncio.sleep(1.0)

    async def digest_once(self) -> int:
        """Queue the digests if one is due now; returns how many (-1: another
        process ran this digest first)."""
        now = self.config.clock()
        stored = await self.queue.digest_next()
        digest_at = self.recipients.digest_at
        if stored is None:
            due = first_digest_at(now, digest_at, self.calendar)
        else:
            due = datetime.fromtimestamp(float(stored), UTC)
        if due > now or not in_office(now, self.calendar):
            if stored is None:  # record the schedule, so that it can be read (and tested)
                await self.queue.run_digest(NotifyDigestRun("", due.timestamp(), time.time(), ()))
            return 0
        units = []
        for unit in await self.queue.digest_units():
            section = self.recipients.units.get(unit)
            body = None
            if section is not None and section.digest:
                language = section.language or self.recipients.language
                head = {"channel": "digest", "unit": unit, "to": section.digest, "language": language,
                        "run_at": now.isoformat()}
                body = orjson.dumps({**head, "items": []})
            units.append((unit, delivery_id(f"digest|{unit}", "digest", f"{due.timestamp():.0f}"), body))
        run = NotifyDigestRun(stored or "", next_digest_at(now, digest_at, self.calendar).timestamp(), time.time(),
                              tuple(units))
        made = await self.queue.run_digest(run)
        if made > 0:
            self._wake.set()
        return made


async def retry_forever(step, what: str):
    """Redis or Kafka unreachable: wait and try again, never skip."""
    delay = 0.2
    while True:
        try:
            return await step()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - anything else is retried, not skipped
            log.exception("%s failed; retrying in %.1fs", what, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
