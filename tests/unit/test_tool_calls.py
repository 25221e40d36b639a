"""Tool calls, reasoning, tool definitions and media in every provider's input and output.

Litefuse renders chat in OpenAI's message shape and extracts tool definitions from the input's
``tools`` and tool calls from the output's ``tool_calls``: each test feeds a provider a
realistic body (written from the provider's API reference, or Kong's own test data) and asserts
the exact shape it produces, streamed and not.
"""

from __future__ import annotations

import base64
import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.enrich.messages import (
    assistant_message,
    normalise_tools,
    placeholder,
    strip_media,
    thinking,
    tool_call,
)
from pipeline.enrich.providers import REGISTRY, Exchange, LLMCall, detect
from pipeline.enrich.providers.base import strings
from pipeline.enrich.tokens import count_text, count_value
from pipeline.kong.bodies import decode_body
from pipeline.kong.record import parse_record

KONG_FIXTURES = Path("/work/shared/kong-fixtures")

# --- helpers ------------------------------------------------------------------------------------


def _text(body: Any) -> str | None:
    if body is None or isinstance(body, str):
        return body
    return orjson.dumps(body).decode()


def exchange(
    path: str,
    request: Any,
    response: Any,
    *,
    status: int = 200,
    host: str = "api.example.com",
    request_headers: dict[str, str] | None = None,
    response_headers: dict[str, str] | None = None,
) -> Exchange:
    """A Kong record with these bodies (dicts are JSON-encoded, strings kept as captured)."""
    record = parse_record(
        {
            "request": {
                "method": "POST",
                "uri": path,
                "headers": request_headers or {},
                "body": _text(request),
            },
            "response": {
                "status": status,
                "headers": response_headers or {},
                "body": _text(response),
            },
            "service": {"host": host, "name": "llm"},
            "started_at": 1764400000000,
        }
    )
    return Exchange(
        record, path, decode_body(record.request.body), decode_body(record.response.body)
    )


def parse(path: str, request: Any, response: Any, **kwargs: Any) -> LLMCall:
    """What the registry's provider reads from one exchange."""
    found = detect(exchange(path, request, response, **kwargs), REGISTRY)
    assert found is not None, path
    provider, operation = found
    return provider.parse(operation, exchange(path, request, response, **kwargs))


def sse(events: list[Any], names: list[str] | None = None, done: bool = False) -> str:
    lines = []
    for position, event in enumerate(events):
        name = f"event: {names[position]}\n" if names else ""
        lines.append(f"{name}data: {orjson.dumps(event).decode()}\n\n")
    return "".join(lines) + ("data: [DONE]\n\n" if done else "")


def ndjson(lines: list[Any]) -> str:
    return "\n".join(orjson.dumps(line).decode() for line in lines) + "\n"


PNG = b"\x89PNG\r\n\x1a\n" + bytes(92)  # 100 bytes
PNG_B64 = base64.b64encode(PNG).decode()
WAV_B64 = base64.b64encode(b"RIFF" + bytes(40)).decode()  # 44 bytes
PDF_B64 = base64.b64encode(b"%PDF-1.7\n" + bytes(51)).decode()  # 60 bytes

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": WEATHER_SCHEMA,
    },
}


def call(call_id: str, arguments: str, name: str = "get_weather") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


OSLO = '{"city":"Oslo"}'
BERGEN = '{"city":"Bergen"}'


# --- the shared shapes --------------------------------------------------------------------------


def test_tool_call_shape_and_synthesized_ids() -> None:
    assert tool_call("call_x", "f", {"a": 1}, 3) == call("call_x", '{"a":1}', "f")
    assert tool_call(None, "f", '{"a": 1', 3) == call("call_3", '{"a": 1', "f")  # kept as is
    assert tool_call("", 7, None, 0) == call("call_0", "{}", "")
    assert tool_call(42, "f", [1, 2], 0)["id"] == "42"
    deep: Any = {}
    for _ in range(400):  # deeper than orjson writes
        deep = {"a": deep}
    assert tool_call("c", "f", deep, 0)["function"]["arguments"] == "{}"


def test_assistant_message_keys_only_when_they_have_content() -> None:
    assert assistant_message("") == {"role": "assistant", "content": ""}
    assert assistant_message("", [call("c", "{}")]) == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("c", "{}")],
    }
    message = assistant_message(
        "hi",
        [call("c", "{}")],
        [{"type": "thinking", "content": "t"}],
        [{"type": "redacted_thinking", "data": "x"}],
    )
    assert list(message) == ["role", "content", "tool_calls", "thinking", "redacted_thinking"]


def test_thinking_block_shape() -> None:
    assert thinking("why", "sig") == {"type": "thinking", "content": "why", "signature": "sig"}
    assert thinking("why", summary="short") == {
        "type": "thinking",
        "content": "why",
        "summary": "short",
    }
    assert thinking(None, summary="short") == {"type": "thinking", "content": "short"}
    assert thinking("", None) is None and thinking(3) is None
    assert thinking("", "sig") == {"type": "thinking", "content": "", "signature": "sig"}


def test_tools_from_every_provider_in_openai_shape() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    expected = {
        "type": "function",
        "function": {"name": "search", "description": "Find", "parameters": schema},
    }
    given = [
        {
            "type": "function",
            "function": {
                "name": "search",
                "description": "Find",
                "parameters": schema,
                "strict": True,
            },
        },
        {"type": "function", "name": "search", "description": "Find", "parameters": schema},
        {"name": "search", "description": "Find", "input_schema": schema},
        {"toolSpec": {"name": "search", "description": "Find", "inputSchema": {"json": schema}}},
        {"functionDeclarations": [{"name": "search", "description": "Find", "parameters": schema}]},
        {
            "function_declarations": [
                {"name": "search", "description": "Find", "parametersJsonSchema": schema}
            ]
        },
    ]
    assert normalise_tools(given) == [expected] * len(given)
    assert normalise_tools(
        [
            {
                "name": "search",
                "description": "Find",
                "parameter_definitions": {
                    "q": {"type": "str", "description": "query", "required": True}
                },
            }
        ]
    ) == [
        {
            "type": "function",
            "function": {
                "name": "search",
                "description": "Find",
                "parameters": {
                    "type": "object",
                    "properties": {"q": {"type": "str", "description": "query"}},
                    "required": ["q"],
                },
            },
        }
    ]
    # provider-side tools keep their type and settings, not their blobs
    assert normalise_tools(
        [
            {"type": "web_search_preview", "search_context_size": "low"},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
            {"type": "mcp", "server_label": "x", "headers": {"Authorization": "Bearer s"}},
            {"type": "file_search", "vector_store_ids": ["vs_1"]},
            {"googleSearch": {}},
            {"cachePoint": {"type": "default"}},
            {"name": "bare"},
            "nonsense",
            {},
        ]
    ) == [
        {"type": "web_search_preview", "search_context_size": "low"},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
        {"type": "mcp", "server_label": "x"},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {"type": "googleSearch"},
        {"type": "function", "function": {"name": "bare"}},
    ]
    assert normalise_tools(None) == [] and normalise_tools({"a": 1}) == []


def test_media_placeholders_for_every_blob_shape() -> None:
    data_url = f"data:image/png;base64,{PNG_B64}"
    value = [
        {"type": "image_url", "image_url": {"url": data_url, "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "input_audio", "input_audio": {"data": WAV_B64, "format": "wav"}},
        {"type": "input_image", "image_url": data_url},
        {
            "type": "input_file",
            "filename": "a.pdf",
            "file_data": f"data:application/pdf;base64,{PDF_B64}",
        },
        {"type": "input_file", "filename": "b.pdf", "file_data": PDF_B64},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/x.png"}},
        {"inlineData": {"mimeType": "image/png", "data": PNG_B64}},
        {"inline_data": {"mime_type": "audio/wav", "data": WAV_B64}},
        {"image": {"format": "png", "source": {"bytes": PNG_B64}}},
        {"document": {"format": "pdf", "name": "doc", "source": {"bytes": PDF_B64}}},
        {"video": {"format": "mp4", "source": {"s3Location": {"uri": "s3://b/v.mp4"}}}},
        {"role": "user", "content": "look", "images": [PNG_B64, "https://example.com/y.jpg"]},
        {"type": "text", "text": "data:text/plain,not base64"},
    ]
    before = orjson.dumps(value)
    assert strip_media(value) == [
        {"type": "image_url", "image_url": {"url": "[image/png, 100 bytes]", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "input_audio", "input_audio": {"data": "[audio/wav, 44 bytes]", "format": "wav"}},
        {"type": "input_image", "image_url": "[image/png, 100 bytes]"},
        {"type": "input_file", "filename": "a.pdf", "file_data": "[application/pdf, 60 bytes]"},
        {"type": "input_file", "filename": "b.pdf", "file_data": "[application/pdf, 60 bytes]"},
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": "image/png",
                "data": "[image/png, 100 bytes]",
            },
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/x.png"}},
        {"inlineData": {"mimeType": "image/png", "data": "[image/png, 100 bytes]"}},
        {"inline_data": {"mime_type": "audio/wav", "data": "[audio/wav, 44 bytes]"}},
        {"image": {"format": "png", "source": {"bytes": "[image/png, 100 bytes]"}}},
        {
            "document": {
                "format": "pdf",
                "name": "doc",
                "source": {"bytes": "[application/pdf, 60 bytes]"},
            }
        },
        {"video": {"format": "mp4", "source": {"s3Location": {"uri": "s3://b/v.mp4"}}}},
        {
            "role": "user",
            "content": "look",
            "images": ["[image/png, 100 bytes]", "https://example.com/y.jpg"],
        },
        {"type": "text", "text": "data:text/plain,not base64"},
    ]
    assert orjson.dumps(value) == before  # the request document is never modified
    assert strip_media(value[1]) is value[1]  # nothing to replace: the same object
    assert placeholder(None, base64.b64encode(bytes(10)).decode()) == "[media, 10 bytes]"


def test_media_walk_is_bounded_on_deep_values() -> None:
    deep: Any = f"data:image/png;base64,{PNG_B64}"
    for _ in range(5000):
        deep = [deep]
    strip_media(deep)  # no RecursionError: the walk stops at its depth limit


def test_estimates_skip_ids_signatures_and_blobs() -> None:
    output = assistant_message(
        "Sunny.",
        [call("call_0123456789abcdef", OSLO)],
        [{"type": "thinking", "content": "check", "signature": "EqQBCgIYAhIM" * 50}],
        [{"type": "redacted_thinking", "data": "EmwKAhgBEgy3va" * 50}],
    )
    assert strings(output) == ["Sunny.", "get_weather", OSLO, "check"]
    # {"messages", "tools"}: the tools' text counts, and each message its 3 tokens (+3)
    wrapped = {"messages": [{"role": "user", "content": "hi"}] * 2, "tools": [WEATHER_TOOL]}
    text = "\n".join(strings(wrapped))
    assert "get_weather" in text and "Current weather in a city" in text
    assert count_value(wrapped) == count_text(text) + 3 * 2 + 3


# --- OpenAI chat completions --------------------------------------------------------------------

CHAT_PATH = "/v1/chat/completions"
CHAT_REQUEST = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Oslo and Bergen?"},
    ],
    "tools": [WEATHER_TOOL],
    "tool_choice": "auto",
}


def test_openai_parallel_tool_calls() -> None:
    response = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [call("call_a", OSLO), call("call_b", BERGEN)],
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 80, "completion_tokens": 40, "total_tokens": 120},
    }
    result = parse(CHAT_PATH, CHAT_REQUEST, response)
    assert result.input == {
        "messages": CHAT_REQUEST["messages"],
        "tools": [WEATHER_TOOL],
    }
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("call_a", OSLO), call("call_b", BERGEN)],
    }
    assert result.finish_reason == "tool_calls"
    assert result.usage is not None and (result.usage.input, result.usage.output) == (80, 40)


def test_openai_streamed_tool_calls_are_merged_by_index() -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-2",
            "object": "chat.completion.chunk",
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def fragment(index: int, arguments: str, **start: Any) -> dict[str, Any]:
        function: dict[str, Any] = {"arguments": arguments}
        if "name" in start:
            function["name"] = start.pop("name")
        return {"tool_calls": [{"index": index, **start, "function": function}]}

    events = [
        chunk({"role": "assistant", "content": None, "refusal": None}),
        chunk(fragment(0, "", id="call_a", type="function", name="get_weather")),
        chunk(fragment(0, '{"ci')),
        chunk(fragment(1, "", id="call_b", type="function", name="get_weather")),
        chunk(fragment(0, 'ty":"Oslo"}')),
        chunk(fragment(1, '{"city":"Bergen"}')),
        chunk({}, "tool_calls"),
        {
            "id": "chatcmpl-2",
            "choices": [],
            "usage": {"prompt_tokens": 80, "completion_tokens": 40, "total_tokens": 120},
        },
    ]
    result = parse(CHAT_PATH, {**CHAT_REQUEST, "stream": True}, sse(events, done=True))
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("call_a", OSLO), call("call_b", BERGEN)],
    }
    assert result.finish_reason == "tool_calls" and result.stream
    # a stream cut short keeps the partial arguments as they are
    cut = parse(CHAT_PATH, CHAT_REQUEST, sse(events[:3]))
    assert cut.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("call_a", '{"ci')],
    }


def test_openai_stream_without_indexes_keys_calls_by_id() -> None:
    events = [
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {"id": "c1", "function": {"name": "get_weather", "arguments": OSLO}}
                        ]
                    }
                }
            ]
        },
        {
            "choices": [
                {
                    "delta": {
                        "tool_calls": [
                            {"id": "c2", "function": {"name": "get_weather", "arguments": BERGEN}}
                        ]
                    }
                }
            ]
        },
    ]
    assert parse(CHAT_PATH, CHAT_REQUEST, sse(events)).output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("c1", OSLO), call("c2", BERGEN)],
    }


def test_openai_compatible_reasoning_is_kept_apart() -> None:
    # DeepSeek's reasoner and vLLM's reasoning parsers: reasoning_content next to content
    response = {
        "model": "deepseek-reasoner",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Oslo is cold.",
                    "reasoning_content": "The user asks about Oslo.",
                },
                "finish_reason": "stop",
            }
        ],
    }
    request = {"model": "deepseek-reasoner", "messages": [{"role": "user", "content": "Oslo?"}]}
    result = parse(CHAT_PATH, request, response, host="api.deepseek.com")
    assert result.provider == "deepseek"
    assert result.input == request["messages"]
    assert result.output == {
        "role": "assistant",
        "content": "Oslo is cold.",
        "thinking": [{"type": "thinking", "content": "The user asks about Oslo."}],
    }
    # OpenRouter: reasoning, and reasoning_details with signatures and encrypted parts
    routed = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": "Cold.",
                    "reasoning": "Thinking about Oslo.",
                    "reasoning_details": [
                        {
                            "type": "reasoning.text",
                            "text": "Thinking about Oslo.",
                            "signature": "s1",
                        },
                        {"type": "reasoning.encrypted", "data": "gAAAAB"},
                    ],
                }
            }
        ]
    }
    assert parse(CHAT_PATH, request, routed).output == {
        "role": "assistant",
        "content": "Cold.",
        "thinking": [{"type": "thinking", "content": "Thinking about Oslo.", "signature": "s1"}],
        "redacted_thinking": [{"type": "redacted_thinking", "data": "gAAAAB"}],
    }


def test_openai_compatible_streamed_reasoning() -> None:
    events = [
        {
            "model": "deepseek-reasoner",
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": None, "reasoning_content": ""},
                }
            ],
        },
        {"choices": [{"index": 0, "delta": {"content": None, "reasoning_content": "Oslo is "}}]},
        {"choices": [{"index": 0, "delta": {"content": None, "reasoning_content": "north."}}]},
        {"choices": [{"index": 0, "delta": {"content": "Cold", "reasoning_content": None}}]},
        {"choices": [{"index": 0, "delta": {"content": "."}, "finish_reason": "stop"}]},
    ]
    result = parse(CHAT_PATH, {"model": "deepseek-reasoner", "messages": []}, sse(events))
    assert result.output == {
        "role": "assistant",
        "content": "Cold.",
        "thinking": [{"type": "thinking", "content": "Oslo is north."}],
    }
    vllm = [
        {"choices": [{"delta": {"reasoning": "Hmm."}}]},
        {"choices": [{"delta": {"content": "A"}}]},
    ]
    assert parse(CHAT_PATH, {"messages": []}, sse(vllm)).output == {
        "role": "assistant",
        "content": "A",
        "thinking": [{"type": "thinking", "content": "Hmm."}],
    }


def test_openai_history_with_tool_calls_and_results() -> None:
    history = [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [call("call_a", OSLO)]},
        {"role": "tool", "tool_call_id": "call_a", "content": "3 degrees"},
        # a client that sends arguments as an object, and a DeepSeek-style reasoning field
        {
            "role": "assistant",
            "content": "It is 3°C.",
            "reasoning_content": "Easy.",
            "tool_calls": [
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": {"city": "Oslo"}},
                }
            ],
        },
    ]
    request = {"model": "gpt-4o", "messages": history, "tools": [WEATHER_TOOL]}
    result = parse(CHAT_PATH, request, None)
    assert result.input == {
        "messages": [
            history[0],
            history[1],
            history[2],
            {
                "role": "assistant",
                "content": "It is 3°C.",
                "tool_calls": [call("call_b", OSLO)],
                "thinking": [{"type": "thinking", "content": "Easy."}],
            },
        ],
        "tools": [WEATHER_TOOL],
    }
    assert result.input["messages"][1] is history[1] or result.input["messages"][1] == history[1]


def test_openai_legacy_function_call_and_refusal() -> None:
    legacy = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": None,
                    "function_call": {"name": "get_weather", "arguments": OSLO},
                }
            }
        ]
    }
    functions = [{"name": "get_weather", "parameters": WEATHER_SCHEMA}]
    result = parse(CHAT_PATH, {"messages": [], "functions": functions}, legacy)
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("call_0", OSLO)],
    }
    assert result.input == {
        "messages": [],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}
        ],
    }
    refused = {"choices": [{"message": {"role": "assistant", "content": None, "refusal": "No."}}]}
    assert parse(CHAT_PATH, {"messages": []}, refused).output == {
        "role": "assistant",
        "content": "No.",
    }


def test_openai_media_placeholders_in_input() -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
                {"type": "input_audio", "input_audio": {"data": WAV_B64, "format": "wav"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ],
        }
    ]
    result = parse(CHAT_PATH, {"model": "gpt-4o", "messages": messages}, None)
    assert result.input == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "[image/png, 100 bytes]"}},
                {
                    "type": "input_audio",
                    "input_audio": {"data": "[audio/wav, 44 bytes]", "format": "wav"},
                },
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ],
        }
    ]


def test_no_walk_without_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bodies without a blob's hint, or whose messages are all plain text, are never walked."""
    import pipeline.enrich.providers.anthropic as anthropic_module
    import pipeline.enrich.providers.openai as openai_module

    def boom(value: Any) -> Any:
        raise AssertionError("walked a body without media")

    monkeypatch.setattr(openai_module, "strip_media", boom)
    monkeypatch.setattr(anthropic_module, "strip_media", boom)
    parts = [
        {"type": "text", "text": "hi"},
        {"type": "image_url", "image_url": {"url": "https://x"}},
    ]
    parse(CHAT_PATH, {"messages": [{"role": "user", "content": parts}]}, None)
    # the word "base64" in a plain-text prompt: no list content, no walk either
    parse(CHAT_PATH, {"messages": [{"role": "user", "content": "explain base64"}]}, None)
    parse(
        "/v1/messages", {"model": "claude", "messages": [{"role": "user", "content": parts}]}, None
    )
    with pytest.raises(AssertionError, match="walked"):
        blob = [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}]
        parse(CHAT_PATH, {"messages": [{"role": "user", "content": blob}]}, None)


def test_chat_without_tools_is_as_before() -> None:
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}
    response = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": "Hello!",
                    "refusal": None,
                    "annotations": [],
                },
                "finish_reason": "stop",
            }
        ]
    }
    result = parse(CHAT_PATH, request, response)
    assert result.input is request["messages"] or result.input == request["messages"]
    assert result.output == {"role": "assistant", "content": "Hello!"}


def test_kong_openai_fixtures_still_read() -> None:
    """Kong's own OpenAI bodies: a plain answer and a stream (no tools) keep their shape."""
    folder = KONG_FIXTURES / "kong" / "openai" / "llm-v1-chat"
    if not folder.is_dir():
        pytest.skip("Kong's fixtures are not on this machine")
    request = (folder / "requests" / "good.json").read_text()
    result = parse(CHAT_PATH, request, (folder / "responses" / "good.json").read_text())
    assert result.output == {"role": "assistant", "content": "The sum of 1 + 1 is 2."}
    stream = (KONG_FIXTURES / "inline" / "openai-chat-stream-good.sse").read_text()
    streamed = parse(CHAT_PATH, request, stream)
    assert streamed.output is not None and set(streamed.output) == {"role", "content"}


# --- vLLM and Azure reuse the OpenAI parser -----------------------------------------------------


def test_vllm_and_azure_routes_read_tool_calls() -> None:
    response = {
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [call("chatcmpl-tool-1", OSLO)],
                    "reasoning_content": "Tool.",
                },
                "finish_reason": "tool_calls",
                "stop_reason": None,
            }
        ],
        "prompt_logprobs": None,
    }
    vllm = parse(CHAT_PATH, CHAT_REQUEST, response, host="vllm.internal")
    assert vllm.provider == "vllm"
    expected = {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("chatcmpl-tool-1", OSLO)],
        "thinking": [{"type": "thinking", "content": "Tool."}],
    }
    assert vllm.output == expected
    azure = parse("/openai/deployments/prod/chat/completions", CHAT_REQUEST, response)
    assert azure.provider == "azure" and azure.output == expected
    assert azure.input == {"messages": CHAT_REQUEST["messages"], "tools": [WEATHER_TOOL]}


# --- OpenAI Responses API -----------------------------------------------------------------------

RESPONSES_PATH = "/v1/responses"
RESPONSES_REQUEST = {
    "model": "o4-mini",
    "instructions": "Be brief.",
    "input": [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Weather here?"},
                {"type": "input_image", "image_url": f"data:image/png;base64,{PNG_B64}"},
                {
                    "type": "input_file",
                    "filename": "a.pdf",
                    "file_data": f"data:application/pdf;base64,{PDF_B64}",
                },
            ],
        },
        {
            "type": "reasoning",
            "id": "rs_0",
            "summary": [{"type": "summary_text", "text": "Need the tool."}],
            "encrypted_content": "gAAAAB",
        },
        {
            "type": "function_call",
            "id": "fc_0",
            "call_id": "call_0",
            "name": "get_weather",
            "arguments": OSLO,
        },
        {"type": "function_call_output", "call_id": "call_0", "output": '{"temp":3}'},
        {"role": "assistant", "content": [{"type": "output_text", "text": "3 degrees."}]},
        {"role": "developer", "content": "Answer in Celsius."},
        {"role": "user", "content": "And Bergen?"},
    ],
    "tools": [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": WEATHER_SCHEMA,
            "strict": True,
        },
        {"type": "web_search_preview", "search_context_size": "low"},
    ],
    "reasoning": {"effort": "low", "summary": "auto"},
}
RESPONSES_INPUT = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather here?"},
                {"type": "image_url", "image_url": {"url": "[image/png, 100 bytes]"}},
                {
                    "type": "input_file",
                    "filename": "a.pdf",
                    "file_data": "[application/pdf, 60 bytes]",
                },
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [call("call_0", OSLO)],
            "thinking": [{"type": "thinking", "content": "Need the tool."}],
        },
        {"role": "tool", "content": '{"temp":3}', "tool_call_id": "call_0"},
        {"role": "assistant", "content": "3 degrees."},
        {"role": "system", "content": "Answer in Celsius."},
        {"role": "user", "content": "And Bergen?"},
    ],
    "tools": [WEATHER_TOOL, {"type": "web_search_preview", "search_context_size": "low"}],
}
RESPONSE_DOCUMENT = {
    "id": "resp_1",
    "object": "response",
    "status": "completed",
    "model": "o4-mini-2025-04-16",
    "output": [
        {
            "id": "rs_1",
            "type": "reasoning",
            "summary": [
                {"type": "summary_text", "text": "**Weather**"},
                {"type": "summary_text", "text": "Call the tool twice."},
            ],
        },
        {
            "id": "fc_1",
            "type": "function_call",
            "status": "completed",
            "arguments": BERGEN,
            "call_id": "call_1",
            "name": "get_weather",
        },
        {
            "id": "fc_2",
            "type": "function_call",
            "status": "completed",
            "arguments": OSLO,
            "call_id": "call_2",
            "name": "get_weather",
        },
    ],
    "usage": {
        "input_tokens": 60,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 90,
        "output_tokens_details": {"reasoning_tokens": 64},
        "total_tokens": 150,
    },
}
RESPONSES_OUTPUT = {
    "role": "assistant",
    "content": None,
    "tool_calls": [call("call_1", BERGEN), call("call_2", OSLO)],
    "thinking": [{"type": "thinking", "content": "**Weather**\n\nCall the tool twice."}],
}


def test_responses_input_items_and_function_calls() -> None:
    result = parse(RESPONSES_PATH, RESPONSES_REQUEST, RESPONSE_DOCUMENT)
    assert result.operation == "responses"
    assert result.input == RESPONSES_INPUT
    assert result.output == RESPONSES_OUTPUT
    assert result.usage is not None and result.usage.output_reasoning == 64
    assert result.model_parameters["reasoning_effort"] == "low"


def test_responses_bare_string_input_is_one_user_message() -> None:
    result = parse(RESPONSES_PATH, {"model": "gpt-4.1", "input": "Hi"}, None)
    assert result.input == [{"role": "user", "content": "Hi"}]


def _responses_events() -> list[dict[str, Any]]:
    return [
        {
            "type": "response.created",
            "sequence_number": 0,
            "response": {
                "id": "resp_1",
                "object": "response",
                "status": "in_progress",
                "model": "o4-mini-2025-04-16",
                "output": [],
            },
        },
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": "rs_1", "type": "reasoning", "summary": []},
        },
        {
            "type": "response.reasoning_summary_part.added",
            "item_id": "rs_1",
            "output_index": 0,
            "summary_index": 0,
            "part": {"type": "summary_text", "text": ""},
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "item_id": "rs_1",
            "output_index": 0,
            "summary_index": 0,
            "delta": "**Weather**",
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "item_id": "rs_1",
            "output_index": 0,
            "summary_index": 1,
            "delta": "Call the tool ",
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "item_id": "rs_1",
            "output_index": 0,
            "summary_index": 1,
            "delta": "twice.",
        },
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {
                "id": "fc_1",
                "type": "function_call",
                "status": "in_progress",
                "arguments": "",
                "call_id": "call_1",
                "name": "get_weather",
            },
        },
        {
            "type": "response.function_call_arguments.delta",
            "item_id": "fc_1",
            "output_index": 1,
            "delta": '{"city":',
        },
        {
            "type": "response.function_call_arguments.delta",
            "item_id": "fc_1",
            "output_index": 1,
            "delta": '"Bergen"}',
        },
        {
            "type": "response.output_item.done",
            "output_index": 1,
            "item": {
                "id": "fc_1",
                "type": "function_call",
                "status": "completed",
                "arguments": BERGEN,
                "call_id": "call_1",
                "name": "get_weather",
            },
        },
        {
            "type": "response.output_item.added",
            "output_index": 2,
            "item": {
                "id": "fc_2",
                "type": "function_call",
                "status": "in_progress",
                "arguments": "",
                "call_id": "call_2",
                "name": "get_weather",
            },
        },
        {
            "type": "response.function_call_arguments.delta",
            "item_id": "fc_2",
            "output_index": 2,
            "delta": '{"city":"Os',
        },
    ]


def test_responses_stream_with_completed_response() -> None:
    events = [
        *_responses_events(),
        {"type": "response.completed", "response": RESPONSE_DOCUMENT},
    ]
    result = parse(RESPONSES_PATH, RESPONSES_REQUEST, sse(events, [e["type"] for e in events]))
    assert result.stream and result.output == RESPONSES_OUTPUT
    assert result.usage is not None and result.usage.input == 60


def test_responses_stream_rebuilt_from_items_and_deltas() -> None:
    """No response.completed (a stream cut short): items and deltas rebuild the output."""
    events = _responses_events()
    result = parse(RESPONSES_PATH, RESPONSES_REQUEST, sse(events, [e["type"] for e in events]))
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("call_1", BERGEN), call("call_2", '{"city":"Os')],
        "thinking": [{"type": "thinking", "content": "**Weather**\n\nCall the tool twice."}],
    }
    assert result.response_model == "o4-mini-2025-04-16" and result.usage is None
    text = [
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"id": "msg_1", "type": "message", "role": "assistant", "content": []},
        },
        {
            "type": "response.output_text.delta",
            "output_index": 0,
            "content_index": 0,
            "delta": "Hel",
        },
        {
            "type": "response.output_text.delta",
            "output_index": 0,
            "content_index": 0,
            "delta": "lo",
        },
    ]
    assert parse(RESPONSES_PATH, RESPONSES_REQUEST, sse(text)).output == {
        "role": "assistant",
        "content": "Hello",
    }


# --- Anthropic ----------------------------------------------------------------------------------

MESSAGES_PATH = "/v1/messages"
ANTHROPIC_REQUEST = {
    "model": "claude-sonnet-4-20250514",
    "max_tokens": 2048,
    "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "tools": [
        {
            "name": "get_weather",
            "description": "Current weather in a city",
            "input_schema": WEATHER_SCHEMA,
        },
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
    ],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather where this photo was taken?"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "thinking",
                    "thinking": "It looks like Oslo.",
                    "signature": "EqQBCgIYAhIM",
                },
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va"},
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_02",
                    "name": "get_weather",
                    "input": {"city": "Bergen"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "3 degrees"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_02",
                    "content": [
                        {"type": "text", "text": "5 degrees"},
                        {"type": "text", "text": ", rain"},
                    ],
                },
                {"type": "text", "text": "Which is warmer?"},
            ],
        },
    ],
}
ANTHROPIC_INPUT = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather where this photo was taken?"},
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": "image/png",
                        "data": "[image/png, 100 bytes]",
                    },
                },
            ],
        },
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [call("toolu_01", OSLO), call("toolu_02", BERGEN)],
            "thinking": [
                {"type": "thinking", "content": "It looks like Oslo.", "signature": "EqQBCgIYAhIM"}
            ],
            "redacted_thinking": [{"type": "redacted_thinking", "data": "EmwKAhgBEgy3va"}],
        },
        {"role": "tool", "content": "3 degrees", "tool_call_id": "toolu_01"},
        {"role": "tool", "content": "5 degrees, rain", "tool_call_id": "toolu_02"},
        {"role": "user", "content": "Which is warmer?"},
    ],
    "tools": [WEATHER_TOOL, {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}],
}
ANTHROPIC_OUTPUT = {
    "role": "assistant",
    "content": "Let me check both.",
    "tool_calls": [call("toolu_03", OSLO), call("toolu_04", BERGEN)],
    "thinking": [{"type": "thinking", "content": "Two cities.", "signature": "sig=="}],
    "redacted_thinking": [{"type": "redacted_thinking", "data": "opaque"}],
}


def test_anthropic_tool_use_thinking_and_tool_results() -> None:
    response = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-20250514",
        "content": [
            {"type": "thinking", "thinking": "Two cities.", "signature": "sig=="},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "Let me check both."},
            {
                "type": "tool_use",
                "id": "toolu_03",
                "name": "get_weather",
                "input": {"city": "Oslo"},
            },
            {
                "type": "tool_use",
                "id": "toolu_04",
                "name": "get_weather",
                "input": {"city": "Bergen"},
            },
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 500, "output_tokens": 120, "cache_read_input_tokens": 100},
    }
    result = parse(MESSAGES_PATH, ANTHROPIC_REQUEST, response)
    assert result.input == ANTHROPIC_INPUT
    assert result.output == ANTHROPIC_OUTPUT
    assert result.finish_reason == "tool_use"
    assert result.usage is not None and result.usage.input == 600


def test_anthropic_stream_with_input_json_and_thinking_deltas() -> None:
    events = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_02",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-20250514",
                "content": [],
                "stop_reason": None,
                "usage": {"input_tokens": 500, "output_tokens": 1},
            },
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Two "},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "cities."},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "sig=="},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "redacted_thinking", "data": "opaque"},
        },
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "text_delta", "text": "Let me "},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "text_delta", "text": "check both."},
        },
        {"type": "content_block_stop", "index": 2},
        {
            "type": "content_block_start",
            "index": 3,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_03",
                "name": "get_weather",
                "input": {},
            },
        },
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {"type": "input_json_delta", "partial_json": ""},
        },
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {"type": "input_json_delta", "partial_json": '{"city":'},
        },
        {
            "type": "content_block_delta",
            "index": 3,
            "delta": {"type": "input_json_delta", "partial_json": '"Oslo"}'},
        },
        {"type": "content_block_stop", "index": 3},
        {
            "type": "content_block_start",
            "index": 4,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_04",
                "name": "get_weather",
                "input": {},
            },
        },
        {
            "type": "content_block_delta",
            "index": 4,
            "delta": {"type": "input_json_delta", "partial_json": BERGEN},
        },
        {"type": "content_block_stop", "index": 4},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 120},
        },
        {"type": "message_stop"},
    ]
    names = [e["type"] for e in events]
    result = parse(MESSAGES_PATH, {**ANTHROPIC_REQUEST, "stream": True}, sse(events, names))
    assert result.output == ANTHROPIC_OUTPUT
    assert result.finish_reason == "tool_use"
    assert result.usage is not None and (result.usage.input, result.usage.output) == (500, 120)
    # cut inside the second tool's input: the fragments so far, as they are
    cut = parse(MESSAGES_PATH, ANTHROPIC_REQUEST, sse(events[:15], names[:15]))
    assert cut.output is not None and cut.output["tool_calls"] == [call("toolu_03", '{"city":')]


def test_anthropic_kong_stream_fixture_keeps_its_text() -> None:
    stream = KONG_FIXTURES / "inline" / "anthropic-chat-stream-good.sse"
    if not stream.is_file():
        pytest.skip("Kong's fixtures are not on this machine")
    result = parse(MESSAGES_PATH, {"model": "claude-2.1", "messages": []}, stream.read_text())
    assert result.output == {"role": "assistant", "content": "1 + 1 = 2"}


def test_anthropic_url_images_and_documents() -> None:
    request = {
        "model": "claude",
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "url", "url": "https://example.com/a.png"},
                    },
                    {
                        "type": "document",
                        "source": {
                            "type": "base64",
                            "media_type": "application/pdf",
                            "data": PDF_B64,
                        },
                    },
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": PNG_B64,
                                },
                            }
                        ],
                    },
                ],
            }
        ],
    }
    assert parse(MESSAGES_PATH, request, None).input == [
        {
            "role": "tool",
            "content": '{"type":"image","source":{"type":"base64","media_type":'
            '"image/png","data":"[image/png, 100 bytes]"}}',
            "tool_call_id": "t1",
        },
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                {
                    "type": "document",
                    "source": {
                        "type": "base64",
                        "media_type": "application/pdf",
                        "data": "[application/pdf, 60 bytes]",
                    },
                },
            ],
        },
    ]


# --- Gemini -------------------------------------------------------------------------------------

GEMINI_PATH = "/v1beta/models/gemini-2.5-flash:generateContent"
GEMINI_STREAM_PATH = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
GEMINI_REQUEST = {
    "systemInstruction": {"parts": [{"text": "Be brief."}]},
    "contents": [
        {
            "role": "user",
            "parts": [
                {"text": "Weather where this was taken?"},
                {"inlineData": {"mimeType": "image/png", "data": PNG_B64}},
            ],
        },
        {
            "role": "model",
            "parts": [
                {"text": "It looks like Oslo.", "thought": True, "thoughtSignature": "CtoB"},
                {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
                {"functionCall": {"name": "get_weather", "args": {"city": "Bergen"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp": 3}}},
                {"functionResponse": {"name": "get_weather", "response": {"temp": 5}}},
            ],
        },
    ],
    "tools": [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Current weather in a city",
                    "parameters": WEATHER_SCHEMA,
                }
            ]
        },
        {"googleSearch": {}},
    ],
    "generationConfig": {"temperature": 0.2, "thinkingConfig": {"includeThoughts": True}},
}
GEMINI_INPUT = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Weather where this was taken?"},
                {"inlineData": {"mimeType": "image/png", "data": "[image/png, 100 bytes]"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [call("call_0", OSLO), call("call_1", BERGEN)],
            "thinking": [
                {"type": "thinking", "content": "It looks like Oslo.", "signature": "CtoB"}
            ],
        },
        {"role": "tool", "content": '{"temp":3}', "tool_call_id": "call_0", "name": "get_weather"},
        {"role": "tool", "content": '{"temp":5}', "tool_call_id": "call_1", "name": "get_weather"},
    ],
    "tools": [WEATHER_TOOL, {"type": "googleSearch"}],
}


def _gemini_chunk(parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "modelVersion": "gemini-2.5-flash"}


def test_gemini_function_calls_thoughts_and_responses() -> None:
    response = _gemini_chunk(
        [
            {"text": "Two cities to check.", "thought": True},
            {
                "functionCall": {"id": "fc-1", "name": "get_weather", "args": {"city": "Oslo"}},
                "thoughtSignature": "CtoB",
            },
            {"functionCall": {"name": "get_weather", "args": {"city": "Bergen"}}},
        ],
        "STOP",
    )
    response["usageMetadata"] = {
        "promptTokenCount": 90,
        "candidatesTokenCount": 20,
        "thoughtsTokenCount": 30,
        "totalTokenCount": 140,
    }
    result = parse(GEMINI_PATH, GEMINI_REQUEST, response)
    assert result.input == GEMINI_INPUT
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("fc-1", OSLO), call("call_1", BERGEN)],
        "thinking": [{"type": "thinking", "content": "Two cities to check."}],
    }
    assert result.usage is not None and result.usage.output_reasoning == 30


def test_gemini_function_responses_answer_calls_by_name() -> None:
    """Without ids, a response answers the last model turn's call of the same name."""
    request = {
        "contents": [
            {"role": "user", "parts": [{"text": "Time and weather in Oslo?"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
                {"functionCall": {"name": "get_time", "args": {"city": "Oslo"}}},
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_time", "response": {"time": "10:00"}}},
                {"functionResponse": {"name": "get_weather", "response": {"temp": 3}}},
            ]},
        ]
    }  # fmt: skip
    messages = parse(GEMINI_PATH, request, None).input
    assert [(m.get("tool_call_id"), m.get("name")) for m in messages[2:]] == [
        ("call_1", "get_time"),
        ("call_0", "get_weather"),
    ]


def test_gemini_sse_stream_with_thoughts_and_calls() -> None:
    chunks = [
        _gemini_chunk([{"text": "Two cities", "thought": True}]),
        _gemini_chunk([{"text": " to check.", "thought": True, "thoughtSignature": "CtoB"}]),
        _gemini_chunk([{"text": "Checking "}]),
        _gemini_chunk(
            [{"text": "both."}, {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}]
        ),
        _gemini_chunk(
            [{"functionCall": {"name": "get_weather", "args": {"city": "Bergen"}}}], "STOP"
        ),
    ]
    result = parse(GEMINI_STREAM_PATH, GEMINI_REQUEST, sse(chunks))
    assert result.stream and result.output == {
        "role": "assistant",
        "content": "Checking both.",
        "tool_calls": [call("call_0", OSLO), call("call_1", BERGEN)],
        "thinking": [{"type": "thinking", "content": "Two cities to check.", "signature": "CtoB"}],
    }


# Kong's mock of a Vertex function-calling stream (spec/03-plugins/38-ai-proxy/
# 09-streaming_integration_spec.lua, Kong/kong, Apache-2.0), its safety ratings left out: one
# JSON array of chunks, blank lines and all.
GEMINI_KONG_STREAM = """[{
  "candidates": [
    {
      "content": {
        "role": "model",
        "parts": [
          {
            "functionCall": {
              "name": "add",
              "args": {
                "a": 2,
                "b": 12
              }
            }
          }
        ]
      },


      "finishReason": "STOP"
    }
  ],
  "usageMetadata": {
    "promptTokenCount": 47,
    "candidatesTokenCount": 3,
    "totalTokenCount": 50,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 47}],
    "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 3}]
  },
  "modelVersion": "gemini-1.5-pro-001",
  "createTime": "2025-02-20T21:58:56.381597Z",
  "responseId": "oKW3Z52lF4762PgP4P6i4Ak"
}

]

"""


def test_gemini_json_array_stream_from_kong() -> None:
    """Kong's mock of a Gemini function-calling stream: one JSON array of chunks."""
    stream = KONG_FIXTURES / "inline" / "gemini-chat-functions-stream.json"
    if stream.is_file():  # the verbatim file, where it is on this machine
        assert (
            orjson.loads(stream.read_bytes())[0]["candidates"][0]["content"]
            == orjson.loads(GEMINI_KONG_STREAM)[0]["candidates"][0]["content"]
        )
    request = {
        "contents": [{"role": "user", "parts": [{"text": "What is 2 + 12?"}]}],
        "tools": [{"function_declarations": [{"name": "add", "description": "Adds"}]}],
    }
    result = parse(
        "/v1/projects/p/locations/us/publishers/google/models/gemini-1.5-pro:streamGenerateContent",
        request,
        GEMINI_KONG_STREAM,
    )
    assert result.provider == "vertex-ai"
    assert result.input == {
        "messages": [{"role": "user", "content": "What is 2 + 12?"}],
        "tools": [{"type": "function", "function": {"name": "add", "description": "Adds"}}],
    }
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("call_0", '{"a":2,"b":12}', "add")],
    }
    assert result.finish_reason == "STOP"
    assert result.usage is not None and (result.usage.input, result.usage.output) == (47, 3)


# --- Cohere -------------------------------------------------------------------------------------

COHERE_V2_REQUEST = {
    "model": "command-a-03-2025",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "tool_plan": "I will look up the weather.",
            "tool_calls": [
                {
                    "id": "get_weather_ab12",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": OSLO},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "get_weather_ab12",
            "content": [{"type": "document", "document": {"data": '{"temp":3}'}}],
        },
    ],
    "tools": [WEATHER_TOOL],
}
COHERE_V2_INPUT = {
    "messages": [
        *COHERE_V2_REQUEST["messages"][:2],
        {
            "role": "assistant",
            "tool_calls": [call("get_weather_ab12", OSLO)],
            "thinking": [{"type": "thinking", "content": "I will look up the weather."}],
        },
        COHERE_V2_REQUEST["messages"][3],
    ],
    "tools": [WEATHER_TOOL],
}


def test_cohere_v2_tool_calls_and_tool_plan() -> None:
    response = {
        "id": "c1",
        "finish_reason": "TOOL_CALL",
        "message": {
            "role": "assistant",
            "tool_plan": "I will check Bergen too.",
            "tool_calls": [
                {
                    "id": "get_weather_cd34",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": BERGEN},
                }
            ],
        },
        "usage": {
            "billed_units": {"input_tokens": 40, "output_tokens": 20},
            "tokens": {"input_tokens": 900, "output_tokens": 20},
        },
    }
    result = parse("/v2/chat", COHERE_V2_REQUEST, response, host="api.cohere.com")
    assert result.provider == "cohere" and result.input == COHERE_V2_INPUT
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("get_weather_cd34", BERGEN)],
        "thinking": [{"type": "thinking", "content": "I will check Bergen too."}],
    }
    assert result.finish_reason == "TOOL_CALL"


def test_cohere_v2_sse_stream_with_tool_plan_and_call_deltas() -> None:
    def message(delta: dict[str, Any]) -> dict[str, Any]:
        return {"delta": {"message": delta}}

    events = [
        {"type": "message-start", "id": "c2", **message({"role": "assistant"})},
        {"type": "tool-plan-delta", **message({"tool_plan": "I will check "})},
        {"type": "tool-plan-delta", **message({"tool_plan": "Bergen."})},
        {
            "type": "tool-call-start",
            "index": 0,
            **message(
                {
                    "tool_calls": {
                        "id": "get_weather_cd34",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                }
            ),
        },
        {
            "type": "tool-call-delta",
            "index": 0,
            **message({"tool_calls": {"function": {"arguments": '{"city":'}}}),
        },
        {
            "type": "tool-call-delta",
            "index": 0,
            **message({"tool_calls": {"function": {"arguments": '"Bergen"}'}}}),
        },
        {"type": "tool-call-end", "index": 0},
        {
            "type": "message-end",
            "delta": {
                "finish_reason": "TOOL_CALL",
                "usage": {"billed_units": {"input_tokens": 40, "output_tokens": 20}},
            },
        },
    ]
    names = [e["type"] for e in events]
    result = parse("/v2/chat", {**COHERE_V2_REQUEST, "stream": True}, sse(events, names))
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("get_weather_cd34", BERGEN)],
        "thinking": [{"type": "thinking", "content": "I will check Bergen."}],
    }
    assert result.finish_reason == "TOOL_CALL"
    assert result.usage is not None and result.usage.output == 20


def test_cohere_v2_thinking_content_streams() -> None:
    events = [
        {
            "type": "content-start",
            "index": 0,
            "delta": {"message": {"content": {"type": "thinking", "thinking": ""}}},
        },
        {
            "type": "content-delta",
            "index": 0,
            "delta": {"message": {"content": {"thinking": "Hmm."}}},
        },
        {
            "type": "content-start",
            "index": 1,
            "delta": {"message": {"content": {"type": "text", "text": ""}}},
        },
        {"type": "content-delta", "index": 1, "delta": {"message": {"content": {"text": "Cold."}}}},
    ]
    result = parse("/v2/chat", COHERE_V2_REQUEST, sse(events, [e["type"] for e in events]))
    assert result.output == {
        "role": "assistant",
        "content": "Cold.",
        "thinking": [{"type": "thinking", "content": "Hmm."}],
    }


COHERE_V1_REQUEST = {
    "model": "command-r-plus",
    "preamble": "Be brief.",
    "message": "",
    "chat_history": [
        {"role": "USER", "message": "Weather in Oslo and Bergen?"},
        {
            "role": "CHATBOT",
            "message": "",
            "tool_calls": [
                {"name": "get_weather", "parameters": {"city": "Oslo"}},
                {"name": "get_weather", "parameters": {"city": "Bergen"}},
            ],
        },
        {
            "role": "TOOL",
            "tool_results": [
                {
                    "call": {"name": "get_weather", "parameters": {"city": "Oslo"}},
                    "outputs": [{"temp": 3}],
                }
            ],
        },
    ],
    "tool_results": [
        {
            "call": {"name": "get_weather", "parameters": {"city": "Bergen"}},
            "outputs": [{"temp": 5}],
        },
    ],
    "tools": [
        {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameter_definitions": {
                "city": {"type": "str", "description": "City", "required": True}
            },
        }
    ],
}
COHERE_V1_INPUT = {
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Oslo and Bergen?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [call("call_0", OSLO), call("call_1", BERGEN)],
        },
        {
            "role": "tool",
            "content": '[{"temp":3}]',
            "tool_call_id": "call_0",
            "name": "get_weather",
        },
        {  # v1 has no ids: this turn's result answers the Bergen call by name and arguments
            "role": "tool",
            "content": '[{"temp":5}]',
            "tool_call_id": "call_1",
            "name": "get_weather",
        },
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather in a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "str", "description": "City"}},
                    "required": ["city"],
                },
            },
        }
    ],
}


def test_cohere_v1_tool_calls_history_and_results() -> None:
    response = {
        "text": "",
        "generation_id": "g1",
        "finish_reason": "COMPLETE",
        "tool_calls": [
            {"name": "get_weather", "parameters": {"city": "Oslo"}},
            {"name": "get_weather", "parameters": {"city": "Bergen"}},
        ],
        "meta": {"billed_units": {"input_tokens": 50, "output_tokens": 10}},
    }
    result = parse("/v1/chat", COHERE_V1_REQUEST, response, host="api.cohere.ai")
    assert result.input == COHERE_V1_INPUT
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("call_0", OSLO), call("call_1", BERGEN)],
    }


def test_cohere_v1_ndjson_stream_tool_calls() -> None:
    lines = [
        {"is_finished": False, "event_type": "stream-start", "generation_id": "g2"},
        {
            "is_finished": False,
            "event_type": "tool-calls-chunk",
            "tool_call_delta": {"index": 0, "name": "get_weather"},
        },
        {
            "is_finished": False,
            "event_type": "tool-calls-chunk",
            "tool_call_delta": {"index": 0, "parameters": '{"city":'},
        },
        {
            "is_finished": False,
            "event_type": "tool-calls-chunk",
            "tool_call_delta": {"index": 0, "parameters": '"Oslo"}'},
        },
    ]
    chunked = parse("/v1/chat", COHERE_V1_REQUEST, ndjson(lines), host="api.cohere.ai")
    assert chunked.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("call_0", OSLO)],
    }
    whole = [
        *lines,
        {
            "is_finished": False,
            "event_type": "tool-calls-generation",
            "text": "",
            "tool_calls": [{"name": "get_weather", "parameters": {"city": "Oslo"}}],
        },
        {
            "is_finished": True,
            "event_type": "stream-end",
            "finish_reason": "COMPLETE",
            "response": {
                "text": "",
                "tool_calls": [{"name": "get_weather", "parameters": {"city": "Oslo"}}],
                "meta": {"billed_units": {"input_tokens": 50, "output_tokens": 10}},
            },
        },
    ]
    result = parse("/v1/chat", COHERE_V1_REQUEST, ndjson(whole), host="api.cohere.ai")
    assert result.output == chunked.output
    assert result.finish_reason == "COMPLETE"
    assert result.usage is not None and result.usage.input == 50


def test_cohere_v1_kong_chat_history_is_openai_shaped() -> None:
    request = KONG_FIXTURES / "kong" / "unit" / "expected-requests" / "cohere" / "llm-v1-chat.json"
    response = KONG_FIXTURES / "kong" / "unit" / "real-responses" / "cohere" / "llm-v1-chat.json"
    if not request.is_file():
        pytest.skip("Kong's fixtures are not on this machine")
    result = parse("/v1/chat", request.read_text(), response.read_text(), host="api.cohere.com")
    assert result.input == [
        {"role": "user", "content": "You are a mathematician."},
        {"role": "user", "content": "What is 1 + 2?"},
        {
            "role": "assistant",
            "content": orjson.loads(request.read_bytes())["chat_history"][2]["message"],
        },
        {"role": "user", "content": "Multiply that by 2"},
        {
            "role": "assistant",
            "content": orjson.loads(request.read_bytes())["chat_history"][4]["message"],
        },
        {"role": "user", "content": "Why can't you divide by zero?"},
    ]
    assert result.output == {
        "role": "assistant",
        "content": "You cannot divide by zero because it is not a valid operation in mathematics.",
    }


# --- Ollama -------------------------------------------------------------------------------------

OLLAMA_REQUEST = {
    "model": "qwen3",
    "think": True,
    "messages": [
        {"role": "user", "content": "Weather where this was taken?", "images": [PNG_B64]},
        {
            "role": "assistant",
            "content": "",
            "thinking": "Looks like Oslo.",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}],
        },
        {"role": "tool", "content": "3 degrees", "tool_name": "get_weather"},
    ],
    "tools": [WEATHER_TOOL],
}
OLLAMA_INPUT = {
    "messages": [
        {
            "role": "user",
            "content": "Weather where this was taken?",
            "images": ["[image/png, 100 bytes]"],
        },
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [call("call_0", OSLO)],
            "thinking": [{"type": "thinking", "content": "Looks like Oslo."}],
        },
        {"role": "tool", "content": "3 degrees", "tool_name": "get_weather"},
    ],
    "tools": [WEATHER_TOOL],
}


def test_ollama_tool_calls_and_thinking_json() -> None:
    response = {
        "model": "qwen3",
        "created_at": "2025-11-29T07:00:00Z",
        "message": {
            "role": "assistant",
            "content": "",
            "thinking": "Bergen too.",
            "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Bergen"}}},
                {
                    "id": "call_x",
                    "function": {"name": "get_weather", "arguments": {"city": "Oslo"}},
                },
            ],
        },
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 30,
        "eval_count": 12,
    }
    result = parse("/api/chat", {**OLLAMA_REQUEST, "stream": False}, response)
    assert result.input == OLLAMA_INPUT
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("call_0", BERGEN), call("call_x", OSLO)],
        "thinking": [{"type": "thinking", "content": "Bergen too."}],
    }


def test_ollama_ndjson_stream_tool_calls_and_thinking() -> None:
    def line(message: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "model": "qwen3",
            "message": {"role": "assistant", "content": "", **message},
            "done": False,
            **extra,
        }

    lines = [
        line({"thinking": "Bergen "}),
        line({"thinking": "too."}),
        line(
            {"tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Bergen"}}}]}
        ),
        line(
            {"tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]}
        ),
        line({"content": "Checking."}),
        {
            **line({}),
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 30,
            "eval_count": 12,
        },
    ]
    result = parse("/api/chat", OLLAMA_REQUEST, ndjson(lines))
    assert result.output == {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [call("call_0", BERGEN), call("call_1", OSLO)],
        "thinking": [{"type": "thinking", "content": "Bergen too."}],
    }
    assert result.usage is not None and (result.usage.input, result.usage.output) == (30, 12)


# --- never raise --------------------------------------------------------------------------------

_BODIES: list[tuple[str, Any, Any]] = [
    (
        CHAT_PATH,
        CHAT_REQUEST,
        {
            "choices": [
                {
                    "message": {
                        "content": None,
                        "tool_calls": [call("a", OSLO)],
                        "reasoning_content": "x",
                    }
                }
            ]
        },
    ),
    (RESPONSES_PATH, RESPONSES_REQUEST, RESPONSE_DOCUMENT),
    (MESSAGES_PATH, ANTHROPIC_REQUEST, {"content": ANTHROPIC_OUTPUT["tool_calls"]}),
    (GEMINI_PATH, GEMINI_REQUEST, _gemini_chunk(GEMINI_REQUEST["contents"][1]["parts"])),
    ("/v2/chat", COHERE_V2_REQUEST, {"message": COHERE_V2_REQUEST["messages"][2]}),
    ("/v1/chat", COHERE_V1_REQUEST, {"text": "", "tool_calls": [{"name": "x", "parameters": {}}]}),
    ("/api/chat", OLLAMA_REQUEST, {"message": OLLAMA_REQUEST["messages"][1], "done": True}),
]
_ODD: list[Any] = [
    None,
    0,
    -1,
    1.5,
    True,
    "",
    "x",
    [],
    {},
    [None],
    {"": None},
    [[[]]],
    "data:;base64,",
]


def _mutations(value: Any, rng: random.Random, rate: float) -> Any:
    """``value`` with random nodes replaced by values of the wrong type."""
    if rng.random() < rate:
        return rng.choice(_ODD)
    if isinstance(value, dict):
        return {k: _mutations(v, rng, rate) for k, v in value.items()}
    if isinstance(value, list):
        return [_mutations(v, rng, rate) for v in value]
    return value


@pytest.mark.parametrize("seed", range(40))
def test_hostile_bodies_never_raise(seed: int) -> None:
    rng = random.Random(seed)
    for path, request, response in _BODIES:
        for rate in (0.05, 0.3):
            mutated_request = _mutations(request, rng, rate)
            mutated_response = _mutations(response, rng, rate)
            for captured in (mutated_response, sse([mutated_response, mutated_response])):
                found = detect(exchange(path, mutated_request, captured), REGISTRY)
                if found is not None:
                    found[0].parse(found[1], exchange(path, mutated_request, captured))


@pytest.mark.parametrize(
    "body",
    [
        "[" * 5000 + "]" * 5000,
        {"messages": [{"role": "assistant", "tool_calls": [{"function": {"arguments": None}}]}]},
        {"messages": "nope", "tools": "nope", "contents": 3, "input": {"a": 1}, "system": 5},
        {"messages": [{"content": [{"type": "tool_result", "content": {"x": [1]}}]}]},
    ],
)
def test_odd_requests_never_raise(body: Any) -> None:
    for path in (CHAT_PATH, RESPONSES_PATH, MESSAGES_PATH, GEMINI_PATH, "/v2/chat", "/api/chat"):
        parse(path, body, {"choices": 5, "content": 5, "candidates": 5, "message": 5, "output": 5})


def test_deep_tool_arguments_never_raise() -> None:
    """Arguments nested deeper than orjson writes (it reads up to 1024 levels)."""
    deep = '{"a":' * 600 + "1" + "}" * 600
    text = '{"content":[{"type":"tool_use","id":"t","name":"f","input":' + deep + "}]}"
    result = parse(MESSAGES_PATH, {"messages": []}, text)
    assert result.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [call("t", "{}", "f")],
    }


def test_request_documents_are_never_modified() -> None:
    """Providers convert copies: the decoded request (read again by context) stays as sent."""
    odd_item = {"type": "web_search_call", "role": "assistant", "thinking": [1], "id": "ws_1"}
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}
    odd_input = [odd_item, *RESPONSES_REQUEST["input"]]
    bodies = [
        *_BODIES,
        (RESPONSES_PATH, {**RESPONSES_REQUEST, "input": odd_input}, RESPONSE_DOCUMENT),
        (CHAT_PATH, {"messages": [{"role": "user", "content": [image]}]}, None),
    ]
    for path, request, response in bodies:
        captured = exchange(path, request, response)
        before = orjson.dumps(captured.request.document)
        found = detect(captured, REGISTRY)
        assert found is not None
        found[0].parse(found[1], captured)
        assert orjson.dumps(captured.request.document) == before, path
