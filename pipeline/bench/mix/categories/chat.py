"""``chat``: OpenAI-compatible chat completions with JSON bodies (OpenAI, Azure, Mistral, Groq,
DeepSeek, Together, OpenRouter); 1-16 messages, tools in 8 %, a 10 % tail of 10-50 KB."""

from __future__ import annotations

from typing import Any

from pipeline.bench.mix.envelope import CHAT_PROVIDERS, CHAT_SHARES, fake_uuid
from pipeline.bench.mix.maker import Maker, dump, kong_json, weighted

_TOOL = {
    "type": "function",
    "function": {
        "name": "search_orders",
        "description": "Find a customer's orders by status, newest first.",
        "parameters": {
            "type": "object",
            "properties": {
                "customer_id": {"type": "string", "description": "The customer id, C-12345."},
                "status": {"type": "string", "enum": ["open", "shipped", "refunded"]},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50},
            },
            "required": ["customer_id"],
        },
    },
}


def make(m: Maker) -> bytes:
    rng = m.rng
    provider = weighted(rng, CHAT_SHARES)
    chars = m.chars(150, 2000, (8_000, 45_000), 0.1)
    out_chars = chars * rng.uniform(0.12, 0.4)
    if provider == "azure":
        model, snapshot = "gpt-4o", "gpt-4o-2024-11-20"
    else:
        model, snapshot = rng.choice(CHAT_PROVIDERS[provider][2])
    body, count = m.chat_body(model, chars - out_chars)
    tools = rng.random() < 0.08
    if tools:
        body["tools"] = [_TOOL]
        body["tool_choice"] = "auto"
    prompt_tokens = m.tokens(chars - out_chars, 3 * count + 3 + (80 if tools else 0))
    finish = "length" if rng.random() < 0.04 else "stop"
    message: dict[str, Any] = {"role": "assistant", "content": m.text(out_chars)}
    if tools and rng.random() < 0.5:
        message = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_" + m.alnum(24),
                    "type": "function",
                    "function": {
                        "name": "search_orders",
                        "arguments": dump(
                            {"customer_id": f"C-{rng.randrange(99999)}", "status": "open"}
                        ),
                    },
                }
            ],
        }
        finish = "tool_calls"
        out_chars = 60
    completion_tokens = m.tokens(out_chars)
    created = m.started_at // 1000
    response: dict[str, Any] = {
        "id": "chatcmpl-" + m.alnum(29),
        "object": "chat.completion",
        "created": created,
        "model": snapshot,
    }
    proxy_ms = m.latency(completion_tokens)
    querystring = None
    headers = m.client_headers()
    if provider == "openai":
        message.setdefault("refusal", None)
        message["annotations"] = []
        cached = 0
        if prompt_tokens > 1024 and rng.random() < 0.35:
            cached = (prompt_tokens - rng.randint(0, 1024)) // 128 * 128
        reasoning = completion_tokens // 2 if model.startswith("o") else 0
        response["choices"] = [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        ]
        response["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens + reasoning,
            "total_tokens": prompt_tokens + completion_tokens + reasoning,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        response["service_tier"] = "default"
        response["system_fingerprint"] = "fp_" + m.hex(10)
        response_headers = m.openai_response_headers(False, proxy_ms - 5)
        uri = "/v1/chat/completions"
        upstream_uri = uri
        m.auth(headers)
    elif provider == "azure":
        filters = {
            name: {"filtered": False, "severity": "safe"}
            for name in ("hate", "self_harm", "sexual", "violence")
        }
        response["choices"] = [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish,
                "content_filter_results": filters,
            }
        ]
        response["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": filters}]
        response["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        response["system_fingerprint"] = "fp_" + m.hex(10)
        deployment = rng.choice(("prod-gpt4o", "gpt-4o", "chat-gpt4o-eu"))
        uri = f"/openai/deployments/{deployment}/chat/completions?api-version=2024-10-21"
        upstream_uri = uri.split("?", 1)[0]
        querystring = {"api-version": "2024-10-21"}
        headers["api-key"] = m.hex(32)
        body.pop("model")
        response_headers = {
            "content-type": "application/json",
            "apim-request-id": fake_uuid(m.hex(8)),
            "x-ms-region": "Sweden Central",
            "x-ratelimit-remaining-requests": str(rng.randint(100, 999)),
            "x-ratelimit-remaining-tokens": str(rng.randint(10_000, 99_999)),
            "x-request-id": fake_uuid(m.hex(8)),
            "x-ms-deployment-name": deployment,
            "strict-transport-security": "max-age=31536000; includeSubDomains; preload",
            "date": "Sat, 29 Nov 2025 02:40:00 GMT",
        }
    else:
        response["choices"] = [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        ]
        response["usage"] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        prefix = CHAT_PROVIDERS[provider][1]
        uri = f"{prefix}/v1/chat/completions"
        upstream_uri = "/v1/chat/completions"
        response_headers = {
            "date": "Sat, 29 Nov 2025 02:40:00 GMT",
            "content-type": "application/json",
            "connection": "keep-alive",
            "x-request-id": m.hex(32),
            "server": "cloudflare",
            "cf-ray": m.hex(16) + "-AMS",
        }
        m.auth(headers)
    m.context(headers)
    record = m.record(
        method="POST",
        uri=uri,
        upstream_uri=upstream_uri,
        querystring=querystring,
        headers=headers,
        service=provider,
        status=200,
        response_headers=response_headers,
        request_body=dump(body),
        response_body=dump(response),
        proxy_ms=proxy_ms,
    )
    return kong_json(record)
