"""The enrich stage: outcomes per value, in the worker and in helper processes."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from pipeline.bench.mix import generate_labelled
from pipeline.enrich import Skipped, enrich
from pipeline.enrich.options import EnrichOptions
from pipeline.enrich.pool import EnrichPool
from pipeline.enrich.providers import REGISTRY, Exchange, LLMCall
from pipeline.enrich.stage import (
    Dropped,
    KafkaValue,
    Outcome,
    Rejected,
    StageConfig,
    Traced,
    run_stage,
)
from pipeline.kong import parse_records
from pipeline.settings import Settings
from pipeline.sinks.routing import LitefuseRoute, RouteMatch
from pipeline.trace import SourceRef, Usage
from tests.conftest import still_running
from tests.factories import kong_record

TOPIC = "kong-logs"


def _values(raw: list[bytes]) -> list[KafkaValue]:
    return [KafkaValue(value, TOPIC, 3, 100 + i) for i, value in enumerate(raw)]


def _config(**changes: object) -> StageConfig:
    return replace(StageConfig(options=EnrichOptions(), traces_topic="ai-traces"), **changes)


def test_outcomes_follow_the_values_and_the_records_in_them() -> None:
    chat = json.dumps(kong_record(1)).encode()
    health = json.dumps(kong_record(2, request={"uri": "/status", "method": "GET"})).encode()
    array = json.dumps([kong_record(3), kong_record(4, started_at=None)]).encode()
    invalid = json.dumps({"request": {"headers": "not an object"}}).encode()
    outcomes = run_stage(_values([b"{not json", chat, health, array, invalid, b""]), _config())

    kinds = [Rejected, Traced, Dropped, Traced, Rejected, Rejected, Rejected]
    assert [type(o) for o in outcomes] == kinds
    not_json, traced, skipped, _, unstarted, bad, empty = outcomes
    assert isinstance(not_json, Rejected) and (not_json.message, not_json.index) == (0, None)
    assert not_json.reason.startswith("not JSON")
    assert isinstance(unstarted, Rejected) and (unstarted.message, unstarted.index) == (3, 1)
    assert unstarted.reason == "AI request without started_at"
    assert isinstance(bad, Rejected) and (bad.message, bad.index) == (4, None)
    assert bad.reason.startswith("invalid Kong record: request.headers")
    assert isinstance(empty, Rejected) and empty.message == 5 and empty.error is None
    assert isinstance(skipped, Dropped) and skipped.reason == "not an AI request"

    # the trace is enrich()'s, with the message's position as its source
    assert isinstance(traced, Traced)
    (record,) = parse_records(chat)
    source = SourceRef(topic=TOPIC, partition=3, offset=101, index=0)
    expected = enrich(record, EnrichOptions(), source)
    assert not isinstance(expected, Skipped)
    assert traced.value == expected.to_json()
    assert traced.key == expected.id.encode() and traced.topic == "ai-traces"
    assert traced.provider == "openai" and traced.model == expected.generation.model
    assert expected.generation.usage is not None
    assert traced.input_tokens == expected.generation.usage.input
    assert traced.cost_usd == (expected.generation.cost.total if expected.generation.cost else None)
    assert not traced.truncated


class _Broken:
    """A provider plugin with a bug."""

    name = "broken"

    def detect(self, exchange: Exchange) -> str | None:
        return "chat_completion" if exchange.path == "/broken" else None

    def parse(self, operation: str, exchange: Exchange) -> LLMCall:
        raise KeyError("choices")


def test_a_bug_costs_one_record_and_keeps_its_traceback() -> None:
    options = EnrichOptions(providers=(_Broken(), *REGISTRY))
    broken = json.dumps(kong_record(1, request={"uri": "/broken"})).encode()
    fine = json.dumps(kong_record(2)).encode()
    bug, traced = run_stage(_values([broken, fine]), _config(options=options))
    assert isinstance(bug, Rejected) and bug.reason == "internal error: KeyError: 'choices'"
    assert bug.error is not None and "raise KeyError" in bug.error
    assert isinstance(traced, Traced)


class _Sloppy:
    """A provider plugin that builds the trace models itself, with values nobody checked: a
    Struct does not validate on construction, so enrichment checks them (as pydantic did)."""

    name = "sloppy"

    def __init__(self, usage: Usage, parameters: dict[str, Any]) -> None:
        self.usage, self.parameters = usage, parameters

    def detect(self, exchange: Exchange) -> str | None:
        return "chat_completion" if exchange.path == "/sloppy" else None

    def parse(self, operation: str, exchange: Exchange) -> LLMCall:
        return LLMCall("sloppy", operation, usage=self.usage, model_parameters=self.parameters)


@pytest.mark.parametrize(
    ("usage", "parameters", "outcome"),
    [
        (Usage(input=3.0, output=2), {}, (3, 2)),  # type: ignore[arg-type]
        (Usage(input=-5, output=2), {}, "Expected `int` >= 0 - at `$.input`"),
        (Usage(input="x"), {}, "Expected `int | null`, got `str` - at `$.input`"),  # type: ignore[arg-type]
        (Usage(input=1), {"stop": ["x"]}, "got `array` - at `$.model_parameters[...]`"),
    ],
)
def test_a_plugins_unchecked_models_are_checked(
    usage: Usage, parameters: dict[str, Any], outcome: Any
) -> None:
    options = EnrichOptions(providers=(_Sloppy(usage, parameters), *REGISTRY))
    record = json.dumps(kong_record(1, request={"uri": "/sloppy"})).encode()
    [result] = run_stage(_values([record]), _config(options=options))
    if isinstance(outcome, tuple):
        assert isinstance(result, Traced)
        assert (result.input_tokens, result.output_tokens) == outcome
        assert type(result.input_tokens) is int
    else:
        assert isinstance(result, Rejected)
        assert result.reason.startswith("internal error: ValidationError: ")
        assert result.reason.endswith(outcome)


def test_the_stage_leaves_no_reference_cycles() -> None:
    # A cycle through a failing record's traceback once held the caller's frame, and with it
    # the whole batch of values and outcomes, until the collector's next full pass.
    options = EnrichOptions(providers=(_Broken(), *REGISTRY))
    raw = [
        json.dumps(kong_record(1)).encode(),
        json.dumps({"request": {"headers": "not an object"}}).encode(),  # fails validation
        json.dumps(kong_record(2, started_at=None)).encode(),
        json.dumps(kong_record(3, request={"uri": "/broken"})).encode(),  # a provider's bug
        b"{not json",
    ]
    values, config = _values(raw), _config(options=options)
    run_stage(values, config)  # caches filled
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        outcomes = run_stage(values, config)
        assert [type(o) for o in outcomes] == [Traced, Rejected, Rejected, Rejected, Rejected]
        del outcomes
        assert gc.collect() == 0  # everything was freed by reference counting
    finally:
        if enabled:
            gc.enable()


def test_a_trace_over_the_record_limit_is_truncated_or_rejected() -> None:
    record = kong_record(1)
    body = json.loads(record["response"]["body"])
    body["choices"][0]["message"]["content"] = "word " * 4_000
    record["response"]["body"] = json.dumps(body)
    value = _values([json.dumps(record).encode()])

    (whole,) = run_stage(value, _config())
    (cut,) = run_stage(value, _config(max_trace_bytes=15_000))
    (too_small,) = run_stage(value, _config(max_trace_bytes=500))
    assert isinstance(whole, Traced) and len(whole.value) > 40_000 and not whole.truncated
    assert isinstance(cut, Traced) and cut.truncated and len(cut.value) <= 15_000
    assert b"[truncated by kong-litefuse: " in cut.value
    assert isinstance(too_small, Rejected)
    assert too_small.reason.startswith("trace too large for Kafka even truncated")


def test_traces_go_to_their_route_topic() -> None:
    route = LitefuseRoute(
        name="team-a",
        match=RouteMatch(service="team-a-ai"),
        base_url="http://127.0.0.1:1",
        public_key="pk-lf-a",
        secret_key="sk-lf-a",
    )
    routed = kong_record(1, service={"name": "team-a-ai"})
    raw = [json.dumps(routed).encode(), json.dumps(kong_record(2)).encode()]
    first, second = run_stage(_values(raw), _config(routes=[route]))
    assert isinstance(first, Traced) and first.topic == "ai-traces.team-a"
    assert isinstance(second, Traced) and second.topic == "ai-traces"


# --- helper processes (real ones, started with spawn) ---------------------------------------


@pytest.fixture(scope="module")
def mix() -> list[KafkaValue]:
    return _values([value for _, value in generate_labelled(300, 11)])


@pytest.fixture(scope="module")
def expected(mix: list[KafkaValue]) -> list[Outcome]:
    """The outcomes of the mix enriched in this process."""
    return run_stage(mix, StageConfig.from_settings(Settings()))


@pytest.fixture
def pool() -> Iterator[EnrichPool]:
    """One helper process, started (helpers are real processes, started with spawn)."""
    helpers = EnrichPool(Settings(), 1)
    try:
        helpers.start()
        yield helpers
    finally:
        helpers.close()


def test_helpers_give_the_outcomes_the_worker_would(
    pool: EnrichPool, mix: list[KafkaValue], expected: list[Outcome]
) -> None:
    outcomes = asyncio.run(pool.run(mix))
    assert outcomes == expected
    assert {type(o) for o in outcomes} == {Traced, Dropped, Rejected}


def _helper_pids(pool: EnrichPool) -> list[int]:
    executor = pool._executor  # the processes are private to concurrent.futures
    assert executor is not None
    return [p.pid for p in executor._processes.values() if p.pid]  # type: ignore[attr-defined]


def test_a_helper_that_dies_is_replaced_and_its_batch_retried(
    pool: EnrichPool, mix: list[KafkaValue], expected: list[Outcome]
) -> None:
    (pid,) = _helper_pids(pool)
    os.kill(pid, signal.SIGKILL)
    assert not still_running([pid], timeout=10)
    assert asyncio.run(pool.run(mix)) == expected
    assert pool.replaced == 1
    (new_pid,) = _helper_pids(pool)
    assert new_pid != pid
    pool.close()
    assert not still_running([new_pid], timeout=10), "close() left a helper running"


def test_a_helper_that_dies_with_batches_in_hand_is_replaced(
    pool: EnrichPool, mix: list[KafkaValue], expected: list[Outcome]
) -> None:
    (pid,) = _helper_pids(pool)
    first, second = pool.submit(mix), pool.submit(mix[:50])
    os.kill(pid, signal.SIGKILL)

    async def both() -> tuple[list[Outcome], list[Outcome]]:
        return await pool.result(first), await pool.result(second)

    head = run_stage(mix[:50], StageConfig.from_settings(Settings()))
    assert asyncio.run(both()) == (expected, head)
    assert pool.replaced == 1  # both batches were queued with the same dead helper
