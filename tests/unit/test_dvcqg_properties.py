"""Order independence of the portal-format adapter, as properties.

Events already sent can never be retracted, so the derivation must be monotone:
for snapshot (and progress step) sets S ⊆ S', D(S) ⊆ D(S'); and whatever the order
and repetition in which the items of S arrive, singly or in batches, the union of
what is sent is exactly D(S). Items are drawn messy on purpose: statuses out of
lifecycle order, flags that come and go, appointments that move back and forth,
several units and procedures for one dossier, invalid items in between.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sources.dvcqg.derive import Derived
from sources.dvcqg.ledger import MemoryLedger, derivation, derive_item
from sources.dvcqg.payload import PROGRESS, SYNC
from sources.dvcqg.reception import FLAGS
from tests.dvcqg_samples import checked, deriver, facts_of

pytestmark = pytest.mark.unit

DOSSIERS = ("H56.14-240823-0001", "000.00.12.H22-240315-0007")
INSTANTS = ("20240315083000", "20240315090000", "20240316100000", "20240318090000", "20240318170000",
            "20240319100000", "20240320170000")
DERIVER = deriver()

blank_or = lambda *values: st.sampled_from(("", *values))  # noqa: E731
flag = st.sampled_from(("0", "1", "", 1, 0, "True"))

component = st.fixed_dictionaries({
    "IsDeleted": st.sampled_from(("False", "True")), "DuocSoHoa": flag, "DuocTaiSuDung": blank_or("0", "1", "2"),
    "DuocLayTuKhoDMQG": flag,
})
supplement = st.fixed_dictionaries({
    "HoSoBoSungId": st.sampled_from(("1", "2")), "NgayBoSung": blank_or(*INSTANTS),
    "NgayTiepNhanBoSung": blank_or(*INSTANTS), "NgayHenTraTruoc": blank_or(*INSTANTS),
    "NgayHenTraMoi": blank_or(*INSTANTS),
})
snapshot = st.fixed_dictionaries({
    "MaHoSo": st.sampled_from(DOSSIERS),
    "TrangThaiHoSo": st.sampled_from([str(i) for i in range(1, 11)]),
    "MaTTHC": st.sampled_from(("1.001193", "1.000894", "9.999999")),
    "DonViXuLy": st.sampled_from(("", "Sở Xây dựng", "dng-stp")),
    "KenhThucHien": blank_or("1", "2", "3"),
    "NgayTiepNhan": st.sampled_from(INSTANTS[:3]),
    "NgayHenTra": blank_or(*INSTANTS[3:]),
    "NgayKetThucXuLy": blank_or(*INSTANTS[2:]),
    "NgayTra": blank_or(*INSTANTS[4:]),
    "NgayTuChoi": blank_or(*INSTANTS[:2]),
    "TaiLieuNop": st.lists(component, max_size=2),
    "DanhSachLePhi": st.lists(st.fixed_dictionaries({"Gia": st.sampled_from(("0", "8000", 5000))}), max_size=2),
    "DanhSachHoSoBoSung": st.lists(supplement, max_size=2),
    "DanhSachGiayToKetQua": st.lists(st.fixed_dictionaries({"DuongDanTepTinKetQua": blank_or("https://kq")}),
                                     max_size=1),
    "DuocThanhToanTrucTuyen": blank_or("0", "1", "2"),
    "HoSoCoThanhPhanSoHoa": flag,
    "TaiKhoanDuocXacThucVoiVNeID": flag,
}).map(lambda s: (SYNC, s))
progress = st.fixed_dictionaries({
    "MaHoSo": st.sampled_from(DOSSIERS), "ThoiDiemXuLy": st.sampled_from(INSTANTS),
    "TrangThai": blank_or(*[str(i) for i in range(1, 11)]), "NguoiXuLy": blank_or("Trần Thị B", "Lê C"),
}).map(lambda s: (PROGRESS, s))
items_st = st.lists(st.one_of(snapshot, snapshot, progress), min_size=1, max_size=10)


def derived_of(items: list[tuple[str, dict]]) -> list[Derived]:
    out = []
    for service, item in items:
        d = derive_item(DERIVER, service, item)
        if isinstance(d, Derived):
            out.append(d)
    return out


def as_map(events: list[dict]) -> dict[str, dict]:
    """By event id; an id must always stand for the same content."""
    out: dict[str, dict] = {}
    for e in events:
        assert out.setdefault(e["event_id"], e) == e, f"two contents for {e['event_id']}"
    return out


@st.composite
def arrivals(draw: Any, n: int) -> list[list[int]]:
    """Every item at least once, some again, in any order, cut into batches."""
    order = draw(st.permutations(range(n))) + draw(st.lists(st.integers(0, n - 1), max_size=n))
    order = draw(st.permutations(order))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(order) - 1)), max_size=3)))
    bounds = [0, *cuts, len(order)]
    return [order[a:b] for a, b in zip(bounds, bounds[1:]) if a < b]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=items_st, data=st.data())
def test_any_order_repetition_and_batching_sends_exactly_the_derivation_of_the_set(items, data) -> None:
    derived = derived_of(items)
    full = as_map(derivation(derived, "dvcqg"))
    checked(list(full.values()))
    ledger = MemoryLedger()
    sent: list[dict] = []
    for batch in data.draw(arrivals(len(derived))) if derived else []:
        sent += ledger.accept([derived[i] for i in batch])
        assert set(as_map(sent)) <= set(full)  # nothing outside the final set, at any point
    assert as_map(sent) == full


@settings(max_examples=200, deadline=None)
@given(items=items_st, data=st.data())
def test_the_derivation_is_monotone(items, data) -> None:
    derived = derived_of(items)
    subset = [d for d in derived if data.draw(st.booleans())]
    assert as_map(derivation(subset, "dvcqg")).items() <= as_map(derivation(derived, "dvcqg")).items()


@settings(max_examples=200, deadline=None)
@given(items=st.lists(snapshot, min_size=1, max_size=6), data=st.data())
def test_the_reception_read_by_the_facts_is_the_join_of_the_accepted_snapshots(items, data) -> None:
    """One unit and procedure per dossier: whatever arrived so far, the first
    ``received`` is the join (earliest instant and appointment, any flag, highest
    channel and level) of the candidates accepted so far."""
    items = [(s, dict(i, DonViXuLy="Sở Xây dựng", MaTTHC="1.001193")) for s, i in items]
    derived = [d for d in derived_of(items) if d.reception is not None]
    ledger = MemoryLedger()
    sent: list[dict] = []
    order = data.draw(st.permutations(range(len(derived))))
    for k, i in enumerate(order, start=1):
        sent += ledger.accept([derived[i]])
        seen = [derived[j] for j in order[:k]]
        for dossier_id in {d.dossier_id for d in seen}:
            cands = [d.reception for d in seen if d.dossier_id == dossier_id]
            f = facts_of(dossier_id, [e for e in sent if e["dossier_id"] == dossier_id])
            assert f.received_at == min(c.received_at for c in cands)
            assert f.initial_due == min(c.due_at for c in cands)
            joined = 0
            for c in cands:
                joined |= c.flags
            got = [f.fee_required, f.digitized]
            assert got == [bool(joined >> FLAGS.index(n) & 1) for n in ("fee_required", "digitized")]
            r = min((e for e in sent if e["dossier_id"] == dossier_id and e["type"] == "received"),
                    key=lambda e: (e["occurred_at"], e["event_id"]))  # the facts' R (all +07:00: text order)
            assert {n for n in FLAGS if r[n]} == {n for i, n in enumerate(FLAGS) if joined >> i & 1}
