"""``vllm``: a vLLM service; its OpenAI chat and completions routes with vLLM-only fields, and
``/generate`` (no usage: enrichment estimates the tokens)."""

from __future__ import annotations

from typing import Any

from pipeline.bench.mix.maker import Maker, dump, kong_json


def make(m: Maker) -> bytes:
    rng = m.rng
    service, model = rng.choice(
        (
            ("vllm-llama", "meta-llama/Llama-3.1-8B-Instruct"),
            ("vllm-llama", "meta-llama/Llama-3.3-70B-Instruct"),
            ("vllm-qwen", "Qwen/Qwen2.5-7B-Instruct"),
        )
    )
    shape = rng.choices(("chat", "completions", "generate"), weights=(60, 25, 15))[0]
    chars = m.chars(150, 2000, (8_000, 36_000), 0.08)
    out_chars = chars * rng.uniform(0.1, 0.35)
    out_tokens = m.tokens(out_chars)
    created = m.started_at // 1000
    if shape == "chat":
        body, count = m.chat_body(model, chars - out_chars)
        prompt_tokens = m.tokens(chars - out_chars, 3 * count + 3)
        response: dict[str, Any] = {
            "id": "chatcmpl-" + m.hex(32),
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "reasoning_content": None,
                        "content": m.text(out_chars),
                        "tool_calls": [],
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                    "stop_reason": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "total_tokens": prompt_tokens + out_tokens,
                "completion_tokens": out_tokens,
                "prompt_tokens_details": None,
            },
            "prompt_logprobs": None,
            "kv_transfer_params": None,
        }
        uri = f"/{service}/v1/chat/completions"
    elif shape == "completions":
        prompt = m.text(chars - out_chars)
        body = {"model": model, "prompt": prompt, "max_tokens": rng.choice((64, 256, 512))}
        prompt_tokens = m.tokens(len(prompt))
        response = {
            "id": "cmpl-" + m.hex(32),
            "object": "text_completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "text": m.text(out_chars),
                    "logprobs": None,
                    "finish_reason": rng.choice(("stop", "length")),
                    "stop_reason": None,
                    "prompt_logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "total_tokens": prompt_tokens + out_tokens,
                "completion_tokens": out_tokens,
                "prompt_tokens_details": None,
            },
            "kv_transfer_params": None,
        }
        uri = f"/{service}/v1/completions"
    else:  # vLLM's own /generate: prompt + output in "text", no usage (estimated)
        prompt = m.text(chars - out_chars)
        body = {"prompt": prompt, "max_tokens": rng.choice((64, 256)), "temperature": 0.7}
        response = {"text": [prompt + m.text(out_chars)]}
        uri = f"/{service}/generate"
    headers = m.client_headers(rng.choice(("openai-python", "httpx", "httpx", "curl")))
    if rng.random() < 0.5:
        headers["authorization"] = "Bearer token-benchFAKE" + m.alnum(24)
    m.context(headers)
    record = m.record(
        method="POST",
        uri=uri,
        upstream_uri=uri.removeprefix(f"/{service}"),
        headers=headers,
        service=service,
        status=200,
        response_headers={
            "date": "Sat, 29 Nov 2025 02:40:00 GMT",
            "server": "uvicorn",
            "content-type": "application/json",
        },
        request_body=dump(body),
        response_body=dump(response),
        proxy_ms=m.latency(out_tokens),
        consumer_share=0.3,
    )
    return kong_json(record)
