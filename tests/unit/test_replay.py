"""Replay's pure parts: time and offset parsing, filters, the token bucket, one message."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.delivery.deadletter import DeadLetter, dead_letter_headers
from pipeline.enrich import EnrichOptions
from pipeline.kong import parse_records
from pipeline.ops.replay import (
    OffsetSpec,
    ReplayFilter,
    TokenBucket,
    dry_run_line,
    parse_offsets,
    parse_status,
    parse_time,
    process_message,
)
from pipeline.trace import Trace
from tests.conftest import EXAMPLES

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
OPTIONS = EnrichOptions()


# --- time -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        (" NOW ", NOW),
        ("-2h", NOW - timedelta(hours=2)),
        ("-30m", NOW - timedelta(minutes=30)),
        ("-1d", NOW - timedelta(days=1)),
        ("-45s", NOW - timedelta(seconds=45)),
        ("-1w", NOW - timedelta(weeks=1)),
        ("-1h30m", NOW - timedelta(hours=1, minutes=30)),
        ("-1.5h", NOW - timedelta(minutes=90)),
        ("2025-05-01T10:00:00Z", datetime(2025, 5, 1, 10, tzinfo=UTC)),
        ("2025-05-01T10:00:00+02:00", datetime(2025, 5, 1, 8, tzinfo=UTC)),
        ("2025-05-01T10:00:00.250", datetime(2025, 5, 1, 10, 0, 0, 250_000, tzinfo=UTC)),
        ("2025-05-01", datetime(2025, 5, 1, tzinfo=UTC)),  # naive: UTC
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    assert parse_time(text, NOW) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "-2", "2h", "-2y", "+2h", "2025-13-01", "--1h"])
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a time"):
        parse_time(text, NOW)


def test_parse_time_defaults_to_the_clock() -> None:
    before = datetime.now(UTC)
    assert before <= parse_time("now") <= datetime.now(UTC)


# --- offsets and status -----------------------------------------------------------------------


def test_parse_offsets() -> None:
    assert parse_offsets([]) == OffsetSpec()
    assert not parse_offsets([])
    every = parse_offsets(["100"])
    assert (every.get(0), every.get(7)) == (100, 100)
    per = parse_offsets(["0:10,1:20", "3:5"])
    assert (per.get(0), per.get(1), per.get(2), per.get(3)) == (10, 20, None, 5)
    mixed = parse_offsets(["50", "1:7"])
    assert (mixed.get(0), mixed.get(1)) == (50, 7)


@pytest.mark.parametrize("text", ["x", "-1", "1:-1", "a:1", "1:2:3"])
def test_parse_offsets_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not an offset"):
        parse_offsets([text])


def test_parse_status() -> None:
    five = parse_status("5xx")
    assert five(500) and five(503) and not five(429) and not five(None)
    exact = parse_status("429")
    assert exact(429) and not exact(430)
    with pytest.raises(ValueError):
        parse_status("5x")
    with pytest.raises(ValueError):
        ReplayFilter(statuses=("oops",))


# --- filters ------------------------------------------------------------------------------------


def _example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def test_record_filters() -> None:
    chat = parse_records(_example("01-openai-chat.json"))[0]
    limited = parse_records(_example("07-openai-rate-limited.json"))[0]
    assert ReplayFilter().matches_record(chat)
    assert ReplayFilter(services=("openai",)).matches_record(chat)
    assert not ReplayFilter(services=("anthropic",)).matches_record(chat)
    assert ReplayFilter(routes=("nope", "openai-chat")).matches_record(chat)
    assert ReplayFilter(consumers=("support-app",)).matches_record(chat)
    assert not ReplayFilter(consumers=("support-app",)).matches_record(limited)  # no consumer
    assert ReplayFilter(statuses=("429",)).matches_record(limited)
    assert ReplayFilter(statuses=("4xx",)).matches_record(limited)
    assert not ReplayFilter(statuses=("2xx",)).matches_record(limited)
    assert not ReplayFilter(services=("openai",), statuses=("429",)).matches_record(chat)


def test_provider_filter_is_on_the_trace() -> None:
    result = process_message(
        _example("04-anthropic-stream.json"),
        None,
        "t",
        0,
        0,
        OPTIONS,
        ReplayFilter(providers=("OpenAI",)),
    )
    assert (result.traces, result.filtered) == ([], 1)
    result = process_message(
        _example("04-anthropic-stream.json"), None, "t", 0, 0, OPTIONS, ReplayFilter(("anthropic",))
    )
    assert len(result.traces) == 1


# --- one message --------------------------------------------------------------------------------


def test_process_message_like_the_live_agent() -> None:
    chat = process_message(
        _example("01-openai-chat.json"), None, "kong", 2, 40, OPTIONS, ReplayFilter()
    )
    assert [t.id for t in chat.traces] == ["6c1f4b7e2a9d4e3f8b0a1c2d3e4f5a6b"]
    assert chat.traces[0].source.offset == 40
    health = process_message(
        _example("08-non-ai-health.json"), None, "kong", 0, 1, OPTIONS, ReplayFilter()
    )
    assert (health.traces, health.skipped, health.records) == ([], 1, 1)
    bad = process_message(_example("09-malformed.txt"), None, "kong", 0, 2, OPTIONS, ReplayFilter())
    assert bad.traces == [] and len(bad.failures) == 1
    assert bad.failures[0].reason.startswith("unreadable")


def _without_request_id(name: str) -> bytes:
    record = json.loads(_example(name))
    del record["request"]["id"]
    return json.dumps(record).encode()


def test_dead_letter_keeps_the_original_position_and_only_redoes_its_index() -> None:
    """So a record without Kong's request id gets the trace id the live pipeline gives it."""
    value = (
        b"["
        + _without_request_id("01-openai-chat.json")
        + b","
        + _without_request_id("05-vllm-generate.json")
        + b"]"
    )
    live = process_message(value, None, "kong-logs", 3, 77, OPTIONS, ReplayFilter())
    assert len(live.traces) == 2
    letter = DeadLetter(
        stage="enrich",
        reason="boom",
        value=value,
        source_topic="kong-logs",
        source_partition=3,
        source_offset=77,
        index=1,
    )
    replayed = process_message(
        value, dead_letter_headers(letter), "kong-logs.dlq", 0, 5, OPTIONS, ReplayFilter()
    )
    assert [t.id for t in replayed.traces] == [live.traces[1].id]
    assert replayed.records == 1


def test_sink_dead_letters_are_republished_as_they_are() -> None:
    trace = process_message(
        _example("01-openai-chat.json"), None, "k", 0, 0, OPTIONS, ReplayFilter()
    ).traces[0]
    letter = DeadLetter.for_trace(trace, 400, "bad")
    result = process_message(
        letter.value, dead_letter_headers(letter), "ai-traces.dlq", 0, 0, OPTIONS, ReplayFilter()
    )
    assert [t.id for t in result.traces] == [trace.id]
    broken = DeadLetter(stage="sink", reason="x", value=b"{}")
    result = process_message(
        broken.value, dead_letter_headers(broken), "ai-traces.dlq", 0, 1, OPTIONS, ReplayFilter()
    )
    assert result.traces == [] and result.failures[0].reason.startswith("invalid trace")


def test_dry_run_line() -> None:
    trace = process_message(
        _example("01-openai-chat.json"), None, "k", 0, 0, OPTIONS, ReplayFilter()
    ).traces[0]
    fields = dry_run_line(trace).split("\t")
    assert fields == [
        "2025-11-29T02:40:00.123Z",
        "6c1f4b7e2a9d4e3f8b0a1c2d3e4f5a6b",
        "/v1/chat/completions",
        "openai",
        "gpt-4o-mini-2024-07-18",
        "60",
    ]
    bare = Trace.from_json(trace.to_json())
    bare.generation = None  # type: ignore[assignment]
    assert dry_run_line(bare).endswith("\t-\t-")


# --- token bucket ------------------------------------------------------------------------------


class Clock:
    """A clock the bucket's sleeps move forward: the bucket's real arithmetic, no real waiting."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_token_bucket_limits_the_rate_after_one_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10.0, capacity=10.0, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        assert bucket.acquire() == 0.0  # the initial burst
    for _ in range(50):
        bucket.acquire()
    assert clock.now - 100.0 == pytest.approx(5.0)  # 50 more at 10/s


def test_token_bucket_burst_is_bounded_after_a_pause() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=5.0, capacity=5.0, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    clock.now += 3600  # an hour idle does not bank 18 000 tokens
    for _ in range(5):
        assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(0.2)


def test_token_bucket_capacity() -> None:
    assert TokenBucket.per_second(0.5).capacity == 1.0
    assert TokenBucket.per_second(50).capacity == 50.0
    assert TokenBucket.per_second(1e6).capacity == 1000.0
    with pytest.raises(ValueError):
        TokenBucket.per_second(0)


def test_replay_clients_use_the_kafka_security_settings() -> None:
    """Replay's consumers (and publisher) get KAFKA_SECURITY_PROTOCOL and the SASL/TLS settings:
    librdkafka itself refuses the planted bad mechanism before any connection is made."""
    from confluent_kafka import KafkaException

    from pipeline.kafka import client_config
    from pipeline.ops.replay import ReplayRequest, plan_replay
    from pipeline.settings import Settings

    settings = Settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="u",
        kafka_sasl_password="p",
    )
    config = client_config(settings)
    assert config["security.protocol"] == "sasl_plaintext"
    request = ReplayRequest(
        bootstrap="127.0.0.1:1",
        topic="kong-logs",
        traces_topic="ai-traces",
        options=EnrichOptions(),
        client_config={**config, "sasl.mechanism": "NOT-A-MECHANISM"},
    )
    with pytest.raises(KafkaException, match="SASL mechanism: NOT-A-MECHANISM"):
        plan_replay(request, "g")
