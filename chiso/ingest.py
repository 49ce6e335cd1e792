"""`POST /api/v1/events`: how a one-stop system (iGate…) pushes events.

Body: a JSON array of events, or NDJSON (one event a line). Each event gets a
result (accepted, or invalid with its reason). Every event, invalid ones
included, is produced to the input topic keyed by its dossier_id, and the answer
(202) comes only after the broker acknowledged all of them: invalid events then
reach the dead-letter topic through the worker like any other input, so nothing
sent is ever lost, and nothing invalid is ever counted.

Security: a bearer token (CHISO_INGEST_TOKEN). Without one the endpoint stays
off unless CHISO_INGEST_ALLOW_ANONYMOUS=true (for local use only).
"""

from __future__ import annotations

import asyncio
import hmac
import logging

import orjson
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response

from chiso.http import JSON, error
from chiso.settings import Settings
from processors.events import InvalidEvent, event_from_dict

log = logging.getLogger(__name__)


class IngestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def split_body(body: bytes) -> list[tuple[bytes, object]]:
    """(raw value, decoded JSON or an exception) per event, in order."""
    text = body.strip()
    if not text:
        raise IngestError(400, "empty body: send a JSON array of events or NDJSON")
    if text.startswith(b"["):
        try:
            items = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise IngestError(400, f"body is not a valid JSON array: {exc}") from None
        return [(orjson.dumps(item), item) for item in items]
    out: list[tuple[bytes, object]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            out.append((line, orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            out.append((line, exc))
    return out


def check_token(request: Request, secret: SecretStr | None, allow_anonymous: bool, setting: str,
                also: str | None = None) -> None:
    """The bearer token of the Authorization header (or ``also``, a token given in
    the body, as OpenCPS's envelope carries its session) must equal ``secret``."""
    token = secret.get_secret_value() if secret else None
    if token is None:
        if allow_anonymous:
            return
        raise IngestError(403, f"ingest is disabled: set {setting} (or CHISO_INGEST_ALLOW_ANONYMOUS=true for local use)")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return
    if also is not None and hmac.compare_digest(also.encode(), token.encode()):
        return
    raise IngestError(401, "missing or wrong bearer token")


def check_auth(request: Request, settings: Settings) -> None:
    check_token(request, settings.ingest_token, settings.ingest_allow_anonymous, "CHISO_INGEST_TOKEN")


async def read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise IngestError(413, f"body larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise IngestError(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class Ingest:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def producer(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                if not self.settings.kafka:
                    raise IngestError(503, "no Kafka configured")
                producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka, acks="all", linger_ms=2,
                                            max_batch_size=512 * 1024)
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()  # a producer that failed to start still holds its client
                    raise
                self._producer = producer
            return self._producer

    async def send_acked(self, topic: str, records: list[tuple[bytes | None, bytes]]) -> None:
        """Produce every (key, value) and return once the broker acknowledged all of them."""
        if not records:
            return
        producer = await self.producer()
        futures = [await producer.send(topic, key=k, value=v) for k, v in records]
        await asyncio.gather(*futures)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def handle(self, request: Request) -> Response:
        try:
            check_auth(request, self.settings)
            body = await read_limited(request, self.settings.ingest_max_bytes)
            items = split_body(body)
            results = []
            keyed: list[tuple[bytes | None, bytes]] = []
            for index, (raw, decoded) in enumerate(items):
                checked = InvalidEvent("not_json", str(decoded)) if isinstance(decoded, Exception) else event_from_dict(decoded)
                if isinstance(checked, InvalidEvent):
                    results.append({"index": index, "status": "invalid", "reason": checked.reason, "detail": checked.detail})
                    dossier = decoded.get("dossier_id") if isinstance(decoded, dict) else None
                    keyed.append((dossier.encode() if isinstance(dossier, str) else None, raw))
                else:
                    results.append({"index": index, "status": "accepted", "event_id": checked.event_id})
                    keyed.append((checked.key.encode(), raw))
            await self.send_acked(self.settings.events_topic, keyed)
        except IngestError as exc:
            return error(exc.status, str(exc))
        except Exception as exc:  # the broker is down: the client must retry
            log.exception("ingest failed")
            return error(503, f"events not stored, retry: {type(exc).__name__}: {exc}", reason="broker_unavailable")
        accepted = sum(1 for r in results if r["status"] == "accepted")
        return JSON({"accepted": accepted, "invalid": len(results) - accepted, "results": results}, status_code=202)
