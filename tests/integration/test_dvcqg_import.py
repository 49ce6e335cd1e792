"""`chiso import-dvcqg`: an archive of past syncs through the same derivation, with
its mistakes listed by line and dead-lettered, and one clear line for a usage error."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from sources.dvcqg.payload import PROGRESS, SYNC
from tests.dvcqg_samples import OPENCPS_RECEIVED, TANDAN_RETURNED, step
from tests.integration.test_dvcqg import dvcqg_stack, expected_events, topic_events
from tests.integration.test_pipeline import read_topic

pytestmark = pytest.mark.integration


def test_import_dvcqg_sends_an_archive_and_lists_what_it_rejected(make_stack, tmp_path) -> None:
    stack = dvcqg_stack(make_stack, tmp_path)
    lines = [
        orjson.dumps({"session": "old", "madonvi": "000.00.00.H22", "service": SYNC, "data": [OPENCPS_RECEIVED]}),
        orjson.dumps([TANDAN_RETURNED]),
        b"{not json",
        orjson.dumps([step(OPENCPS_RECEIVED["MaHoSo"], "20240316100000", "5"),
                      step(OPENCPS_RECEIVED["MaHoSo"], "20240317100000", "4")]),
        b"",
        orjson.dumps(dict(OPENCPS_RECEIVED, MaHoSo="BAD-2", TrangThaiHoSo="11")),
    ]
    archive = tmp_path / "syncs.jsonl"
    archive.write_bytes(b"\n".join(lines) + b"\n")
    run = lambda *args: subprocess.run([sys.executable, "-m", "chiso.cli", "import-dvcqg", *args], env=stack.env,  # noqa: E731
                                       capture_output=True, text=True, timeout=120)
    out = run(str(archive))
    assert out.returncode == 1, out.stderr
    assert "5 line(s), 5 item(s)" in out.stdout and "4 item(s) imported, 1 rejected" in out.stdout
    assert "line 3: body is not valid JSON" in out.stdout
    assert "line 6 (BAD-2): dvcqg_bad_field: TrangThaiHoSo: Input should be less than or equal to 10" in out.stdout
    want = expected_events((SYNC, OPENCPS_RECEIVED), (SYNC, TANDAN_RETURNED),
                           (PROGRESS, step(OPENCPS_RECEIVED["MaHoSo"], "20240316100000", "5")),
                           (PROGRESS, step(OPENCPS_RECEIVED["MaHoSo"], "20240317100000", "4")))
    assert topic_events(stack, len(want)) == want
    dead = read_topic(stack.settings.kafka, stack.settings.dlq_topic, 2)
    assert sorted(orjson.loads(r.value)["source"] for r in dead) == [f"{archive}:3", f"{archive}:6"]

    again = run(str(archive))  # run again: the same events, no new reception
    assert f"{len(want) - 2} event(s) sent" in again.stdout, again.stdout

    missing = run(str(tmp_path / "nope.jsonl"))
    # the first line says which Kafka and Redis the command uses (#12); then the one error line
    using, *errors = missing.stderr.strip().splitlines()
    assert using == (f"chiso: using Kafka {stack.settings.kafka} (CHISO_KAFKA), "
                     f"Redis {stack.settings.redis} (CHISO_REDIS)")
    assert missing.returncode == 2 and len(errors) == 1 and errors[0].startswith("chiso import-dvcqg: cannot read")
    bad = tmp_path / "bad.csv"
    bad.write_text("agency,unit_id\nX,nope\n", encoding="utf-8")
    wrong = subprocess.run([sys.executable, "-m", "chiso.cli", "import-dvcqg", str(archive)],
                           env=dict(stack.env, CHISO_DVCQG_AGENCIES=str(bad)), capture_output=True, text=True,
                           timeout=120)
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines()[-1] == f"chiso import-dvcqg: {bad}:2: column unit_id: 'nope' is not a unit of the unit catalogue"
