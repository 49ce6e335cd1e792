"""End to end over the real broker and Redis: thousands of messy events in,
every API answer compared with the batch reference (tests/reference.py)."""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import date, datetime, timedelta

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from chiso.settings import sample_units_path
from processors.events import InvalidEvent, decode_event
from processors.units import UnitCatalogue
from sources.producers import key_of, make_producer
from tests import reference as ref
from tests.gen import INVALID_SAMPLES, POISON, history, petition_events
from tests.index_pipeline import REF_PROCEDURES, appointment

pytestmark = pytest.mark.integration

NOW = "2024-03-20T15:00:00+07:00"
NAMED = {  # the named windows as of NOW
    "today": (date(2024, 3, 20), date(2024, 3, 20)),
    "7d": (date(2024, 3, 14), date(2024, 3, 20)),
    "30d": (date(2024, 2, 20), date(2024, 3, 20)),
    "mtd": (date(2024, 3, 1), date(2024, 3, 20)),
    "qtd": (date(2024, 1, 1), date(2024, 3, 20)),
    "ytd": (date(2024, 1, 1), date(2024, 3, 20)),
    "all": (date(2000, 1, 1), date(2030, 12, 31)),
}
RANGES = [(date(2024, 3, 14), date(2024, 3, 14)), (date(2024, 3, 15), date(2024, 3, 18)),
          (date(2024, 3, 10), date(2024, 3, 31)), (date(2024, 3, 19), date(2024, 4, 2))]


def messy_feed(seed: int, dossiers: int) -> tuple[list[dict], list[bytes]]:
    """Valid dossier and petition events (shuffled, ~10% delivered twice) with
    every kind of invalid message mixed in. Returns (the valid events, the
    messages to send)."""
    rng = random.Random(seed)
    events = history(seed, dossiers)
    for i in range(dossiers // 20):
        events += petition_events(rng, f"P{seed}-{i:05d}")
    messages = [orjson.dumps(e) for e in events]
    messages += [orjson.dumps(e) for e in rng.sample(events, len(events) // 10)]
    rng.shuffle(messages)
    for raw in INVALID_SAMPLES.values():
        messages.insert(rng.randrange(len(messages) + 1), raw)
    return events, messages


def send(stack, messages: list[bytes]) -> None:
    producer = make_producer(stack.settings.kafka)
    for value in messages:
        producer.send(stack.settings.events_topic, key=key_of(value), value=value)
    producer.flush()
    producer.close()


def unit_sets(catalogue: UnitCatalogue) -> dict[tuple[str | None, str], set[str] | None]:
    known = {u.unit_id for u in catalogue.all()}
    return {
        (None, "subtree"): None,
        ("dng", "subtree"): known,
        ("dng", "self"): {"dng"},
        ("dng-sxd", "subtree"): {"dng-sxd"},
        ("dng-p-hai-chau", "self"): {"dng-p-hai-chau"},
        ("unknown-unit", "subtree"): {"unknown-unit"},
    }


def as_of(hi: date, now: str = NOW) -> datetime:
    return min(datetime.combine(hi + timedelta(days=1), datetime.min.time(), tzinfo=ref.VN),
               datetime.fromisoformat(now))


def assert_kpis_equal(answer: dict, events: list[dict], units: set[str], root: bool, lo: date, hi: date,
                      now: str = NOW, procedures: dict | None = None) -> None:
    """measures, ratios (kpis.md) and every indicator, group and score (index.md)
    as the separate batch reference computes them."""
    dossiers = ref.group([e for e in events if "dossier_id" in e and not e["type"].startswith("petition_")])
    petitions = {p: ref.RefPetition.of(evs) for p, evs in ref.petition_events_of(events).items()}
    measures = ref.measures(dossiers, units, ref.dates_between(lo, hi))
    assert answer["measures"] == {m: measures.get(m, 0) for m in answer["measures"]}
    for k, v in ref.ratios_of(measures).items():
        assert answer["ratios"][k] == (pytest.approx(v) if v is not None else None), k
    want = ref.ref_index(dossiers, petitions, procedures or REF_PROCEDURES, units, root, lo, hi, as_of(hi, now),
                         appointment)
    for code, (num, den, ratio, points) in want["indicators"].items():
        got = answer["index"]["indicators"][code]
        assert (got["numerator"], got["denominator"]) == (num, den), code
        assert got["points"] == (float(points) if points is not None else None), code
        assert got["ratio"] == (float(ratio) if ratio is not None else None), code
    assert answer["index"]["groups"] == {g: float(v) for g, v in want["groups"].items()}
    assert answer["index"]["score"] == float(want["score"])


def assert_matches_reference(stack, events: list[dict]) -> None:
    catalogue = UnitCatalogue.from_path(sample_units_path())
    every = {u.unit_id for u in catalogue.all()} | {"unknown-unit"}
    for (unit, scope), units in unit_sets(catalogue).items():
        params = {"scope": scope, **({"unit": unit} if unit else {})}
        root = unit in (None, "dng") and scope == "subtree"
        scope_units = every if units is None else units
        for name, (lo, hi) in NAMED.items():
            answer = stack.http.get("/api/v1/kpis", params={**params, "window": name}).json()
            assert answer["window"]["name"] == name
            assert_kpis_equal(answer, events, scope_units, root, lo, hi)
        for lo, hi in RANGES:
            answer = stack.http.get("/api/v1/kpis", params={**params, "from": lo.isoformat(), "to": hi.isoformat()}).json()
            assert answer["window"] == {"name": None, "from": lo.isoformat(), "to": hi.isoformat()}
            assert_kpis_equal(answer, events, scope_units, root, lo, hi)
        dossiers = ref.group([e for e in events if not e["type"].startswith("petition_")])
        for lo, hi in RANGES:
            if scope == "subtree":
                rep = stack.http.get("/api/v1/report", params={k: v for k, v in params.items() if k == "unit"} | {"from": lo.isoformat(), "to": hi.isoformat()}).json()
                want = ref.report(dossiers, units, lo, hi)
                assert {k: v for k, v in rep.items() if k not in ("unit", "from", "to")} == {k: want.get(k, 0) for k in rep if k not in ("unit", "from", "to")}


def assert_ranking_matches_reference(stack, events: list[dict]) -> None:
    dossiers = ref.group([e for e in events if not e["type"].startswith("petition_")])
    petitions = {p: ref.RefPetition.of(evs) for p, evs in ref.petition_events_of(events).items()}
    for window, (lo, hi) in (("30d", NAMED["30d"]), ("all", NAMED["all"])):
        answer = stack.http.get("/api/v1/ranking", params={"parent": "dng", "window": window}).json()
        catalogue = UnitCatalogue.from_path(sample_units_path())
        assert [i["unit"] for i in answer["items"]] != [] and len(answer["items"]) == len(catalogue.children("dng"))
        for item in answer["items"]:
            want = ref.ref_index(dossiers, petitions, REF_PROCEDURES, set(catalogue.subtree(item["unit"])), False,
                                 lo, hi, as_of(hi), appointment)
            assert item["score"] == float(want["score"]), item["unit"]
        scores = [i["score"] for i in answer["items"] if i["score"] is not None]
        assert scores == sorted(scores, reverse=True)
        assert [i["rank"] for i in answer["items"]] == list(range(1, len(answer["items"]) + 1))
    roots = stack.http.get("/api/v1/ranking", params={"window": "all"}).json()["items"]
    assert {i["unit"] for i in roots} == {"dng", "unknown-unit"}
    assert stack.http.get("/api/v1/ranking", params={"parent": "nope"}).status_code == 404


def assert_stake_matches_reference(stack, events: list[dict]) -> None:
    """index.md §5 for every child of the root, windows running and ended."""
    from processors.calendar import WorkingCalendar

    cal = WorkingCalendar()
    dossiers = ref.group(events)
    petitions = {p: ref.RefPetition.of(evs) for p, evs in ref.petition_events_of(events).items()}
    catalogue = UnitCatalogue.from_path(sample_units_path())
    x_now = datetime.fromisoformat(NOW)
    for window, (lo, hi) in (("30d", NAMED["30d"]), ("7d", NAMED["7d"]), ("past", RANGES[0])):
        params = {"parent": "dng", "limit": 500, "per_unit": 500} | (
            {"window": window} if window != "past" else {"from": lo.isoformat(), "to": hi.isoformat()})
        answer = stack.http.get("/api/v1/stake", params=params).json()
        x = as_of(hi)
        assert len(answer["items"]) == len(catalogue.children("dng"))
        listed = []
        for item in answer["items"]:
            units = set(catalogue.subtree(item["unit"]))
            want = ref.ref_index(dossiers, petitions, REF_PROCEDURES, units, False, lo, hi, x, appointment)
            for code, (_, _, _, points) in want["indicators"].items():
                assert item["lost"][code]["lost"] == pytest.approx(
                    ref.INDEX[code][1] - float(points or 0), abs=1e-12), (item["unit"], code)
            costs, dues = {}, {}
            if x == x_now:
                on_time = want["indicators"]["dossier_on_time"]
                satisfied = want["indicators"]["dossier_satisfaction"]
                for d, dossier in dossiers.items():
                    r = dossier.r
                    if r is None or r["unit_id"] not in units or not lo <= ref.ldate(ref.instant(r["occurred_at"])) <= hi:
                        continue
                    state, _ = ref.open_state(dossier, x, cal.working_time_s, cal.config.warning_threshold_s)
                    if state in (None, "overdue") or ref.ref_late(dossier, x):
                        continue
                    cost = ref.ref_points("dossier_on_time", on_time[0], on_time[1])[3] - ref.ref_points(
                        "dossier_on_time", on_time[0] - 1, on_time[1])[3]
                    unhappy = any(e["type"] == "complaint" and ref.ref_by(e["occurred_at"], x) for e in dossier.events)
                    rated = ref.ref_first(dossier, "rated")
                    unhappy |= rated is not None and rated["rating"] == "dissatisfied" and ref.ref_by(rated["occurred_at"], x)
                    if not unhappy and satisfied[0]:
                        cost += ref.ref_points("dossier_satisfaction", satisfied[0], satisfied[1])[3] - ref.ref_points(
                            "dossier_satisfaction", satisfied[0] - 1, satisfied[1])[3]
                    costs[d] = cost
                    due, paused = dossier.clock(as_of=x, inclusive=True)
                    dues[d] = dossier.effective(due, paused, x)
            assert {i["dossier_id"]: i["cost"] for i in item["dossiers"]} == {d: float(c) for d, c in costs.items()}
            # each with its effective due; the most costly first, then the most urgent
            assert {i["dossier_id"]: ref.instant(i["due_at"]) for i in item["dossiers"]} == dues
            assert [i["dossier_id"] for i in item["dossiers"]] == sorted(costs, key=lambda d: (-costs[d], dues[d], d))
            assert item["at_stake"] == float(sum(costs.values(), ref.Fraction(0))), item["unit"]
            assert item["open_in_time"] == len(costs)
            listed += [i["cost"] for i in item["dossiers"]]
        assert [i["cost"] for i in answer["dossiers"]] == sorted(listed, reverse=True)[:500]
        assert all(i["procedure_name"] or i["procedure_id"] == "9.999999" for i in answer["dossiers"])
    assert stack.http.get("/api/v1/stake", params={"parent": "nope"}).status_code == 404
    assert stack.http.get("/api/v1/stake", params={"parent": "dng", "unit": "dng"}).status_code == 400


def metric_samples(stack) -> dict[tuple[str, tuple], float]:
    text = stack.http.get("/metrics").text
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def assert_metrics_equal_the_api(stack) -> None:
    """/metrics says what the API says: every indicator's points and what is lost;
    a procedure the catalogue lacks is reported, not rejected."""
    samples = metric_samples(stack)
    assert stack.http.get("/api/v1/procedures").json()["unknown_procedures"] == ["9.999999"]
    assert samples[("dvc_unknown_procedures", ())] == 1
    for unit in ("dng", "dng-stp", "dng-p-hai-chau"):
        for window in ("today", "30d", "all"):
            index = stack.http.get("/api/v1/kpis", params={"unit": unit, "window": window}).json()["index"]
            assert samples[("dvc_index_score", (("unit", unit), ("window", window)))] == index["score"]
            for code, ind in index["indicators"].items():
                labels = (("indicator", code), ("unit", unit), ("window", window))
                assert samples.get(("dvc_index_indicator_points", labels)) == ind["points"], (unit, window, code)
                assert samples[("dvc_index_indicator_points_lost", labels)] == ind["max"] - (ind["points"] or 0.0)
            at_stake = stack.http.get("/api/v1/stake", params={"unit": unit, "window": window}).json()
            assert samples[("dvc_index_points_at_stake", (("unit", unit), ("window", window)))] == \
                at_stake["items"][0]["at_stake"]


def assert_event_counters(stack, events: list[dict], messages: list[bytes]) -> None:
    samples = metric_samples(stack)
    by_type = Counter(e["type"] for e in events)
    for kind, n in by_type.items():
        assert samples[("dvc_events_total", (("type", kind),))] == n, kind
    valid_messages = sum(1 for m in messages if not isinstance(decode_event(m), InvalidEvent))
    assert samples[("dvc_events_duplicate_total", ())] == valid_messages - len(events)
    invalid = Counter(decode_event(m).reason for m in messages if isinstance(decode_event(m), InvalidEvent))
    for reason, n in invalid.items():
        assert samples[("dvc_events_invalid_total", (("reason", reason),))] == n, reason


def read_topic(bootstrap: str, topic: str, expected: int, timeout_s: float = 30) -> list:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                             auto_offset_reset="earliest", consumer_timeout_ms=1000)
    parts = consumer.partitions_for_topic(topic) or set()
    consumer.assign([TopicPartition(topic, p) for p in parts])
    records = []
    deadline = time.monotonic() + timeout_s
    while len(records) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    consumer.close()
    return records


def assert_every_answer_matches_reference(stack, events: list[dict], messages: list) -> None:
    """KPIs and indicators, ranking, points at stake, /metrics and the event counters."""
    assert_matches_reference(stack, events)
    assert_ranking_matches_reference(stack, events)
    assert_stake_matches_reference(stack, events)
    assert_metrics_equal_the_api(stack)
    assert_event_counters(stack, events, messages)


def test_every_answer_equals_the_batch_reference(make_stack) -> None:
    stack = make_stack(now=NOW)
    events, messages = messy_feed(seed=11, dossiers=700)
    stack.start("server")
    stack.start("worker")
    send(stack, messages)
    stack.wait_ready()
    assert_every_answer_matches_reference(stack, events, messages)


def applied_messages(stack) -> int:
    """Messages whose effects are in Redis (from the stored watermarks)."""
    marks = stack.redis.hgetall(f"{stack.settings.redis_prefix}wm")
    return sum(int(v) + 1 for k, v in marks.items() if k.decode().startswith(stack.settings.events_topic + ":"))


def test_sigkill_mid_feed_changes_no_number(make_stack) -> None:
    """SIGKILL the worker while it is applying (between Redis writes and offset
    commits, which Faust makes every few seconds), several times."""
    stack = make_stack(now=NOW)
    events, messages = messy_feed(seed=12, dossiers=2500)
    stack.start("server")
    stack.start("worker")
    send(stack, messages)
    kills = 0
    for fraction in (0.15, 0.4, 0.65, 0.85):
        deadline = time.monotonic() + 120
        while applied_messages(stack) < fraction * len(messages) and time.monotonic() < deadline:
            time.sleep(0.02)
        if applied_messages(stack) < len(messages):
            stack.kill("worker")
            kills += 1
            stack.start("worker")
    assert kills >= 2, "the worker finished before it could be killed mid-feed"
    stack.wait_ready(timeout_s=180)
    assert_matches_reference(stack, events)
    assert_event_counters(stack, events, messages)  # no double counts, even of duplicates


def test_invalid_messages_go_to_the_dead_letter_topic_with_their_reason(make_stack) -> None:
    stack = make_stack(now=NOW)
    stack.start("server")
    stack.start("worker")
    send(stack, list(INVALID_SAMPLES.values()))
    stack.wait_ready()
    records = read_topic(stack.settings.kafka, stack.settings.dlq_topic, len(INVALID_SAMPLES))
    assert len(records) == len(INVALID_SAMPLES)
    letters = [orjson.loads(r.value) for r in records]
    by_reason = {d["reason"]: d for d in letters}
    assert set(by_reason) == set(INVALID_SAMPLES)
    for reason, raw in INVALID_SAMPLES.items():
        letter = by_reason[reason]
        assert letter["raw"] == raw.decode("utf-8", errors="replace")
        assert letter["topic"] == stack.settings.events_topic
        assert isinstance(letter["partition"], int) and isinstance(letter["offset"], int)
        assert letter["detail"] and letter["rejected_at"]
    # nothing invalid is counted as a dossier
    answer = stack.http.get("/api/v1/kpis", params={"window": "all"}).json()
    assert sum(answer["measures"].values()) == 0


def test_poison_messages_stop_nothing_but_themselves(make_stack) -> None:
    """The messages that once stopped every partition for good (extreme instants,
    values whose dead letter outgrew a Kafka record) are dead-lettered with their
    reason, cut to size, and every valid event of the feed still counts."""
    stack = make_stack(now=NOW)
    events, messages = messy_feed(seed=13, dossiers=60)
    poison = [m for m, _ in POISON]
    mixed = messages[: len(messages) // 2] + poison + messages[len(messages) // 2:]
    stack.start("server")
    stack.start("worker")
    send(stack, mixed)
    stack.wait_ready()
    assert_matches_reference(stack, events)
    invalid = [m for m in mixed if isinstance(decode_event(m), InvalidEvent)]
    letters = [orjson.loads(r.value) for r in read_topic(stack.settings.kafka, stack.settings.dlq_topic, len(invalid))]
    assert len(letters) == len(invalid)
    reasons = Counter(d["reason"] for d in letters)
    for _, reason in POISON:
        assert reasons[reason] >= 1, reason
    cut = [d for d in letters if d.get("raw_truncated")]
    assert sorted(d["raw_length"] for d in cut) == sorted(len(m) for m in poison[-2:])
    assert all(len(d["raw_sha256"]) == 64 and len(orjson.dumps(d)) < 1_000_000 for d in cut)
    samples = metric_samples(stack)
    out_of_range = sum(1 for m in invalid if decode_event(m).reason == "out_of_range")
    assert samples[("dvc_events_invalid_total", (("reason", "out_of_range"),))] == out_of_range >= 3


def test_readiness_is_not_fooled_by_under_reported_end_offsets(make_stack) -> None:
    """Tansu reports the start of the last batch as the end offset; /readyz must
    still see the unapplied batch."""
    stack = make_stack(now=NOW)
    stack.start("server")
    stack.start("worker")
    events, messages = messy_feed(seed=13, dossiers=20)
    send(stack, messages)
    stack.wait_ready()
    stack.kill("worker")
    late = history(seed=99, dossiers=40)
    producer = make_producer(stack.settings.kafka)
    for e in late:  # one partition, one producer batch: the quirk's worst case
        producer.send(stack.settings.events_topic, key=b"same-key", value=orjson.dumps(e), partition=0)
    producer.flush()
    producer.close()
    time.sleep(1.5)  # past the probe's cache
    r = stack.http.get("/readyz")
    assert r.status_code == 503
    assert r.json()["lag"] == len(late)
    stack.start("worker")
    stack.wait_ready()
    assert_matches_reference(stack, events + late)
