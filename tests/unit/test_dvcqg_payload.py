"""Request bodies in every shape the one-stop systems send, and the agency mapping
file's validation."""

from __future__ import annotations

import orjson
import pytest

from sources.dvcqg.agencies import AgencyMap, AgencyMapError, dossier_prefix
from sources.dvcqg.payload import PROGRESS, SYNC, Body, PayloadError, decode, guess_service, standalone
from tests.dvcqg_samples import AGENCIES_CSV, OPENCPS_RECEIVED, catalogues, step

pytestmark = pytest.mark.unit
ITEM = OPENCPS_RECEIVED


@pytest.mark.parametrize(("body", "expected"), [
    (ITEM, Body(SYNC, [ITEM])),
    ([ITEM, ITEM], Body(SYNC, [ITEM, ITEM])),
    ({"data": [ITEM]}, Body(SYNC, [ITEM])),
    ({"data": ITEM}, Body(SYNC, [ITEM])),
    ({"session": "s3cret", "madonvi": "000.00.00.H22", "isUpdating": "False", "service": "DongBoHoSoMC",
      "data": [ITEM]}, Body(SYNC, [ITEM], "000.00.00.H22", "s3cret")),
    ({"session": "s", "madonvi": "m", "service": "CapNhatTienDoHoSoMC", "data": [step("A-1", "20240101000000", "4")]},
     Body(PROGRESS, [step("A-1", "20240101000000", "4")], "m", "s")),
    ({"service": "LayThuTuc", "maTTHC": "1.001612"}, Body("LayThuTuc", [])),
    ({"service": "DongBoHoSoMC", "MaDinhDanhDV": "000.00.01.H22", "data": [ITEM]},
     Body(SYNC, [ITEM], unit_code="000.00.01.H22")),
])
def test_every_shape_unwraps(body: object, expected: Body) -> None:
    assert decode(orjson.dumps(body), SYNC) == expected


@pytest.mark.parametrize(("raw", "words"), [
    (b"", "empty body"), (b"{not json", "not valid JSON"), (b"42", "object or array"),
    (b'{"data": "x"}', "data must be an array"),
])
def test_unusable_bodies_say_why(raw: bytes, words: str) -> None:
    with pytest.raises(PayloadError, match=words):
        decode(raw, SYNC)


def test_archive_items_are_told_apart_by_their_fields() -> None:
    assert guess_service(ITEM) == SYNC
    assert guess_service(step("A-1", "20240101000000", "4")) == PROGRESS
    assert guess_service({"MaHoSo": "A-1"}) == SYNC  # validated as a dossier, and rejected as one


def test_a_dead_letter_item_is_a_body_that_can_be_sent_again_without_the_session() -> None:
    raw = standalone(SYNC, ITEM, "000.00.00.H22", "000.00.01.H22")
    assert b"session" not in raw
    assert decode(raw, PROGRESS) == Body(SYNC, [ITEM], "000.00.00.H22", None, "000.00.01.H22")


def test_dossier_prefix() -> None:
    assert dossier_prefix("000.00.12.H22-240315-0007") == "000.00.12.H22"
    assert dossier_prefix("H56.14-240823-0001") == "H56.14"
    assert dossier_prefix("HS0001") is None


@pytest.mark.parametrize(("text", "words"), [
    ("code,unit\nH56.14,dng\n", "agencies.csv:1: the header must start with agency,unit_id"),
    ("agency,unit_id\nH56.14,dng-nope\n", "agencies.csv:2: column unit_id: 'dng-nope' is not a unit"),
    ("agency,unit_id\nH56.14,dng\n\nh56.14 ,dng-sxd\n", "agencies.csv:4: column agency: 'h56.14' maps to 'dng' on line 2"),
    ("agency,unit_id\n,dng\n", "agencies.csv:2: column agency: must not be empty"),
    ("agency,unit_id\nH56.14\n", "agencies.csv:2: expected agency,unit_id"),
])
def test_a_bad_mapping_file_stops_start_up_with_file_and_line(text: str, words: str) -> None:
    units, _ = catalogues()
    with pytest.raises(AgencyMapError) as info:
        AgencyMap.build(units, text, "agencies.csv")
    assert words in str(info.value)


def test_mapping_file_comments_repeats_and_precedence() -> None:
    units, _ = catalogues()
    text = AGENCIES_CSV + "# a comment line\nH56.14,dng-p-hai-chau\nSở Tư pháp,dng-sxd\n"
    agencies = AgencyMap.build(units, text, "agencies.csv")
    assert agencies.from_file == 6
    assert agencies.unit_of("h56.14") == "dng-p-hai-chau"
    assert agencies.unit_of("Sở Tư pháp") == "dng-sxd"  # the file wins over the catalogue's names
    assert agencies.unit_of("dng-stp") == "dng-stp"     # unit ids map with no configuration
    assert agencies.unit_of("Nowhere") is None


def test_a_missing_mapping_file_is_one_clear_error(tmp_path) -> None:
    units, _ = catalogues()
    with pytest.raises(AgencyMapError, match="cannot read the agency mapping"):
        AgencyMap.from_path(units, str(tmp_path / "nope.csv"))
