"""Shared fixtures: a real Kafka-protocol broker, a real HTTP receiver, real worker processes."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from pipeline.bench.e2e import proc_stat
from pipeline.bench.worker import WorkerProcess
from pipeline.broker import EmbeddedBroker, free_port
from pipeline.ops.topics import ensure_topics
from tests.receiver import PUBLIC_KEY, SECRET_KEY, LitefuseReceiver

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "schemas" / "examples"


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """KAFKA_BOOTSTRAP_SERVERS if set (a real cluster), else the embedded Tansu broker."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_file=log) as broker:
        yield broker.bootstrap_servers


@pytest.fixture(scope="session")
def testcontainers_kafka() -> Iterator[str]:
    """A Kafka container for users with a Docker engine; skipped (with the reason) without."""
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:  # no engine, no socket, no permission
        pytest.skip(f"no Docker engine for testcontainers Kafka: {type(exc).__name__}: {exc}")
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer() as kafka:
        yield kafka.get_bootstrap_server()


@dataclass
class Names:
    """Unique topic and group names per test (the embedded broker's groups can get stuck)."""

    suffix: str

    @property
    def kong(self) -> str:
        return f"kong-logs-{self.suffix}"

    @property
    def traces(self) -> str:
        return f"ai-traces-{self.suffix}"

    @property
    def dlq(self) -> str:
        return f"kong-logs.dlq-{self.suffix}"

    @property
    def traces_dlq(self) -> str:
        return f"ai-traces.dlq-{self.suffix}"

    @property
    def group(self) -> str:
        return f"kong-litefuse-{self.suffix}"

    def all(self) -> list[str]:
        return [self.kong, self.traces, self.dlq, self.traces_dlq]


@pytest.fixture
def names(kafka_bootstrap: str) -> Names:
    result = Names(uuid.uuid4().hex[:10])
    ensure_topics(kafka_bootstrap, result.all(), partitions=4)
    return result


@pytest.fixture
def receiver() -> Iterator[LitefuseReceiver]:
    with LitefuseReceiver() as server:
        yield server


@pytest.fixture
def worker_env(kafka_bootstrap: str, names: Names, receiver: LitefuseReceiver) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGFUSE_", "KONG_"))}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "KONG_LOG_TOPIC": names.kong,
            "TRACES_TOPIC": names.traces,
            "DEAD_LETTER_TOPIC": names.dlq,
            "TRACES_DEAD_LETTER_TOPIC": names.traces_dlq,
            "CONSUMER_GROUP": names.group,
            "LANGFUSE_BASE_URL": receiver.base_url,
            "LANGFUSE_PUBLIC_KEY": PUBLIC_KEY,
            "LANGFUSE_SECRET_KEY": SECRET_KEY,
            "SINK_FLUSH_INTERVAL_SECONDS": "0.5",
            "WORKER_WEB_PORT": str(free_port()),
            "LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Any]:
    """Start workers; they are stopped 2 s apart at teardown (the broker's group quirk)."""
    started: list[WorkerProcess] = []

    def start(env: dict[str, str], name: str = "worker") -> WorkerProcess:
        worker = WorkerProcess(dict(env), tmp_path / f"{name}-{len(started)}.log", ROOT).start()
        started.append(worker)
        return worker

    yield start
    for index, worker in enumerate(started):
        if index:
            time.sleep(2)
        worker.stop()


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list[Any]:
    """Read a topic from the beginning until ``expected`` messages or the timeout."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-reader-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    metadata = consumer.list_topics(topic, timeout=10)
    partitions = list(metadata.topics[topic].partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            messages.append(message)
    finally:
        consumer.close()
    return messages


def still_running(pids: list[int], timeout: float) -> list[int]:
    """Those of ``pids`` still live processes after waiting up to ``timeout`` seconds for them
    to end (a zombie waiting to be reaped has ended)."""

    def running(pid: int) -> bool:
        try:
            state = proc_stat(pid)[0]
        except (OSError, IndexError):
            return False
        return state != "Z"

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(map(running, pids)):
        time.sleep(0.05)
    return [pid for pid in pids if running(pid)]


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int = 4) -> list[int]:
    """The consumer group's committed offset per partition of ``topic`` (0: none committed)."""
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        found = reader.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
    finally:
        reader.close()
    return [max(tp.offset, 0) for tp in found]


def acknowledged_but_not_delivered(
    bootstrap: str, group: str, topic: str, delivered: set[str], timeout: float = 30.0
) -> list[str]:
    """Traces whose records the group acknowledged (below its committed offsets on the traces
    topic) but Litefuse never received: what acknowledging before Litefuse answered loses."""
    committed = committed_offsets(bootstrap, group, topic)
    wanted = {p: end for p, end in enumerate(committed) if end > 0}
    if not wanted:
        return []
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in wanted])
    missing: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while wanted and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            partition, offset = message.partition(), message.offset()
            if partition in wanted and offset < wanted[partition]:
                key = (message.key() or b"").decode()
                if key not in delivered:
                    missing.append(key)
                if offset + 1 >= wanted[partition]:
                    del wanted[partition]
    finally:
        consumer.close()
    assert not wanted, f"could not read the traces topic up to the committed offsets: {wanted}"
    return missing


def wait_until(condition: Any, timeout: float, every: float = 0.1) -> Any:
    """Poll ``condition()`` until it is truthy (returned) or ``timeout`` seconds passed (its
    last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)
