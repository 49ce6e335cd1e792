"""A real local Redis Cluster for scale tests: N masters from Debian's
redis-server (`--cluster-enabled yes`), joined by `redis-cli --cluster create`.

Ready means every node reports ``cluster_state:ok`` with all 16,384 slots
assigned and agrees on which node serves each slot: a conclusive check, not a
sleep."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from chiso.embedded import EmbeddedProcess, die_with_parent, redis_server_binary, wait_for_port

SLOTS = 16384


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair (port, port + 10000) for a cluster node")


@dataclass
class LocalCluster:
    nodes: list[EmbeddedProcess]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def _slot_owners(port: int) -> dict[tuple[int, int], int] | None:
    """This node's view: slot range -> port of the master serving it, or None if
    the node does not yet say the cluster is ok with every slot assigned."""
    client = redis.Redis(port=port, socket_timeout=2)
    try:
        info = client.cluster("INFO")  # redis-py parses it into a dict
        if str(info.get("cluster_state")) != "ok" or int(info.get("cluster_slots_ok", 0)) != SLOTS:
            return None
        return {(start, end): int(master[1]) for start, end, master, *_ in client.execute_command("CLUSTER SLOTS")}
    finally:
        client.close()


def start_redis_cluster(work_dir: Path, masters: int = 3, timeout_s: float = 60.0) -> LocalCluster:
    redis_cli = shutil.which("redis-cli")
    if redis_cli is None:
        raise RuntimeError("redis-cli not found: install the Debian package redis-tools")
    nodes: list[EmbeddedProcess] = []
    try:
        for _ in range(masters):
            port = cluster_port()
            node_dir = work_dir / f"node-{port}"
            node_dir.mkdir(parents=True)
            log_path = node_dir / "redis.log"
            proc = subprocess.Popen(
                [redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
                 "--cluster-enabled", "yes", "--cluster-config-file", str(node_dir / "nodes.conf"),
                 "--cluster-node-timeout", "5000", "--save", "", "--appendonly", "no",
                 "--dir", str(node_dir), "--logfile", str(log_path)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                start_new_session=True, preexec_fn=die_with_parent,
            )
            nodes.append(EmbeddedProcess("redis-cluster-node", port, proc, log_path))
            wait_for_port(port, proc=proc)
        subprocess.run(
            [redis_cli, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in nodes),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=timeout_s,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            views = [_slot_owners(n.port) for n in nodes]
            if all(v is not None for v in views) and all(v == views[0] for v in views):
                return LocalCluster(nodes)
            if time.monotonic() > deadline:
                raise TimeoutError(f"the cluster did not agree on its {SLOTS} slots within {timeout_s}s: {views}")
            time.sleep(0.1)
    except BaseException:
        for node in nodes:
            node.stop()
        raise
