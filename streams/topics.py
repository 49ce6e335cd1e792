"""Topic declarations, and creation of the topics before any worker starts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.config import Topics

log = logging.getLogger(__name__)

T = TypeVar("T")


def with_admin(kafka: str, timeout_s: float, work: Callable[[KafkaAdminClient], T]) -> T:
    """``work`` with an admin client, retried until the broker answers (the
    embedded broker may still be starting) or ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=kafka, client_id="chiso-admin")
            try:
                return work(admin)
            finally:
                admin.close()
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise
            log.info("waiting for Kafka at %s: %s", kafka, exc)
            time.sleep(0.5)


def ensure_topics(kafka: str, topics: Topics, partitions: int, timeout_s: float = 30.0) -> None:
    """Create the input, dead-letter and alert topics if missing (idempotent)."""
    wanted = [NewTopic(name, partitions, 1) for name in (topics.events, topics.dead_letters, topics.alerts)]

    def create_missing(admin: KafkaAdminClient) -> None:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass

    with_admin(kafka, timeout_s, create_missing)


def topic_partition_count(kafka: str, topic: str, timeout_s: float = 30.0) -> int | None:
    """How many partitions ``topic`` has on the broker; None when it does not exist yet."""

    def count(admin: KafkaAdminClient) -> int | None:
        if topic not in set(admin.list_topics()):
            return None
        (described,) = admin.describe_topics([topic])
        return len(described["partitions"])

    return with_admin(kafka, timeout_s, count)
