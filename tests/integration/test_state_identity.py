"""State that knows what it holds (docs/architecture.md, "State identity").

Each test starts from a fault operators meet (Redis emptied, Redis restored from
an older snapshot, the topic recreated) and ends with every number equal to the
batch reference, or with /readyz saying why not. Real Tansu, real redis-server,
real worker and server processes."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from kafka.admin import KafkaAdminClient, NewTopic

from tests.integration.test_pipeline import NOW, assert_event_counters, assert_matches_reference, messy_feed, send
from tests.stack import stop_group

pytestmark = pytest.mark.integration

FAST_CHECKS = {"CHISO_IDENTITY_CHECK_S": "2", "CHISO_OWNER_TTL_S": "6"}


def fault_stack(make_stack, **env: str):
    stack = make_stack(now=NOW)
    stack.env.update(FAST_CHECKS, **env)
    stack.start("server")
    stack.start("worker")
    return stack


def wait_not_ready(stack, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        r = stack.http.get("/readyz")
        if r.status_code == 503:
            return r.json()
        time.sleep(0.2)
    raise AssertionError(f"still ready after {timeout_s}s: {r.json()}\n{stack.logs()}")


def prefix_keys(stack) -> list[bytes]:
    return list(stack.redis.scan_iter(match=f"{stack.settings.redis_prefix}*", count=1000))


def report(what: str, seconds: float) -> None:
    print(f"\n[recovery] {what}: correct again {seconds:.1f}s after the fault")


def test_empty_redis_is_filled_again_from_the_log(make_stack) -> None:
    stack = fault_stack(make_stack)
    first, first_messages = messy_feed(seed=31, dossiers=300)
    send(stack, first_messages)
    stack.wait_ready()
    assert_matches_reference(stack, first)

    stack.redis.flushall()  # Redis restarted without persistence
    fault = time.monotonic()
    body = wait_not_ready(stack)
    assert not body["ready"]
    second, second_messages = messy_feed(seed=32, dossiers=100)
    send(stack, second_messages)
    stack.wait_ready(timeout_s=180)
    report("empty Redis (FLUSHALL), then new events", time.monotonic() - fault)
    assert_matches_reference(stack, first + second)
    assert_event_counters(stack, first + second, first_messages + second_messages)


def test_empty_redis_with_an_idle_feed_is_filled_again(make_stack) -> None:
    """No new event arrives: the periodic check, not a batch, finds Redis behind."""
    stack = fault_stack(make_stack)
    events, messages = messy_feed(seed=33, dossiers=200)
    send(stack, messages)
    stack.wait_ready()
    stack.redis.flushall()
    fault = time.monotonic()
    wait_not_ready(stack)
    stack.wait_ready(timeout_s=180)
    report("empty Redis (FLUSHALL), idle feed", time.monotonic() - fault)
    assert_matches_reference(stack, events)
    assert_event_counters(stack, events, messages)


def test_redis_restored_from_an_older_snapshot_catches_up(make_stack) -> None:
    stack = fault_stack(make_stack)
    first, first_messages = messy_feed(seed=34, dossiers=250)
    send(stack, first_messages)
    stack.wait_ready()
    # what an RDB taken now would hold: a key the worker deleted between the
    # scan and its DUMP (the alert outbox, emptied by the publisher) is not in it
    snapshot = {k: v for k in prefix_keys(stack) if (v := stack.redis.dump(k)) is not None}
    second, second_messages = messy_feed(seed=35, dossiers=250)
    send(stack, second_messages)
    stack.wait_ready()

    with stack.redis.pipeline() as pipe:  # restore the older snapshot
        for k in prefix_keys(stack):
            pipe.delete(k)
        for k, v in snapshot.items():
            pipe.restore(k, 0, v)
        pipe.execute()
    fault = time.monotonic()
    wait_not_ready(stack)
    stack.wait_ready(timeout_s=180)
    report("Redis restored from an older snapshot", time.monotonic() - fault)
    assert_matches_reference(stack, first + second)
    assert_event_counters(stack, first + second, first_messages + second_messages)


def recreate_topic(stack) -> None:
    admin = KafkaAdminClient(bootstrap_servers=stack.settings.kafka)
    try:
        admin.delete_topics([stack.settings.events_topic])
        deadline = time.monotonic() + 60
        while stack.settings.events_topic in admin.list_topics():
            assert time.monotonic() < deadline, "the topic was not deleted"
            time.sleep(0.2)
        admin.create_topics([NewTopic(stack.settings.events_topic, stack.settings.partitions, 1)])
    finally:
        admin.close()


def test_a_recreated_topic_is_detected_and_rebuilt(make_stack) -> None:
    """The default rule: the log the state reflects is gone, so the state is
    rebuilt from the log that exists; nothing of the new log is skipped."""
    stack = fault_stack(make_stack)
    old, old_messages = messy_feed(seed=36, dossiers=300)
    send(stack, old_messages)
    stack.wait_ready()
    generation = stack.http.get("/readyz").json()["generation"]

    stack.kill("worker")
    recreate_topic(stack)
    fault = time.monotonic()
    new, new_messages = messy_feed(seed=37, dossiers=150)  # fewer: new offsets all below the old watermarks
    send(stack, new_messages)
    stack.start("worker")
    deadline = time.monotonic() + 120
    while stack.http.get("/readyz").json().get("generation") == generation:
        assert time.monotonic() < deadline, f"no rebuild\n{stack.logs()}"
        time.sleep(0.3)
    stack.wait_ready(timeout_s=180)
    report("topic recreated (rule rebuild)", time.monotonic() - fault)
    assert_matches_reference(stack, new)
    assert_event_counters(stack, new, new_messages)


def test_a_recreated_topic_under_halt_stops_until_chiso_rebuild(make_stack) -> None:
    stack = fault_stack(make_stack, CHISO_ON_LOG_RESET="halt")
    old, old_messages = messy_feed(seed=38, dossiers=200)
    send(stack, old_messages)
    stack.wait_ready()
    stack.kill("worker")
    recreate_topic(stack)
    new, new_messages = messy_feed(seed=39, dossiers=100)
    send(stack, new_messages)
    stack.start("worker")
    deadline = time.monotonic() + 120
    while True:
        body = stack.http.get("/readyz").json()
        if any(r.startswith("halted") for r in body.get("reasons", [])):
            break
        assert time.monotonic() < deadline, f"never halted: {body}\n{stack.logs()}"
        time.sleep(0.3)
    assert stack.http.get("/readyz").status_code == 503

    fault = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "chiso.cli", "rebuild", "--quiet"], env=stack.env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "events/s" in done.stdout
    stack.wait_ready(timeout_s=180)
    report("topic recreated (rule halt, then chiso rebuild)", time.monotonic() - fault)
    assert_matches_reference(stack, new)
    assert_event_counters(stack, new, new_messages)

    # The halted worker resumes by itself after the rebuild: what comes next counts.
    later, later_messages = messy_feed(seed=46, dossiers=60)
    send(stack, later_messages)
    stack.wait_ready(timeout_s=180)
    assert_matches_reference(stack, new + later)
    assert_event_counters(stack, new + later, new_messages + later_messages)
    # While halted it said so once, and did not log a failure per retry.
    worker_log = (stack.workdir / "worker.log").read_text(errors="replace")
    assert worker_log.count("waiting for `chiso rebuild`") == 1, worker_log[-3000:]
    assert "Halted" not in worker_log, worker_log[-3000:]


def test_a_recreated_topic_under_continue_keeps_the_old_numbers(make_stack) -> None:
    """The rule `chiso up` uses with its embedded broker: the old log's effects
    stay, the new log's events all count."""
    stack = fault_stack(make_stack, CHISO_ON_LOG_RESET="continue")
    old, old_messages = messy_feed(seed=40, dossiers=200)
    send(stack, old_messages)
    stack.wait_ready()
    stack.kill("worker")
    recreate_topic(stack)
    fault = time.monotonic()
    new, new_messages = messy_feed(seed=41, dossiers=100)
    send(stack, new_messages)
    stack.start("worker")
    body = wait_not_ready(stack)  # within the server's probe cache (1 s) of the reset
    assert any("reset" in r for r in body["reasons"]), body
    stack.wait_ready(timeout_s=180)
    report("topic recreated (rule continue)", time.monotonic() - fault)
    assert_matches_reference(stack, old + new)
    assert_event_counters(stack, old + new, old_messages + new_messages)


def test_readiness_without_a_topic_or_a_worker(make_stack) -> None:
    stack = make_stack(now=NOW)
    stack.env.update(FAST_CHECKS)
    stack.env = dict(stack.env, CHISO_EVENTS_TOPIC="no-such-topic-" + stack.settings.group_id)
    stack.start("server")
    r = stack.http.get("/readyz")
    assert r.status_code == 503 and "does not exist" in r.json()["error"]
    stack.stop_all()

    stack = make_stack(now=NOW)
    stack.env.update(FAST_CHECKS)
    stack.start("server")
    events, messages = messy_feed(seed=42, dossiers=50)
    send(stack, messages)
    r = stack.http.get("/readyz")  # events and no worker
    assert r.status_code == 503
    assert any("no worker" in reason for reason in r.json()["reasons"])
    stack.start("worker")
    stack.wait_ready()
    assert_matches_reference(stack, events)
    # every event applied, but nobody applies the next ones; stop_group kills it if it hangs
    stop_group(stack.procs.pop("worker"))
    body = wait_not_ready(stack)
    assert any("no worker" in reason for reason in body["reasons"]), body
    assert body["lag"] == 0


def _worker_refuses(env: dict) -> str:
    done = subprocess.run([sys.executable, "-m", "chiso.cli", "worker"], env=env,
                          capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and "Traceback" not in done.stderr and len(lines) == 1, done.stdout + done.stderr
    return lines[0]


def test_other_counting_rules_refuse_to_start_until_chiso_rebuild(make_stack) -> None:
    """Counters written under two sets of counting rules add up to numbers
    neither gives: a worker with other rules refuses to start (one line, exit
    2) until `chiso rebuild` counts everything again with them."""
    stack = fault_stack(make_stack)
    events, messages = messy_feed(seed=40, dossiers=100)
    send(stack, messages)
    stack.wait_ready()
    assert_matches_reference(stack, events)
    old_rules = stack.settings.index.counting_rules().fingerprint()
    rules_key = f"{stack.settings.redis_prefix}state:rules"
    assert stack.redis.get(rules_key).decode() == old_rules
    stack.kill("worker")

    other = {**stack.env, "CHISO_INDEX__PETITION_WORKING_DAYS": "10"}
    line = _worker_refuses(other)
    assert f"counted with the rules {old_rules}" in line and "pd=10" in line and "chiso rebuild" in line
    assert stack.redis.get(rules_key).decode() == old_rules  # nothing changed by the refusal

    done = subprocess.run([sys.executable, "-m", "chiso.cli", "rebuild", "--quiet"], env=other,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    new_rules = stack.redis.get(rules_key).decode()
    assert new_rules != old_rules and "pd=10" in new_rules
    assert "pd=10" in _worker_refuses(stack.env)  # now the old rules are the other ones
    stack.env = other
    stack.start("worker")
    stack.wait_ready(timeout_s=180)


def _rebuild_with_other_rules(stack) -> dict:
    """`chiso rebuild` with other counting rules (petitions' 10 working days) while
    the stack's worker runs; returns the environment with those rules."""
    other = {**stack.env, "CHISO_INDEX__PETITION_WORKING_DAYS": "10"}
    done = subprocess.run([sys.executable, "-m", "chiso.cli", "rebuild", "--quiet"], env=other,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return other


def _stops_on_other_rules(stack) -> None:
    """The stack's worker stops with exit 2, saying the rules changed in one line."""
    # still in stack.procs while waited for: if it never stops, the teardown kills it
    assert stack.procs["worker"].wait(timeout=300) == 2, stack.logs()
    stack.procs.pop("worker")
    log = (stack.workdir / "worker.log").read_text(errors="replace")
    said = [line for line in log.splitlines() if "quy tắc đếm đã đổi" in line]
    # the worker's error log, then `chiso worker`'s one line (chiso/errors.py)
    assert said and said[-1].startswith("chiso worker: ") and "pd=10" in said[-1], log[-3000:]


def test_a_worker_running_when_chiso_rebuild_records_other_rules_stops_without_writing(make_stack) -> None:
    """The start check cannot see a rebuild that happens later: a worker still
    running with the old counting rules has its next batch refused by the apply
    script, writes nothing, and stops in one line (exit 2); a worker with the
    rebuild's rules then applies what it left."""
    stack = fault_stack(make_stack)
    first, first_messages = messy_feed(seed=43, dossiers=100)
    send(stack, first_messages)
    stack.wait_ready()
    other = _rebuild_with_other_rules(stack)
    wm_key = f"{stack.settings.redis_prefix}wm"
    rebuilt = stack.redis.hgetall(wm_key)
    assert rebuilt

    second, second_messages = messy_feed(seed=44, dossiers=60)
    send(stack, second_messages)
    _stops_on_other_rules(stack)
    assert stack.redis.hgetall(wm_key) == rebuilt  # the old rules wrote nothing of the new events

    stack.env = other
    stack.start("worker")
    stack.wait_ready(timeout_s=180)
    assert_event_counters(stack, first + second, first_messages + second_messages)


def test_a_worker_whose_timer_meets_the_rules_of_a_rebuild_stops_without_writing(make_stack) -> None:
    """The same stop on the timer's path: no event comes after `chiso rebuild`
    recorded other rules, but a dossier's transition falls due; the old worker's
    transition script refuses it, and the worker stops in one line (exit 2),
    having moved nothing; a worker with the rebuild's rules then moves it."""
    stack = fault_stack(make_stack)
    _, messages = messy_feed(seed=45, dossiers=60)
    send(stack, messages)
    stack.wait_ready()
    other = _rebuild_with_other_rules(stack)

    # CHISO_NOW is fixed, so no transition falls due by itself: make one due, as
    # the clock would (an entry of the timer set at or before now)
    timer = f"{stack.settings.redis_prefix}timer"
    dossier, _ = stack.redis.zrange(timer, 0, 0, withscores=True)[0]
    stack.redis.zadd(timer, {dossier: 0})
    _stops_on_other_rules(stack)
    assert stack.redis.zscore(timer, dossier) == 0  # not moved under the old rules

    stack.env = other
    stack.start("worker")
    stack.wait_ready(timeout_s=180)
    deadline = time.monotonic() + 120  # a bound: the new worker's timer ticks every second
    while stack.redis.zscore(timer, dossier) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stack.redis.zscore(timer, dossier) != 0, "the worker with the rebuild's rules never moved it"
