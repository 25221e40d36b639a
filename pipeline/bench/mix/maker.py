"""What every category builds its records with: one record's random stream and the shared
pieces (text, messages, client headers, credentials, context headers, Kong's envelope)."""

from __future__ import annotations

import base64
import math
import random
from typing import Any

import orjson

from pipeline.bench.mix.corpus import text_corpus
from pipeline.bench.mix.envelope import (
    BASE_MS,
    CLIENTS,
    CONSUMERS,
    FEATURES,
    FIRST_NAMES,
    GATEWAY,
    ROUTES,
    SERVICES,
    WORKSPACE,
)


def weighted(rng: random.Random, items: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in items], weights=[w for _, w in items])[0]


def log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def dump(value: Any) -> str:
    return orjson.dumps(value).decode()


def kong_json(record: Any) -> bytes:
    """Kong's encoder (lua-cjson) escapes every ``/``; only strings can hold one in JSON."""
    return orjson.dumps(record).replace(b"/", b"\\/")


class Maker:
    """Builds record ``index`` of the mix; its own random stream, so records are independent."""

    def __init__(self, seed: int, index: int, scale: float) -> None:
        self.rng = random.Random(seed * 1_000_003 + index)
        self.index = index
        self.scale = scale
        self.started_at = BASE_MS + index * 7 + self.rng.randrange(7)

    def hex(self, chars: int) -> str:
        return f"{self.rng.getrandbits(chars * 4):0{chars}x}"

    def alnum(self, chars: int) -> str:
        text = base64.b64encode(self.rng.randbytes(chars)).decode()[:chars]
        return text.replace("+", "x").replace("/", "Q")

    def text(self, chars: float) -> str:
        """About ``chars`` characters of the corpus, from a random word."""
        n = max(1, int(chars))
        corpus = text_corpus()
        start = corpus.find(" ", self.rng.randrange(len(corpus) - 64)) + 1
        if start + n <= len(corpus):
            return corpus[start : start + n]
        whole = corpus[start:] + "\n\n" + corpus * (n // len(corpus) + 1)
        return whole[:n]

    def chars(self, low: float, high: float, tail: tuple[float, float], tail_share: float) -> float:
        """A content length, scaled: log-uniform in [low, high], or in ``tail`` (``tail_share``)."""
        if self.rng.random() < tail_share:
            return log_uniform(self.rng, *tail) * self.scale
        return log_uniform(self.rng, low, high) * self.scale

    def messages(self, chars: float, count: int, system: bool = True) -> list[dict[str, Any]]:
        rng = self.rng
        roles: list[str] = []
        if system and count >= 2 and rng.random() < 0.8:
            roles.append("system")
        turns = count - len(roles)
        roles.extend("user" if (turns - i) % 2 == 1 else "assistant" for i in range(turns))
        shares = [rng.uniform(0.3, 1.0) * (0.6 if role == "system" else 1.0) for role in roles]
        total = sum(shares)
        return [
            {"role": role, "content": self.text(chars * share / total)}
            for role, share in zip(roles, shares, strict=True)
        ]

    def message_count(self) -> int:
        rng = self.rng.random()
        if rng < 0.15:
            return 1
        if rng < 0.55:
            return 2
        if rng < 0.7:
            return 3
        if rng < 0.85:
            return 4
        if rng < 0.95:
            return self.rng.randint(5, 8)
        return self.rng.randint(9, 16)

    def tokens(self, chars: float, extra: int = 0) -> int:
        return max(1, int(chars / self.rng.uniform(3.6, 4.4)) + extra)

    def fake_openai_key(self) -> str:
        return "sk-proj-benchFAKE" + self.alnum(40)

    def client_headers(self, client: str | None = None) -> dict[str, Any]:
        rng = self.rng
        client = client or weighted(rng, CLIENTS)
        headers: dict[str, Any] = {
            "host": GATEWAY,
            "connection": "keep-alive",
            "content-type": "application/json",
            "accept": "application/json",
            "accept-encoding": "gzip, deflate",
        }
        if client in ("openai-python", "langchain"):
            version = rng.choice(("1.54.4", "1.58.1", "1.61.0", "1.68.2"))
            headers["user-agent"] = f"OpenAI/Python {version}"
            headers.update(
                {
                    "x-stainless-lang": "python",
                    "x-stainless-package-version": version,
                    "x-stainless-os": rng.choice(("Linux", "MacOS")),
                    "x-stainless-arch": rng.choice(("x64", "arm64")),
                    "x-stainless-runtime": "CPython",
                    "x-stainless-runtime-version": rng.choice(("3.11.9", "3.12.7")),
                    "x-stainless-async": rng.choice(("false", "async:asyncio")),
                    "x-stainless-retry-count": "0",
                }
            )
            if client == "langchain":
                headers["user-agent"] += " langchain-openai/0.2.14"
        elif client == "openai-node":
            version = rng.choice(("4.73.0", "4.77.3"))
            headers["user-agent"] = f"OpenAI/JS {version}"
            headers.update(
                {
                    "x-stainless-lang": "js",
                    "x-stainless-package-version": version,
                    "x-stainless-os": "Linux",
                    "x-stainless-arch": "x64",
                    "x-stainless-runtime": "node",
                    "x-stainless-runtime-version": "v20.18.0",
                    "x-stainless-retry-count": "0",
                }
            )
        elif client == "httpx":
            headers["user-agent"] = "python-httpx/0.27.2"
        else:
            headers["user-agent"] = "curl/8.5.0"
            headers["accept"] = "*/*"
        if rng.random() < 0.3:
            headers["x-forwarded-for"] = f"203.0.113.{rng.randint(1, 254)}"
            headers["x-forwarded-proto"] = "https"
        return headers

    def auth(self, headers: dict[str, Any]) -> None:
        """Bearer key in many records (other senders), Kong's REDACTED in some, none in a few."""
        roll = self.rng.random()
        if roll < 0.55:
            headers["authorization"] = "Bearer " + self.fake_openai_key()
        elif roll < 0.9:
            headers["authorization"] = "REDACTED"

    def context(self, headers: dict[str, Any]) -> str | None:
        """The X-* context headers; returns the user id (or None)."""
        rng = self.rng
        user = None
        if rng.random() < 0.7:
            n = rng.randrange(400)
            user = f"{FIRST_NAMES[n % 12]}.{n}@example.com" if n % 3 == 0 else f"user-{n:04d}"
            headers["x-user-id"] = user
            if rng.random() < 0.75:
                headers["x-session-id"] = f"sess-{n:03d}-{rng.randrange(6)}"
        elif rng.random() < 0.2:
            headers["x-session-id"] = "sess-anon-" + self.hex(8)
        if rng.random() < 0.15:
            headers["x-chat-id"] = f"chat-{rng.randrange(5000)}"
            headers["x-message-id"] = "msg-" + self.hex(12)
        if rng.random() < 0.2:
            headers["x-organization-id"] = (
                f"org-{rng.choice(('acme', 'globex', 'initech', 'umbrella'))}"
            )
        if rng.random() < 0.2:
            headers["x-project-id"] = f"proj-{rng.choice(FEATURES)}"
        return user

    def openai_response_headers(self, stream: bool, processing_ms: int) -> dict[str, Any]:
        rng = self.rng
        headers: dict[str, Any] = {
            "date": "Sat, 29 Nov 2025 02:40:00 GMT",
            "content-type": "text/event-stream; charset=utf-8" if stream else "application/json",
            "connection": "keep-alive",
            "openai-organization": "user-benchfake",
            "openai-processing-ms": str(processing_ms),
            "openai-version": "2020-10-01",
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-limit-tokens": "30000000",
            "x-ratelimit-remaining-requests": str(rng.randint(9000, 9999)),
            "x-ratelimit-remaining-tokens": str(rng.randint(29_000_000, 29_999_999)),
            "x-ratelimit-reset-requests": f"{rng.randint(6, 60)}ms",
            "x-ratelimit-reset-tokens": "0s",
            "x-request-id": "req_" + self.hex(32),
            "server": "cloudflare",
            "cf-ray": self.hex(16) + "-FRA",
        }
        if stream:
            headers["transfer-encoding"] = "chunked"
        if rng.random() < 0.3:
            headers["set-cookie"] = (
                f"__cf_bm={self.alnum(43)}-1764384000-1.0.1.1-{self.alnum(60)}; path=/; "
                "expires=Sat, 29-Nov-25 03:10:00 GMT; domain=.api.openai.com; HttpOnly; Secure"
            )
        return headers

    def record(
        self,
        *,
        method: str,
        uri: str,
        headers: dict[str, Any],
        service: str,
        status: int,
        response_headers: dict[str, Any],
        request_body: str | None = None,
        response_body: str | None = None,
        proxy_ms: int = 100,
        upstream_uri: str | None = None,
        upstream_status: str | None = None,
        source: str = "upstream",
        consumer_share: float = 0.6,
        kong_version: str = "3.10.0.2",
        querystring: dict[str, Any] | None = None,
        ai: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The log serializer's record around the given request and response."""
        rng = self.rng
        request_id = self.hex(32)
        kong_ms = rng.randint(0, 8)
        receive_ms = rng.randint(0, 2)
        short_circuit = source == "kong" and upstream_status == ""
        if request_body is not None:
            headers["content-length"] = str(len(request_body.encode()))
        request: dict[str, Any] = {
            "id": request_id,
            "method": method,
            "uri": uri,
            "url": f"https://{GATEWAY}:443{uri}",
            "size": 350 + 40 * len(headers) + len(request_body or ""),
            "querystring": querystring or {},
            "headers": headers,
            "tls": {"version": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384"},
        }
        if request_body is not None:
            request["body"] = request_body
        response_headers.update(
            {
                "x-kong-request-id": request_id,
                "x-kong-upstream-latency": str(-1 if short_circuit else proxy_ms),
                "x-kong-proxy-latency": str(kong_ms),
                "via": f"1.1 kong/{kong_version}-enterprise-edition",
            }
        )
        response: dict[str, Any] = {
            "status": status,
            "size": 200 + len(response_body or "") + 40 * len(response_headers),
            "headers": response_headers,
        }
        if response_body is not None:
            response["body"] = response_body
        svc = SERVICES[service]
        tries: Any = {}
        if upstream_status is None:
            upstream_status = str(status)
            if rng.random() < 0.03:
                upstream_status = f"502, {status}"
        if not short_circuit:
            ip = f"10.0.{rng.randint(0, 9)}.{rng.randint(2, 250)}"
            tries = [
                {
                    "ip": ip,
                    "port": svc["port"],
                    "balancer_start": self.started_at + kong_ms,
                    "balancer_latency": 0,
                }
            ]
            if upstream_status.startswith("502, "):
                tries.insert(0, {**tries[0], "balancer_latency": 1})
        record: dict[str, Any] = {
            "request": request,
            "upstream_uri": upstream_uri or uri.split("?", 1)[0],
            "upstream_status": upstream_status,
            "response": response,
            "latencies": {
                "kong": kong_ms,
                "proxy": -1 if short_circuit else proxy_ms,
                "request": kong_ms + receive_ms + (0 if short_circuit else proxy_ms),
                "receive": receive_ms,
            },
            "tries": tries,
            "client_ip": f"10.12.{rng.randint(0, 15)}.{rng.randint(2, 250)}",
            "started_at": self.started_at,
            "source": source,
            "workspace": WORKSPACE,
            "workspace_name": "default",
            "service": svc,
            "route": ROUTES[service],
        }
        if rng.random() < consumer_share:
            consumer = rng.choice(CONSUMERS)
            record["consumer"] = consumer
            record["authenticated_entity"] = {"id": consumer["id"]}
        if ai is not None:
            record["ai"] = ai
        return record

    def latency(self, output_tokens: int, stream: bool = False) -> int:
        rng = self.rng
        first = rng.randint(120, 900)
        return first + int(output_tokens * rng.uniform(6, 28 if stream else 22))

    def chat_body(
        self, model: str, prompt_chars: float, *, stream: bool = False, openai_params: bool = True
    ) -> tuple[dict[str, Any], int]:
        """A chat request body and its message count."""
        rng = self.rng
        count = self.message_count()
        messages = self.messages(prompt_chars, count)
        if rng.random() < 0.02:  # a user pastes a key into the prompt: must not reach Litefuse
            messages[-1]["content"] += (
                " my key is " + self.fake_openai_key() + " why is it refused?"
            )
        body: dict[str, Any] = {"model": model, "messages": messages}
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        if rng.random() < 0.6:
            body["temperature"] = rng.choice((0, 0.2, 0.3, 0.7, 1))
        if rng.random() < 0.4:
            body["max_tokens" if openai_params else "max_completion_tokens"] = rng.choice(
                (256, 512, 1024, 4096)
            )
        if rng.random() < 0.1:
            body["top_p"] = 0.9
        if rng.random() < 0.15:
            metadata: dict[str, Any] = {"feature": rng.choice(FEATURES)}
            if rng.random() < 0.5:
                metadata["user_id"] = f"user-{rng.randrange(400):04d}"
                metadata["session_id"] = "sess-" + self.hex(6)
            body["metadata"] = metadata
        elif rng.random() < 0.1:
            body["user"] = f"user-{rng.randrange(400):04d}"
        return body, count
