"""``stream``: chat with ``stream: true``; the SSE body the client received, one event per
token, ending with ``include_usage``'s usage chunk; 3-20 tokens, 10 % of 30-160."""

from __future__ import annotations

from pipeline.bench.mix.envelope import CHAT_PROVIDERS
from pipeline.bench.mix.maker import Maker, dump, kong_json


def make(m: Maker) -> bytes:
    rng = m.rng
    provider = "openai" if rng.random() < 0.85 else rng.choice(("groq", "deepseek"))
    model, snapshot = rng.choice(CHAT_PROVIDERS[provider][2][:4])
    prompt_chars = m.chars(150, 1500, (3_000, 12_000), 0.1)
    body, count = m.chat_body(model, prompt_chars, stream=True)
    # one SSE event (~215 bytes) per token: streams are the big records
    chunks = max(2, int(m.chars(3, 20, (30, 160), 0.1)))
    words = m.text(chunks * 7).split(" ")[:chunks]
    cid = "chatcmpl-" + m.alnum(29)
    created = m.started_at // 1000
    fingerprint = "fp_" + m.hex(10)
    head = (
        f'data: {{"id":"{cid}","object":"chat.completion.chunk","created":{created},'
        f'"model":"{snapshot}","service_tier":"default","system_fingerprint":"{fingerprint}",'
        '"choices":'
    )
    events = [
        head + '[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},'
        '"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
    ]
    events.extend(
        head
        + '[{"index":0,"delta":{"content":'
        + dump(word + " ")
        + '},"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
        for word in words
    )
    events.append(
        head + '[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}\n\n'
    )
    prompt_tokens = m.tokens(prompt_chars, 3 * count + 3)
    completion_tokens = max(1, int(len(words) * rng.uniform(1.1, 1.4)))
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }
    events.append(head + '[],"usage":' + dump(usage) + "}\n\n")
    events.append("data: [DONE]\n\n")
    proxy_ms = m.latency(completion_tokens, stream=True)
    headers = m.client_headers()
    headers["accept"] = "text/event-stream"
    m.auth(headers)
    m.context(headers)
    prefix = CHAT_PROVIDERS[provider][1]
    record = m.record(
        method="POST",
        uri=f"{prefix}/v1/chat/completions",
        upstream_uri="/v1/chat/completions",
        headers=headers,
        service=provider,
        status=200,
        response_headers=m.openai_response_headers(True, rng.randint(150, 600)),
        request_body=dump(body),
        response_body="".join(events),
        proxy_ms=proxy_ms,
    )
    return kong_json(record)
