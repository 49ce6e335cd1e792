"""Redis Cluster: what the partition-tagged key layout relies on, and the whole
pipeline on it (broker -> worker -> cluster -> API and /metrics equal to the
batch reference, before and after a full replay), on a real local 3-master
cluster (tests/cluster.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from redis.cluster import RedisCluster
from redis.exceptions import ResponseError

from processors.calendar import WorkingCalendar
from store.keys import Keys
from store.layout import LayoutMismatch, async_client, open_sync
from store.plan import PlanRules
from store.writer import BatchApplier
from tests.cluster import LocalCluster, start_redis_cluster
from tests.integration.conftest import Stack
from tests.integration.test_deadlines import expected_states
from tests.integration.test_generation_guard import stale_generation_writes_nothing
from tests.integration.test_pipeline import (
    assert_event_counters,
    assert_every_answer_matches_reference,
    assert_matches_reference,
    assert_metrics_equal_the_api,
    messy_feed,
    read_topic,
    send,
)
from tests.integration.test_pipelined_apply import Recording, numbers_of, partitioned
from tests.integration.test_rules_guard import NEW, refused_after_a_rebuild
from tests.integration.test_workers import CAS_NOW, state_snapshot

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    local = start_redis_cluster(tmp_path_factory.mktemp("cluster"))
    yield local
    local.stop()


def test_a_script_may_touch_every_key_of_its_partition_tag_and_no_other(cluster: LocalCluster) -> None:
    client = RedisCluster.from_url(cluster.url)
    try:
        touch = "redis.call('incr', ARGV[1]); return redis.call('get', ARGV[1])"
        # Keys the script computes itself (not declared) are fine within the slot of
        # the declared key: the apply script declares one key per partition.
        assert client.eval(touch, 1, "t:{p1}wm", "t:{p1}a:unit:2026-11") == b"1"
        with pytest.raises(ResponseError, match="non local key"):
            client.eval(touch, 1, "t:{p1}wm", "t:{p2}a:unit:2026-11")
        masters = {client.get_node_from_key(f"t:{{p{n}}}wm").port for n in range(12)}
        assert masters == {node.port for node in cluster.nodes}  # partitions spread over every master
    finally:
        client.close()


# -- the whole pipeline on the cluster ------------------------------------------

NOW = "2024-03-20T15:00:00+07:00"


@pytest.fixture
def cluster_stack(services, cluster: LocalCluster, tmp_path: Path) -> Iterator[Stack]:
    """A chiso deployment over the shared broker and the local cluster: its URL
    names one node; CHISO_REDIS_CLUSTER=auto finds out it is a cluster."""
    broker, _ = services
    stack = Stack(broker, cluster.nodes[0], tmp_path / "stack", NOW)
    stack.env["CHISO_REDIS_CLUSTER"] = "auto"
    stack.redis.close()
    stack.redis = RedisCluster.from_url(cluster.url)
    yield stack
    stack.stop_all()
    stack.redis.close()


def cluster_keys(stack: Stack) -> list[bytes]:
    return sorted(k for k in stack.redis.scan_iter(f"{stack.settings.redis_prefix}*", count=1000, target_nodes="all"))


def test_on_a_cluster_every_answer_equals_the_batch_reference_also_after_a_replay(cluster_stack: Stack) -> None:
    stack = cluster_stack
    events, messages = messy_feed(seed=23, dossiers=300)
    stack.start("server")
    stack.start("worker")
    send(stack, messages)
    stack.wait_ready()
    assert_every_answer_matches_reference(stack, events, messages)

    # the layout: every derived key tagged by one of the 4 partitions, and the
    # partitions spread over more than one master
    prefix = stack.settings.redis_prefix
    keys = cluster_keys(stack)
    tags = {k[len(prefix):].split(b"}")[0] + b"}" for k in keys}
    assert {f"{{{p}}}".encode() for p in range(4)} <= tags <= {f"{{{p}}}".encode() for p in range(4)} | {b"{state}"}
    assert len({stack.redis.get_node_from_key(k.decode()).port for k in keys}) > 1
    assert stack.redis.get(f"{prefix}{{state}}:state:partitions") == b"4"

    # alerts: each partition's outbox is published, once per dossier and state
    outboxes = [f"{prefix}{{{p}}}:outbox" for p in range(4)]
    deadline = time.monotonic() + 90
    while any(stack.redis.llen(k) for k in outboxes) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(stack.redis.llen(k) for k in outboxes), "alerts still queued"
    want = expected_states(events, datetime.fromisoformat(NOW))
    expected_alerts = {(d, v[1]) for d, v in want.items() if v[1] in ("overdue", "nearing_due")}
    assert expected_alerts
    records = read_topic(stack.settings.kafka, stack.settings.alerts_topic, 10**9, timeout_s=10)
    sent = Counter((a["dossier_id"], a["state"]) for a in (orjson.loads(r.value) for r in records))
    assert [k for k, n in sent.items() if n > 1] == [], "an alert was sent twice"
    assert expected_alerts <= set(sent), "a dossier in an alert state was never alerted"

    # replay: `chiso rebuild` flushes every partition's keys and applies the whole
    # log again (duplicates included); no number changes
    stack.kill("worker")
    done = subprocess.run([sys.executable, "-m", "chiso.cli", "rebuild", "--quiet"], env=stack.env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    stack.start("worker")
    stack.wait_ready()
    assert_matches_reference(stack, events)
    assert_metrics_equal_the_api(stack)
    assert_event_counters(stack, events, messages)
    # the identity keys live under {state} only, also after the per-partition flush,
    # but for each partition's copy of the counting rules (what its apply script reads)
    elsewhere = [k for k in cluster_keys(stack) if b":state:" in k and not k.startswith(f"{prefix}{{state}}".encode())]
    assert sorted(elsewhere) == sorted(f"{prefix}{{{p}}}:state:rules".encode() for p in range(4))


def test_another_partition_count_refuses_to_start(cluster: LocalCluster) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    client, keys = open_sync(cluster.url, "auto", prefix, 4)
    try:
        assert keys.clustered and keys.partitions == 4
        assert keys.shard(3).open == f"{prefix}{{3}}:open"
        client.close()
        client, _ = open_sync(cluster.url, "yes", prefix, 4)  # the same count: fine
        with pytest.raises(LayoutMismatch, match="written for 4 Kafka partitions, CHISO_PARTITIONS is 6"):
            open_sync(cluster.url, "yes", prefix, 6)
    finally:
        client.close()


def test_a_single_node_keeps_its_untagged_keys(services) -> None:
    _, store = services
    url = f"redis://127.0.0.1:{store.port}/0"
    client, keys = open_sync(url, "auto", "chiso:", 4)
    client.close()
    assert not keys.clustered and keys.shards == [keys]
    assert keys.shard(3).open == keys.open == "chiso:open" and keys.state("owners") == "chiso:state:owners"


def test_a_worker_refuses_a_topic_with_another_partition_count_in_one_line(cluster_stack: Stack) -> None:
    stack = cluster_stack  # its topic has CHISO_PARTITIONS (4) partitions
    settings = stack.settings
    env = {**stack.env, "CHISO_PARTITIONS": str(settings.partitions + 2)}
    done = subprocess.run([sys.executable, "-m", "chiso.cli", "worker"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr and len(lines) == 1, done.stderr
    assert f"has {settings.partitions} partitions, CHISO_PARTITIONS is {settings.partitions + 2}" in lines[0]
    # nothing recorded: the right count still starts (the state is new)
    client, keys = open_sync(f"redis://127.0.0.1:{stack.redis.get_default_node().port}/0", "yes",
                             settings.redis_prefix, settings.partitions)
    client.close()
    assert keys.partitions == settings.partitions


def test_notify_dry_run_reads_the_notifiers_keys_on_a_cluster(cluster_stack: Stack, tmp_path: Path) -> None:
    stack = cluster_stack
    keys = Keys(stack.settings.redis_prefix, stack.settings.partitions)
    assert "{n}" in keys.notify("digest_next")
    digest_at = datetime.fromisoformat("2024-03-21T16:00:00+07:00")
    stack.redis.set(keys.notify("digest_next"), digest_at.timestamp())
    stack.redis.sadd(keys.notify("digest_units"), "dng-sxd")
    stack.redis.hset(keys.notify_digest("dng-sxd"), mapping={"a1": "{}", "a2": "{}"})
    recipients = tmp_path / "recipients.toml"
    recipients.write_text("", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "chiso.cli", "notify", "--recipients", str(recipients), "--dry-run"],
                         env=stack.env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"next digest: {digest_at.isoformat()}; alerts waiting for it: dng-sxd (2)" in out.stdout, out.stdout


def test_on_a_cluster_chunks_written_in_a_pipeline_equal_one_write(cluster: LocalCluster) -> None:
    """Each partition's share is written in pipelined chunks on its own
    master (store/writer.py), as on a single node: the same state as one write
    per share, each dead letter sent once, no retry."""
    _, values = messy_feed(seed=47, dossiers=300)
    messages = partitioned(values, 4)
    batches = [messages[i:i + 600] for i in range(0, len(messages), 600)]
    tag = uuid.uuid4().hex[:6]
    piped, whole = Keys(f"piped{tag}:", 4), Keys(f"whole{tag}:", 4)
    piped_dl, whole_dl = Recording(), Recording()

    async def run() -> int:
        r = async_client(cluster.url, True)
        try:
            rules = PlanRules(WorkingCalendar())
            pipelined = BatchApplier(r, piped, piped_dl, rules, lambda: CAS_NOW, pipeline_chunk=9)
            one_write = BatchApplier(r, whole, whole_dl, rules, lambda: CAS_NOW, pipeline_chunk=10**9)
            retries = 0
            for batch in batches:
                retries += (await pipelined.apply(batch)).retries
                await one_write.apply(batch)
            return retries
        finally:
            await r.aclose()

    assert asyncio.run(run()) == 0
    client = RedisCluster.from_url(cluster.url)
    try:
        for p in range(4):
            got = numbers_of(state_snapshot(client, piped.shard(p).prefix))
            want = numbers_of(state_snapshot(client, whole.shard(p).prefix))
            assert got and got == want, p
    finally:
        client.close()
    assert piped_dl.sent and sorted(piped_dl.sent) == sorted(whole_dl.sent)
    assert len(set(piped_dl.sent)) == len(piped_dl.sent)


def with_cluster_clients(cluster: LocalCluster, body) -> None:
    """Run ``await body(r, client)`` with an asyncio and a sync client of the
    cluster, both closed after (test_rules_guard.with_clients, on a cluster)."""
    client = RedisCluster.from_url(cluster.url)

    async def run() -> None:
        r = async_client(cluster.url, True)
        try:
            await body(r, client)
        finally:
            await r.aclose()

    try:
        asyncio.run(run())
    finally:
        client.close()


def test_on_a_cluster_a_batch_planned_with_other_rules_writes_nothing(cluster: LocalCluster) -> None:
    """A rebuild records the new counting rules in every partition's copy (the
    one its apply script can read, in its slot): a worker still running with
    the old ones is refused on every partition."""
    keys = Keys(f"rules{uuid.uuid4().hex[:6]}:", 4)

    async def body(r, client) -> None:
        await refused_after_a_rebuild(r, client, keys, 10**9)
        assert client.get(keys.state("rules")) == NEW.fingerprint().encode()  # the copy workers check at start

    with_cluster_clients(cluster, body)


def test_on_a_cluster_a_stale_halt_or_flush_writes_nothing(cluster: LocalCluster) -> None:
    """The generation is checked in the {state} slot's transaction that raises
    the halt or (first step of a flush on a cluster) the rebuilding flag."""
    keys = Keys(f"gen{uuid.uuid4().hex[:6]}:", 4)
    with_cluster_clients(cluster, lambda r, client: stale_generation_writes_nothing(r, client, keys))
