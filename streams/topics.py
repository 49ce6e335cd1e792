"""Topic declarations, and creation of the topics before any worker starts."""

from __future__ import annotations

import logging
import time

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.config import Topics

log = logging.getLogger(__name__)


def ensure_topics(kafka: str, topics: Topics, partitions: int, timeout_s: float = 30.0) -> None:
    """Create the input, dead-letter and alert topics if missing (idempotent).

    Retries until the broker answers: the embedded broker may still be starting.
    """
    wanted = [NewTopic(name, partitions, 1) for name in (topics.events, topics.dead_letters, topics.alerts)]
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=kafka, client_id="chiso-admin")
            try:
                existing = set(admin.list_topics())
                missing = [t for t in wanted if t.name not in existing]
                if missing:
                    try:
                        admin.create_topics(missing)
                    except TopicAlreadyExistsError:
                        pass
                return
            finally:
                admin.close()
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise
            log.info("waiting for Kafka at %s: %s", kafka, exc)
            time.sleep(0.5)


def topic_partition_count(kafka: str, topic: str, timeout_s: float = 30.0) -> int | None:
    """How many partitions ``topic`` has on the broker; None when it does not exist yet.

    Retries until the broker answers, like ``ensure_topics``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=kafka, client_id="chiso-admin")
            try:
                if topic not in set(admin.list_topics()):
                    return None
                (described,) = admin.describe_topics([topic])
                return len(described["partitions"])
            finally:
                admin.close()
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise
            log.info("waiting for Kafka at %s: %s", kafka, exc)
            time.sleep(0.5)
