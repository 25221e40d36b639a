"""AWS Bedrock behind Kong: Converse, ConverseStream (AWS event streams), InvokeModel.

Event streams are binary; Kong records carry them base64-encoded (our capture Lua does it). The
streams are Kong's own test data (in test_bodies) and frames built with ``frame`` for what
Kong's data lacks (reasoning, exceptions, InvokeModel chunks).
"""

from __future__ import annotations

import base64
import random
from typing import Any

import orjson
import pytest

from pipeline.enrich import enrich
from pipeline.enrich.cost import candidates, compute_cost, resolve
from pipeline.enrich.options import build_options
from pipeline.enrich.providers import FAMILIES, REGISTRY, detect, sniff
from pipeline.enrich.providers.bedrock import BedrockRuntime, model_route
from pipeline.kong.record import KongRecord, parse_record
from pipeline.trace import Trace, Usage
from tests.unit.test_bodies import FUNCTIONS_STREAM, KONG_TEXT_STREAM, frame
from tests.unit.test_tool_calls import (
    BERGEN,
    OSLO,
    PDF_B64,
    PNG_B64,
    WEATHER_SCHEMA,
    WEATHER_TOOL,
    _mutations,
    call,
    exchange,
    parse,
)

KONG_TEXT = (
    "Hello! Relativity is a set of physical theories that are collectively known as special "
    "relativity and general relativity, proposed by Albert Einstein. These theories revolutionized "
    "our understanding of space, time, and gravity, and have had far-reaching implications in "
    "various scientific and technological fields. Special relativity applies to all physical "
    "phenomena in the absence of gravity, while general relativity explains the law of gravity and "
    "its effects on the nature of space, time, and matter."
)
# Kong's spec/fixtures/ai-proxy/unit/expected-requests/bedrock/llm-v1-chat.json (a Converse
# request) and real-responses/bedrock/llm-v1-chat.json (Kong's OpenAI-style usage keys).
KONG_REQUEST = {
    "system": [{"text": "You are a mathematician."}],
    "messages": [
        {"content": [{"text": "What is 1 + 2?"}], "role": "user"},
        {"content": [{"text": "The sum of 1 + 2 is 3."}], "role": "assistant"},
        {"content": [{"text": "Why can't you divide by zero?"}], "role": "user"},
    ],
    "inferenceConfig": {"maxTokens": 8192, "temperature": 0.8, "topP": 0.6},
    "anthropic_version": "bedrock-2023-05-31",
}
KONG_RESPONSE = {
    "metrics": {"latencyMs": 14767},
    "output": {
        "message": {
            "content": [
                {
                    "text": "You cannot divide by zero because it is not a "
                    "valid operation in mathematics."
                }
            ],
            "role": "assistant",
        }
    },
    "stopReason": "end_turn",
    "usage": {"completion_tokens": 119, "prompt_tokens": 19, "total_tokens": 138},
}

MODEL = "us.anthropic.claude-3-5-sonnet-20240620-v1:0"
CONVERSE = "/model/us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
CONVERSE_STREAM = CONVERSE + "-stream"
INVOKE = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke"
INVOKE_STREAM = INVOKE + "-with-response-stream"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def chunk(event: dict[str, Any]) -> bytes:
    """An InvokeModelWithResponseStream ``chunk``: the model's own event, base64 in JSON."""
    return frame("chunk", {"bytes": b64(orjson.dumps(event)), "p": "abc"})


# --- paths --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (CONVERSE, (MODEL, "converse")),
        (
            "/bedrock/model/amazon.nova-pro-v1%3A0/converse-stream",
            ("amazon.nova-pro-v1:0", "converse-stream"),
        ),
        (
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2F"
            "us.anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke",
            (MODEL, "invoke"),
        ),
        (
            "/model/arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1/invoke",
            ("amazon.titan-text-express-v1", "invoke"),
        ),
        (
            "/model/meta.llama3-70b-instruct-v1:0/invoke-with-response-stream",
            ("meta.llama3-70b-instruct-v1:0", "invoke-with-response-stream"),
        ),
        ("/model/x/other", None),
        ("/model//converse", None),
        ("/models/x/converse", None),
        ("/v1/chat/completions", None),
    ],
)
def test_model_routes(path: str, expected: tuple[str, str] | None) -> None:
    assert model_route(path) == expected


def test_registry_and_families_know_bedrock() -> None:
    assert "bedrock" in FAMILIES
    found = detect(exchange(CONVERSE, KONG_REQUEST, KONG_RESPONSE), REGISTRY)
    assert found is not None and isinstance(found[0], BedrockRuntime)
    assert found[1] == "chat_completion"


# --- Converse -----------------------------------------------------------------------------------


def test_converse_kong_fixture() -> None:
    result = parse(CONVERSE, KONG_REQUEST, KONG_RESPONSE)
    assert (result.provider, result.operation, result.request_model) == (
        "bedrock",
        "chat_completion",
        MODEL,
    )
    assert result.model_parameters == {"max_tokens": 8192, "temperature": 0.8, "top_p": 0.6}
    assert result.input == [
        {"role": "system", "content": "You are a mathematician."},
        {"role": "user", "content": "What is 1 + 2?"},
        {"role": "assistant", "content": "The sum of 1 + 2 is 3."},
        {"role": "user", "content": "Why can't you divide by zero?"},
    ]
    assert result.output == {
        "role": "assistant",
        "content": "You cannot divide by zero because it is not a valid operation in mathematics.",
    }
    assert result.finish_reason == "end_turn" and not result.stream
    assert result.usage is not None and (result.usage.input, result.usage.output) == (19, 119)
    assert result.metadata == {"provider_latency_ms": 14767}


CONVERSE_REQUEST = {
    "system": [{"text": "Be brief."}, {"cachePoint": {"type": "default"}}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"text": "Weather where this was taken?"},
                {"image": {"format": "png", "source": {"bytes": PNG_B64}}},
                {"document": {"format": "pdf", "name": "report", "source": {"bytes": PDF_B64}}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {
                    "reasoningContent": {
                        "reasoningText": {"text": "Looks like Oslo.", "signature": "EqoB"}
                    }
                },
                {"reasoningContent": {"redactedContent": "EmwKAhgB"}},
                {"text": "Checking."},
                {
                    "toolUse": {
                        "toolUseId": "tooluse_1",
                        "name": "get_weather",
                        "input": {"city": "Oslo"},
                    }
                },
                {
                    "toolUse": {
                        "toolUseId": "tooluse_2",
                        "name": "get_weather",
                        "input": {"city": "Bergen"},
                    }
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "tooluse_1", "content": [{"json": {"temp": 3}}]}},
                {
                    "toolResult": {
                        "toolUseId": "tooluse_2",
                        "content": [{"text": "5 degrees"}],
                        "status": "success",
                    }
                },
                {"text": "Which is warmer?"},
            ],
        },
    ],
    "inferenceConfig": {"maxTokens": 1024, "temperature": 0.3, "stopSequences": ["END"]},
    "toolConfig": {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Current weather in a city",
                    "inputSchema": {"json": WEATHER_SCHEMA},
                }
            },
            {"cachePoint": {"type": "default"}},
        ],
        "toolChoice": {"auto": {}},
    },
}
CONVERSE_INPUT = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather where this was taken?"},
                {"image": {"format": "png", "source": {"bytes": "[image/png, 100 bytes]"}}},
                {
                    "document": {
                        "format": "pdf",
                        "name": "report",
                        "source": {"bytes": "[application/pdf, 60 bytes]"},
                    }
                },
            ],
        },
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [call("tooluse_1", OSLO), call("tooluse_2", BERGEN)],
            "thinking": [{"type": "thinking", "content": "Looks like Oslo.", "signature": "EqoB"}],
            "redacted_thinking": [{"type": "redacted_thinking", "data": "EmwKAhgB"}],
        },
        {"role": "tool", "content": '{"temp":3}', "tool_call_id": "tooluse_1"},
        {"role": "tool", "content": "5 degrees", "tool_call_id": "tooluse_2"},
        {"role": "user", "content": "Which is warmer?"},
    ],
    "tools": [WEATHER_TOOL],
}
CONVERSE_OUTPUT = {
    "role": "assistant",
    "content": "Both, then.",
    "tool_calls": [call("tooluse_3", OSLO), call("tooluse_4", BERGEN)],
    "thinking": [{"type": "thinking", "content": "Two cities.", "signature": "EqoC"}],
    "redacted_thinking": [{"type": "redacted_thinking", "data": "EmwKAhgC"}],
}


def test_converse_tools_reasoning_media_and_cache_usage() -> None:
    response = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {
                        "reasoningContent": {
                            "reasoningText": {"text": "Two cities.", "signature": "EqoC"}
                        }
                    },
                    {"reasoningContent": {"redactedContent": "EmwKAhgC"}},
                    {"text": "Both, then."},
                    {
                        "toolUse": {
                            "toolUseId": "tooluse_3",
                            "name": "get_weather",
                            "input": {"city": "Oslo"},
                        }
                    },
                    {
                        "toolUse": {
                            "toolUseId": "tooluse_4",
                            "name": "get_weather",
                            "input": {"city": "Bergen"},
                        }
                    },
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {
            "inputTokens": 100,
            "outputTokens": 50,
            "totalTokens": 450,
            "cacheReadInputTokens": 200,
            "cacheWriteInputTokens": 100,
        },
        "metrics": {"latencyMs": 900},
    }
    result = parse(CONVERSE, CONVERSE_REQUEST, response)
    assert result.input == CONVERSE_INPUT
    assert result.output == CONVERSE_OUTPUT
    assert result.model_parameters == {"max_tokens": 1024, "temperature": 0.3, "stop": "END"}
    assert result.finish_reason == "tool_use"
    assert result.usage == Usage(
        input=400, output=50, total=450, input_cached=200, input_cache_write=100, source="response"
    )


def test_converse_error_body() -> None:
    error = {"message": "The security token included in the request is invalid."}
    result = parse(CONVERSE, KONG_REQUEST, error, status=403)
    assert result.error == error["message"] and result.output is None


# --- ConverseStream -----------------------------------------------------------------------------


def test_converse_stream_kong_function_call_chunks() -> None:
    """Kong's three network chunks, joined as the capture joins them."""
    result = parse(CONVERSE_STREAM, KONG_REQUEST, b64(FUNCTIONS_STREAM))
    assert result.stream and result.model_parameters["stream"] is True
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("tooluse_UxbKWVKgTqe8cKjPPzopiQ", '{"a": 2, "b": 12}', "add")],
    }
    assert result.finish_reason == "tool_use"
    assert result.usage is not None and (result.usage.input, result.usage.output) == (478, 44)
    assert result.metadata == {"provider_latency_ms": 1735}


def test_converse_stream_kong_text_stream() -> None:
    result = parse(CONVERSE_STREAM, KONG_REQUEST, b64(KONG_TEXT_STREAM))
    assert result.output == {"role": "assistant", "content": KONG_TEXT}
    assert result.finish_reason == "end_turn"
    assert result.usage is not None and (result.usage.input, result.usage.output) == (9, 97)


def test_converse_stream_cut_by_the_capture_limit() -> None:
    """Kong's capture cap cuts the binary: the frames before the cut still count."""
    result = parse(CONVERSE_STREAM, KONG_REQUEST, b64(FUNCTIONS_STREAM[:-600]))
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("tooluse_UxbKWVKgTqe8cKjPPzopiQ", '{"a": 2, "b', "add")],
    }
    assert result.usage is None


def _reasoning_stream() -> bytes:
    return b"".join(
        [
            frame("messageStart", {"role": "assistant", "p": "ab"}),
            frame(
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Two "}}},
            ),
            frame(
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "cities."}}},
            ),
            frame(
                "contentBlockDelta",
                {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "EqoC"}}},
            ),
            frame("contentBlockStop", {"contentBlockIndex": 0}),
            frame(
                "contentBlockDelta",
                {
                    "contentBlockIndex": 1,
                    "delta": {"reasoningContent": {"redactedContent": "EmwKAhgC"}},
                },
            ),
            frame("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"text": "Both, "}}),
            frame("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"text": "then."}}),
            frame(
                "contentBlockStart",
                {
                    "contentBlockIndex": 3,
                    "start": {"toolUse": {"toolUseId": "tooluse_3", "name": "get_weather"}},
                },
            ),
            frame(
                "contentBlockDelta",
                {"contentBlockIndex": 3, "delta": {"toolUse": {"input": '{"city":'}}},
            ),
            frame(
                "contentBlockDelta",
                {"contentBlockIndex": 3, "delta": {"toolUse": {"input": '"Oslo"}'}}},
            ),
            frame(
                "contentBlockStart",
                {
                    "contentBlockIndex": 4,
                    "start": {"toolUse": {"toolUseId": "tooluse_4", "name": "get_weather"}},
                },
            ),
            frame(
                "contentBlockDelta",
                {"contentBlockIndex": 4, "delta": {"toolUse": {"input": BERGEN}}},
            ),
            frame("messageStop", {"stopReason": "tool_use"}),
            frame(
                "metadata",
                {
                    "usage": {
                        "inputTokens": 100,
                        "outputTokens": 50,
                        "cacheReadInputTokens": 200,
                        "cacheWriteInputTokens": 100,
                    },
                    "metrics": {"latencyMs": 900},
                },
            ),
        ]
    )


def test_converse_stream_reasoning_and_parallel_tool_calls() -> None:
    result = parse(CONVERSE_STREAM, CONVERSE_REQUEST, b64(_reasoning_stream()))
    assert result.input == CONVERSE_INPUT
    assert result.output == CONVERSE_OUTPUT
    assert result.usage is not None and result.usage.input == 400
    assert result.usage.input_cached == 200 and result.usage.input_cache_write == 100


def test_converse_stream_exception_frame_is_the_error() -> None:
    stream = b"".join(
        [
            frame("messageStart", {"role": "assistant"}),
            frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hel"}}),
            frame(
                "throttlingException",
                {"message": "Too many requests, please wait."},
                message_type="exception",
            ),
        ]
    )
    result = parse(CONVERSE_STREAM, KONG_REQUEST, b64(stream))
    assert result.error == "Too many requests, please wait."
    assert result.output == {"role": "assistant", "content": "Hel"}


# --- InvokeModel --------------------------------------------------------------------------------

ANTHROPIC_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 1024,
    "temperature": 0.5,
    "system": "Be brief.",
    "messages": [{"role": "user", "content": [{"type": "text", "text": "Weather in Oslo?"}]}],
    "tools": [
        {
            "name": "get_weather",
            "description": "Current weather in a city",
            "input_schema": WEATHER_SCHEMA,
        }
    ],
}


def test_invoke_anthropic_json() -> None:
    response = {
        "id": "msg_bdrk_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5-sonnet-20240620",
        "content": [
            {"type": "text", "text": "Checking."},
            {
                "type": "tool_use",
                "id": "toolu_bdrk_01",
                "name": "get_weather",
                "input": {"city": "Oslo"},
            },
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 300, "output_tokens": 40},
    }
    result = parse(INVOKE, ANTHROPIC_BODY, response)
    assert (result.provider, result.operation) == ("bedrock", "messages")
    assert result.request_model == "anthropic.claude-3-5-sonnet-20240620-v1:0"
    assert result.response_model == "claude-3-5-sonnet-20240620"
    assert result.model_parameters == {"max_tokens": 1024, "temperature": 0.5}
    assert result.input == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Oslo?"},
        ],
        "tools": [WEATHER_TOOL],
    }
    assert result.output == {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [call("toolu_bdrk_01", OSLO)],
    }
    assert result.usage is not None and (result.usage.input, result.usage.output) == (300, 40)


def test_invoke_with_response_stream_anthropic_chunks() -> None:
    events = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_bdrk_02",
                "type": "message",
                "role": "assistant",
                "model": "claude-3-5-sonnet-20240620",
                "content": [],
                "usage": {"input_tokens": 300, "output_tokens": 1},
            },
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Oslo."},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "Eq"},
        },
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_bdrk_02",
                "name": "get_weather",
                "input": {},
            },
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": OSLO},
        },
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 40},
        },
        {
            "type": "message_stop",
            "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": 300,
                "outputTokenCount": 40,
                "invocationLatency": 1500,
                "firstByteLatency": 420,
            },
        },
    ]
    stream = b"".join(chunk(event) for event in events)
    result = parse(INVOKE_STREAM, {**ANTHROPIC_BODY, "stream": True}, b64(stream))
    assert result.stream and result.operation == "messages"
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("toolu_bdrk_02", OSLO)],
        "thinking": [{"type": "thinking", "content": "Oslo.", "signature": "Eq"}],
    }
    assert result.finish_reason == "tool_use"
    assert result.usage is not None and (result.usage.input, result.usage.output) == (300, 40)
    assert result.time_to_first_token_ms == 420.0
    assert result.metadata == {"provider_latency_ms": 1500}
    # a model error in the stream
    failed = stream[: len(chunk(events[0]))] + frame(
        "modelStreamErrorException", {"message": "Model stream error"}, message_type="exception"
    )
    assert parse(INVOKE_STREAM, ANTHROPIC_BODY, b64(failed)).error == "Model stream error"


def test_invoke_titan_text_and_its_stream() -> None:
    path = "/model/amazon.titan-text-express-v1/invoke"
    body = {
        "inputText": "Name a stream processor.",
        "textGenerationConfig": {
            "maxTokenCount": 128,
            "temperature": 0.2,
            "topP": 0.9,
            "stopSequences": ["User:"],
        },
    }
    response = {
        "inputTextTokenCount": 6,
        "results": [{"tokenCount": 4, "outputText": "Apache Flink.", "completionReason": "FINISH"}],
    }
    result = parse(path, body, response)
    assert (result.operation, result.observation_type) == ("completion", "generation")
    assert result.model_parameters == {
        "max_tokens": 128,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": "User:",
    }
    assert result.input == "Name a stream processor."
    assert result.output == "Apache Flink." and result.finish_reason == "FINISH"
    assert result.usage is not None and (result.usage.input, result.usage.output) == (6, 4)
    chunks = [
        {
            "outputText": "Apache ",
            "index": 0,
            "totalOutputTextTokenCount": 2,
            "completionReason": None,
            "inputTextTokenCount": 6,
        },
        {
            "outputText": "Flink.",
            "index": 0,
            "totalOutputTextTokenCount": 4,
            "completionReason": "FINISH",
            "inputTextTokenCount": None,
            "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": 6,
                "outputTokenCount": 4,
                "invocationLatency": 700,
                "firstByteLatency": 300,
            },
        },
    ]
    streamed = parse(path + "-with-response-stream", body, b64(b"".join(map(chunk, chunks))))
    assert streamed.output == "Apache Flink." and streamed.finish_reason == "FINISH"
    assert streamed.usage is not None and (streamed.usage.input, streamed.usage.output) == (6, 4)


def test_invoke_titan_embeddings() -> None:
    path = "/model/amazon.titan-embed-text-v2%3A0/invoke"
    body = {"inputText": "kafka", "dimensions": 4, "normalize": True}
    response = {"embedding": [0.1, -0.2, 0.3, 0.4], "inputTextTokenCount": 3}
    result = parse(path, body, response)
    assert (result.operation, result.observation_type) == ("embedding", "embedding")
    assert result.input == "kafka" and result.model_parameters == {"dimensions": 4}
    assert result.output == {"embeddings": 1, "dimensions": 4}
    assert result.usage is not None and result.usage.input == 3


def test_invoke_nova_is_converse_shaped() -> None:
    path = "/model/us.amazon.nova-lite-v1%3A0/invoke"
    body = {
        "schemaVersion": "messages-v1",
        "system": [{"text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
        "inferenceConfig": {"max_new_tokens": 64, "temperature": 0.7},
    }
    response = {
        "output": {"message": {"role": "assistant", "content": [{"text": "Hello."}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": 5,
            "outputTokens": 2,
            "totalTokens": 7,
            "cacheReadInputTokenCount": 0,
            "cacheWriteInputTokenCount": 0,
        },
    }
    result = parse(path, body, response)
    assert result.operation == "chat_completion"
    assert result.input == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert result.output == {"role": "assistant", "content": "Hello."}
    assert result.model_parameters == {"max_tokens": 64, "temperature": 0.7}
    assert result.usage is not None and (result.usage.input, result.usage.output) == (5, 2)


def test_invoke_prompt_models_and_header_counts() -> None:
    path = "/model/meta.llama3-70b-instruct-v1%3A0/invoke"
    body = {"prompt": "Hi", "max_gen_len": 64, "temperature": 0.5}
    response = {
        "generation": "Hello.",
        "prompt_token_count": 2,
        "generation_token_count": 3,
        "stop_reason": "stop",
    }
    result = parse(path, body, response)
    assert (result.operation, result.input, result.output) == ("completion", "Hi", "Hello.")
    assert result.model_parameters == {"temperature": 0.5, "max_tokens": 64}
    assert result.usage is not None and (result.usage.input, result.usage.output) == (2, 3)
    headers = {"x-amzn-bedrock-input-token-count": "7", "x-amzn-bedrock-output-token-count": "9"}
    mistral = parse(
        "/model/mistral.mistral-large-2402-v1%3A0/invoke",
        {"prompt": "<s>[INST] Hi [/INST]", "max_tokens": 32},
        {"outputs": [{"text": "Hello.", "stop_reason": "stop"}]},
        response_headers=headers,
    )
    assert mistral.output == "Hello." and mistral.finish_reason == "stop"
    assert mistral.usage is not None and (mistral.usage.input, mistral.usage.output) == (7, 9)


# --- the whole path -----------------------------------------------------------------------------


def _record(path: str, request: Any, response: str, **response_fields: Any) -> KongRecord:
    return parse_record(
        {
            "request": {
                "id": "b" * 32,
                "method": "POST",
                "uri": path,
                "body": orjson.dumps(request).decode(),
            },
            "response": {"status": 200, "body": response, **response_fields},
            "latencies": {"request": 1800, "proxy": 1750, "kong": 5},
            "service": {"name": "bedrock", "host": "bedrock-runtime.us-east-1.amazonaws.com"},
            "started_at": 1764400000000,
        }
    )


def test_enrich_a_bedrock_stream_with_cost() -> None:
    trace = enrich(
        _record(CONVERSE_STREAM, CONVERSE_REQUEST, b64(_reasoning_stream())),
        build_options(provider_plugins=False),
    )
    assert isinstance(trace, Trace)
    generation = trace.generation
    assert trace.metadata["provider"] == "bedrock" and generation.model == MODEL
    # privacy scrubs fields named like credentials: a thinking block's signature is one
    assert generation.output == {
        **CONVERSE_OUTPUT,
        "thinking": [{"type": "thinking", "content": "Two cities.", "signature": "REDACTED"}],
    }
    assert generation.input["messages"][2]["thinking"] == [
        {"type": "thinking", "content": "Looks like Oslo.", "signature": "REDACTED"}
    ]
    assert generation.cost is not None and generation.cost.total > 0
    assert generation.cost.source == "genai-prices"


def test_kong_ai_block_on_a_bedrock_route_is_sniffed() -> None:
    response = exchange("/llm/chat", KONG_REQUEST, KONG_RESPONSE)
    provider, operation = sniff(response, None)
    assert isinstance(provider, BedrockRuntime) and operation == "chat_completion"
    result = provider.parse(operation, response)
    assert result.output == {
        "role": "assistant",
        "content": "You cannot divide by zero because it is not a valid operation in mathematics.",
    }
    streamed = exchange("/llm/chat", KONG_REQUEST, b64(FUNCTIONS_STREAM))
    assert isinstance(sniff(streamed, None)[0], BedrockRuntime)


# --- cost: Bedrock model ids --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "provider", "expected"),
    [
        ("us.anthropic.claude-3-5-sonnet-20240620-v1:0", None, "claude-3-5-sonnet"),
        ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic", "claude-3-7-sonnet"),
        ("global.anthropic.claude-sonnet-4-20250514-v1:0", None, "claude-sonnet-4"),
        ("apac.amazon.nova-pro-v1:0", "bedrock", "amazon.nova-pro-v1:0"),
        ("us.meta.llama3-1-70b-instruct-v1:0", "bedrock", "meta.llama3-1-70b-instruct-v1:0"),
        ("amazon.titan-embed-text-v2:0", "bedrock", "amazon.titan-embed-text-v2:0"),
    ],
)
def test_bedrock_model_ids_are_priced(model: str, provider: str | None, expected: str) -> None:
    resolved = resolve(model, provider)
    assert resolved is not None and resolved.model_id.startswith(expected)


def test_bedrock_candidates_strip_region_vendor_and_version() -> None:
    assert candidates("us.anthropic.claude-3-5-sonnet-20240620-v1:0", None) == [
        ("us.anthropic.claude-3-5-sonnet-20240620-v1:0", None),
        ("anthropic.claude-3-5-sonnet-20240620-v1:0", None),
        ("claude-3-5-sonnet-20240620-v1:0", None),
        ("claude-3-5-sonnet-20240620", None),
    ]
    assert candidates("gpt-4.1", "openai") == [("gpt-4.1", "openai"), ("gpt-4.1", None)]
    usage = Usage(input=1000, output=100, total=1100)
    assert compute_cost("us.anthropic.claude-3-5-sonnet-20240620-v1:0", None, usage) is not None


# --- never raise --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(30))
def test_hostile_bedrock_bodies_never_raise(seed: int) -> None:
    rng = random.Random(seed)
    stream_events = [
        {"role": "assistant"},
        {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t", "name": "f"}}},
        {"contentBlockIndex": 0, "delta": {"toolUse": {"input": "{"}}},
        {"contentBlockIndex": 1, "delta": {"reasoningContent": {"text": "x", "signature": "s"}}},
        {"stopReason": "tool_use"},
        {"usage": {"inputTokens": 1, "outputTokens": 2}, "metrics": {"latencyMs": 3}},
    ]
    names = [
        "messageStart",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "messageStop",
        "metadata",
    ]
    for rate in (0.05, 0.3, 0.7):
        request = _mutations(CONVERSE_REQUEST, rng, rate)
        events = [_mutations(e, rng, rate) for e in stream_events]
        stream = b"".join(frame(n, e) for n, e in zip(names, events, strict=True))
        invoke = b"".join(chunk(e) for e in events if isinstance(e, dict))
        for path, body, response in (
            (CONVERSE, request, _mutations(KONG_RESPONSE, rng, rate)),
            (CONVERSE_STREAM, request, b64(stream)),
            (INVOKE, _mutations(ANTHROPIC_BODY, rng, rate), _mutations(KONG_RESPONSE, rng, rate)),
            (INVOKE_STREAM, ANTHROPIC_BODY, b64(invoke)),
            (
                "/model/amazon.titan-text-express-v1/invoke-with-response-stream",
                {"inputText": 3},
                b64(invoke),
            ),
            (
                "/model/amazon.titan-embed-text-v2:0/invoke",
                {"inputText": []},
                _mutations({"embedding": [1], "inputTextTokenCount": 1}, rng, rate),
            ),
        ):
            parse(path, body, response)
