"""``embeddings``: ``/v1/embeddings``, 1-8 inputs; base64 vectors (openai-python's default) or
float vectors of 256-3072 dimensions."""

from __future__ import annotations

import base64
from typing import Any

from pipeline.bench.mix.maker import Maker, dump, kong_json


def make(m: Maker) -> bytes:
    rng = m.rng
    model, native = rng.choice(
        (
            ("text-embedding-3-small", 1536),
            ("text-embedding-3-small", 1536),
            ("text-embedding-3-small", 1536),
            ("text-embedding-3-large", 3072),
            ("text-embedding-ada-002", 1536),
        )
    )
    roll = rng.random()
    inputs = 1 if roll < 0.7 else rng.randint(2, 4) if roll < 0.95 else rng.randint(5, 8)
    dims = native
    body: dict[str, Any] = {"model": model}
    if model != "text-embedding-ada-002" and rng.random() < 0.5:
        dims = rng.choice((256, 512, 1024))
        body["dimensions"] = dims
    floats = inputs == 1 and dims <= 512 and rng.random() < 0.5
    texts = [m.text(rng.randint(80, 900) * m.scale) for _ in range(inputs)]
    body["input"] = texts[0] if inputs == 1 and rng.random() < 0.5 else texts
    if not floats:
        body["encoding_format"] = "base64"
    data = []
    for position in range(inputs):
        vector: Any
        if floats:
            vector = [round(rng.gauss(0.0, 0.03), 8) for _ in range(dims)]
        else:
            vector = base64.b64encode(rng.randbytes(dims * 4)).decode()
        data.append({"object": "embedding", "index": position, "embedding": vector})
    tokens = sum(m.tokens(len(t)) for t in texts)
    response = {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    headers = m.client_headers(rng.choice(("openai-python", "openai-python", "langchain", "httpx")))
    m.auth(headers)
    m.context(headers)
    record = m.record(
        method="POST",
        uri="/v1/embeddings",
        headers=headers,
        service="openai",
        status=200,
        response_headers=m.openai_response_headers(False, rng.randint(20, 200)),
        request_body=dump(body),
        response_body=dump(response),
        proxy_ms=rng.randint(25, 400),
    )
    return kong_json(record)
