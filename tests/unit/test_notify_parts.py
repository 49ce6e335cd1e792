"""The notifier's pure parts: the recipients file, routing, messages, digest schedule."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

import orjson
import pytest

from chiso.notify.config import NotifyConfigError, load_recipients, unknown_units
from chiso.notify.messages import Messages
from chiso.notify.routing import intake_of, route
from chiso.notify.schedule import first_digest_at, in_office, next_digest_at
from chiso.settings import Settings
from processors.calendar import WorkingCalendar

pytestmark = pytest.mark.unit

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "notify-recipients.example.toml"
UNITS, PROCEDURES = Settings().load_catalogues()
CAL = WorkingCalendar()


def alert(**over) -> dict:
    return {"dossier_id": "D1", "unit_id": "dng-sxd", "state": "nearing_due", "due_at": "2024-03-21T09:00:00+07:00",
            "at": "2024-03-20T15:00:00+07:00", "procedure_id": PROCEDURES.all()[0].procedure_id,
            "officer_id": "cb-sxd-001", **over}


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "recipients.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_the_example_file_is_valid_and_names_known_units() -> None:
    r = load_recipients(EXAMPLE)
    assert r.smtp is not None and r.smtp.host == "mail.danang.gov.vn"
    assert "change-me" not in repr(r.smtp) and "ABC-DEF" not in repr(r.webhooks)  # secrets never print
    assert unknown_units(r, UNITS) == []


@pytest.mark.parametrize(("text", "expected"), [
    ('[smtp]\nhost="h"\nsender="s@x.vn"\n[units.a]\nemail=["not-an-address"]\n', "units.a.email.0: not an e-mail address"),
    ('[units.a]\nwebhooks=["nope"]\n', "units.a.webhooks: no [webhooks.nope] section"),
    ('[units.a]\nemail=["a@b.vn"]\n', "smtp: e-mail addresses are configured but there is no [smtp] section"),
    ('digest_at = "25:00"\n', "digest_at:"),
    ('[units.a]\nemial=["a@b.vn"]\n', "units.a.emial: Extra inputs are not permitted"),
    ('[units.a\n', "not valid TOML"),
])
def test_a_bad_file_names_the_key_and_the_reason(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(NotifyConfigError) as err:
        load_recipients(write(tmp_path, text))
    assert expected in str(err.value) and str(tmp_path) in str(err.value)


def test_unknown_units_are_reported(tmp_path: Path) -> None:
    r = load_recipients(write(tmp_path, '[units.dng-sxd]\n[units.dng-nope]\n'))
    assert unknown_units(r, UNITS) == ["dng-nope"]


def test_the_officer_first_else_the_unit_else_the_nearest_configured_ancestor(tmp_path: Path) -> None:
    r = load_recipients(EXAMPLE)
    assert route(alert(), r, UNITS).emails == ("nguyenvana@sxd.danang.gov.vn",)
    assert route(alert(officer_id="cb-unknown"), r, UNITS).emails == ("motcua@sxd.danang.gov.vn",)
    assert route(alert(officer_id=None), r, UNITS).webhooks == ("sxd-chat",)
    commune = next(u.unit_id for u in UNITS.all() if u.parent_id == "dng" and u.unit_id != "dng-sxd")
    to_province = route(alert(unit_id=commune, officer_id=None), r, UNITS)
    assert (to_province.emails, to_province.webhooks, to_province.digest_unit) == ((), (), "dng")
    assert route(alert(unit_id="not-in-catalogue", officer_id=None), r, UNITS).digest_unit is None


def test_deliveries_have_stable_ids_so_a_redelivered_alert_is_one_alert() -> None:
    r = load_recipients(EXAMPLE)
    raw = orjson.dumps(alert())
    first, again = intake_of(raw, r, UNITS), intake_of(raw, r, UNITS)
    assert first == again
    assert [orjson.loads(b)["channel"] for _, b in first.jobs] == ["email", "webhook"]
    later = intake_of(orjson.dumps(alert(at="2024-03-22T08:00:00+07:00")), r, UNITS)
    assert later.alert_id != first.alert_id and {j for j, _ in later.jobs}.isdisjoint(j for j, _ in first.jobs)


def test_vietnamese_and_english_messages_name_procedure_due_officer_and_link() -> None:
    m = Messages(load_recipients(EXAMPLE), UNITS, PROCEDURES)
    vi = m.email(alert(), "vi")
    procedure = PROCEDURES.all()[0].name
    assert vi.subject == "[chiso] Hồ sơ D1 sắp đến hạn: hạn 09:00 ngày 21/03/2024"
    for part in (procedure, "Nguyễn Văn A", "Sở Xây dựng",
                 "https://chiso.danang.gov.vn/api/v1/dossiers?unit=dng-sxd&state=nearing_due"):
        assert part in vi.text
    en = m.email(alert(state="overdue", officer_id=None), "en")
    assert en.subject == "[chiso] Dossier D1 overdue: due 21/03/2024 09:00"
    assert "officer in charge" in en.text and "apology letter" in en.text
    assert procedure in m.chat(alert(), "vi")


def test_a_digest_lists_what_still_needs_action_and_counts_the_rest() -> None:
    m = Messages(load_recipients(EXAMPLE), UNITS, PROCEDURES)
    items = [alert(), alert(dossier_id="D2"), alert(dossier_id="D3", state="overdue")]
    digest = m.digest("dng-sxd", items, {"D1": "overdue", "D2": None, "D3": "overdue"},
                      {"overdue": 5, "nearing_due": 1}, datetime.fromisoformat("2024-03-20T16:00:00+07:00"), "vi")
    assert digest.subject == "[chiso] Tổng hợp cảnh báo hạn xử lý hồ sơ, Sở Xây dựng, ngày 20/03/2024"
    assert "D1 | Quá hạn" in digest.text and "D3 | Quá hạn" in digest.text and "D2" not in digest.text
    assert "5 hồ sơ quá hạn" in digest.text and "Đã xử lý hoặc không còn cảnh báo từ đó: 1 hồ sơ" in digest.text


def vn(text: str) -> datetime:
    return datetime.fromisoformat(text + "+07:00")


def test_digests_go_on_working_days_inside_office_hours() -> None:
    four = time(16, 0)
    assert next_digest_at(vn("2024-03-22T16:30:00"), four, CAL) == vn("2024-03-25T16:00:00")  # Friday -> Monday
    assert next_digest_at(vn("2024-04-17T16:30:00"), four, CAL) == vn("2024-04-19T16:00:00")  # Giỗ Tổ 18/4 skipped
    assert next_digest_at(vn("2024-03-20T09:00:00"), four, CAL) == vn("2024-03-20T16:00:00")
    assert first_digest_at(vn("2024-03-20T16:30:00"), four, CAL) == vn("2024-03-20T16:00:00")   # due, office open
    assert first_digest_at(vn("2024-03-20T18:00:00"), four, CAL) == vn("2024-03-21T16:00:00")   # office closed
    assert not in_office(vn("2024-03-23T10:00:00"), CAL) and in_office(vn("2024-03-25T10:00:00"), CAL)
