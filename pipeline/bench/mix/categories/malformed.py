"""``malformed``: values that are not a readable Kong record (dead letters); truncated JSON, a
JSON scalar, another producer's log line, headers as a string, an AI call without
``started_at``."""

from __future__ import annotations

import orjson

from pipeline.bench.mix.categories import chat
from pipeline.bench.mix.maker import Maker, kong_json


def make(m: Maker) -> bytes:
    rng = m.rng
    kind = rng.choices(
        ("truncated", "scalar", "foreign", "headers", "no_started_at"),
        weights=(45, 10, 15, 15, 15),
    )[0]
    if kind == "scalar":
        return rng.choice((b'"kong-log connectivity test"', b"null", b"[]", b"42"))
    if kind == "foreign":  # another application logging to the same topic
        return kong_json(
            {
                "@timestamp": "2025-11-29T02:40:00.123Z",
                "level": "info",
                "logger": "billing-worker",
                "message": m.text(rng.randint(60, 400)),
                "trace_id": m.hex(32),
            }
        )
    value = chat.make(m)
    if kind == "truncated":  # a bridge cut the value
        return value[: rng.randint(len(value) // 5, len(value) * 9 // 10)]
    record = orjson.loads(value)
    if kind == "headers":  # a bridge flattened the headers into text
        headers = record["request"]["headers"]
        record["request"]["headers"] = "\r\n".join(f"{k}: {v}" for k, v in headers.items())
    else:
        del record["started_at"]
    return kong_json(record)
