"""``error``: 4xx and 5xx on AI routes; OpenAI 429 / 400 / 401 / 500 / 503, Anthropic 529 / 400,
and Kong's own 429 / 401 (short circuits, no upstream)."""

from __future__ import annotations

from typing import Any

from pipeline.bench.mix.maker import Maker, dump, kong_json

# kind → (weight, status, who answered, message)
_ERRORS: dict[str, tuple[int, int, str, str]] = {
    "openai:rate_limit_exceeded": (
        28,
        429,
        "openai",
        "Rate limit reached for gpt-4o in organization org-benchfake on tokens per min (TPM): "
        "Limit 30000000, Used 29998211, Requested 4211. Please try again in 8ms.",
    ),
    "openai:context_length_exceeded": (
        14,
        400,
        "openai",
        "This model's maximum context length is 128000 tokens. However, your messages resulted "
        "in 131072 tokens. Please reduce the length of the messages.",
    ),
    "openai:invalid_value": (5, 400, "openai", "Invalid value for 'temperature': must be <= 2."),
    "openai:invalid_api_key": (
        8,
        401,
        "openai",
        "Incorrect API key provided: sk-proj-********************FAKE. You can find your API key "
        "at https://platform.openai.com/account/api-keys.",
    ),
    "openai:server_error": (
        8,
        500,
        "openai",
        "The server had an error while processing your request.",
    ),
    "openai:overloaded": (
        7,
        503,
        "openai",
        "The engine is currently overloaded, please try again later",
    ),
    "anthropic:overloaded_error": (10, 529, "anthropic", "Overloaded"),
    "anthropic:invalid_request_error": (
        6,
        400,
        "anthropic",
        'messages: roles must alternate between "user" and "assistant"',
    ),
    "kong:rate_limited": (10, 429, "kong", "API rate limit exceeded"),
    "kong:no_key": (4, 401, "kong", "No API key found in request"),
}


def make(m: Maker) -> bytes:
    rng = m.rng
    kind = rng.choices(tuple(_ERRORS), weights=tuple(spec[0] for spec in _ERRORS.values()))[0]
    _, status, provider, message = _ERRORS[kind]
    anthropic = provider == "anthropic"
    model = "claude-sonnet-4-20250514" if anthropic else rng.choice(("gpt-4o", "gpt-4o-mini"))
    chars = m.chars(200, 2000, (8_000, 40_000), 0.05)
    body, _ = m.chat_body(model, chars)
    if anthropic:
        body["max_tokens"] = 1024
        body.pop("stream_options", None)
        response_body = dump(
            {"type": "error", "error": {"type": kind.split(":")[1], "message": message}}
        )
    elif provider == "kong":
        response_body = dump({"message": message, "request_id": m.hex(32)})
    else:
        code = kind.split(":")[1]
        response_body = dump(
            {
                "error": {
                    "message": message,
                    "type": "invalid_request_error" if status < 500 else "server_error",
                    "param": None,
                    "code": code,
                }
            }
        )
    headers = m.client_headers()
    if anthropic:
        headers["anthropic-version"] = "2023-06-01"
        headers["x-api-key"] = "sk-ant-api03-benchFAKE" + m.alnum(80)
    else:
        m.auth(headers)
    m.context(headers)
    response_headers: dict[str, Any] = {
        "date": "Sat, 29 Nov 2025 02:40:00 GMT",
        "content-type": "application/json; charset=utf-8",
    }
    if status == 429:
        response_headers["retry-after"] = str(rng.randint(1, 60))
    if provider == "kong":
        response_headers["x-ratelimit-limit-minute"] = "60"
        response_headers["x-ratelimit-remaining-minute"] = "0"
    record = m.record(
        method="POST",
        uri="/v1/messages" if anthropic else "/v1/chat/completions",
        headers=headers,
        service="anthropic" if anthropic else "openai",
        status=status,
        response_headers=response_headers,
        request_body=dump(body),
        response_body=response_body,
        proxy_ms=rng.randint(40, 3000) if status >= 500 else rng.randint(20, 300),
        source="kong" if provider == "kong" else "upstream",
        upstream_status="" if provider == "kong" else str(status),
    )
    return kong_json(record)
