"""Table-driven: Kong Gateway's own test data (tests/fixtures/kong-upstream/) through enrichment.

One row per provider, operation and outcome. Each row names the fixture files its Kong record
is built from (``tests/kong_upstream.py``) and the FACTS those files state, written down by
reading them, never by running our code: the model, the provider's token counts (input with
cached tokens, output with reasoning tokens, total), a distinctive piece of the answer, tool
calls, reasoning, the provider's error and the finish reason. The test sends the trace through
the Litefuse stand-in (``tests/litefuse.py``) in both ingestion modes and checks the ROWS
Litefuse would store.

Kong's request fixtures are the bodies clients send to ai-proxy, which injects the model of its
plugin config: where a row captures such a body as a direct provider call, ``model=`` adds the
model of the matching Kong spec's config, and the note says so. Where Kong has no request
fixture for a response, the row's request is one we wrote (``written``), also noted.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest

from pipeline.enrich import enrich
from pipeline.enrich.options import EnrichOptions
from pipeline.kong import parse_records
from pipeline.trace import Trace
from tests.kong_upstream import (
    AI,
    UPSTREAM,
    Case,
    fixture,
    kong_gemini_to_openai,
    kong_openai_to_gemini,
    kong_record,
    kong_stream_composite,
    read,
    written,
)
from tests.litefuse import rows_for


@dataclass(frozen=True)
class ToolCall:
    id: str | None
    """None: the provider gives the call no id."""
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Row:
    name: str
    case: Case
    provider: str
    model: str | None
    tokens: tuple[int, int | None, int] | None = None
    """(input, output, total) as the provider counts them; None: it reports no counts (a failed
    call then shows zero: providers bill no failed request)."""
    estimated: bool | None = None
    """The usage is an estimate (ours or Kong's); default: the provider reported no counts on a
    successful call."""
    output: str | None = None
    """A distinctive piece of the answer's text."""
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None
    error: str | None = None
    """A piece of the provider's error message: the generation is level ERROR."""
    finish: str | None = None
    note: str = ""

    @property
    def usage_estimated(self) -> bool | None:
        if self.estimated is not None:
            return self.estimated
        if self.error is not None and self.tokens is None:
            return False  # a failed call with no counts: zero, as billed, not an estimate
        return self.tokens is None


# --- Kong's fixture paths -------------------------------------------------------------------
OPENAI_CHAT = "kong/openai/llm-v1-chat"
OPENAI_COMPLETIONS = "kong/openai/llm-v1-completions"
ANTHROPIC_CHAT = "kong/anthropic/llm-v1-chat"
COHERE_CHAT = "kong/cohere/llm-v1-chat"
GEMINI_CHAT = "kong/gemini/llm-v1-chat"
HF_CHAT = "kong/huggingface/llm-v1-chat"
UNIT = "kong/unit"
CHUNKS = "kong/unit/streaming-chunk-formats"
STATS = "kong-spec-stats"

# --- the providers' real endpoints ----------------------------------------------------------
OPENAI = "https://api.openai.com"
ANTHROPIC = "https://api.anthropic.com"
COHERE = "https://api.cohere.com"
GEMINI = "https://generativelanguage.googleapis.com/v1beta/models"
MISTRAL = "https://api.mistral.ai"
OLLAMA = "http://ollama.internal:11434"
HUGGINGFACE = "https://api-inference.huggingface.co/models"
AZURE = "https://kong-ai.openai.azure.com/openai/deployments"
BEDROCK = "https://bedrock-runtime.us-east-1.amazonaws.com/model"
SSE = "text/event-stream"
HTML = "text/html"
EVENT_STREAM = "application/vnd.amazon.eventstream"

# Kong's plugin options in the specs whose stats tables we use (max_tokens, temperature).
SPEC_OPTIONS = {"max_tokens": 256, "temperature": 1}
# Kong's request fixture, with the model of the OpenAI spec's plugin config.
CHAT_REQUEST = fixture(f"{OPENAI_CHAT}/requests/good.json", model="gpt-3.5-turbo")
STREAM_REQUEST = fixture(f"{OPENAI_CHAT}/requests/good-stream.json", model="gpt-3.5-turbo")
ANTHROPIC_REQUEST = fixture(f"{UNIT}/expected-requests/anthropic/llm-v1-chat.json")
COHERE_REQUEST = fixture(f"{UNIT}/expected-requests/cohere/llm-v1-chat.json")
GEMINI_REQUEST = kong_openai_to_gemini(f"{OPENAI_CHAT}/requests/good.json", SPEC_OPTIONS)
HF_REQUEST = fixture(f"{HF_CHAT}/requests/good.json", model="mistralai/Mistral-7B-Instruct-v0.2")
COHERE_STREAM_REQUEST = written('{"model": "command", "message": "What is 1 + 1?", "stream": true}')
ADD_TOOL = {
    "name": "add",
    "description": "Adds a and b.",
    "parameters": {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
}
QUESTION = "What is 2 + 12? Then, multiply that result by 10?"

OPENAI_ROWS = [
    Row(
        "openai-chat-good",
        Case(
            f"{OPENAI}/v1/chat/completions",
            200,
            CHAT_REQUEST,
            fixture(f"{OPENAI_CHAT}/responses/good.json"),
        ),
        provider="openai",
        model="gpt-3.5-turbo-0613",
        tokens=(25, 12, 37),
        output="The sum of 1 + 1 is 2.",
        finish="stop",
    ),
    Row(
        "openai-chat-bad-request",
        Case(
            f"{OPENAI}/v1/chat/completions",
            400,
            written(
                '{"model": "gpt-3.5-turbo", "segassem": [{"role": "system", "content": "You are a'
                ' helpful assistant."}, {"role": "user", "content": "What is 1 + 1?"}]}'
            ),
            fixture(f"{OPENAI_CHAT}/responses/bad_request.json"),
        ),
        provider="openai",
        model="gpt-3.5-turbo",
        error="'messages' is a required property",
        note="request written: Kong's requests/bad_request.json (not among the copied files; "
        "`segassem` instead of `messages`) with the spec's model",
    ),
    Row(
        "openai-chat-unauthorized",
        Case(
            f"{OPENAI}/v1/chat/completions",
            401,
            CHAT_REQUEST,
            fixture(f"{OPENAI_CHAT}/responses/unauthorized.json"),
        ),
        provider="openai",
        model="gpt-3.5-turbo",
        error="Incorrect API key provided",
    ),
    Row(
        "openai-chat-internal-server-error",
        Case(
            f"{OPENAI}/v1/chat/completions",
            500,
            CHAT_REQUEST,
            fixture(f"{OPENAI_CHAT}/responses/internal_server_error.html"),
            content_type=HTML,
        ),
        provider="openai",
        model="gpt-3.5-turbo",
        error="Internal Server Error",
        note="an HTML page: its title and heading say 'Fake Internal Server Error'",
    ),
    Row(
        "openai-chat-stream",
        Case(
            f"{OPENAI}/v1/chat/completions",
            200,
            STREAM_REQUEST,
            fixture("inline/openai-chat-stream-good.sse"),
            content_type=SSE,
        ),
        provider="openai",
        model="gpt-4-0613",
        output="The answer to 1 + 1 is 2.",
        finish="stop",
        note="no usage chunk (no stream_options.include_usage): the provider reports no counts",
    ),
    Row(
        "openai-chat-stream-bad",
        Case(
            f"{OPENAI}/v1/chat/completions",
            400,
            STREAM_REQUEST,
            fixture("inline/openai-chat-stream-bad.json"),
        ),
        provider="openai",
        model="gpt-3.5-turbo",
        error="failure of some kind",
        note="a stream request answered 400 with a JSON error, not streamed",
    ),
    Row(
        "openai-chat-stream-single-frame",
        Case(
            f"{OPENAI}/v1/chat/completions",
            200,
            fixture(f"{OPENAI_CHAT}/requests/good-stream.json", model="gpt-4"),
            fixture(f"{UNIT}/real-stream-frames/openai/llm-v1-chat.txt"),
            content_type=SSE,
        ),
        provider="openai",
        model="gpt-4-0613",
        output="the answer",
        note="one real frame, no finish chunk, no [DONE]; request: Kong's good-stream.json with "
        "the unit spec's model gpt-4",
    ),
    Row(
        "openai-chat-stream-chunk-format",
        Case(
            f"{OPENAI}/v1/chat/completions",
            200,
            fixture(f"{OPENAI_CHAT}/requests/good-stream.json", model="gpt-4"),
            fixture(f"{CHUNKS}/text-event-stream/input.bin"),
            content_type=SSE,
        ),
        provider="openai",
        model="gpt-4-0613",
        output="2",
        finish="stop",
        note="request: Kong's good-stream.json with model gpt-4 (the stream has no request)",
    ),
    Row(
        "openai-completions-good",
        Case(
            f"{OPENAI}/v1/completions",
            200,
            fixture(f"{OPENAI_COMPLETIONS}/requests/good.json", model="gpt-3.5-turbo-instruct"),
            fixture(f"{OPENAI_COMPLETIONS}/responses/good.json"),
        ),
        provider="openai",
        model="gpt-3.5-turbo-instruct",
        tokens=(4, 16, 20),
        output="I am a language model AI created by OpenAI",
        finish="length",
    ),
    Row(
        "openai-completions-unauthorized",
        Case(
            f"{OPENAI}/v1/completions",
            401,
            fixture(f"{OPENAI_COMPLETIONS}/requests/good.json", model="gpt-3.5-turbo-instruct"),
            fixture(f"{OPENAI_COMPLETIONS}/responses/unauthorized.json"),
        ),
        provider="openai",
        model="gpt-3.5-turbo-instruct",
        error="Incorrect API key provided",
    ),
    Row(
        "openai-completions-stream-single-frame",
        Case(
            f"{OPENAI}/v1/completions",
            200,
            fixture(
                f"{OPENAI_COMPLETIONS}/requests/good.json",
                model="gpt-3.5-turbo-instruct",
                set={"stream": True},
            ),
            fixture(f"{UNIT}/real-stream-frames/openai/llm-v1-completions.txt"),
            content_type=SSE,
        ),
        provider="openai",
        model="gpt-3.5-turbo-instruct",
        output="the answer",
        note="one real frame; request: Kong's completions good.json with model and stream added",
    ),
    Row(
        "openai-embeddings",
        Case(
            f"{OPENAI}/v1/embeddings",
            200,
            written(
                '{"model": "text-embedding-ada-002", "input": "The food was delicious and the'
                ' waiter", "encoding_format": "float"}'
            ),
            fixture("kong/openai/llm-v1-embeddings/responses/good.json"),
        ),
        provider="openai",
        model="text-embedding-3-large",
        tokens=(4, None, 4),
        note="request written: the body Kong's OpenAI spec encodes inline for this response; "
        "one embedding of 3072 dimensions",
    ),
    Row(
        "openai-chat-unit",
        Case(
            f"{OPENAI}/v1/chat/completions",
            200,
            fixture(f"{UNIT}/expected-requests/openai/llm-v1-chat.json"),
            fixture(f"{UNIT}/real-responses/openai/llm-v1-chat.json"),
        ),
        provider="openai",
        model="gpt-4-0613",
        tokens=(130, 139, 269),
        output="Dividing by zero is undefined in mathematics",
        finish="stop",
    ),
    Row(
        "openai-completions-unit",
        Case(
            f"{OPENAI}/v1/completions",
            200,
            fixture(f"{UNIT}/expected-requests/openai/llm-v1-completions.json"),
            fixture(f"{UNIT}/real-responses/openai/llm-v1-completions.json"),
        ),
        provider="openai",
        model="gpt-3.5-turbo-instruct",
        tokens=(10, 225, 235),
        output="division by zero is not allowed",
        finish="stop",
    ),
]

AZURE_ROWS = [
    Row(
        "azure-chat-unit",
        Case(
            f"{AZURE}/gpt-4/chat/completions?api-version=2023-05-15",
            200,
            fixture(f"{UNIT}/expected-requests/azure/llm-v1-chat.json"),
            fixture(f"{UNIT}/real-responses/azure/llm-v1-chat.json"),
        ),
        provider="azure",
        model="gpt-4-0613",
        tokens=(130, 139, 269),
        output="Dividing by zero is undefined in mathematics",
        finish="stop",
        note="deployment name and api-version (Kong's default) are ours",
    ),
    Row(
        "azure-completions-unit",
        Case(
            f"{AZURE}/gpt-35-turbo-instruct/completions?api-version=2023-05-15",
            200,
            fixture(f"{UNIT}/expected-requests/azure/llm-v1-completions.json"),
            fixture(f"{UNIT}/real-responses/azure/llm-v1-completions.json"),
        ),
        provider="azure",
        model="gpt-3.5-turbo-instruct",
        tokens=(10, 225, 235),
        output="division by zero is not allowed",
        finish="stop",
        note="deployment name and api-version (Kong's default) are ours",
    ),
]

ANTHROPIC_ROWS = [
    Row(
        "anthropic-messages-stream",
        Case(
            f"{ANTHROPIC}/v1/messages",
            200,
            fixture(f"{ANTHROPIC_CHAT}/requests/good-stream.json", model="claude-2.1"),
            fixture("inline/anthropic-chat-stream-good.sse"),
            content_type=SSE,
        ),
        provider="anthropic",
        model="claude-2.1",
        tokens=(15, 9, 24),
        output="1 + 1 = 2",
        finish="end_turn",
        note="message_start says 15 input, message_delta 9 output (the final count); request: "
        "Kong's client body (system inside messages) with the spec's model",
    ),
    Row(
        "anthropic-messages-bad-request",
        Case(
            f"{ANTHROPIC}/v1/messages",
            400,
            ANTHROPIC_REQUEST,
            fixture(f"{ANTHROPIC_CHAT}/responses/bad_request.json"),
        ),
        provider="anthropic",
        model="claude-2.1",
        error="Invalid request",
        note="request: Kong's native Anthropic request fixture (Kong's mock answers this body "
        "for a request without messages; the error names no cause)",
    ),
    Row(
        "anthropic-messages-unauthorized",
        Case(
            f"{ANTHROPIC}/v1/messages",
            401,
            ANTHROPIC_REQUEST,
            fixture(f"{ANTHROPIC_CHAT}/responses/unauthorized.json"),
        ),
        provider="anthropic",
        model="claude-2.1",
        error="Invalid API Key",
    ),
    Row(
        "anthropic-messages-internal-server-error",
        Case(
            f"{ANTHROPIC}/v1/messages",
            500,
            ANTHROPIC_REQUEST,
            fixture(f"{ANTHROPIC_CHAT}/responses/internal_server_error.html"),
            content_type=HTML,
        ),
        provider="anthropic",
        model="claude-2.1",
        error="Internal Server Error",
        note="an HTML page: its title and heading say 'Fake Internal Server Error'",
    ),
    Row(
        "anthropic-messages-no-usage",
        Case(
            f"{ANTHROPIC}/v1/messages",
            200,
            ANTHROPIC_REQUEST,
            fixture(f"{ANTHROPIC_CHAT}/responses/no_usage_response.json"),
        ),
        provider="anthropic",
        model="claude-2.1",
        output="The sum of 1 + 1 is 2.",
        finish="end_turn",
    ),
    Row(
        "anthropic-messages-malformed-usage",
        Case(
            f"{ANTHROPIC}/v1/messages",
            200,
            ANTHROPIC_REQUEST,
            fixture(f"{ANTHROPIC_CHAT}/responses/malformed_usage_response.json"),
        ),
        provider="anthropic",
        model="claude-2.1",
        output="The sum of 1 + 1 is 2.",
        finish="end_turn",
        note="usage holds only foo/bar: no counts",
    ),
    Row(
        "anthropic-messages-json-output",
        Case(
            f"{ANTHROPIC}/v1/messages",
            200,
            written(
                '{"model": "claude-2.1", "max_tokens": 256, "messages": [{"role": "user",'
                ' "content": "List Kong A (62) and Kong B (84) as JSON persons."}]}'
            ),
            fixture("kong/anthropic/request-transformer/response-in-json.json"),
        ),
        provider="anthropic",
        model="claude-2.1",
        tokens=(10, 25, 35),
        output='"name": "Kong A"',
        finish="end_turn",
        note="request written (Kong's request-transformer spec builds its own prompt)",
    ),
    Row(
        "anthropic-messages-unit",
        Case(
            f"{ANTHROPIC}/v1/messages",
            200,
            ANTHROPIC_REQUEST,
            fixture(f"{UNIT}/real-responses/anthropic/llm-v1-chat.json"),
        ),
        provider="anthropic",
        model="claude-2.1",
        tokens=(0, 0, 0),
        output="You cannot divide by zero",
        finish="stop_sequence",
        note="the provider's usage says 0 input and 0 output tokens",
    ),
    Row(
        "anthropic-complete-unit",
        Case(
            f"{ANTHROPIC}/v1/complete",
            200,
            fixture(f"{UNIT}/expected-requests/anthropic/llm-v1-completions.json"),
            fixture(f"{UNIT}/real-responses/anthropic/llm-v1-completions.json"),
        ),
        provider="anthropic",
        model="claude-2.1",
        output="You cannot divide by zero",
        finish="stop_sequence",
        note="the legacy Text Completions API (Kong's anthropic llm/v1/completions path)",
    ),
]

COHERE_ROWS = [
    Row(
        "cohere-chat-good",
        Case(
            f"{COHERE}/v1/chat", 200, COHERE_REQUEST, fixture(f"{COHERE_CHAT}/responses/good.json")
        ),
        provider="cohere",
        model="command",
        tokens=(81, 258, 339),
        output="The sum of 1 + 1 is 2.",
        note="billed_units 81/258 (billed_tokens 339); token_count says 102 prompt, 360 total: "
        "we take what is billed; the model is the request's (the response names none); "
        "request: Kong's native Cohere request fixture",
    ),
    Row(
        "cohere-chat-unauthorized",
        Case(
            f"{COHERE}/v1/chat",
            401,
            COHERE_REQUEST,
            fixture(f"{COHERE_CHAT}/responses/unauthorized.json"),
        ),
        provider="cohere",
        model="command",
        error="invalid api token",
    ),
    Row(
        "cohere-chat-bad-request",
        Case(
            f"{COHERE}/v1/chat",
            400,
            COHERE_REQUEST,
            fixture(f"{COHERE_CHAT}/responses/bad_request.json"),
        ),
        provider="cohere",
        model="command",
        error="bad request",
    ),
    Row(
        "cohere-chat-unit",
        Case(
            f"{COHERE}/v1/chat",
            200,
            COHERE_REQUEST,
            fixture(f"{UNIT}/real-responses/cohere/llm-v1-chat.json"),
        ),
        provider="cohere",
        model="command",
        tokens=(81, 258, 339),
        output="You cannot divide by zero",
        note="billed_units as in cohere-chat-good",
    ),
    Row(
        "cohere-generate-unit",
        Case(
            f"{COHERE}/v1/generate",
            200,
            fixture(f"{UNIT}/expected-requests/cohere/llm-v1-completions.json"),
            fixture(f"{UNIT}/real-responses/cohere/llm-v1-completions.json"),
        ),
        provider="cohere",
        model="command",
        tokens=(8, 100, 108),
        output="You cannot divide by zero",
        finish="MAX_TOKENS",
    ),
    Row(
        "cohere-chat-stream",
        Case(
            f"{COHERE}/v1/chat",
            200,
            COHERE_STREAM_REQUEST,
            fixture("inline/cohere-chat-stream-good.txt"),
            content_type=SSE,
        ),
        provider="cohere",
        model="command",
        tokens=(57, 123, 180),
        output="1 + 1 = 2. This is the most basic example of addition.",
        finish="COMPLETE",
        note="stream-end: billed_units 57/123, tokens 68/123 (we take what is billed); request "
        "written (Kong's cohere good-stream.json is not among the copied files)",
    ),
    Row(
        "cohere-chat-stream-partial",
        Case(
            f"{COHERE}/v1/chat",
            200,
            COHERE_STREAM_REQUEST,
            fixture(f"{CHUNKS}/complete-json/input.bin"),
            content_type=SSE,
        ),
        provider="cohere",
        model="command",
        output="2",
        note="the first two events of a v1 stream (no stream-end): no counts; request written",
    ),
    Row(
        "cohere-through-kong-openai-format",
        Case(
            f"{COHERE}/v1/chat",
            200,
            fixture(f"{UNIT}/requests/llm-v1-chat.json"),
            fixture(f"{UNIT}/expected-responses/cohere/llm-v1-chat.json"),
            client_path="/v1/chat/completions",
        ),
        provider="cohere",
        model="command",
        tokens=(102, 258, 360),
        output="You cannot divide by zero",
        finish="stop",
        note="what a client sends to and gets from ai-proxy's Cohere route in OpenAI format "
        "(Kong's conversion of real-responses/cohere: token_count, not billed units), "
        "captured by our Kong config without Kong's ai block",
    ),
]

GEMINI_ROWS = [
    Row(
        "gemini-chat-good",
        Case(
            f"{GEMINI}/gemini-1.5-pro:generateContent",
            200,
            GEMINI_REQUEST,
            fixture(f"{GEMINI_CHAT}/responses/good.json"),
        ),
        provider="google",
        model="gemini-1.5-flash-002",
        tokens=(2, 11, 13),
        output="Everything is okay.",
        finish="STOP",
        note="modelVersion says gemini-1.5-flash-002 although Kong's spec asked for "
        "gemini-1.5-pro (the path's model); request: Kong's translation of its OpenAI request",
    ),
    Row(
        "gemini-chat-fails-safety",
        Case(
            f"{GEMINI}/gemini-1.5-pro:generateContent",
            200,
            GEMINI_REQUEST,
            fixture(f"{GEMINI_CHAT}/responses/fails_safety.json"),
        ),
        provider="google",
        model="gemini-1.5-pro",
        tokens=(319, 0, 319),
        finish="SAFETY",
        note="HTTP 200, a candidate without content; usageMetadata has no candidatesTokenCount "
        "(output 0 = total 319 - prompt 319); no error object, so not an ERROR level",
    ),
    Row(
        "gemini-chat-unit",
        Case(
            f"{GEMINI}/gemini-pro:generateContent",
            200,
            fixture(f"{UNIT}/expected-requests/gemini/llm-v1-chat.json"),
            fixture(f"{UNIT}/real-responses/gemini/llm-v1-chat.json"),
        ),
        provider="google",
        model="gemini-pro",
        tokens=(14, 128, 142),
        output="le double de 2 est **4**",
        finish="STOP",
        note="no modelVersion: the model is the path's (the unit spec's gemini-pro)",
    ),
    Row(
        "gemini-stream-function-call",
        Case(
            f"{GEMINI}/gemini-1.5-flash:streamGenerateContent",
            200,
            written(
                json.dumps(
                    {
                        "contents": [{"role": "user", "parts": [{"text": QUESTION}]}],
                        "tools": [{"functionDeclarations": [ADD_TOOL]}],
                    }
                )
            ),
            fixture("inline/gemini-chat-functions-stream.json"),
        ),
        provider="google",
        model="gemini-1.5-pro-001",
        tokens=(47, 3, 50),
        tool_calls=(ToolCall(None, "add", {"a": 2, "b": 12}),),
        finish="STOP",
        note="a JSON-array stream (no alt=sse); request written from Kong's "
        "good-stream-with-functions.json (not copied) in Gemini's format; the path's model is "
        "the spec's config, modelVersion says gemini-1.5-pro-001",
    ),
    Row(
        "gemini-stream-partial-json",
        Case(
            f"{GEMINI}/gemini-1.5-pro:streamGenerateContent",
            200,
            written('{"contents": [{"role": "user", "parts": [{"text": "What is relativity?"}]}]}'),
            fixture(
                f"{CHUNKS}/partial-json-beginning/input.bin", f"{CHUNKS}/partial-json-end/input.bin"
            ),
        ),
        provider="google",
        model="gemini-1.5-pro",
        tokens=(6, 547, 553),
        output="The theory of relativity is actually two theories by Albert Einstein",
        finish="STOP",
        note="the first and last parts of one JSON-array stream joined (its middle is not in "
        "Kong's fixtures); the last chunk's usageMetadata is the final count; request written",
    ),
]

MISTRAL_ROWS = [
    Row(
        "mistral-chat-good",
        Case(
            f"{MISTRAL}/v1/chat/completions",
            200,
            fixture(
                f"{OPENAI_CHAT}/requests/good.json",
                model="mistralai/Mistral-7B-Instruct-v0.1-instruct",
            ),
            fixture("kong/mistral/llm-v1-chat/responses/good.json"),
        ),
        provider="mistral",
        model="mistralai/Mistral-7B-Instruct-v0.1-instruct",
        tokens=(25, 12, 37),
        output="The sum of 1 + 1 is 2.",
        finish="stop",
    ),
    Row(
        "mistral-completions-good",
        Case(
            f"{MISTRAL}/v1/completions",
            200,
            fixture(
                f"{OPENAI_COMPLETIONS}/requests/good.json",
                model="mistralai/Mistral-7B-Instruct-v0.1-instruct",
            ),
            fixture("kong/mistral/llm-v1-completions/responses/good.json"),
        ),
        provider="mistral",
        model="mistralai/Mistral-7B-Instruct-v0.1-instruct",
        tokens=(4, 16, 20),
        output="I am a language model AI",
        finish="length",
        note="Mistral's public API has no /v1/completions (Kong's spec points upstream_url at a "
        "mock): the OpenAI-compatible path is ours",
    ),
    Row(
        "mistral-chat-unit",
        Case(
            f"{MISTRAL}/v1/chat/completions",
            200,
            fixture(f"{UNIT}/expected-requests/mistral/openai/llm-v1-chat.json"),
            fixture(f"{UNIT}/real-responses/mistral/openai/llm-v1-chat.json"),
        ),
        provider="mistral",
        model="mistral-tiny",
        tokens=(130, 139, 269),
        output="Dividing by zero is undefined in mathematics",
        finish="stop",
    ),
]

OLLAMA_ROWS = [
    Row(
        "ollama-chat-unit",
        Case(
            f"{OLLAMA}/api/chat",
            200,
            fixture(f"{UNIT}/expected-requests/llama2/ollama/llm-v1-chat.json"),
            fixture(f"{UNIT}/real-responses/llama2/ollama/llm-v1-chat.json"),
        ),
        provider="ollama",
        model="llama2",
        tokens=(26, 100, 126),
        output="You cannot divide by zero",
        note="prompt_eval_count 26, eval_count 100; no done_reason",
    ),
    Row(
        "ollama-generate-unit",
        Case(
            f"{OLLAMA}/api/generate",
            200,
            fixture(f"{UNIT}/expected-requests/llama2/ollama/llm-v1-completions.json"),
            fixture(f"{UNIT}/real-responses/llama2/ollama/llm-v1-completions.json"),
        ),
        provider="ollama",
        model="llama2",
        tokens=(13, 12, 25),
        output="Because I said so.",
    ),
    Row(
        "ollama-mistral-chat-unit",
        Case(
            f"{OLLAMA}/api/chat",
            200,
            fixture(f"{UNIT}/expected-requests/mistral/ollama/llm-v1-chat.json"),
            fixture(f"{UNIT}/real-responses/mistral/ollama/llm-v1-chat.json"),
        ),
        provider="ollama",
        model="mistral-tiny",
        tokens=(26, 100, 126),
        output="You cannot divide by zero",
        note="Kong's mistral provider in ollama format: an Ollama server's /api/chat",
    ),
]

HUGGINGFACE_ROWS = [
    Row(
        "huggingface-chat-good",
        Case(
            f"{HUGGINGFACE}/mistralai/Mistral-7B-Instruct-v0.2/v1/chat/completions",
            200,
            HF_REQUEST,
            fixture(f"{HF_CHAT}/responses/good.json"),
        ),
        provider="huggingface",
        model="mistralai/Mistral-7B-Instruct-v0.2",
        tokens=(26, 40, 66),
        output="The sum of 1 + 1 is 2.",
        finish="eos_token",
        note="Kong's huggingface driver's URL (models/<model>/v1/chat/completions)",
    ),
    Row(
        "huggingface-chat-model-loading",
        Case(
            f"{HUGGINGFACE}/mistralai/Mistral-7B-Instruct-v0.2/v1/chat/completions",
            503,
            HF_REQUEST,
            fixture(f"{HF_CHAT}/responses/bad_response_model_load.json"),
        ),
        provider="huggingface",
        model="mistralai/Mistral-7B-Instruct-v0.2",
        error="is currently loading",
        note="503, as Kong's huggingface spec serves it",
    ),
    Row(
        "huggingface-text-generation-llama2-raw",
        Case(
            f"{HUGGINGFACE}/meta-llama/Llama-2-7b-chat-hf",
            200,
            fixture(f"{UNIT}/expected-requests/llama2/raw/llm-v1-chat.json"),
            fixture("kong/llama2/raw/responses/good.json"),
        ),
        provider="huggingface",
        model="meta-llama/Llama-2-7b-chat-hf",
        output="Is a well known font.",
        note="Kong's llama2 provider, raw format (inputs/parameters → generated_text), posts to "
        "the operator's URL: an HF text-generation endpoint and its model are ours",
    ),
]

BEDROCK_ROWS = [
    Row(
        "bedrock-converse-unit",
        Case(
            f"{BEDROCK}/anthropic.claude-3-sonnet-20240229-v1:0/converse",
            200,
            fixture(f"{UNIT}/expected-requests/bedrock/llm-v1-chat.json"),
            fixture(f"{UNIT}/real-responses/bedrock/llm-v1-chat.json"),
        ),
        provider="bedrock",
        model="anthropic.claude-3-sonnet-20240229-v1:0",
        tokens=(19, 119, 138),
        output="You cannot divide by zero",
        finish="end_turn",
        note="Kong's fixture writes usage with OpenAI's keys (prompt_tokens…), not Converse's "
        "inputTokens; the model id in the path is ours (the request says anthropic_version)",
    ),
    Row(
        "bedrock-converse-stream-tool-use",
        Case(
            f"{BEDROCK}/aws-titan-v1:0/converse-stream",
            200,
            written(
                json.dumps(
                    {
                        "messages": [{"role": "user", "content": [{"text": QUESTION}]}],
                        "toolConfig": {
                            "tools": [
                                {
                                    "toolSpec": {
                                        "name": ADD_TOOL["name"],
                                        "description": ADD_TOOL["description"],
                                        "inputSchema": {"json": ADD_TOOL["parameters"]},
                                    }
                                }
                            ]
                        },
                    }
                )
            ),
            fixture("inline/bedrock-chat-functions-stream.eventstream", binary=True),
            content_type=EVENT_STREAM,
        ),
        provider="bedrock",
        model="aws-titan-v1:0",
        tokens=(478, 44, 522),
        tool_calls=(ToolCall("tooluse_UxbKWVKgTqe8cKjPPzopiQ", "add", {"a": 2, "b": 12}),),
        finish="tool_use",
        note="the AWS event stream Kong's mock sends (chunk-1..3 decoded), base64 in the "
        "record; the model is the spec's config; request written in Converse's format",
    ),
    Row(
        "bedrock-converse-stream-text",
        Case(
            f"{BEDROCK}/anthropic.claude-3-sonnet-20240229-v1:0/converse-stream",
            200,
            written(
                '{"messages": [{"role": "user", "content": [{"text": "What is relativity?"}]}]}'
            ),
            fixture(f"{CHUNKS}/aws/input.bin", binary=True),
            content_type=EVENT_STREAM,
        ),
        provider="bedrock",
        model="anthropic.claude-3-sonnet-20240229-v1:0",
        tokens=(9, 97, 106),
        output="Relativity is a set of physical theories",
        finish="end_turn",
        note="request and model id written (the unit spec's model is named 'bedrock')",
    ),
]

# Kong AI Gateway: the ai block of the Kong version each stats table comes from. The specs'
# stats routes log no payloads; the payloads are those the same spec's "logs payloads" test
# asserts (3.7/3.8: the client's body; 3.9+: the body sent upstream, re-encoded). llm_latency
# and time_per_token are the specs' placeholders (they set both to 1 before comparing).
OPENAI_RESPONSE = fixture(f"{OPENAI_CHAT}/responses/good.json")
SENT_CHAT = fixture(
    f"{OPENAI_CHAT}/requests/good.json", model="gpt-3.5-turbo", set=SPEC_OPTIONS, compact=True
)
SENT_STREAM = fixture(
    f"{OPENAI_CHAT}/requests/good-stream.json",
    model="gpt-3.5-turbo",
    set=SPEC_OPTIONS,
    compact=True,
)
STREAM_USAGE = {"prompt_tokens": 18, "completion_tokens": 13, "total_tokens": 31}
KONG_ROWS = [
    Row(
        "kong-3.6.1-openai-chat",
        Case(
            f"{OPENAI}/v1/chat/completions",
            200,
            None,
            None,
            kong="3.6.1",
            ai=AI(
                "3.6",
                usage={"prompt_tokens": 25, "completion_tokens": 12, "total_tokens": 37},
                meta={
                    "request_model": "gpt-3.5-turbo",
                    "response_model": "gpt-3.5-turbo-0613",
                    "provider_name": "openai",
                },
                request=fixture("kong-3.6.1/openai/llm-v1-chat/requests/good.json"),
                response=OPENAI_RESPONSE,
            ),
        ),
        provider="openai",
        model="gpt-3.5-turbo-0613",
        tokens=(25, 12, 37),
        output="The sum of 1 + 1 is 2.",
        finish="stop",
        note="Kong 3.6 has no stats table in its spec: usage and meta are what 3.6.1's "
        "shared.lua post_request writes for this response and the spec's model",
    ),
    Row(
        "kong-3.7.1-openai-chat",
        Case(
            f"{OPENAI}/v1/chat/completions",
            200,
            None,
            None,
            kong="3.7.1",
            ai=AI(
                "3.7",
                stats=f"{STATS}/3.7.1-openai-chat.json",
                request=fixture(f"{OPENAI_CHAT}/requests/good.json"),
                response=OPENAI_RESPONSE,
            ),
        ),
        provider="openai",
        model="gpt-3.5-turbo-0613",
        tokens=(25, 12, 37),
        output="The sum of 1 + 1 is 2.",
        finish="stop",
    ),
    Row(
        "kong-3.8.1-openai-chat",
        Case(
            f"{OPENAI}/v1/chat/completions",
            200,
            None,
            None,
            kong="3.8.1",
            ai=AI(
                "3.8",
                stats=f"{STATS}/3.8.1-openai-chat.json",
                request=fixture(f"{OPENAI_CHAT}/requests/good.json"),
                response=OPENAI_RESPONSE,
            ),
        ),
        provider="openai",
        model="gpt-3.5-turbo-0613",
        tokens=(25, 12, 37),
        output="The sum of 1 + 1 is 2.",
        finish="stop",
    ),
    Row(
        "kong-3.9.3-openai-chat",
        Case(
            f"{OPENAI}/v1/chat/completions",
            200,
            None,
            None,
            kong="3.9.3",
            ai=AI(
                "3.9+",
                stats=f"{STATS}/3.9.3-openai-chat.json",
                request=SENT_CHAT,
                response=OPENAI_RESPONSE,
            ),
        ),
        provider="openai",
        model="gpt-3.5-turbo-0613",
        tokens=(25, 12, 37),
        output="The sum of 1 + 1 is 2.",
        finish="stop",
    ),
    Row(
        "kong-head-openai-chat",
        Case(
            f"{OPENAI}/v1/chat/completions",
            200,
            None,
            None,
            kong="3.10.0",
            ai=AI(
                "3.9+",
                stats=f"{STATS}/head-openai-chat.json",
                request=SENT_CHAT,
                response=OPENAI_RESPONSE,
            ),
        ),
        provider="openai",
        model="gpt-3.5-turbo-0613",
        tokens=(25, 12, 37),
        output="The sum of 1 + 1 is 2.",
        finish="stop",
    ),
    Row(
        "kong-3.9.3-openai-stream",
        Case(
            f"{OPENAI}/v1/chat/completions",
            200,
            None,
            None,
            kong="3.9.3",
            ai=AI(
                "3.9+",
                stats=f"{STATS}/3.9.3-openai-stream.json",
                request=SENT_STREAM,
                response=kong_stream_composite(
                    "inline/openai-chat-stream-good.sse", "stop", STREAM_USAGE
                ),
            ),
        ),
        provider="openai",
        model="gpt-3.5-turbo",
        tokens=(18, 13, 31),
        estimated=True,
        output="The answer to 1 + 1 is 2.",
        finish="stop",
        note="the stream gave no usage: Kong's spec says its completion count 'was from "
        "estimation'; Kong logs the composite chat.completion it builds (no model, its "
        "response_model is the request's)",
    ),
    Row(
        "kong-head-openai-stream-with-bodies",
        Case(
            f"{OPENAI}/v1/chat/completions",
            200,
            fixture(f"{OPENAI_CHAT}/requests/good-stream.json"),
            fixture("inline/openai-chat-stream-good.sse"),
            content_type=SSE,
            ai=AI(
                "3.9+",
                stats=f"{STATS}/head-openai-stream.json",
                request=SENT_STREAM,
                response=kong_stream_composite(
                    "inline/openai-chat-stream-good.sse", "stop", STREAM_USAGE
                ),
            ),
        ),
        provider="openai",
        model="gpt-4-0613",
        tokens=(18, 13, 31),
        estimated=True,
        output="The answer to 1 + 1 is 2.",
        finish="stop",
        note="Kong's ai block and our captured bodies: the client's body (no model, ai-proxy "
        "adds it) and the stream it received, whose chunks name gpt-4-0613",
    ),
    Row(
        "kong-3.9.3-gemini-chat",
        Case(
            f"{GEMINI}/gemini-1.5-pro:generateContent",
            200,
            None,
            None,
            kong="3.9.3",
            client_path="/v1/chat/completions",
            ai=AI(
                "3.9+",
                stats=f"{STATS}/3.9.3-gemini-chat.json",
                request=GEMINI_REQUEST,
                response=kong_gemini_to_openai(
                    f"{GEMINI_CHAT}/responses/good.json", "gemini-1.5-pro"
                ),
            ),
        ),
        provider="gemini",
        model="gemini-1.5-pro",
        tokens=(2, 11, 13),
        output="Everything is okay.",
        finish="stop",
        note="the client speaks OpenAI's format to ai-proxy; Kong 3.9 logs the body it sent "
        "Gemini (contents…) and the OpenAI-format body it returned (model = its config's)",
    ),
    Row(
        "kong-head-gemini-chat",
        Case(
            f"{GEMINI}/gemini-1.5-pro:generateContent",
            200,
            None,
            None,
            kong="3.10.0",
            client_path="/v1/chat/completions",
            ai=AI(
                "3.9+",
                stats=f"{STATS}/head-gemini-chat.json",
                request=GEMINI_REQUEST,
                response=kong_gemini_to_openai(
                    f"{GEMINI_CHAT}/responses/good.json", "gemini-1.5-pro"
                ),
            ),
        ),
        provider="gemini",
        model="gemini-1.5-pro",
        tokens=(2, 11, 13),
        output="Everything is okay.",
        finish="stop",
        note="as kong-3.9.3-gemini-chat, with master's stats table",
    ),
]

ROWS = (
    OPENAI_ROWS
    + AZURE_ROWS
    + ANTHROPIC_ROWS
    + COHERE_ROWS
    + GEMINI_ROWS
    + MISTRAL_ROWS
    + OLLAMA_ROWS
    + HUGGINGFACE_ROWS
    + BEDROCK_ROWS
    + KONG_ROWS
)

# Files no row reads, and why.
SKIPPED = {
    "README.md": "ours: what the folder is",
    "SOURCES.md": "where each file comes from",
    **{
        f"kong/bedrock/chunks/chunk-{i}.txt": "base64 parts of "
        "inline/bedrock-chat-functions-stream.eventstream, which a row reads "
        "(test_bedrock_chunks_are_the_event_stream)"
        for i in (1, 2, 3)
    },
}


def _params() -> list[Any]:
    return [pytest.param(row, id=row.name) for row in ROWS]


def _answer(output: Any) -> str:
    """The answer's text: an assistant message's content (text parts joined), or the text."""
    if isinstance(output, dict):
        content = output.get("content")
        if isinstance(content, list):
            return "".join(
                str(part.get("text") or "") for part in content if isinstance(part, dict)
            )
        return "" if content is None else str(content)
    return "" if output is None else str(output)


def _present(value: Any) -> bool:
    return value not in (None, "", "null", [], {})


def _problems(row: Row, mode: str) -> list[str]:
    """Every way the rows Litefuse would store differ from the fixture's facts."""
    data = json.dumps(kong_record(row.name, row.case)).encode()
    [record] = parse_records(data)
    result = enrich(record, EnrichOptions())
    if not isinstance(result, Trace):
        return [f"not traced: {result}"]
    view = rows_for([result], mode)
    trace, generation = view.trace(result.id), view.generation(result.id)
    found: list[str] = []

    def check(what: str, got: Any, want: Any) -> None:
        if got != want:
            found.append(f"{what}: {got!r}, the fixture says {want!r}")

    check("provider", trace.metadata.get("provider"), row.provider)
    check("provider tag", row.provider in trace.tags, True)
    if row.model is not None:
        check("model", generation.model, row.model)
    check("trace input present", _present(trace.input_json), True)
    if row.error is None:
        check("trace output present", _present(trace.output_json), True)
    if row.output is not None:
        answer = _answer(generation.output_json)
        check(f"answer contains {row.output!r}", row.output in answer, True)
    tokens = (generation.input_tokens, generation.output_tokens, generation.total_tokens)
    if row.tokens is not None:
        check("tokens (input, output, total)", tokens, row.tokens)
    elif row.error is not None:
        check("tokens of a failed call", tokens, (0, 0, 0))
    check("usage_estimated", generation.metadata.get("usage_estimated"), row.usage_estimated)
    calls = [
        {
            "id": call["id"] if want.id is not None else None,
            "name": call["name"],
            "arguments": json.loads(call["arguments"] or "null"),
        }
        for call, want in zip(generation.tool_calls, row.tool_calls, strict=False)
    ]
    check("tool call count", len(generation.tool_calls), len(row.tool_calls))
    check(
        "tool calls",
        calls,
        [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in row.tool_calls][
            : len(calls)
        ],
    )
    if row.reasoning is not None:
        output = generation.output_json if isinstance(generation.output_json, dict) else {}
        thinking = [t.get("content") for t in output.get("thinking") or [] if isinstance(t, dict)]
        check("reasoning in thinking", any(row.reasoning in str(t) for t in thinking), True)
        check("reasoning outside content", row.reasoning in _answer(output), False)
    if row.error is not None:
        check("level", generation.level, "ERROR")
        message = generation.status_message or ""
        check(f"status message contains {row.error!r}", row.error in message, True)
    else:
        check("level", generation.level, "DEFAULT")
        check("status message", generation.status_message, None)
    check("finish reason", generation.metadata.get("finish_reason"), row.finish)
    return found


@pytest.mark.parametrize("row", _params())
@pytest.mark.parametrize("mode", ["otel", "legacy"])
def test_kong_fixture(row: Row, mode: str) -> None:
    problems = _problems(row, mode)
    assert not problems, f"{row.name} ({mode}): " + "; ".join(problems)


def test_every_fixture_file_is_used() -> None:
    files = {
        path.relative_to(UPSTREAM).as_posix() for path in UPSTREAM.rglob("*") if path.is_file()
    }
    used = set().union(*(row.case.files() for row in ROWS))
    assert used <= files, sorted(used - files)
    assert files - used == set(SKIPPED), sorted((files - used) ^ set(SKIPPED))


def test_row_names_are_unique() -> None:
    assert len({row.name for row in ROWS}) == len(ROWS)


def test_bedrock_chunks_are_the_event_stream() -> None:
    joined = b"".join(
        base64.b64decode(read(f"kong/bedrock/chunks/chunk-{i}.txt")) for i in (1, 2, 3)
    )
    assert joined == read("inline/bedrock-chat-functions-stream.eventstream")


def test_records_are_kong_log_records() -> None:
    """Each record parses as Kong's serializer output, request id and bodies where we put them."""
    for row in ROWS:
        data = json.dumps(kong_record(row.name, row.case)).encode()
        [record] = parse_records(data)
        assert record.request.id and record.started_at and record.response.status
        assert (record.request.body is None) == (row.case.request is None)
        assert (record.response.body is None) == (row.case.response is None)
        if row.case.ai is not None:
            assert record.ai
