"""Redis Cluster: what the partition-tagged key layout relies on, checked on a
real local 3-master cluster (tests/cluster.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis.cluster import RedisCluster
from redis.exceptions import ResponseError

from tests.cluster import LocalCluster, start_redis_cluster

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
