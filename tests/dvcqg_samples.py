"""Payloads of the national portal's sync format, hand-written from the documented
format (docs/ket-noi-mot-cua.md; OpenCPS's DVCQGIntegrationActionImpl and Tân Dân's
SyncLocalDataToDVCQG carry the field names), and the derivation's configuration
over the sample catalogues, shared by the unit and integration tests."""

from __future__ import annotations

from processors.catalogue import ProcedureCatalogue
from processors.events import Event, event_from_dict
from processors.facts import DossierFacts, dossier_facts
from processors.units import UnitCatalogue
from sources.dvcqg.agencies import AgencyMap
from sources.dvcqg.derive import Deriver
from sources.samples import sample_procedures_path, sample_units_path

# Portal unit codes, a Decision 19/2025 commune code and a name the catalogue spells
# differently, mapped to units of the sample catalogue (Đà Nẵng).
AGENCIES_CSV = """agency,unit_id
H56.14,dng-p-hai-chau
000.00.12.H22,dng-sxd
000.00.00.H22,dng
20194,dng-x-hoa-vang
UBND phường Điện Biên,dng-p-thanh-khe
"""


def catalogues() -> tuple[UnitCatalogue, ProcedureCatalogue]:
    units = UnitCatalogue.from_path(sample_units_path())
    return units, ProcedureCatalogue.from_path(sample_procedures_path(), units)


def deriver(mark_synced: bool = True) -> Deriver:
    units, procedures = catalogues()
    return Deriver(AgencyMap.build(units, AGENCIES_CSV, "agencies.csv"), procedures, "dvcqg", mark_synced)


def checked(events: list[dict]) -> list[Event]:
    """Every derived event must be valid under the contract."""
    out = []
    for e in events:
        ev = event_from_dict(e)
        assert isinstance(ev, Event), (e, ev)
        out.append(ev)
    return out


def facts_of(dossier_id: str, events: list[dict]) -> DossierFacts:
    return dossier_facts(dossier_id, checked(events))


# OpenCPS (2020): envelope, every value a string, DonViXuLy a name, no KenhThucHien,
# no digitisation flags, empty lists (example A of the research notes).
OPENCPS_RECEIVED = {
    "MaHoSo": "000.00.12.H22-240315-0007", "MaTTHC": "1.001612", "TenTTHC": "Đăng ký khai sinh",
    "MaLinhVuc": "G14-TP05", "TenLinhVuc": "Hộ tịch", "ChuHoSo": "Nguyễn Văn A", "LoaiDoiTuong": "1",
    "MaDoiTuong": "", "ThongTinKhac": "", "Email": "a@example.vn", "Fax": "0912345678", "SoDienThoai": "0912345678",
    "TrichYeuHoSo": "Đăng ký khai sinh cho con", "NgayTiepNhan": "20240315083000", "NgayHenTra": "20240318170000",
    "TrangThaiHoSo": "2", "NgayTra": "", "ThongTinTra": "", "HinhThuc": "0", "NgayKetThucXuLy": "",
    "DonViXuLy": "Sở Xây dựng", "GhiChu": "", "DanhSachLePhi": [], "DanhSachTepDinhKemKhac": [],
    "DanhSachHoSoBoSung": [], "DanhSachGiayToKetQua": [],
    "TaiLieuNop": [{"TenTepDinhKem": "To khai.pdf", "MaThanhPhanHoSo": "TP1", "TepDinhKemId": "50123",
                    "DuongDanTaiTepTin": "https://dichvucong.example.gov.vn/documents/To+khai.pdf",
                    "IsDeleted": "False"}],
}

# Tân Dân DichVuCong (2024-25), through a provincial gateway: bare array, the
# post-2022 fields, a finished online dossier (example B of the research notes).
TANDAN_RETURNED = {
    "MaHoSo": "H56.14-240823-0001", "MaTTHC": "1.001193", "TenTTHC": "Đăng ký khai sinh",
    "MaLinhVuc": "G14-TP05", "TenLinhVuc": "Hộ tịch", "KenhThucHien": "2", "SoGiayToChuHoSo": "038090001234",
    "ChuHoSo": "Lê Văn C", "LoaiDoiTuong": "1", "MaDoiTuong": "7a1f", "ThongTinKhac": "", "Email": "", "Fax": "",
    "SoDienThoai": "0987654321", "TrichYeuHoSo": "Đăng ký khai sinh", "NgayTiepNhan": "20240823091502",
    "NgayHenTra": "20240826170000", "TrangThaiHoSo": "10", "NgayTra": "20240826100000", "ThongTinTra": "",
    "HinhThuc": "0", "NgayKetThucXuLy": "20240826093000", "DonViXuLy": "UBND phường Hải Châu (cũ)", "GhiChu": "",
    "TaiLieuNop": [{"TepDinhKemId": "", "TenTepDinhKem": "Tờ khai", "IsDeleted": "False", "MaThanhPhanHoSo": "GT.001",
                    "DuongDanTaiTepTin": "https://gw/file?path=tk.pdf", "DuocSoHoa": "1", "DuocTaiSuDung": "0",
                    "DuocLayTuKhoDMQG": "0", "MaKetQuaThayThe": ""}],
    "DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí", "MaPhiLePhi": "1", "HinhThucThu": "1", "Gia": "8000",
                       "LoaiPhiLePhi": "1"}],
    "DanhSachTepDinhKemKhac": [], "DanhSachHoSoBoSung": [],
    "DanhSachGiayToKetQua": [{"TenGiayTo": "ketqua.pdf", "MaThanhPhanHoSo": "", "GiayToId": "",
                              "DuongDanTepTinKetQua": "https://gw/file?path=ketqua.pdf",
                              "MaGiayToKetQua": "KQ.G14.000123"}],
    "NoiNopHoSo": "2", "HoSoCoThanhPhanSoHoa": "1", "TaiKhoanDuocXacThucVoiVNeID": "0",
    "DuocThanhToanTrucTuyen": "1", "NgayTuChoi": "", "DinhDanhCHS": [{"LoaiDinhDanh": "1", "SoDinhDanh": "038090001234"}],
    "NgayNopHoSo": "20240823091502", "DSKetNoiCSDL": [{"MaCSDL": "7"}],
}

# A supplement round as DanhSachHoSoBoSung states it (example C of the notes).
SUPPLEMENT_ENTRY = {
    "HoSoBoSungId": "1", "NguoiYeuCauBoSung": "Trần Thị B", "NoiDungBoSung": "Bổ sung bản sao CCCD",
    "NgayBoSung": "20240316100000", "NguoiTiepNhanBoSung": "Trần Thị B", "ThongTinTiepNhan": "",
    "NgayTiepNhanBoSung": "20240318090000", "TrangThaiBoSung": "1", "DanhSachGiayToBoSung": [],
    "DanhSachLePhiBoSung": [], "NgayHenTraTruoc": "20240318170000", "NgayHenTraMoi": "20240320170000",
}


def step(dossier_id: str, at: str, status: str, who: str = "Trần Thị B", what: str = "") -> dict:
    """A CapNhatTienDoHoSoMC step as OpenCPS builds it."""
    return {"MaHoSo": dossier_id, "NguoiXuLy": who, "ChucDanh": "", "ThoiDiemXuLy": at, "PhongBanXuLy": "",
            "NoiDungXuLy": what, "TrangThai": status, "NgayBatDau": "", "NgayKetThucTheoQuyDinh": ""}
