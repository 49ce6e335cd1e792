"""The notifier's counters on /metrics, read from Redis at scrape time (the
notifier writes them: store/notify_queue.py), and the alerts the publisher
dropped as no longer true.

    dvc_notify_deliveries_total{channel="email"} 12
    dvc_notify_failures_total{channel="webhook"} 1
    dvc_notify_retries_total{channel="webhook"} 3
    dvc_notify_unrouted_alerts_total 0
    dvc_notify_pending_deliveries 0
    dvc_alerts_suppressed_total{state="overdue"} 1711
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from processors.open_state import ALERT_STATES
from store.keys import Keys

log = logging.getLogger(__name__)

CHANNELS = ("email", "digest", "webhook")


class NotifyCollector(Collector):
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def collect(self) -> Iterator:
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.hgetall(self.keys.notify("stats"))
            pipe.zcard(self.keys.notify("due"))
            for shard in self.keys.shards:  # Redis Cluster: per partition (store/keys.py)
                pipe.hgetall(shard.globals)
            raw_stats, pending, *per_shard = pipe.execute()
        except redis.RedisError:
            log.warning("cannot read the notifier's counters", exc_info=True)
            return  # the main collector reports the scrape error
        stats = {k.decode(): int(v) for k, v in raw_stats.items()}
        g: dict[str, int] = {}
        for raw_globals in per_shard:
            for k, v in raw_globals.items():
                g[k.decode()] = g.get(k.decode(), 0) + int(v)
        for name, doc, key in (
            ("dvc_notify_deliveries", "Alert deliveries made (e-mail, digest, webhook)", "sent"),
            ("dvc_notify_failures", "Alert deliveries given up (refused, or out of attempts)", "failed"),
            ("dvc_notify_retries", "Failed delivery attempts that were tried again", "retries"),
        ):
            family = CounterMetricFamily(name, doc, labels=["channel"])
            for channel in sorted({*CHANNELS, *(k.split(":", 1)[1] for k in stats if k.startswith(key + ":"))}):
                family.add_metric([channel], stats.get(f"{key}:{channel}", 0))
            yield family
        unrouted = CounterMetricFamily("dvc_notify_unrouted_alerts", "Alerts with no recipient configured")
        unrouted.add_metric([], stats.get("unrouted", 0))
        yield unrouted
        queued = GaugeMetricFamily("dvc_notify_pending_deliveries", "Deliveries waiting to be made or retried")
        queued.add_metric([], pending)
        yield queued
        suppressed = CounterMetricFamily("dvc_alerts_suppressed", "Queued alerts dropped before publication: the dossier had left the state", labels=["state"])
        for state in ALERT_STATES:
            suppressed.add_metric([state], g.get(f"alerts_suppressed:{state}", 0))
        yield suppressed
