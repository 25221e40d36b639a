"""``kong_ai``: Kong AI Gateway's ai-proxy logging only, no captured bodies; the 3.8, 3.10 and
3.12 ``ai`` layouts, payloads in 40 %, Kong's cost in half."""

from __future__ import annotations

from typing import Any

from pipeline.bench.mix.envelope import fake_uuid
from pipeline.bench.mix.maker import Maker, dump, kong_json


def make(m: Maker) -> bytes:
    rng = m.rng
    provider = rng.choices(("openai", "azure", "anthropic", "mistral"), weights=(50, 15, 20, 15))[0]
    model, snapshot = {
        "openai": rng.choice(
            (("gpt-4o", "gpt-4o-2024-08-06"), ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"))
        ),
        "azure": ("gpt-4o", "gpt-4o-2024-11-20"),
        "anthropic": rng.choice(
            (
                ("claude-sonnet-4-20250514", "claude-sonnet-4-20250514"),
                ("claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022"),
            )
        ),
        "mistral": ("mistral-large-latest", "mistral-large-latest"),
    }[provider]
    version = rng.choices(("3.8.1.0", "3.10.0.2", "3.12.0.0"), weights=(20, 50, 30))[0]
    uri = rng.choice(("/ai/chat", "/llm/v1/chat", "/ai/chat", "/v1/chat/completions"))
    payloads = rng.random() < 0.4
    chars = m.chars(150, 2000, (8_000, 36_000), 0.1)
    out_chars = chars * rng.uniform(0.15, 0.4)
    prompt_tokens = m.tokens(chars - out_chars, 10)
    completion_tokens = m.tokens(out_chars)
    llm_latency = m.latency(completion_tokens)
    stream = version.startswith("3.12") and rng.random() < 0.3
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "time_per_token": round(llm_latency / completion_tokens, 3),
        "cost": 0,
    }
    if rng.random() < 0.5:  # the operator configured prices in ai-proxy
        usage["cost"] = round((prompt_tokens * 2.5 + completion_tokens * 10.0) / 1e6, 8)
    meta: dict[str, Any] = {
        "plugin_id": fake_uuid("ai-proxy:" + provider),
        "provider_name": provider,
        "request_model": model,
        "response_model": snapshot,
        "llm_latency": llm_latency,
    }
    if provider == "azure":
        meta.update(
            azure_instance_id="acme-prod",
            azure_deployment_id="prod-gpt4o",
            azure_api_version="2024-10-21",
        )
    if version.startswith("3.12"):
        usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        usage["completion_tokens_details"] = {"reasoning_tokens": 0, "audio_tokens": 0}
        meta["request_mode"] = "stream" if stream else "oneshot"
        meta["operation_name"] = "chat"
        if stream:
            usage["time_to_first_token"] = rng.randint(150, 900)
    block: dict[str, Any] = {"meta": meta, "usage": usage}
    if version.startswith("3.8"):
        block["cache"] = {}
    if payloads:
        body, _ = m.chat_body(model, chars - out_chars)
        output = m.text(out_chars)
        if provider == "anthropic" and not version.startswith("3.8"):
            answer: dict[str, Any] = {
                "id": "msg_01" + m.alnum(22),
                "type": "message",
                "role": "assistant",
                "model": snapshot,
                "content": [{"type": "text", "text": output}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens},
            }
        else:
            answer = {
                "id": "chatcmpl-" + m.alnum(29),
                "object": "chat.completion",
                "created": m.started_at // 1000,
                "model": snapshot,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": output},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        block["payload"] = {"request": dump(body), "response": dump(answer)}
    ai = {"ai-proxy" if version.startswith("3.8") else "proxy": block}
    headers = m.client_headers()
    m.auth(headers)
    m.context(headers)
    record = m.record(
        method="POST",
        uri=uri,
        headers=headers,
        service="ai-gateway",
        status=200,
        response_headers={
            "date": "Sat, 29 Nov 2025 02:40:00 GMT",
            "content-type": "text/event-stream" if stream else "application/json",
            "x-kong-llm-model": f"{provider}/{model}",
            "x-request-id": m.hex(32),
        },
        proxy_ms=llm_latency + rng.randint(1, 20),
        kong_version=version,
        ai=ai,
    )
    return kong_json(record)
