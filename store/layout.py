"""Which Redis layout a process talks to, and the client for it.

``CHISO_REDIS_CLUSTER`` = ``no``: one Redis node, keys untagged (the layout a
single node always had). ``yes``: a Redis Cluster, every key the apply path
touches tagged by its Kafka partition (store/keys.py ``Keys.shard``), so each
script call stays inside one hash slot. ``auto`` asks the server
(``INFO cluster`` / ``cluster_enabled``).

On a cluster the partition count is part of the layout (a dossier's keys are
tagged by the partition its events arrive on): it is recorded at first start
and every later start with another count refuses to run.
"""

from __future__ import annotations

import logging
import time
from typing import Literal

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster

from store.keys import Keys

log = logging.getLogger(__name__)

Mode = Literal["auto", "yes", "no"]


class LayoutMismatch(RuntimeError):
    """The Redis state was written with another partition count."""


def server_is_cluster(url: str) -> bool:
    """``cluster_enabled`` from the server's ``INFO cluster``."""
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        return bool(int(client.info("cluster").get("cluster_enabled", 0)))
    finally:
        client.close()


def is_cluster(url: str, mode: Mode, wait_s: float = 30.0) -> bool:
    """``auto`` waits up to ``wait_s`` for the server to answer: guessing would
    write one layout's keys into the other's server."""
    if mode != "auto":
        return mode == "yes"
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return server_is_cluster(url)
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            log.warning("CHISO_REDIS_CLUSTER=auto: Redis does not answer yet; asking again")
            time.sleep(1.0)


def layout_keys(prefix: str, cluster: bool, partitions: int) -> Keys:
    if cluster and partitions < 1:
        raise ValueError("a Redis Cluster layout needs the Kafka partition count (CHISO_PARTITIONS)")
    return Keys(prefix, partitions if cluster else 0)


def sync_client(url: str, cluster: bool, **kwargs) -> redis.Redis:
    """redis.Redis, or a RedisCluster discovering the cluster from the URL's node."""
    if cluster:
        return RedisCluster.from_url(url, **kwargs)
    return redis.Redis.from_url(url, **kwargs)


def async_client(url: str, cluster: bool, **kwargs) -> aioredis.Redis:
    if cluster:
        return AsyncRedisCluster.from_url(url, **kwargs)
    return aioredis.Redis.from_url(url, **kwargs)


def mismatch_message(recorded: int, wanted: int) -> str:
    return (f"Redis Cluster state was written for {recorded} Kafka partitions, CHISO_PARTITIONS is {wanted}: "
            f"dossiers would change partition (and keys); set CHISO_PARTITIONS={recorded}, or lay the "
            f"state out again for {wanted}: flush the cluster (FLUSHALL on each master) and run `chiso rebuild`")


def recorded_first(client: redis.Redis, key: str, value: str | int) -> bytes:
    """``value`` stored at ``key`` unless something is already; what is there."""
    client.set(key, value, nx=True)
    return client.get(key)


def check_partitions(client: redis.Redis, keys: Keys) -> None:
    """Record the partition count at first start; refuse another one later."""
    if not keys.clustered:
        return
    recorded = int(recorded_first(client, keys.state("partitions"), keys.partitions))
    if recorded != keys.partitions:
        raise LayoutMismatch(mismatch_message(recorded, keys.partitions))


async def check_partitions_async(client: aioredis.Redis, keys: Keys) -> None:
    if not keys.clustered:
        return
    key = keys.state("partitions")
    await client.set(key, keys.partitions, nx=True)
    recorded = int(await client.get(key))
    if recorded != keys.partitions:
        raise LayoutMismatch(mismatch_message(recorded, keys.partitions))


class RulesMismatch(LayoutMismatch):
    """The counters in Redis were written with other counting rules."""


async def rules_changed(client: aioredis.Redis, keys: Keys, rules: str) -> RulesMismatch:
    """What a running worker says when a script refused its write because
    `chiso rebuild` recorded other rules than its own (the apply, store/writer.py,
    and the deadline timer, store/timer.py): names the rules ``keys`` records."""
    recorded = (await client.get(keys.state("rules")) or b"").decode()
    return RulesMismatch(
        f"quy tắc đếm đã đổi (chiso rebuild), worker này dừng / the counters in Redis are now counted with "
        f"the rules {recorded}, this worker's settings give {rules}: it writes nothing more and stops; start "
        f"the workers with the settings the rebuild used (docs/settings.md)")


def check_rules(client: redis.Redis, keys: Keys, rules: str) -> None:
    """Record the counting rules (``CountingRules.fingerprint``) at first
    start; refuse other ones later: counters written under two sets of rules
    would add up to numbers that neither set gives (processors/rules.py)."""
    recorded = recorded_first(client, keys.state("rules"), rules).decode()
    if recorded != rules:
        raise RulesMismatch(
            f"quy tắc đếm khác với dữ liệu đã lưu / the counters in Redis were counted with the rules "
            f"{recorded}, these settings give {rules} (CHISO_INDEX__SECOND_SUPPLEMENT_IS_LATE, "
            f"CHISO_INDEX__SYNC_MAX_DELAY_HOURS, CHISO_INDEX__PETITION_WORKING_DAYS): set them back, or count "
            f"again from the events with `chiso rebuild` (docs/settings.md)")


def open_sync(url: str, mode: Mode, prefix: str, partitions: int, wait_s: float = 30.0, rules: str | None = None,
              **kwargs) -> tuple[redis.Redis, Keys]:
    """A client and the keys of the layout it serves, the partition count
    checked, and the counting rules when a writer names them."""
    cluster = is_cluster(url, mode, wait_s)
    keys = layout_keys(prefix, cluster, partitions)
    client = sync_client(url, cluster, **kwargs)
    check_partitions(client, keys)
    if rules is not None:
        check_rules(client, keys, rules)
    return client, keys


class LayoutCheck:
    """A process that only reads (the HTTP server) starts even while Redis does not
    answer (its requests are 503 until it does). With ``auto`` it then has to take
    a layout without asking: the single node's. Until Redis confirms that guess,
    every request asks again (``problem``), so a guess that turns out wrong answers
    503 with the reason instead of zeros or errors from the wrong keys."""

    def __init__(self, url: str, cluster: bool, confirmed: bool) -> None:
        self.url = url
        self.cluster = cluster
        self.confirmed = confirmed

    def problem(self) -> str | None:
        if self.confirmed:
            return None
        try:
            actual = server_is_cluster(self.url)
        except redis.RedisError:
            return None  # still down: the request meets the outage itself (503)
        if actual == self.cluster:
            self.confirmed = True
            return None
        return ("Redis is a Redis Cluster but did not answer when this server started, so the server "
                "took the single node's layout (CHISO_REDIS_CLUSTER=auto): restart it, or set "
                "CHISO_REDIS_CLUSTER=yes")


def open_reader(url: str, mode: Mode, prefix: str, partitions: int,
                **kwargs) -> tuple[redis.Redis, Keys, LayoutCheck]:
    """``open_sync`` for a process that only reads: it does not wait for Redis."""
    confirmed = True
    try:
        cluster = is_cluster(url, mode, wait_s=0)
    except redis.ConnectionError:
        log.warning("Redis does not answer: CHISO_REDIS_CLUSTER=%s taken as a single node until Redis "
                    "confirms it (set it to yes or no to not depend on it)", mode)
        cluster, confirmed = False, False
    keys = layout_keys(prefix, cluster, partitions)
    client = sync_client(url, cluster, **kwargs)
    try:
        check_partitions(client, keys)
    except redis.ConnectionError:
        pass  # checked by the workers, which wait for Redis; a reader writes nothing
    return client, keys, LayoutCheck(url, cluster, confirmed)


def prepare(url: str, mode: Mode, prefix: str, partitions: int, wait_s: float = 300.0,
            rules: str | None = None) -> tuple[bool, Keys]:
    """For asyncio processes that write, at start (before their loop): whether
    the server is a cluster, and the keys, the partition count (and the
    counting rules, when given) checked with a short-lived client. Waits for
    Redis up to ``wait_s``."""
    client, keys = open_sync(url, mode, prefix, partitions, wait_s, rules)
    client.close()
    return keys.clustered, keys
