"""``anthropic``: ``/v1/messages``, 70 % JSON, 30 % SSE (``message_start`` ... ``message_stop``),
with cache read and write tokens."""

from __future__ import annotations

from typing import Any

from pipeline.bench.mix.envelope import fake_uuid
from pipeline.bench.mix.maker import Maker, dump, kong_json


def make(m: Maker) -> bytes:
    rng = m.rng
    model = rng.choice(
        (
            "claude-sonnet-4-20250514",
            "claude-sonnet-4-20250514",
            "claude-3-5-haiku-20241022",
            "claude-3-7-sonnet-20250219",
            "claude-opus-4-1-20250805",
        )
    )
    stream = rng.random() < 0.3
    chars = m.chars(150, 2000, (8_000, 45_000), 0.1)
    out_chars = chars * rng.uniform(0.15, 0.4)
    if stream:  # an event of ~130 bytes per three words
        out_chars /= 4
    count = m.message_count()
    messages = m.messages(chars - out_chars, count, system=False)
    for message in messages:
        if rng.random() < 0.3:
            message["content"] = [{"type": "text", "text": message["content"]}]
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": rng.choice((1024, 2048, 4096, 8192)),
        "messages": messages,
    }
    if rng.random() < 0.7:
        system = m.text(rng.randint(100, 1200) * m.scale)
        body["system"] = (
            [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
            if rng.random() < 0.4
            else system
        )
    if rng.random() < 0.5:
        body["temperature"] = rng.choice((0, 0.5, 1))
    if rng.random() < 0.3:
        body["metadata"] = {"user_id": f"user-{rng.randrange(400):04d}"}
    input_tokens = m.tokens(chars - out_chars, 10)
    cache_read = cache_write = 0
    if input_tokens > 1024 and rng.random() < 0.4:
        cache_read = input_tokens - rng.randint(10, 500)
        input_tokens -= cache_read
    elif input_tokens > 1024 and rng.random() < 0.2:
        cache_write = input_tokens - rng.randint(10, 500)
        input_tokens -= cache_write
    output = m.text(out_chars)
    output_tokens = m.tokens(out_chars)
    usage = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }
    message_id = "msg_01" + m.alnum(22)
    if stream:
        body["stream"] = True
        start = {
            "type": "message_start",
            "message": {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {**usage, "output_tokens": 1},
            },
        }
        events = [
            "event: message_start\ndata: " + dump(start) + "\n\n",
            'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
            '"content_block":{"type":"text","text":""}}\n\n',
            'event: ping\ndata: {"type": "ping"}\n\n',
        ]
        words = output.split(" ")
        step = 3
        events.extend(
            'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
            '"delta":{"type":"text_delta","text":'
            + dump(" ".join(words[i : i + step]) + " ")
            + "}}\n\n"
            for i in range(0, len(words), step)
        )
        events.append(
            'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
        )
        events.append(
            'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":'
            '"end_turn","stop_sequence":null},"usage":{"output_tokens":'
            + str(output_tokens)
            + "}}\n\n"
        )
        events.append('event: message_stop\ndata: {"type":"message_stop"}\n\n')
        response_body = "".join(events)
    else:
        response_body = dump(
            {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": output}],
                "stop_reason": "max_tokens" if rng.random() < 0.03 else "end_turn",
                "stop_sequence": None,
                "usage": usage,
            }
        )
    headers = m.client_headers("httpx")
    version = rng.choice(("0.40.0", "0.49.0"))
    headers["user-agent"] = f"Anthropic/Python {version}"
    headers.update(
        {
            "x-stainless-lang": "python",
            "x-stainless-package-version": version,
            "x-stainless-runtime": "CPython",
            "x-stainless-retry-count": "0",
            "anthropic-version": "2023-06-01",
            "x-api-key": "sk-ant-api03-benchFAKE" + m.alnum(80),
        }
    )
    if stream:
        headers["accept"] = "text/event-stream"
    m.context(headers)
    response_headers = {
        "date": "Sat, 29 Nov 2025 02:40:00 GMT",
        "content-type": "text/event-stream; charset=utf-8" if stream else "application/json",
        "connection": "keep-alive",
        "anthropic-ratelimit-requests-limit": "4000",
        "anthropic-ratelimit-requests-remaining": str(rng.randint(3000, 3999)),
        "anthropic-ratelimit-requests-reset": "2025-11-29T02:40:01Z",
        "anthropic-ratelimit-input-tokens-limit": "400000",
        "anthropic-ratelimit-input-tokens-remaining": str(rng.randint(300_000, 399_999)),
        "anthropic-ratelimit-output-tokens-limit": "80000",
        "anthropic-ratelimit-output-tokens-remaining": str(rng.randint(60_000, 79_999)),
        "request-id": "req_011" + m.alnum(21),
        "anthropic-organization-id": fake_uuid("org"),
        "via": "1.1 google",
        "cf-cache-status": "DYNAMIC",
        "x-robots-tag": "none",
        "server": "cloudflare",
        "cf-ray": m.hex(16) + "-FRA",
    }
    record = m.record(
        method="POST",
        uri="/v1/messages",
        headers=headers,
        service="anthropic",
        status=200,
        response_headers=response_headers,
        request_body=dump(body),
        response_body=response_body,
        proxy_ms=m.latency(output_tokens, stream),
    )
    return kong_json(record)
