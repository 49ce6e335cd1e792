"""The procedure catalogue (catalogue.md): loading, validation with file, line and
column, applies_to resolution, the sample catalogue, and /api/v1/procedures."""

from __future__ import annotations

from datetime import date

import pytest
from starlette.testclient import TestClient

from chiso.api import create_app
from chiso.settings import Settings
from processors.catalogue import ProcedureCatalogue, ProcedureCatalogueError
from processors.units import UnitCatalogue
from sources.samples import sample_procedures_path, sample_units_path

UNITS = UnitCatalogue.from_csv_text(
    "unit_id,name,parent_id,level\n"
    "p,Province,,province\n"
    "p-a,Dept A,p,department\n"
    "p-x,Commune X,p,commune\n"
    "p-y,Commune Y,p,commune\n"
)
HEADER = ("procedure_id,name,applies_to,online_service,fee_required,citizen,decided_on,"
          "published_on_time,public_on_time,content_complete\n")


def load(rows: str, header: str = HEADER) -> ProcedureCatalogue:
    return ProcedureCatalogue.from_csv_text(header + rows, UNITS, "test.csv")


def test_rows_levels_and_units_resolve() -> None:
    cat = load('1.001193,Đăng ký khai sinh,level:commune,full,false,TRUE,2026-11-02,1,true,\n'
               '2.001583,"Đăng ký thành lập công ty TNHH, một thành viên",p-a;p-x,partial,true,0,,,,1\n')
    assert cat.of_unit("p-x") == {"1.001193", "2.001583"} and cat.of_unit("p-y") == {"1.001193"}
    assert cat.of_unit("p-a") == {"2.001583"} and cat.of_unit("p") == frozenset()
    assert cat.of_units(["p", "p-a", "p-x", "p-y"]) == {"1.001193", "2.001583"}
    birth = cat.get("1.001193")
    assert birth.citizen and not birth.fee_required and birth.published_on_time and birth.public_on_time
    assert birth.decided_on == date(2026, 11, 2) and not birth.content_complete and birth.online
    firm = cat.get("2.001583")
    assert firm.name == "Đăng ký thành lập công ty TNHH, một thành viên" and firm.decided_on is None
    assert firm.fee_required and not firm.citizen and firm.content_complete
    assert cat.name("2.001583") == firm.name and cat.name("9.999999") is None


def test_unknown_units_and_levels_are_reported_and_ignored() -> None:
    cat = load("1,One,p-a;p-nowhere;level:district,full,,,,,,\n")
    assert cat.of_unit("p-a") == {"1"}
    assert cat.unknown_targets == {"p-nowhere": ["1"], "level:district": ["1"]}


@pytest.mark.parametrize("rows, where", [
    ("1,One,p-a,online,,,,,,\n", "test.csv:2: column online_service"),
    ("1,One,p-a,full,maybe,,,,,\n", "test.csv:2: column fee_required"),
    ("1,One,p-a,full,,,2026-13-01,,,\n", "test.csv:2: column decided_on"),
    ("1,One,p-a,full,,,,,yes,\n", "test.csv:2: column public_on_time"),
    ("1,One,p-a,full,,,,,,\n,Two,p-a,full,,,,,,\n", "test.csv:3: column procedure_id"),
    ("1,One,p-a,full,,,,,,\n1,Again,p-a,full,,,,,,\n", "test.csv:3: column procedure_id: '1' is already on line 2"),
    ("1,One,p-a,full,,\n", "test.csv:2: expected 10 cells, got 6"),
])
def test_a_bad_row_names_file_line_and_column(rows: str, where: str) -> None:
    with pytest.raises(ProcedureCatalogueError) as err:
        load(rows)
    assert str(err.value).startswith(where), err.value


def test_a_missing_column_is_named() -> None:
    with pytest.raises(ProcedureCatalogueError, match=r"test.csv:1: missing column\(s\) online_service"):
        load("1,One,p-a\n", header="procedure_id,name,applies_to\n")


def test_the_sample_catalogue_is_real_and_consistent() -> None:
    units = UnitCatalogue.from_path(sample_units_path())
    cat = ProcedureCatalogue.from_path(sample_procedures_path(), units)
    assert len(cat) >= 40 and not cat.unknown_targets
    assert cat.get("1.001193").name == "Thủ tục đăng ký khai sinh"
    commune = next(u for u in units.all() if u.level == "commune")
    assert {"1.001193", "2.000815"} <= cat.of_unit(commune.unit_id)
    assert {p.online_service for p in cat.all()} == {"full", "partial", "none"}
    assert any(p.fee_required for p in cat.all()) and any(not p.citizen for p in cat.all())
    # every procedure has its provenance and the simulator's figures
    assert all(p.extra.get("source", "").strip() for p in cat.all())
    assert all(int(p.extra["processing_days"]) >= 1 for p in cat.all())


def test_the_api_serves_the_catalogue(tmp_path) -> None:
    settings = Settings(redis="redis://127.0.0.1:9/0", kafka=None, state_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        everything = client.get("/api/v1/procedures").json()
        assert everything["total"] == len(everything["procedures"]) >= 40
        birth = next(p for p in everything["procedures"] if p["procedure_id"] == "1.001193")
        assert birth["applies_to"] == ["level:commune"] and birth["online_service"] == "full"
        assert client.get("/api/v1/procedures?unit=nowhere").status_code == 404


def test_a_bad_catalogue_stops_the_server(tmp_path) -> None:
    bad = tmp_path / "procedures.csv"
    bad.write_text(HEADER + "1,One,dng,sometimes,,,,,,\n", encoding="utf-8")
    settings = Settings(redis="redis://127.0.0.1:9/0", kafka=None, state_dir=tmp_path, procedures=str(bad))
    with pytest.raises(ProcedureCatalogueError, match=r"procedures.csv:2: column online_service"):
        create_app(settings)
