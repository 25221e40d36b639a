"""``non_ai``: what else Kong proxies, which enrichment skips; health checks, ``/v1/models``,
CORS preflights, ``count_tokens``, ``/metrics``, REST and GraphQL APIs."""

from __future__ import annotations

from typing import Any

from pipeline.bench.mix.maker import Maker, dump, kong_json


def make(m: Maker) -> bytes:
    rng = m.rng
    kind = rng.choices(
        ("health", "models", "preflight", "count_tokens", "metrics", "rest"),
        weights=(25, 12, 10, 5, 5, 43),
    )[0]
    headers = m.client_headers("curl" if kind in ("health", "metrics") else None)
    request_body = response_body = None
    status = 200
    method = "GET"
    service = "status"
    response_headers: dict[str, Any] = {
        "content-type": "application/json",
        "date": "Sat, 29 Nov 2025 02:40:00 GMT",
    }
    if kind == "health":
        uri = rng.choice(("/health", "/healthz", "/status", "/ready"))
        response_body = '{"status":"ok"}'
        headers.pop("x-forwarded-for", None)
        headers["user-agent"] = rng.choice(
            ("kube-probe/1.31", "ELB-HealthChecker/2.0", "curl/8.5.0")
        )
    elif kind == "metrics":
        uri = "/metrics"
        response_headers["content-type"] = "text/plain; version=0.0.4"
        response_body = "\n".join(
            f'http_requests_total{{code="{c}",route="r{i}"}} {rng.randint(1, 10**6)}'
            for i in range(rng.randint(10, 40))
            for c in (200, 500)
        )
    elif kind == "models":
        uri = "/v1/models"
        service = "openai"
        ids = (
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1",
            "o3-mini",
            "text-embedding-3-small",
            "whisper-1",
            "tts-1",
            "dall-e-3",
        )
        response_body = dump(
            {
                "object": "list",
                "data": [
                    {
                        "id": f"{ids[i % len(ids)]}-{i}",
                        "object": "model",
                        "created": 1700000000 + i,
                        "owned_by": "system",
                    }
                    for i in range(rng.randint(20, 80))
                ],
            }
        )
        m.auth(headers)
    elif kind == "preflight":
        method = "OPTIONS"
        uri = "/v1/chat/completions"
        service = "openai"
        status = 204
        headers.update(
            {
                "origin": "https://chat.example.com",
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization,content-type,x-session-id",
            }
        )
        response_headers = {
            "access-control-allow-origin": "https://chat.example.com",
            "access-control-allow-methods": "GET,POST,OPTIONS",
            "access-control-allow-headers": "authorization,content-type,x-session-id",
            "access-control-max-age": "3600",
        }
    elif kind == "count_tokens":
        method = "POST"
        uri = "/v1/messages/count_tokens"
        service = "anthropic"
        body, _ = m.chat_body("claude-sonnet-4-20250514", m.chars(200, 2000, (4_000, 8_000), 0.0))
        request_body = dump(body)
        response_body = '{"input_tokens":' + str(rng.randint(10, 2000)) + "}"
        headers["x-api-key"] = "sk-ant-api03-benchFAKE" + m.alnum(80)
        headers["anthropic-version"] = "2023-06-01"
    else:
        service = rng.choice(("orders", "users", "graphql"))
        if service == "graphql":
            method = "POST"
            uri = "/graphql"
            request_body = dump(
                {
                    "query": "query Order($id: ID!) { order(id: $id) { id total } }",
                    "variables": {"id": str(rng.randrange(10**6))},
                }
            )
        else:
            method = rng.choice(("GET", "GET", "POST", "PUT", "DELETE"))
            uri = f"/{service}/api/v2/{service}/{rng.randrange(10**6)}"
            if method in ("POST", "PUT"):
                request_body = dump(
                    {
                        "note": m.text(rng.randint(50, 1500) * m.scale),
                        "qty": rng.randint(1, 9),
                    }
                )
        if method != "DELETE":
            response_body = dump(
                {
                    "id": rng.randrange(10**6),
                    "status": "ok",
                    "detail": m.text(rng.randint(20, 1200) * m.scale),
                }
            )
        else:
            status = 204
        m.auth(headers)
        m.context(headers)
    record = m.record(
        method=method,
        uri=uri,
        headers=headers,
        service=service,
        status=status,
        response_headers=response_headers,
        request_body=request_body,
        response_body=response_body,
        proxy_ms=rng.randint(1, 120),
        consumer_share=0.4,
    )
    return kong_json(record)
