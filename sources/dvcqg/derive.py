"""One sync item -> chiso events, from what that item states about itself.

Every event is dated by a date the item itself carries (never by arrival time), and
its id is a function of the dossier, the event type, that instant and, where an
event has a variable part, a fixed-width rank of that part: a re-sent item gives
the same events, and two items stating the same fact give the same event. Where two
items state one fact differently (a result file attached later, a payment made
online after all), both events are kept and the rank makes the better-informed one
sort first among equal instants, which is the one chiso's facts read ("the first
resolved", "the first paid"). The reception is the one fact several snapshots
share; each snapshot gives a candidate (``reception.py``).

The mapping table (status / field -> event) is in docs/ket-noi-mot-cua.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from processors.catalogue import ProcedureCatalogue
from processors.timeutil import iso_instant
from sources.dvcqg import model as m
from sources.dvcqg.agencies import AgencyMap, dossier_prefix
from sources.dvcqg.model import FieldError, Snapshot, Step
from sources.dvcqg.reception import CHANNELS, ID_PREFIX, LEVELS, Reception, flags_of, stamp

CHANNEL_OF_KENH = {1: "direct", 2: "online", 3: "postal", None: "direct"}  # 766: no KenhThucHien counts as direct
END_OF_STATUS = {m.NOT_ACCEPTED: "rejected", m.WITHDRAWN: "withdrawn", m.STOPPED: "stopped"}
RUNNING_STATUSES = frozenset({m.RECEIVED, m.IN_PROGRESS, m.PAYMENT})
MAX_OFFICER = 64  # officer_id's limit in the contract

# Reasons a rejected item is dead-lettered with (a bounded set: a metric label).
BAD_FIELD = "dvcqg_bad_field"
UNKNOWN_AGENCY = "dvcqg_unknown_agency"
NOT_AN_ITEM = "dvcqg_not_an_item"


@dataclass(frozen=True, slots=True)
class Origin:
    """What travels beside the items: unit codes from the envelope and the query."""

    madonvi: str | None = None       # OpenCPS envelope
    unit_code: str | None = None     # MaDinhDanhDV (gateway query parameter)


@dataclass
class Derived:
    dossier_id: str
    events: list[dict] = field(default_factory=list)
    reception: Reception | None = None
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rejected:
    reason: str
    errors: list[FieldError]
    dossier_id: str | None = None
    agencies: tuple[str, ...] = ()   # the unit values that matched nothing (UNKNOWN_AGENCY)

    @property
    def detail(self) -> str:
        who = f"{self.dossier_id}: " if self.dossier_id else ""
        return who + "; ".join(str(e) for e in self.errors)


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


class Deriver:
    """Binds the configuration derivation needs: the agency map, the procedure
    catalogue, the events' ``source`` and whether a sync marks a dossier synced."""

    def __init__(self, agencies: AgencyMap, procedures: ProcedureCatalogue, source: str = "dvcqg",
                 mark_synced: bool = True) -> None:
        self.agencies = agencies
        self.procedures = procedures
        self.source = source
        self.mark_synced = mark_synced

    # -- helpers --

    def _event(self, dossier_id: str, kind: str, at: datetime, rank: str = "", **extra: Any) -> dict:
        event_id = f"{ID_PREFIX}:{dossier_id}:{kind}:{stamp(at)}" + (f":{rank}" if rank else "")
        event = {"event_id": event_id, "dossier_id": dossier_id, "type": kind, "occurred_at": iso_instant(at)}
        event.update({k: v for k, v in extra.items() if v is not None})
        event["source"] = self.source
        return event

    def procedure(self, code: str, channel: str) -> tuple[str, str, str | None]:
        """(procedure_id, online_service, note). The catalogue's id when MaTTHC or its
        national part (``3.000181`` of ``3.000181.000.00.00.H22``) is in it."""
        candidates = [code]
        parts = code.split(".")
        if len(parts) > 2:
            candidates.append(".".join(parts[:2]))
        for c in candidates:
            p = self.procedures.get(c)
            if p is not None:
                return p.procedure_id, p.online_service, None
        level = "partial" if channel == "online" else "none"
        return code, level, (f"MaTTHC {code!r} is not in the procedure catalogue: online_service taken as "
                             f"{level!r} (filed {channel})")

    # -- DongBoHoSoMC --

    def snapshot(self, s: Snapshot, origin: Origin = Origin()) -> Derived | Rejected:
        d = s.MaHoSo
        out = Derived(d)
        status = s.TrangThaiHoSo
        received_at = s.NgayTiepNhan or s.NgayNopHoSo
        if status == m.NEW:
            out.notes.append("TrangThaiHoSo 1 (newly filed): not received yet, nothing to count")
            return out
        if status == m.NOT_ACCEPTED and received_at is None:
            out.notes.append("TrangThaiHoSo 3 (not accepted) without NgayTiepNhan: never received, nothing to count")
            return out

        errors: list[FieldError] = []
        if received_at is None:
            errors.append(FieldError("NgayTiepNhan", "required once the dossier is received (TrangThaiHoSo 2-10)"))
        if not s.MaTTHC:
            errors.append(FieldError("MaTTHC", "required: the procedure code of the national database"))
        elif len(s.MaTTHC) > 64:
            errors.append(FieldError("MaTTHC", "at most 64 characters", s.MaTTHC))
        end_kind, end_at = self._end(s, errors, out.notes)
        due = self._initial_due(s)
        if due is None:
            if status in END_OF_STATUS:  # ended without a result: no deadline was stated
                due = end_at or received_at
                out.notes.append(f"TrangThaiHoSo {status} without NgayHenTra: the end is taken as the appointment")
            else:
                errors.append(FieldError("NgayHenTra", "required once the dossier is received (the appointment)"))
        tried = [("DonViXuLy", s.DonViXuLy or None), ("MaHoSo prefix", dossier_prefix(d)),
                 ("MaDinhDanhDV", origin.unit_code), ("madonvi", origin.madonvi)]
        unit = self.agencies.resolve(tried)
        agency_error = None
        if unit is None:
            named = ", ".join(f"{f} {v!r}" for f, v in tried if v) or "no unit given"
            agency_error = FieldError("DonViXuLy", f"no unit of the unit catalogue or the agency mapping matches "
                                                   f"({named}); add one to CHISO_DVCQG_AGENCIES", s.DonViXuLy or None)
        if errors or agency_error:
            reason = BAD_FIELD if errors else UNKNOWN_AGENCY
            unmatched = tuple(v for _, v in tried if v) if agency_error else ()
            return Rejected(reason, errors + ([agency_error] if agency_error else []), d, unmatched)
        assert received_at is not None and due is not None and unit is not None

        live = [c for c in s.TaiLieuNop if not c.IsDeleted]
        fees = sum(f.Gia for f in s.DanhSachLePhi)
        paid_online = s.DuocThanhToanTrucTuyen in (1, 2)
        channel = CHANNEL_OF_KENH[s.KenhThucHien]
        procedure_id, level, note = self.procedure(s.MaTTHC, channel)
        if note:
            out.notes.append(note)
        out.reception = Reception(
            unit, procedure_id, received_at, due,
            flags_of(fee_required=fees > 0 or paid_online or status == m.PAYMENT,
                     digitized=s.HoSoCoThanhPhanSoHoa or any(c.DuocSoHoa for c in live),
                     reused_data=any(c.DuocTaiSuDung in (1, 2) for c in live),
                     personal_store=any(c.DuocLayTuKhoDMQG for c in live),
                     citizen_data=s.TaiKhoanDuocXacThucVoiVNeID),
            CHANNELS.index(channel), LEVELS.index(level),
        )
        ev = out.events
        # The format has no payment date: an online payment is made when filing; a fee not
        # paid online was paid by the time the result was handed over. At one instant an
        # online payment sorts first (rank 0), so the facts read it once any sync says so.
        if paid_online:
            ev.append(self._event(d, "paid", received_at, f"0{fees}", method="online", amount_vnd=fees or None))
        elif status == m.RETURNED and fees > 0 and s.NgayTra is not None:
            ev.append(self._event(d, "paid", s.NgayTra, f"1{fees}", method="offline", amount_vnd=fees))
        for entry in s.DanhSachHoSoBoSung:
            if entry.NgayBoSung is not None:
                ev.append(self._event(d, "supplement_requested", entry.NgayBoSung))
            if entry.NgayTiepNhanBoSung is not None:
                new_due = entry.NgayHenTraMoi
                rank = f"0{stamp(new_due)}" if new_due is not None else "1"
                ev.append(self._event(d, "supplement_received", entry.NgayTiepNhanBoSung, rank,
                                      due_at=iso_instant(new_due) if new_due is not None else None))
        if end_kind == "resolved" and end_at is not None:
            electronic = any(r.DuongDanTepTinKetQua for r in s.DanhSachGiayToKetQua)
            ev.append(self._event(d, "resolved", end_at, "0" if electronic else "1", result_electronic=electronic))
            if status == m.RETURNED:
                if s.NgayTra is not None:
                    ev.append(self._event(d, "returned", s.NgayTra))
                else:
                    out.notes.append("TrangThaiHoSo 10 without NgayTra: returned not derived")
        elif end_kind is not None and end_at is not None:
            ev.append(self._event(d, end_kind, end_at))
        if self.mark_synced:
            ev.append(self._event(d, "synced", self._latest_stated(s, received_at)))
        self._note_moved_due(s, out.notes)
        return out

    def _end(self, s: Snapshot, errors: list[FieldError], notes: list[str]) -> tuple[str | None, datetime | None]:
        status = s.TrangThaiHoSo
        if status in (m.RESOLVED, m.RETURNED):
            if s.NgayKetThucXuLy is None:
                # Tân Dân sends 9 for dossiers waiting for a supplement or a payment, undated:
                # the rest of the snapshot still counts, the end waits for a dated sync.
                notes.append(f"TrangThaiHoSo {status} without NgayKetThucXuLy: the end cannot be dated, "
                             "resolved not derived")
            return "resolved", s.NgayKetThucXuLy
        kind = END_OF_STATUS.get(status)
        if kind is None:
            return None, None
        at = (s.NgayTuChoi or s.NgayKetThucXuLy) if status == m.NOT_ACCEPTED else s.NgayKetThucXuLy
        if at is None:
            notes.append(f"TrangThaiHoSo {status} ({kind}) without NgayKetThucXuLy: the end is dated by the "
                         f"progress step with TrangThai {status} (CapNhatTienDoHoSoMC)")
        return kind, at

    @staticmethod
    def _initial_due(s: Snapshot) -> datetime | None:
        """The appointment at reception: before the first supplement if the
        snapshot lists supplements with their previous appointment, else NgayHenTra."""
        dated = [e for e in s.DanhSachHoSoBoSung if e.NgayHenTraTruoc is not None]
        if dated:
            first = min(dated, key=lambda e: (e.NgayBoSung is None, e.NgayBoSung or e.NgayHenTraTruoc,
                                              e.HoSoBoSungId))
            return first.NgayHenTraTruoc
        return s.NgayHenTra

    @staticmethod
    def _latest_stated(s: Snapshot, received_at: datetime) -> datetime:
        """The latest instant at which the snapshot says something happened: it was
        synced no earlier (appointments are not happenings, so they are left out)."""
        stated = [received_at, s.NgayKetThucXuLy, s.NgayTra, s.NgayTuChoi]
        for e in s.DanhSachHoSoBoSung:
            stated += [e.NgayBoSung, e.NgayTiepNhanBoSung]
        return max(t for t in stated if t is not None)

    @staticmethod
    def _note_moved_due(s: Snapshot, notes: list[str]) -> None:
        entries = [e for e in s.DanhSachHoSoBoSung if e.NgayHenTraMoi is not None]
        if entries and s.NgayHenTra is not None:
            last = max(entries, key=lambda e: (e.NgayTiepNhanBoSung or e.NgayHenTraMoi, e.HoSoBoSungId))
            if last.NgayHenTraMoi != s.NgayHenTra:
                notes.append(f"NgayHenTra {stamp(s.NgayHenTra)} differs from the last supplement's NgayHenTraMoi "
                             f"{stamp(last.NgayHenTraMoi)}: not applied (the format does not say when it was moved)")

    # -- CapNhatTienDoHoSoMC --

    def step(self, p: Step) -> Derived:
        d, at = p.MaHoSo, p.ThoiDiemXuLy
        out = Derived(d)
        if p.NguoiXuLy:
            officer = p.NguoiXuLy[:MAX_OFFICER]
            out.events.append(self._event(d, "assigned", at, _digest(officer), officer_id=officer))
        status = p.TrangThai
        if status == m.SUPPLEMENT:
            out.events.append(self._event(d, "supplement_requested", at))
        elif status in RUNNING_STATUSES:
            # Running at this instant: ends a supplement pause if there is one, else changes nothing.
            out.events.append(self._event(d, "supplement_received", at, "1"))
        elif status in END_OF_STATUS:
            out.events.append(self._event(d, END_OF_STATUS[status], at))
        return out
