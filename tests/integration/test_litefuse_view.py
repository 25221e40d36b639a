"""Traces as Litefuse shows them: what the sink sends over HTTP, mapped by Litefuse's rules.

The receiver turns each accepted request into the rows Litefuse (OTLP) or Langfuse v3 (legacy)
would store (``tests/litefuse.py``); these tests read those rows: the trace's input and output,
the token and cost figures the UI sums from the usage buckets, the tool calls.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pipeline.enrich import enrich
from pipeline.enrich.options import EnrichOptions
from pipeline.kong import RecordError, parse_records
from pipeline.sinks import LitefuseSink
from pipeline.trace import Trace
from tests.receiver import PUBLIC_KEY, SECRET_KEY, LitefuseReceiver

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "kong"
EXAMPLES = ROOT / "schemas" / "examples"


def _traces(*paths: Path) -> list[Trace]:
    found = []
    for path in paths:
        data = path.read_bytes()
        try:
            records = parse_records(data)
        except RecordError:
            continue
        for record in records:
            result = enrich(record, EnrichOptions(), content=data)
            if isinstance(result, Trace):
                found.append(result)
    return found


def _send(receiver: LitefuseReceiver, traces: list[Trace], mode: str) -> None:
    sink = LitefuseSink(receiver.base_url, PUBLIC_KEY, SECRET_KEY, mode=mode, timeout=5.0)  # type: ignore[arg-type]
    result = asyncio.run(sink.write(traces))
    assert result.accepted == len(traces)


# The provider's own counts, read off each fixture's bodies: (input, output, total) with cached
# input and reasoning included, as the provider bills them.
PROVIDER_TOTALS = {
    # Kong 3.11: 2,048 prompt tokens (1,024 cached), 700 completion tokens (512 reasoning)
    "ai-3.11-token-details": (2048, 700, 2748),
    # Anthropic: 50 uncached + 2,000 cache-write input tokens, 42 output
    "anthropic-stream-cache-write": (2050, 42, 2092),
    # Anthropic: 20 uncached + 1,200 cache-read input tokens, 12 output
    "anthropic-messages": (1220, 12, 1232),
    # OpenAI Responses stream: 30 input (10 cached), 200 output (192 reasoning)
    "openai-responses-stream": (30, 200, 230),
    # Gemini: 10 prompt (4 cached), 8 candidates + 40 thoughts
    "gemini-stream-sse": (10, 48, 58),
}


@pytest.mark.parametrize("mode", ["otel", "legacy"])
def test_cached_and_reasoning_tokens_are_counted_once_in_the_ui_totals(
    receiver: LitefuseReceiver, mode: str
) -> None:
    traces = {name: _traces(FIXTURES / f"{name}.json")[0] for name in PROVIDER_TOTALS}
    _send(receiver, list(traces.values()), mode)
    for name, trace in traces.items():
        generation = receiver.generation(trace.id)
        shown = (generation.input_tokens, generation.output_tokens, generation.total_tokens)
        assert shown == PROVIDER_TOTALS[name], name
        # each token in exactly one bucket, each bucket priced once
        assert generation.total_cost is not None and generation.total_cost > 0, name
        assert (generation.input_cost or 0) + (generation.output_cost or 0) == pytest.approx(
            generation.total_cost
        ), name


@pytest.mark.parametrize("mode", ["otel", "legacy"])
def test_every_bundled_record_shows_its_input_output_tokens_and_tool_calls(
    receiver: LitefuseReceiver, mode: str
) -> None:
    traces = _traces(*sorted(EXAMPLES.glob("*.json")), *sorted(FIXTURES.glob("*.json")))
    assert len(traces) > 40
    _send(receiver, traces, mode)
    joined = [trace for trace in traces if trace.joined]
    assert len(joined) == 2  # the agent run's two calls, inside the app's trace
    for trace in traces:
        generation = next(
            row for row in receiver.view.all_observations if row.id == trace.generation.id
        )
        if trace.joined:
            # the trace's row is the app's (its root span or trace-create), not ours
            assert generation.trace_id == trace.id and generation.input_json == trace.input
        else:
            row = receiver.trace(trace.id)
            # the trace's input and output, as the trace list and the trace view show them
            assert row.input_json == trace.input and row.input is not None, trace.name
            assert row.output_json == trace.output, trace.name
            assert row.name == trace.name and row.environment == trace.environment
        usage = trace.generation.usage
        if usage is not None:
            # the UI's figures equal the provider's counts: nothing counted twice
            assert generation.input_tokens == usage.input, trace.name
            assert generation.output_tokens == usage.output, trace.name
            assert generation.total_tokens == (usage.input or 0) + (usage.output or 0)
        calls = (trace.output or {}).get("tool_calls") if isinstance(trace.output, dict) else None
        if calls:
            assert [(c["id"], c["name"]) for c in generation.tool_calls] == [
                (call["id"], call["function"]["name"]) for call in calls
            ]
            assert all(c["arguments"] for c in generation.tool_calls)
