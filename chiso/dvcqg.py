"""The national portal's sync format, accepted as the one-stop systems send it:
``POST /api/dvcqg/DongBoHoSoMC``, ``POST /api/dvcqg/CapNhatTienDoHoSoMC`` (and
``POST /api/dvcqg`` with the service named in the body, as OpenCPS sends it), and
``chiso import-dvcqg`` (docs/ket-noi-mot-cua.md).

For a batch of items: derive each (sources/dvcqg, pure), read the dossiers' accepted
reception candidates from Redis, send the derived events (the items' own and the
new receptions of the closure) and the dead letters, wait for the broker's
acknowledgement, and only then add the new candidates (a compare-and-set per
dossier; a dossier that changed meanwhile is read and derived again). A crash at
any point loses nothing: what was not acknowledged is not answered as success, so
the client sends it again; what was sent before the crash is sent again with the
same event ids, which the pipeline drops as duplicates.

Replies take the portal's shape, ``{"error_code": 0, "message": "Thành công"}``,
HTTP 200, because the one-stop systems' retry logic reads exactly that (OpenCPS:
``error_code`` 0 and a 2xx status; Tân Dân: ``error_code`` "0" and "thành công" in
the message). Errors carry a non-zero ``error_code``, a Vietnamese ``message``, the
house ``error`` in English, and a 4xx/5xx status.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import redis.asyncio as aioredis
from prometheus_client.core import CounterMetricFamily
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chiso.http import JSON
from chiso.ingest import Ingest, IngestError, check_token, read_limited
from chiso.settings import Settings
from processors.catalogue import ProcedureCatalogue
from processors.units import UnitCatalogue
from sources.dvcqg import payload
from sources.dvcqg.agencies import AgencyMap
from sources.dvcqg.derive import UNKNOWN_AGENCY, Derived, Deriver, Origin, Rejected
from sources.dvcqg.ledger import Entry, ItemOutcome, candidates_by_dossier, derive_entries, reception_events
from sources.dvcqg.reception import Reception
from store.dvcqg import ReceptionStore
from store.keys import Keys
from store.scripts import ReceptionAdd

log = logging.getLogger(__name__)

OK_MESSAGE = "Thành công"
NOT_JSON = "dvcqg_not_json"
MAX_CAS_ROUNDS = 50
_SESSION = re.compile(rb'("session"\s*:\s*")[^"]*')  # a token in a body that is not JSON: kept out of dead letters


def deriver_from(settings: Settings, units: UnitCatalogue, procedures: ProcedureCatalogue) -> Deriver:
    """The derivation's configuration; a bad agency mapping raises AgencyMapError (start-up)."""
    agencies = AgencyMap.from_path(units, settings.dvcqg_agencies)
    for name, ids in sorted(agencies.ambiguous_names.items()):
        log.warning("dvcqg: the unit name %r is shared by %s: map it in CHISO_DVCQG_AGENCIES", name, ", ".join(ids))
    return Deriver(agencies, procedures, settings.dvcqg_source, settings.dvcqg_mark_synced)


def portal_error(status: int, message_vi: str, error_en: str, **extra: object) -> JSON:
    return JSON({"error_code": -1, "message": message_vi, "error": error_en, **extra}, status_code=status)


_MESSAGES_VI = {
    401: "Sai hoặc thiếu mã xác thực (token)",
    403: "Chưa cấu hình mã xác thực cho kết nối (token)",
    413: "Dữ liệu gửi lên quá lớn",
    400: "Dữ liệu không hợp lệ",
}


@dataclass
class Accepted:
    """What one batch did: per item its outcome, and the events sent."""

    outcomes: list[ItemOutcome]
    events_sent: int = 0
    dead_letters: int = 0

    @property
    def rejected(self) -> list[ItemOutcome]:
        return [o for o in self.outcomes if isinstance(o.result, Rejected)]

    def results(self) -> list[dict]:
        out = []
        for i, o in enumerate(self.outcomes):
            r = o.result
            item = {"index": i, "service": o.service, "MaHoSo": r.dossier_id}
            if isinstance(r, Rejected):
                item.update(status="rejected", reason=r.reason, errors=[e.as_json() for e in r.errors])
            else:
                item.update(status="accepted", notes=r.notes)
            out.append(item)
        return out

    def reply(self) -> Response:
        rejected = self.rejected
        counts = {"accepted": len(self.outcomes) - len(rejected), "rejected": len(rejected),
                  "events": self.events_sent, "results": self.results()}
        if not rejected:
            return JSON({"error_code": 0, "message": OK_MESSAGE, **counts})
        first = rejected[0].result
        assert isinstance(first, Rejected)
        return portal_error(422, f"Dữ liệu không hợp lệ ({len(rejected)}/{len(self.outcomes)} mục): {first.detail}",
                            f"{len(rejected)} of {len(self.outcomes)} item(s) rejected (sent to the dead-letter "
                            f"topic); first: {first.detail}", **counts)


@dataclass(eq=False)  # hashable by identity: a collector of the Prometheus registry
class DvcqgStats:
    """Counters of this process for /metrics (bounded labels: service, outcome)."""

    items: Counter = field(default_factory=Counter)    # (service, outcome) -> n
    events: Counter = field(default_factory=Counter)   # service -> events sent

    def count(self, accepted: Accepted) -> None:
        for o in accepted.outcomes:
            outcome = o.result.reason if isinstance(o.result, Rejected) else "accepted"
            self.items[(o.service, outcome)] += 1

    def collect(self) -> Iterable:
        items = CounterMetricFamily("dvc_dvcqg_items", "Sync items received in the national portal's format, "
                                    "by service and outcome (accepted or the reason it was dead-lettered)",
                                    labels=["service", "outcome"])
        for (service, outcome), n in sorted(self.items.items()):
            items.add_metric([service, outcome], n)
        yield items
        events = CounterMetricFamily("dvc_dvcqg_events_sent", "Events derived from syncs and acknowledged by "
                                     "the broker (re-sent duplicates included)", labels=["service"])
        for service, n in sorted(self.events.items()):
            events.add_metric([service], n)
        yield events


class DvcqgIngest:
    def __init__(self, settings: Settings, ingest: Ingest, redis: aioredis.Redis, deriver: Deriver,
                 keys: Keys | None = None) -> None:
        self.settings = settings
        self.ingest = ingest
        self.store = ReceptionStore(redis, keys or Keys(settings.redis_prefix))
        self.deriver = deriver
        self.stats = DvcqgStats()

    # -- the batch, for HTTP and the import alike --

    async def accept(self, entries: list[Entry], raw_dead_letters: list[dict] | None = None) -> Accepted:
        outcomes = derive_entries(self.deriver, entries)
        accepted = Accepted(outcomes)
        derived = [o.result for o in outcomes if isinstance(o.result, Derived)]
        now = datetime.now(UTC).isoformat()
        dead = list(raw_dead_letters or []) + [self._dead_letter(o, now) for o in accepted.rejected]
        unknown = [v for o in accepted.rejected if o.result.reason == UNKNOWN_AGENCY for v in o.result.agencies[:1]]
        own = [e for d in derived for e in d.events]
        accepted.events_sent = await self._send_and_accept(own, dead, candidates_by_dossier(derived))
        accepted.dead_letters = len(dead)
        if unknown:
            await self.store.note_unknown_agencies(unknown)
            log.warning("dvcqg: no unit matches %s (rejected; see /api/dvcqg/unknown-agencies)", ", ".join(unknown))
        self.stats.count(accepted)
        for o in outcomes:
            if isinstance(o.result, Derived):
                self.stats.events[o.service] += len(o.result.events)
        return accepted

    async def _send_and_accept(self, own: list[dict], dead: list[dict], pending: dict[str, set[Reception]]) -> int:
        """Send the items' own events, the dead letters and what the new reception
        candidates add to each dossier's closure (one acknowledged round), then add
        the candidates (compare-and-set); a dossier changed meanwhile is read and
        derived again, and only its new receptions are sent."""
        sent = 0
        for _ in range(MAX_CAS_ROUNDS):
            stored_raw = await self.store.read(pending)
            stored = {d: {Reception.decode(x) for x in raw} for d, raw in stored_raw.items()}
            receptions = reception_events(stored, pending, self.settings.dvcqg_source)
            self.stats.events[payload.SYNC] += len(receptions)
            events = own + receptions
            await asyncio.gather(
                self.ingest.send_acked(self.settings.events_topic,
                                       [(e["dossier_id"].encode(), orjson.dumps(e)) for e in events]),
                self.ingest.send_acked(self.settings.dlq_topic, [
                    (r["dossier_id"].encode() if r.get("dossier_id") else None, orjson.dumps(r)) for r in dead]),
            )
            sent += len(events)
            own, dead = [], []
            adds = [ReceptionAdd(d, len(stored_raw[d]), tuple(sorted(c.encode() for c in cands)))
                    for d, cands in sorted(pending.items())]
            changed = set(await self.store.add(adds))
            pending = {d: c for d, c in pending.items() if d in changed}
            if not pending:
                return sent
        raise RuntimeError(f"receptions of {len(pending)} dossier(s) kept changing; retry")

    def _dead_letter(self, o: ItemOutcome, now: str) -> dict:
        r = o.result
        assert isinstance(r, Rejected)
        e = o.entry
        raw = payload.standalone(o.service, e.item, e.origin.madonvi, e.origin.unit_code)
        return dead_letter(r.reason, r.detail, raw, e.where, now, r.dossier_id)

    # -- HTTP --

    def routes(self) -> list[Route]:
        return [
            Route("/api/dvcqg", self._generic, methods=["POST"]),
            Route("/api/dvcqg/auth", self.auth, methods=["POST"]),
            Route("/api/dvcqg/unknown-agencies", self.unknown_agencies, methods=["GET"]),
            Route(f"/api/dvcqg/{payload.SYNC}", self._sync, methods=["POST"]),
            Route(f"/api/dvcqg/{payload.PROGRESS}", self._progress, methods=["POST"]),
        ]

    async def _sync(self, request: Request) -> Response:
        return await self.handle(request, payload.SYNC)

    async def _progress(self, request: Request) -> Response:
        return await self.handle(request, payload.PROGRESS)

    async def _generic(self, request: Request) -> Response:
        return await self.handle(request, "auto")

    def _check(self, request: Request, session: str | None = None) -> None:
        s = self.settings
        if s.dvcqg_token is not None:
            check_token(request, s.dvcqg_token, False, "CHISO_DVCQG_TOKEN", also=session)
        else:
            check_token(request, s.ingest_token, s.ingest_allow_anonymous, "CHISO_DVCQG_TOKEN or CHISO_INGEST_TOKEN",
                        also=session)

    async def handle(self, request: Request, service: str) -> Response:
        where = f"POST {request.url.path}"
        try:
            raw = await read_limited(request, self.settings.ingest_max_bytes)
            try:
                body = payload.decode(raw, service)
            except payload.PayloadError as exc:
                self._check(request)
                now = datetime.now(UTC).isoformat()
                record = dead_letter(NOT_JSON, str(exc), _SESSION.sub(rb"\1***", raw), where, now)
                await self.ingest.send_acked(self.settings.dlq_topic, [(None, orjson.dumps(record))])
                self.stats.items[(service, NOT_JSON)] += 1
                return portal_error(400, f"Dữ liệu không hợp lệ: {exc}", str(exc))
            self._check(request, body.session)
            if body.service in payload.LOOKUPS:
                return JSON({"error_code": 0, "message": OK_MESSAGE, "result": []})
            if body.service not in (*payload.SERVICES, "auto"):
                msg = f"service {body.service!r} is not accepted here; send {' or '.join(payload.SERVICES)}"
                return portal_error(400, f"Dịch vụ {body.service!r} không được hỗ trợ", msg)
            origin = Origin(body.madonvi, body.unit_code or request.query_params.get("MaDinhDanhDV") or None)
            entries = [Entry(body.service, item, origin, f"{where} [{i}]") for i, item in enumerate(body.items)]
            accepted = await self.accept(entries)
        except IngestError as exc:
            return portal_error(exc.status, _MESSAGES_VI.get(exc.status, "Yêu cầu không hợp lệ"), str(exc))
        except Exception as exc:  # broker or Redis unavailable: not stored, the client must retry
            log.exception("dvcqg sync failed")
            return portal_error(503, "Lỗi tạm thời, chưa lưu: vui lòng gửi lại",
                                f"not stored, retry: {type(exc).__name__}: {exc}")
        return accepted.reply()

    async def auth(self, request: Request) -> Response:
        """OpenCPS asks its adapter for a session first (``{"username", "password"}``)
        and puts it in every envelope: with chiso's token as the password, the
        session is the token itself."""
        try:
            raw = await read_limited(request, 64_000)
            obj = orjson.loads(raw) if raw.strip() else {}
            password = obj.get("password") if isinstance(obj, dict) else None
            self._check(request, password if isinstance(password, str) else None)
        except IngestError as exc:
            return portal_error(exc.status, _MESSAGES_VI.get(exc.status, "Yêu cầu không hợp lệ"), str(exc))
        except orjson.JSONDecodeError as exc:
            return portal_error(400, "Dữ liệu không hợp lệ", f"body is not valid JSON: {exc}")
        token = self.settings.dvcqg_token or self.settings.ingest_token
        return JSON({"error_code": 0, "message": OK_MESSAGE, "session": token.get_secret_value() if token else ""})

    async def unknown_agencies(self, request: Request) -> Response:
        try:
            self._check(request)
        except IngestError as exc:
            return portal_error(exc.status, _MESSAGES_VI.get(exc.status, "Yêu cầu không hợp lệ"), str(exc))
        counts = await self.store.unknown_agencies()
        items = [{"agency": a, "rejected": n} for a, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        return JSON({"items": items})


def dead_letter(reason: str, detail: str, raw: bytes, where: str, now: str, dossier_id: str | None = None) -> dict:
    """outputs.md's dead-letter record; ``topic``/``partition``/``offset`` are null
    (the input never reached a topic) and ``source`` says where it came from."""
    return {"reason": reason, "detail": detail, "raw": raw.decode("utf-8", errors="replace"),
            "topic": None, "partition": None, "offset": None, "rejected_at": now,
            "source": where, "dossier_id": dossier_id}
