"""Create and inspect the pipeline's topics (faust does not create its source topic)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic  # type: ignore[attr-defined]

from pipeline.settings import Settings


@dataclass(frozen=True, slots=True)
class TopicInfo:
    name: str
    partitions: int


def admin_client(bootstrap_servers: str, **extra: str) -> AdminClient:
    from pipeline.kafka import quiet

    return AdminClient(quiet({"bootstrap.servers": bootstrap_servers, **extra}))


def changelog_topic(settings: Settings, table: str = "delivered") -> str:
    """faust's name for a table's changelog topic (co-partitioned with the traces topic)."""
    return f"{settings.consumer_group}-{table}-changelog"


def pipeline_topics(settings: Settings) -> list[str]:
    """Every topic the worker reads or writes, per-destination ones included."""
    from pipeline.sinks.routing import route_topic

    topics = [
        settings.kong_log_topic,
        settings.dead_letter_topic,
        settings.traces_dead_letter_topic,
        settings.traces_topic,
        changelog_topic(settings),
    ]
    for route in settings.langfuse_routes:
        topics.append(route_topic(settings.traces_topic, route))
        topics.append(changelog_topic(settings, f"delivered-{route.name}"))
    return topics


def ensure_topics(
    bootstrap_servers: str,
    names: Iterable[str],
    partitions: int,
    replication_factor: int = 1,
    timeout: float = 15.0,
    client_config: dict[str, str] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created.

    Changelog topics (``…-changelog``) are created compacted, as faust would.
    """
    admin = admin_client(bootstrap_servers, **(client_config or {}))
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = [name for name in dict.fromkeys(names) if name not in existing]
    if not wanted:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                name,
                partitions,
                replication_factor,
                config={"cleanup.policy": "compact"} if name.endswith("-changelog") else {},
            )
            for name in wanted
        ],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
            created.append(name)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise
    return created


def describe_topics(
    bootstrap_servers: str,
    names: Iterable[str],
    timeout: float = 15.0,
    client_config: dict[str, str] | None = None,
) -> list[TopicInfo]:
    metadata = admin_client(bootstrap_servers, **(client_config or {})).list_topics(timeout=timeout)
    return [
        TopicInfo(name, len(metadata.topics[name].partitions))
        for name in names
        if name in metadata.topics
    ]


def add_partitions(
    bootstrap_servers: str,
    name: str,
    total: int,
    timeout: float = 15.0,
    client_config: dict[str, str] | None = None,
) -> None:
    admin = admin_client(bootstrap_servers, **(client_config or {}))  # alive until answered
    futures = admin.create_partitions([NewPartitions(name, total)], request_timeout=timeout)
    for future in futures.values():
        future.result(timeout=timeout)
