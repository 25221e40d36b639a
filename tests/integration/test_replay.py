"""Replay on two real brokers: Tansu (offsets_for_times wrong, watermarks low) and noida-db (right).

Records are produced with explicit timestamps one second apart, several per batch (so Tansu's
high watermark is below the real end), and a window of them is replayed onto the traces topic.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from pipeline.delivery.deadletter import DeadLetter, dead_letter_headers
from pipeline.enrich import EnrichOptions
from pipeline.enrich.ids import trace_id
from pipeline.ops.replay import (
    OffsetSpec,
    ReplayFilter,
    ReplayRequest,
    ReplaySummary,
    parse_offsets,
    run_replay,
)
from pipeline.ops.topics import ensure_topics
from tests.conftest import EXAMPLES, ROOT
from tests.integration.conftest import NOIDA_CONSUMER_CONFIG

pytestmark = pytest.mark.integration

PARTITIONS = 2
COUNT = 60  # records, one second apart, alternating partitions
# Recent: brokers delete records older than the retention (7 days) by their timestamps.
BASE = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
# Template, provider, service, consumer, status; the health check is not an AI request.
TEMPLATES = [
    "01-openai-chat.json",
    "04-anthropic-stream.json",
    "05-vllm-generate.json",
    "07-openai-rate-limited.json",
    "08-non-ai-health.json",
]


@dataclass
class Broker:
    kind: str
    bootstrap: str
    consumer_config: dict[str, Any]


@pytest.fixture(params=["tansu", "noida"])
def broker(request: pytest.FixtureRequest) -> Broker:
    if request.param == "tansu":
        return Broker("tansu", request.getfixturevalue("kafka_bootstrap"), {})
    return Broker("noida", request.getfixturevalue("noida_bootstrap"), NOIDA_CONSUMER_CONFIG)


@dataclass
class Published:
    """What was produced: per record its id, time, partition, offset and template."""

    topic: str
    traces: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def ids(self, first: int, last: int, template: str | None = None) -> set[str]:
        """Trace ids of records ``first <= i < last`` that are AI requests."""
        return {
            r["id"]
            for r in self.rows
            if first <= r["i"] < last
            and r["template"] != "08-non-ai-health.json"
            and (template is None or r["template"] == template)
        }


def _record(template: str, moment: datetime) -> tuple[str, bytes]:
    record = json.loads((EXAMPLES / template).read_text())
    request_id = uuid.uuid4().hex
    record["request"]["id"] = request_id
    record["started_at"] = int(moment.timestamp() * 1000)
    return request_id, json.dumps(record).encode()


def _names(prefix: str) -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:10]
    return f"{prefix}-{suffix}", f"ai-traces-{suffix}"


def _produce(bootstrap: str, topic: str, items: list[tuple[int, int, bytes, Any]]) -> None:
    """(partition, timestamp ms, value, headers); batched (linger) like a real producer."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for partition, ms, value, headers in items:
        producer.produce(topic, value=value, partition=partition, timestamp=ms, headers=headers)
    assert producer.flush(30) == 0


@pytest.fixture
def published(broker: Broker) -> Published:
    topic, traces = _names("kong-logs")
    ensure_topics(broker.bootstrap, [topic, traces], PARTITIONS)
    result = Published(topic, traces)
    items = []
    for i in range(COUNT):
        moment = BASE + timedelta(seconds=i)
        template = TEMPLATES[i % len(TEMPLATES)]
        request_id, value = _record(template, moment)
        partition = i % PARTITIONS
        result.rows.append({"i": i, "id": request_id, "template": template, "partition": partition})
        items.append((partition, int(moment.timestamp() * 1000), value, None))
    _produce(broker.bootstrap, topic, items)
    return result


def read_topic(broker: Broker, topic: str, idle: float = 2.0, timeout: float = 30.0) -> list[Any]:
    """Every message of a topic: read from offset 0 until nothing came for ``idle`` seconds."""
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"test-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            **broker.consumer_config,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    try:
        while time.monotonic() < deadline and time.monotonic() - last < idle:
            message = consumer.poll(0.1)
            if message is None or message.error():
                continue
            messages.append(message)
            last = time.monotonic()
    finally:
        consumer.close()
    return messages


def replay(broker: Broker, published: Published, **changes: Any) -> ReplaySummary:
    values: dict[str, Any] = {
        "bootstrap": broker.bootstrap,
        "topic": published.topic,
        "traces_topic": published.traces,
        "options": EnrichOptions(),
        "consumer_config": broker.consumer_config,
        "idle_timeout": 5.0,
        "max_seconds": 60.0,
        **changes,
    }
    return run_replay(ReplayRequest(**values))


def expected_method(broker: Broker) -> str:
    return "search" if broker.kind == "tansu" else "native"


def test_time_window_publishes_exactly_its_records_and_rerun_the_same_ids(
    broker: Broker, published: Published
) -> None:
    start, stop = BASE + timedelta(seconds=20), BASE + timedelta(seconds=40)
    summary = replay(broker, published, start_time=start, end_time=stop)

    expected = published.ids(20, 40)
    messages = read_topic(broker, published.traces)
    ids = [m.key().decode() for m in messages]
    assert sorted(ids) == sorted(expected)  # exactly the window, each once
    assert summary.published == summary.traces == len(expected)
    assert summary.messages == 20 and summary.skipped == 4 and summary.failed == 0
    assert summary.outside_window == 0 and summary.complete
    # the offsets were found by the broker where it is right, by the search where it is not
    assert set(summary.methods.values()) == {(expected_method(broker),) * 2}
    for plan in summary.plans:  # the real end was found despite Tansu's low watermark
        assert plan.end == COUNT // PARTITIONS
        assert (plan.start, plan.stop) == (10, 20)
    by_id = {m.key().decode(): json.loads(m.value()) for m in messages}
    row = next(r for r in published.rows if r["i"] == 21)
    assert by_id[row["id"]]["source"]["partition"] == row["partition"]

    again = replay(broker, published, start_time=start, end_time=stop)
    assert again.published == len(expected)
    counts = Counter(m.key().decode() for m in read_topic(broker, published.traces))
    assert counts == dict.fromkeys(expected, 2)  # the same trace ids: the sink de-duplicates


def test_filters_and_dry_run_publish_nothing(broker: Broker, published: Published) -> None:
    cases = [
        (ReplayFilter(providers=("anthropic",)), "04-anthropic-stream.json"),
        (ReplayFilter(statuses=("4xx",)), "07-openai-rate-limited.json"),
        (ReplayFilter(services=("vllm",)), "05-vllm-generate.json"),
        (ReplayFilter(consumers=("support-app",), statuses=("200",)), "01-openai-chat.json"),
    ]
    for selection, template in cases:
        out = io.StringIO()
        summary = run_replay(
            ReplayRequest(
                bootstrap=broker.bootstrap,
                topic=published.topic,
                traces_topic=published.traces,
                options=EnrichOptions(),
                selection=selection,
                dry_run=True,
                consumer_config=broker.consumer_config,
                idle_timeout=5.0,
                start_time=BASE + timedelta(seconds=10),
                end_time=BASE + timedelta(seconds=50),
            ),
            out=out,
        )
        lines = out.getvalue().splitlines()
        assert {line.split("\t")[1] for line in lines} == published.ids(10, 50, template)
        assert summary.traces == len(lines) == 8 and summary.published == 0
        assert all(len(line.split("\t")) == 6 for line in lines)
    assert read_topic(broker, published.traces, idle=1.5) == []


def test_offset_range_and_rate(broker: Broker, published: Published) -> None:
    summary = replay(
        broker,
        published,
        from_offsets=parse_offsets(["0:5"]),
        to_offsets=parse_offsets(["15"]),
        rate=8.0,
    )
    assert [(p.partition, p.start, p.stop, p.start_method) for p in summary.plans] == [
        (0, 5, 15, "offset")
    ]
    # partition 0 holds the even records: offsets 5..14 are records 10, 12, …, 28
    expected = {r["id"] for r in published.rows if r["partition"] == 0 and 10 <= r["i"] < 30}
    expected &= published.ids(0, COUNT)
    assert {m.key().decode() for m in read_topic(broker, published.traces)} == expected
    assert summary.messages == 10
    assert summary.seconds >= 0.2  # 10 records at 8/s: a burst of 8, then 2 waits of 1/8 s


def test_dead_letter_topic_replays_and_counts_what_still_fails(broker: Broker) -> None:
    dlq, traces = _names("kong-logs.dlq")
    ensure_topics(broker.bootstrap, [dlq, traces], PARTITIONS)
    fixed_id, fixed = _record("01-openai-chat.json", BASE)
    anonymous = json.loads((EXAMPLES / "05-vllm-generate.json").read_text())
    del anonymous["request"]["id"]  # its trace id comes from its original Kafka position
    broken = (EXAMPLES / "09-malformed.txt").read_bytes()
    letters = [
        DeadLetter("enrich", "upstream bug", fixed, None, "kong-logs", 1, 10, 0),
        DeadLetter(
            "enrich", "upstream bug", json.dumps(anonymous).encode(), None, "kong-logs", 0, 42, 0
        ),
        DeadLetter("enrich", "not JSON", broken, None, "kong-logs", 1, 11),
    ]
    now_ms = int(time.time() * 1000)
    _produce(
        broker.bootstrap,
        dlq,
        [
            (0, now_ms + i, letter.value, dead_letter_headers(letter))
            for i, letter in enumerate(letters)
        ],
    )
    request = ReplayRequest(
        bootstrap=broker.bootstrap,
        topic=dlq,
        traces_topic=traces,
        options=EnrichOptions(),
        consumer_config=broker.consumer_config,
        idle_timeout=5.0,
    )
    summary = run_replay(request)
    live_id = trace_id(None, topic="kong-logs", partition=0, offset=42, index=0)
    keys = sorted(m.key().decode() for m in read_topic(broker, traces))
    assert keys == sorted([fixed_id, live_id])
    assert (summary.messages, summary.published, summary.failed) == (3, 2, 1)
    assert summary.failures[0].offset == 2 and "unreadable" in summary.failures[0].reason
    assert summary.complete


def test_empty_topic_and_window_after_the_data(broker: Broker, published: Published) -> None:
    later = replay(broker, published, start_time=BASE + timedelta(hours=1))
    assert later.total == 0 and later.published == 0 and later.complete
    assert {p.start for p in later.plans} == {COUNT // PARTITIONS}
    empty_topic, traces = _names("kong-logs-empty")
    ensure_topics(broker.bootstrap, [empty_topic, traces], PARTITIONS)
    empty = run_replay(
        ReplayRequest(
            bootstrap=broker.bootstrap,
            topic=empty_topic,
            traces_topic=traces,
            options=EnrichOptions(),
            start_time=BASE,
            consumer_config=broker.consumer_config,
            from_offsets=OffsetSpec(),
        )
    )
    assert empty.total == 0 and {m for m, _ in empty.methods.values()} == {"empty"}


def test_cli_dry_run(kafka_bootstrap: str) -> None:
    broker = Broker("tansu", kafka_bootstrap, {})
    topic, traces = _names("kong-logs")
    ensure_topics(kafka_bootstrap, [topic, traces], PARTITIONS)
    rows = [_record(TEMPLATES[i % 4], BASE + timedelta(seconds=i)) for i in range(8)]
    _produce(
        kafka_bootstrap,
        topic,
        [
            (i % PARTITIONS, int((BASE + timedelta(seconds=i)).timestamp() * 1000), v, None)
            for i, (_, v) in enumerate(rows)
        ],
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGFUSE_", "KONG_"))}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "KONG_LOG_TOPIC": topic,
            "TRACES_TOPIC": traces,
        }
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "replay",
            "--from",
            (BASE + timedelta(seconds=2)).isoformat(),
            "--to",
            (BASE + timedelta(seconds=6)).isoformat(),
            "--dry-run",
            "--no-progress",
            "--idle-timeout",
            "5",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    printed = {line.split("\t")[1] for line in result.stdout.splitlines()}
    assert printed == {rows[i][0] for i in range(2, 6)}
    assert "start by search" in result.stderr and "would publish 4 traces" in result.stderr
    assert read_topic(broker, traces, idle=1.0) == []
