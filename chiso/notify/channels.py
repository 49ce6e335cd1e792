"""The two ways out: e-mail over SMTP (aiosmtplib) and JSON webhooks (httpx).

Each send either returns (the server took it), or raises ``Retryable`` (worth
another try: connection refused, timeout, SMTP 4xx, HTTP 408/425/429/5xx) or
``Undeliverable`` (another try would fail the same: SMTP 5xx, a refused
recipient, HTTP 4xx). ``with_quick_retries`` retries the first kind a few times
in a row with jittered exponential back-off (tenacity); what still fails goes
back to the durable queue for a later round (service.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from chiso.notify.config import SmtpSettings, Webhook
from chiso.notify.messages import Message


class Retryable(Exception):
    pass


class Undeliverable(Exception):
    pass


class SmtpChannel:
    def __init__(self, smtp: SmtpSettings) -> None:
        self.smtp = smtp

    def build(self, to: list[str], message: Message, message_id: str) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.smtp.sender
        msg["To"] = ", ".join(to)
        msg["Subject"] = message.subject
        msg["Date"] = formatdate(localtime=False)
        # Stable per delivery: a copy sent again after a crash carries the same id,
        # which mail systems and clients use to recognise duplicates.
        msg["Message-ID"] = f"<{message_id}@chiso>"
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(message.text, charset="utf-8")
        return msg

    async def send(self, to: list[str], message: Message, message_id: str) -> None:
        s = self.smtp
        try:
            await aiosmtplib.send(
                self.build(to, message, message_id), hostname=s.host, port=s.port,
                username=s.username, password=s.password.get_secret_value() if s.password else None,
                use_tls=s.security == "tls", start_tls=True if s.security == "starttls" else False,
                timeout=s.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise (Retryable if all(400 <= c < 500 for c in codes) else Undeliverable)(str(exc)) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise (Retryable if 400 <= exc.code < 500 else Undeliverable)(f"SMTP {exc.code} {exc.message}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise Retryable(f"{type(exc).__name__}: {exc}") from None


class WebhookChannel:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, hook: Webhook, payload: dict, delivery_id: str) -> None:
        headers = {k: v.get_secret_value() for k, v in hook.headers.items()}
        headers["Idempotency-Key"] = delivery_id  # receivers that keep it can drop a repeat
        try:
            response = await self.client.post(hook.url.get_secret_value(), json=payload, headers=headers,
                                               timeout=hook.timeout_s)
        except httpx.HTTPError as exc:
            raise Retryable(f"{type(exc).__name__}: {exc}") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        reason = f"HTTP {status}: {response.text[:200]}"
        if status in (408, 425, 429) or status >= 500:
            raise Retryable(reason)
        raise Undeliverable(reason)


async def with_quick_retries(send: Callable[[], Awaitable[None]], attempts: int, first_wait_s: float,
                             on_retry: Callable[[], None]) -> None:
    """Run ``send`` up to ``attempts`` times while it raises ``Retryable``."""
    async for attempt in AsyncRetrying(
        stop=stop_after_attempt(attempts), retry=retry_if_exception_type(Retryable),
        wait=wait_exponential_jitter(initial=first_wait_s, max=first_wait_s * 8),
        before_sleep=lambda _state: on_retry(), reraise=True,
    ):
        with attempt:
            await send()


def webhook_payload(hook: Webhook, text: str, alert: dict, delivery_id: str) -> dict:
    payload: dict = {**hook.fields, hook.text_key: text}
    if hook.include_alert:
        payload["alert"] = alert
        payload["delivery_id"] = delivery_id
    return payload
