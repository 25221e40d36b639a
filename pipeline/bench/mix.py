"""A realistic, seeded mix of Kong kafka-log records (JSON bytes) for benchmarks.

The records are built here, from compact templates of what Kong's log serializer and kafka-log
write (see docs/enrichment.md, "Kong records we read"), so the benchmarks work from a plain
``pip install`` with no test or schema files. They are shaped like traffic through Kong in front
of LLM APIs:

- Kong's JSON: compact, ``/`` escaped as ``\\/``, lowercased headers, ``{}`` for empty tables,
  ``upstream_status`` as a string, entity copies of the service, route and consumer;
- real client and provider headers (openai-python's ``x-stainless-*``, OpenAI's rate-limit and
  Cloudflare headers, Anthropic's ``anthropic-ratelimit-*``): an envelope without bodies weighs
  1.7-3.3 KB, as Kong's records do;
- bodies as our Kong config captures them: request JSON, response JSON or the SSE text the
  client received (one event of ~290 bytes per token for OpenAI streams);
- users, sessions, chats, organisations and projects in the ``X-*`` headers (and sometimes the
  body's ``metadata``), Kong consumers, fake credentials in ``authorization`` / ``x-api-key`` /
  ``api-key`` (Kong only redacts ``authorization``; other senders keep it), once in a while a
  key pasted into a prompt.

Categories, default weights (percent of records; :data:`CATEGORIES`) and record sizes at
``size_scale=1`` (median, 90th percentile):

========== ====== =========== ================================================================
chat        36    4.3 / 5.9K  OpenAI-compatible chat completions (OpenAI, Azure, Mistral, Groq,
                              DeepSeek, Together, OpenRouter), 1-16 messages, tools in 8%;
                              10% tail of 10-50 KB
stream      17    8.1 / 18K   chat with ``stream: true``: SSE body ending with
                              ``include_usage``'s usage chunk; 3-20 tokens, 10% of 30-160
embeddings   8    12 / 38K    ``/v1/embeddings``: 1-8 inputs, base64 (openai-python's default)
                              or float vectors of 256-3072 dimensions
anthropic    8    5.0 / 16K   ``/v1/messages``: 70% JSON, 30% SSE (``message_start`` ...
                              ``message_stop``), cache read/write tokens
vllm         5    3.4 / 4.9K  a vLLM service: OpenAI chat / completions routes with vLLM-only
                              fields, and ``/generate`` (no usage: tokens are estimated)
kong_ai     10    2.8 / 4.5K  Kong AI Gateway ai-proxy logging only (no captured bodies):
                              3.8 / 3.10 / 3.12 ``ai`` layouts, payloads in 40%, Kong's cost
                              in half
error        5    3.4 / 4.5K  4xx/5xx: OpenAI 429 / 400 / 401 / 500 / 503, Anthropic 529 / 400,
                              Kong's own 429 / 401 (short circuits)
non_ai       9    2.7 / 5.6K  what else Kong proxies: health checks, ``/v1/models``, CORS
                              preflights, ``count_tokens``, ``/metrics``, REST APIs (skipped)
malformed    2    2.6 / 5.1K  truncated JSON, a JSON scalar, another producer's log line,
                              headers as a string, an AI call without ``started_at``
                              (dead letters)
========== ====== =========== ================================================================

All records (seed 7, 20,000): median 4.5 KB, mean 7.3 KB; 40% up to 4 KB, 44% 4-10 KB, 16%
above 10 KB, none above 150 KB.

``size_scale`` multiplies the text content (messages, completions, stream length, embedding
inputs, payloads, REST bodies); envelopes and embedding vectors keep their size, so the mean
record grows linearly, about 4.4 KB + 2.9 KB x ``size_scale``.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

__all__ = [
    "CATEGORIES",
    "DEFAULT_WEIGHTS",
    "EXPECTED",
    "Category",
    "composition",
    "generate",
    "generate_labelled",
    "parse_weights",
    "plan",
    "resolve_weights",
]

Outcome = str  # "trace" | "skipped" | "dead_letter"


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    weight: float
    expect: Outcome
    description: str


CATEGORIES: tuple[Category, ...] = (
    Category("chat", 36, "trace", "OpenAI-compatible chat completions, JSON bodies"),
    Category("stream", 17, "trace", "chat with stream: true, SSE body with a usage chunk"),
    Category("embeddings", 8, "trace", "OpenAI embeddings, base64 or float vectors"),
    Category("anthropic", 8, "trace", "Anthropic messages, JSON and SSE"),
    Category("vllm", 5, "trace", "vLLM chat / completions / generate"),
    Category("kong_ai", 10, "trace", "Kong ai-proxy logging only, no captured bodies"),
    Category("error", 5, "trace", "upstream and Kong 4xx/5xx on AI routes"),
    Category("non_ai", 9, "skipped", "health checks, model lists, preflights, REST APIs"),
    Category("malformed", 2, "dead_letter", "not a readable Kong record"),
)
DEFAULT_WEIGHTS: dict[str, float] = {c.name: c.weight for c in CATEGORIES}
EXPECTED: dict[str, Outcome] = {c.name: c.expect for c in CATEGORIES}


# --- the mix -----------------------------------------------------------------------------------


def resolve_weights(weights: Mapping[str, float] | None = None) -> dict[str, float]:
    """The default weights with ``weights`` replacing some of them (unknown names refused)."""
    merged = dict(DEFAULT_WEIGHTS)
    for name, value in (weights or {}).items():
        if name not in merged:
            raise ValueError(f"unknown category {name!r} (known: {', '.join(merged)})")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"weight of {name} must be a non-negative number")
        merged[name] = float(value)
    if sum(merged.values()) <= 0:
        raise ValueError("at least one category needs a positive weight")
    return merged


def parse_weights(text: str) -> dict[str, float]:
    """``"chat=40,malformed=0"`` → the default weights with those replaced."""
    given: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"expected name=weight, got {part.strip()!r}")
        try:
            given[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"weight of {name.strip()} is not a number: {value!r}") from None
    return resolve_weights(given)


def plan(count: int, seed: int = 7, weights: Mapping[str, float] | None = None) -> list[str]:
    """The category of each record, in order: exact proportions (largest remainder), shuffled."""
    if count < 0:
        raise ValueError("count must be >= 0")
    resolved = resolve_weights(weights)
    total = sum(resolved.values())
    quotas = {name: count * weight / total for name, weight in resolved.items()}
    counts = {name: int(quota) for name, quota in quotas.items()}
    order = sorted(
        resolved, key=lambda name: (counts[name] - quotas[name], list(resolved).index(name))
    )
    for name in order[: count - sum(counts.values())]:
        counts[name] += 1
    labels = [name for name in resolved for _ in range(counts[name])]
    random.Random(seed).shuffle(labels)
    return labels


def composition(
    count: int, seed: int = 7, weights: Mapping[str, float] | None = None
) -> dict[str, int]:
    """How many records of each category ``generate`` makes (every category, zeros included)."""
    counted = Counter(plan(count, seed, weights))
    return {category.name: counted.get(category.name, 0) for category in CATEGORIES}


def generate_labelled(
    count: int,
    seed: int = 7,
    *,
    size_scale: float = 1.0,
    weights: Mapping[str, float] | None = None,
) -> list[tuple[str, bytes]]:
    """``count`` records as (category, Kafka value). Same arguments → same bytes."""
    if not (size_scale > 0 and math.isfinite(size_scale)):
        raise ValueError("size_scale must be a positive number")
    labels = plan(count, seed, weights)
    return [
        (label, _Maker(seed, index, size_scale).make(label)) for index, label in enumerate(labels)
    ]


def generate(
    count: int,
    seed: int = 7,
    *,
    size_scale: float = 1.0,
    weights: Mapping[str, float] | None = None,
) -> list[bytes]:
    """``count`` Kong kafka-log values (JSON bytes) in the default (or given) mix."""
    return [
        value for _, value in generate_labelled(count, seed, size_scale=size_scale, weights=weights)
    ]


# --- vocabulary ----------------------------------------------------------------------------------

_VOCABULARY = (
    "the a an of to and in is for on with that this it as be are by from at or we you your "
    "our can will should would could not if then when how why what which there their they "
    "them please explain summarise summarize write draft review translate compare list "
    "describe fix refactor improve rewrite generate classify extract answer question "
    "context document customer support ticket order invoice refund shipment account "
    "password reset billing plan kafka consumer producer partition offset topic broker lag "
    "rebalance group commit retention kong gateway route service plugin upstream latency "
    "request response header token rate limit python function class method return value "
    "error exception stack trace test case unit async database query index table schema "
    "migration postgres redis cache key value ttl replica kubernetes pod deployment node "
    "cluster namespace helm chart ingress secret config map model prompt completion "
    "embedding vector search retrieval chunk score rank answer source user session message "
    "chat assistant system tool call result json field array object string data pipeline "
    "stream batch window event time latency throughput memory cpu disk network report "
    "meeting notes action items decision owner deadline quarter revenue growth margin café "
    "naïve résumé déjà-vu straße 東京 данные — → ✓ 数据 größe über"
)
_WORDS = _VOCABULARY.split()
_CODE = (
    '`kafka-consumer-groups --describe --group "kong-litefuse"`',
    '```python\ndef handler(event):\n    return {"status": "ok", "items": event["items"]}\n```',
    '{"error": {"code": 429, "message": "slow down"}}',
    "SELECT id, total FROM orders WHERE created_at > now() - interval '1 day';",
    "https://docs.example.com/kong/plugins/kafka-log?version=3.10#config",
    "C:\\Users\\dev\\project\\config.yaml",
)


@lru_cache(maxsize=1)
def _corpus() -> str:
    """~256 KB of text-like content: sentences, paragraphs, code, quotes, non-ASCII."""
    rng = random.Random(0x6B6F6E67)
    parts: list[str] = []
    size = 0
    while size < 262_144:
        sentences = []
        for _ in range(rng.randint(2, 6)):
            words = rng.choices(_WORDS, k=rng.randint(5, 22))
            words[0] = words[0].capitalize()
            if rng.random() < 0.1:
                words.insert(rng.randrange(len(words)), f'"{rng.choice(_WORDS)}"')
            sentences.append(" ".join(words) + rng.choice(".....?!:"))
        if rng.random() < 0.12:
            sentences.append(rng.choice(_CODE))
        paragraph = " ".join(sentences)
        parts.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(parts)


# --- fixed parts of the envelope ---------------------------------------------------------------

_BASE_MS = 1_764_384_000_000
_WORKSPACE = "0f1a6c5e-3c5d-4b52-9c1e-2a0f1f0f2b10"
_GATEWAY = "gateway.example.com"


def _uuid(name: str) -> str:
    h = hashlib.md5(name.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def _service(name: str, host: str, port: int = 443, protocol: str = "https") -> dict[str, Any]:
    return {
        "id": _uuid("service:" + name),
        "created_at": 1764000000,
        "updated_at": 1764000000,
        "name": name,
        "host": host,
        "port": port,
        "protocol": protocol,
        "path": "/",
        "retries": 5,
        "connect_timeout": 60000,
        "write_timeout": 60000,
        "read_timeout": 60000,
        "enabled": True,
        "ws_id": _WORKSPACE,
        "tags": {},
    }


def _route(
    name: str, service: dict[str, Any], paths: list[str], strip: bool = False
) -> dict[str, Any]:
    return {
        "id": _uuid("route:" + name),
        "created_at": 1764000000,
        "updated_at": 1764000000,
        "name": name,
        "paths": paths,
        "protocols": ["http", "https"],
        "strip_path": strip,
        "preserve_host": False,
        "service": {"id": service["id"]},
        "ws_id": _WORKSPACE,
        "tags": {},
    }


# provider → (service, route, path prefix, chat models with their response snapshot)
_CHAT_PROVIDERS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    "openai": (
        "api.openai.com",
        "",
        (
            ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
            ("gpt-4o", "gpt-4o-2024-08-06"),
            ("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14"),
            ("gpt-4.1", "gpt-4.1-2025-04-14"),
            ("o3-mini", "o3-mini-2025-01-31"),
        ),
    ),
    "mistral": (
        "api.mistral.ai",
        "/mistral",
        (
            ("mistral-large-latest", "mistral-large-latest"),
            ("mistral-small-latest", "mistral-small-latest"),
        ),
    ),
    "groq": ("api.groq.com", "/groq", (("llama-3.3-70b-versatile", "llama-3.3-70b-versatile"),)),
    "deepseek": ("api.deepseek.com", "/deepseek", (("deepseek-chat", "deepseek-chat"),)),
    "together": (
        "api.together.xyz",
        "/together",
        (("meta-llama/Llama-3.3-70B-Instruct-Turbo", "meta-llama/Llama-3.3-70B-Instruct-Turbo"),),
    ),
    "openrouter": (
        "openrouter.ai",
        "/openrouter",
        (("anthropic/claude-3.5-sonnet", "anthropic/claude-3.5-sonnet"),),
    ),
}
_CHAT_SHARES = (
    ("openai", 64),
    ("azure", 8),
    ("mistral", 8),
    ("groq", 6),
    ("deepseek", 5),
    ("together", 5),
    ("openrouter", 4),
)

_SERVICES: dict[str, dict[str, Any]] = {
    name: _service(name, host) for name, (host, _, _) in _CHAT_PROVIDERS.items()
}
_SERVICES["azure"] = _service("azure-openai", "acme-prod.openai.azure.com")
_SERVICES["anthropic"] = _service("anthropic", "api.anthropic.com")
_SERVICES["vllm-llama"] = _service(
    "vllm-llama", "vllm-llama.inference.svc.cluster.local", 8000, "http"
)
_SERVICES["vllm-qwen"] = _service(
    "vllm-qwen", "vllm-qwen.inference.svc.cluster.local", 8000, "http"
)
_SERVICES["ai-gateway"] = _service("ai-gateway", "localhost", 443)
_SERVICES["status"] = _service("status", "status.internal", 8080, "http")
_SERVICES["orders"] = _service("orders", "orders.internal", 8080, "http")
_SERVICES["users"] = _service("users", "users.internal", 8080, "http")
_SERVICES["graphql"] = _service("graphql", "graphql.internal", 4000, "http")

_ROUTES: dict[str, dict[str, Any]] = {
    name: _route(
        f"{name}-v1",
        svc,
        [f"/{name}"] if name not in ("openai", "anthropic") else ["/v1"],
        strip=name not in ("openai", "anthropic"),
    )
    for name, svc in _SERVICES.items()
}
_ROUTES["azure"] = _route("azure-openai", _SERVICES["azure"], ["/openai"])
_ROUTES["ai-gateway"] = _route("ai-chat", _SERVICES["ai-gateway"], ["/ai", "/llm"])

_CONSUMERS = tuple(
    {
        "id": _uuid("consumer:" + name),
        "username": name,
        "custom_id": f"app-{n + 10}",
        "created_at": 1764000000,
        "tags": {},
    }
    for n, name in enumerate(
        (
            "support-bot",
            "search-api",
            "docs-assistant",
            "sales-copilot",
            "batch-summariser",
            "mobile-app",
            "internal-tools",
            "data-science",
            "ci-evals",
            "partner-acme",
            "partner-globex",
            "web-chat",
        )
    )
)

_CLIENTS = (
    ("openai-python", 45),
    ("openai-node", 20),
    ("httpx", 15),
    ("langchain", 12),
    ("curl", 8),
)
_FEATURES = (
    "support-bot",
    "search",
    "summarise",
    "sql-assistant",
    "code-review",
    "triage",
    "translate",
)
_FIRST_NAMES = (
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "oscar",
)


def _weighted(rng: random.Random, items: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([name for name, _ in items], weights=[w for _, w in items])[0]


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _dump(value: Any) -> str:
    return orjson.dumps(value).decode()


def _kong_json(record: Any) -> bytes:
    """Kong's encoder (lua-cjson) escapes every ``/``; only strings can hold one in JSON."""
    return orjson.dumps(record).replace(b"/", b"\\/")


# --- one record --------------------------------------------------------------------------------


class _Maker:
    """Builds record ``index`` of the mix; its own random stream, so records are independent."""

    def __init__(self, seed: int, index: int, scale: float) -> None:
        self.rng = random.Random(seed * 1_000_003 + index)
        self.index = index
        self.scale = scale
        self.started_at = _BASE_MS + index * 7 + self.rng.randrange(7)

    def make(self, category: str) -> bytes:
        maker = getattr(self, "_" + category)
        value: bytes = maker()
        return value

    # --- helpers ---------------------------------------------------------------------------------

    def hex(self, chars: int) -> str:
        return f"{self.rng.getrandbits(chars * 4):0{chars}x}"

    def alnum(self, chars: int) -> str:
        text = base64.b64encode(self.rng.randbytes(chars)).decode()[:chars]
        return text.replace("+", "x").replace("/", "Q")

    def text(self, chars: float) -> str:
        """About ``chars`` characters of the corpus, from a random word."""
        n = max(1, int(chars))
        corpus = _corpus()
        start = corpus.find(" ", self.rng.randrange(len(corpus) - 64)) + 1
        if start + n <= len(corpus):
            return corpus[start : start + n]
        whole = corpus[start:] + "\n\n" + corpus * (n // len(corpus) + 1)
        return whole[:n]

    def chars(self, low: float, high: float, tail: tuple[float, float], tail_share: float) -> float:
        """A content length, scaled: log-uniform in [low, high], or in ``tail`` (``tail_share``)."""
        if self.rng.random() < tail_share:
            return _log_uniform(self.rng, *tail) * self.scale
        return _log_uniform(self.rng, low, high) * self.scale

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
        client = client or _weighted(rng, _CLIENTS)
        headers: dict[str, Any] = {
            "host": _GATEWAY,
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
            user = f"{_FIRST_NAMES[n % 12]}.{n}@example.com" if n % 3 == 0 else f"user-{n:04d}"
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
            headers["x-project-id"] = f"proj-{rng.choice(_FEATURES)}"
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
            "url": f"https://{_GATEWAY}:443{uri}",
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
        svc = _SERVICES[service]
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
            "workspace": _WORKSPACE,
            "workspace_name": "default",
            "service": svc,
            "route": _ROUTES[service],
        }
        if rng.random() < consumer_share:
            consumer = rng.choice(_CONSUMERS)
            record["consumer"] = consumer
            record["authenticated_entity"] = {"id": consumer["id"]}
        if ai is not None:
            record["ai"] = ai
        return record

    def latency(self, output_tokens: int, stream: bool = False) -> int:
        rng = self.rng
        first = rng.randint(120, 900)
        return first + int(output_tokens * rng.uniform(6, 28 if stream else 22))

    # --- categories ------------------------------------------------------------------------------

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
            metadata: dict[str, Any] = {"feature": rng.choice(_FEATURES)}
            if rng.random() < 0.5:
                metadata["user_id"] = f"user-{rng.randrange(400):04d}"
                metadata["session_id"] = "sess-" + self.hex(6)
            body["metadata"] = metadata
        elif rng.random() < 0.1:
            body["user"] = f"user-{rng.randrange(400):04d}"
        return body, count

    def _chat(self) -> bytes:
        rng = self.rng
        provider = _weighted(rng, _CHAT_SHARES)
        chars = self.chars(150, 2000, (8_000, 45_000), 0.1)
        out_chars = chars * rng.uniform(0.12, 0.4)
        if provider == "azure":
            model, snapshot = "gpt-4o", "gpt-4o-2024-11-20"
        else:
            model, snapshot = rng.choice(_CHAT_PROVIDERS[provider][2])
        body, count = self.chat_body(model, chars - out_chars)
        tools = rng.random() < 0.08
        if tools:
            body["tools"] = [_TOOL]
            body["tool_choice"] = "auto"
        prompt_tokens = self.tokens(chars - out_chars, 3 * count + 3 + (80 if tools else 0))
        finish = "length" if rng.random() < 0.04 else "stop"
        message: dict[str, Any] = {"role": "assistant", "content": self.text(out_chars)}
        if tools and rng.random() < 0.5:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_" + self.alnum(24),
                        "type": "function",
                        "function": {
                            "name": "search_orders",
                            "arguments": _dump(
                                {"customer_id": f"C-{rng.randrange(99999)}", "status": "open"}
                            ),
                        },
                    }
                ],
            }
            finish = "tool_calls"
            out_chars = 60
        completion_tokens = self.tokens(out_chars)
        created = self.started_at // 1000
        response: dict[str, Any] = {
            "id": "chatcmpl-" + self.alnum(29),
            "object": "chat.completion",
            "created": created,
            "model": snapshot,
        }
        proxy_ms = self.latency(completion_tokens)
        querystring = None
        headers = self.client_headers()
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
            response["system_fingerprint"] = "fp_" + self.hex(10)
            response_headers = self.openai_response_headers(False, proxy_ms - 5)
            uri = "/v1/chat/completions"
            upstream_uri = uri
            self.auth(headers)
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
            response["prompt_filter_results"] = [
                {"prompt_index": 0, "content_filter_results": filters}
            ]
            response["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
            response["system_fingerprint"] = "fp_" + self.hex(10)
            deployment = rng.choice(("prod-gpt4o", "gpt-4o", "chat-gpt4o-eu"))
            uri = f"/openai/deployments/{deployment}/chat/completions?api-version=2024-10-21"
            upstream_uri = uri.split("?", 1)[0]
            querystring = {"api-version": "2024-10-21"}
            headers["api-key"] = self.hex(32)
            body.pop("model")
            response_headers = {
                "content-type": "application/json",
                "apim-request-id": _uuid(self.hex(8)),
                "x-ms-region": "Sweden Central",
                "x-ratelimit-remaining-requests": str(rng.randint(100, 999)),
                "x-ratelimit-remaining-tokens": str(rng.randint(10_000, 99_999)),
                "x-request-id": _uuid(self.hex(8)),
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
            prefix = _CHAT_PROVIDERS[provider][1]
            uri = f"{prefix}/v1/chat/completions"
            upstream_uri = "/v1/chat/completions"
            response_headers = {
                "date": "Sat, 29 Nov 2025 02:40:00 GMT",
                "content-type": "application/json",
                "connection": "keep-alive",
                "x-request-id": self.hex(32),
                "server": "cloudflare",
                "cf-ray": self.hex(16) + "-AMS",
            }
            self.auth(headers)
        self.context(headers)
        record = self.record(
            method="POST",
            uri=uri,
            upstream_uri=upstream_uri,
            querystring=querystring,
            headers=headers,
            service=provider,
            status=200,
            response_headers=response_headers,
            request_body=_dump(body),
            response_body=_dump(response),
            proxy_ms=proxy_ms,
        )
        return _kong_json(record)

    def _stream(self) -> bytes:
        rng = self.rng
        provider = "openai" if rng.random() < 0.85 else rng.choice(("groq", "deepseek"))
        model, snapshot = rng.choice(_CHAT_PROVIDERS[provider][2][:4])
        prompt_chars = self.chars(150, 1500, (3_000, 12_000), 0.1)
        body, count = self.chat_body(model, prompt_chars, stream=True)
        # one SSE event (~215 bytes) per token: streams are the big records
        chunks = max(2, int(self.chars(3, 20, (30, 160), 0.1)))
        words = self.text(chunks * 7).split(" ")[:chunks]
        cid = "chatcmpl-" + self.alnum(29)
        created = self.started_at // 1000
        fingerprint = "fp_" + self.hex(10)
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
            + _dump(word + " ")
            + '},"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
            for word in words
        )
        events.append(
            head
            + '[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}\n\n'
        )
        prompt_tokens = self.tokens(prompt_chars, 3 * count + 3)
        completion_tokens = max(1, int(len(words) * rng.uniform(1.1, 1.4)))
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        }
        events.append(head + '[],"usage":' + _dump(usage) + "}\n\n")
        events.append("data: [DONE]\n\n")
        proxy_ms = self.latency(completion_tokens, stream=True)
        headers = self.client_headers()
        headers["accept"] = "text/event-stream"
        self.auth(headers)
        self.context(headers)
        prefix = _CHAT_PROVIDERS[provider][1]
        record = self.record(
            method="POST",
            uri=f"{prefix}/v1/chat/completions",
            upstream_uri="/v1/chat/completions",
            headers=headers,
            service=provider,
            status=200,
            response_headers=self.openai_response_headers(True, rng.randint(150, 600)),
            request_body=_dump(body),
            response_body="".join(events),
            proxy_ms=proxy_ms,
        )
        return _kong_json(record)

    def _embeddings(self) -> bytes:
        rng = self.rng
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
        texts = [self.text(rng.randint(80, 900) * self.scale) for _ in range(inputs)]
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
        tokens = sum(self.tokens(len(t)) for t in texts)
        response = {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        headers = self.client_headers(
            rng.choice(("openai-python", "openai-python", "langchain", "httpx"))
        )
        self.auth(headers)
        self.context(headers)
        record = self.record(
            method="POST",
            uri="/v1/embeddings",
            headers=headers,
            service="openai",
            status=200,
            response_headers=self.openai_response_headers(False, rng.randint(20, 200)),
            request_body=_dump(body),
            response_body=_dump(response),
            proxy_ms=rng.randint(25, 400),
        )
        return _kong_json(record)

    def _anthropic(self) -> bytes:
        rng = self.rng
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
        chars = self.chars(150, 2000, (8_000, 45_000), 0.1)
        out_chars = chars * rng.uniform(0.15, 0.4)
        if stream:  # an event of ~130 bytes per three words
            out_chars /= 4
        count = self.message_count()
        messages = self.messages(chars - out_chars, count, system=False)
        for message in messages:
            if rng.random() < 0.3:
                message["content"] = [{"type": "text", "text": message["content"]}]
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": rng.choice((1024, 2048, 4096, 8192)),
            "messages": messages,
        }
        if rng.random() < 0.7:
            system = self.text(rng.randint(100, 1200) * self.scale)
            body["system"] = (
                [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
                if rng.random() < 0.4
                else system
            )
        if rng.random() < 0.5:
            body["temperature"] = rng.choice((0, 0.5, 1))
        if rng.random() < 0.3:
            body["metadata"] = {"user_id": f"user-{rng.randrange(400):04d}"}
        input_tokens = self.tokens(chars - out_chars, 10)
        cache_read = cache_write = 0
        if input_tokens > 1024 and rng.random() < 0.4:
            cache_read = input_tokens - rng.randint(10, 500)
            input_tokens -= cache_read
        elif input_tokens > 1024 and rng.random() < 0.2:
            cache_write = input_tokens - rng.randint(10, 500)
            input_tokens -= cache_write
        output = self.text(out_chars)
        output_tokens = self.tokens(out_chars)
        usage = {
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": cache_write,
            "cache_read_input_tokens": cache_read,
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }
        message_id = "msg_01" + self.alnum(22)
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
                "event: message_start\ndata: " + _dump(start) + "\n\n",
                'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
                '"content_block":{"type":"text","text":""}}\n\n',
                'event: ping\ndata: {"type": "ping"}\n\n',
            ]
            words = output.split(" ")
            step = 3
            events.extend(
                'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
                '"delta":{"type":"text_delta","text":'
                + _dump(" ".join(words[i : i + step]) + " ")
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
            response_body = _dump(
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
        headers = self.client_headers("httpx")
        version = rng.choice(("0.40.0", "0.49.0"))
        headers["user-agent"] = f"Anthropic/Python {version}"
        headers.update(
            {
                "x-stainless-lang": "python",
                "x-stainless-package-version": version,
                "x-stainless-runtime": "CPython",
                "x-stainless-retry-count": "0",
                "anthropic-version": "2023-06-01",
                "x-api-key": "sk-ant-api03-benchFAKE" + self.alnum(80),
            }
        )
        if stream:
            headers["accept"] = "text/event-stream"
        self.context(headers)
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
            "request-id": "req_011" + self.alnum(21),
            "anthropic-organization-id": _uuid("org"),
            "via": "1.1 google",
            "cf-cache-status": "DYNAMIC",
            "x-robots-tag": "none",
            "server": "cloudflare",
            "cf-ray": self.hex(16) + "-FRA",
        }
        record = self.record(
            method="POST",
            uri="/v1/messages",
            headers=headers,
            service="anthropic",
            status=200,
            response_headers=response_headers,
            request_body=_dump(body),
            response_body=response_body,
            proxy_ms=self.latency(output_tokens, stream),
        )
        return _kong_json(record)

    def _vllm(self) -> bytes:
        rng = self.rng
        service, model = rng.choice(
            (
                ("vllm-llama", "meta-llama/Llama-3.1-8B-Instruct"),
                ("vllm-llama", "meta-llama/Llama-3.3-70B-Instruct"),
                ("vllm-qwen", "Qwen/Qwen2.5-7B-Instruct"),
            )
        )
        shape = rng.choices(("chat", "completions", "generate"), weights=(60, 25, 15))[0]
        chars = self.chars(150, 2000, (8_000, 36_000), 0.08)
        out_chars = chars * rng.uniform(0.1, 0.35)
        out_tokens = self.tokens(out_chars)
        created = self.started_at // 1000
        if shape == "chat":
            body, count = self.chat_body(model, chars - out_chars)
            prompt_tokens = self.tokens(chars - out_chars, 3 * count + 3)
            response: dict[str, Any] = {
                "id": "chatcmpl-" + self.hex(32),
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "reasoning_content": None,
                            "content": self.text(out_chars),
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
            prompt = self.text(chars - out_chars)
            body = {"model": model, "prompt": prompt, "max_tokens": rng.choice((64, 256, 512))}
            prompt_tokens = self.tokens(len(prompt))
            response = {
                "id": "cmpl-" + self.hex(32),
                "object": "text_completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "text": self.text(out_chars),
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
            prompt = self.text(chars - out_chars)
            body = {"prompt": prompt, "max_tokens": rng.choice((64, 256)), "temperature": 0.7}
            response = {"text": [prompt + self.text(out_chars)]}
            uri = f"/{service}/generate"
        headers = self.client_headers(rng.choice(("openai-python", "httpx", "httpx", "curl")))
        if rng.random() < 0.5:
            headers["authorization"] = "Bearer token-benchFAKE" + self.alnum(24)
        self.context(headers)
        record = self.record(
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
            request_body=_dump(body),
            response_body=_dump(response),
            proxy_ms=self.latency(out_tokens),
            consumer_share=0.3,
        )
        return _kong_json(record)

    def _kong_ai(self) -> bytes:
        rng = self.rng
        provider = rng.choices(
            ("openai", "azure", "anthropic", "mistral"), weights=(50, 15, 20, 15)
        )[0]
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
        chars = self.chars(150, 2000, (8_000, 36_000), 0.1)
        out_chars = chars * rng.uniform(0.15, 0.4)
        prompt_tokens = self.tokens(chars - out_chars, 10)
        completion_tokens = self.tokens(out_chars)
        llm_latency = self.latency(completion_tokens)
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
            "plugin_id": _uuid("ai-proxy:" + provider),
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
            body, _ = self.chat_body(model, chars - out_chars)
            output = self.text(out_chars)
            if provider == "anthropic" and not version.startswith("3.8"):
                answer: dict[str, Any] = {
                    "id": "msg_01" + self.alnum(22),
                    "type": "message",
                    "role": "assistant",
                    "model": snapshot,
                    "content": [{"type": "text", "text": output}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens},
                }
            else:
                answer = {
                    "id": "chatcmpl-" + self.alnum(29),
                    "object": "chat.completion",
                    "created": self.started_at // 1000,
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
            block["payload"] = {"request": _dump(body), "response": _dump(answer)}
        ai = {"ai-proxy" if version.startswith("3.8") else "proxy": block}
        headers = self.client_headers()
        self.auth(headers)
        self.context(headers)
        record = self.record(
            method="POST",
            uri=uri,
            headers=headers,
            service="ai-gateway",
            status=200,
            response_headers={
                "date": "Sat, 29 Nov 2025 02:40:00 GMT",
                "content-type": "text/event-stream" if stream else "application/json",
                "x-kong-llm-model": f"{provider}/{model}",
                "x-request-id": self.hex(32),
            },
            proxy_ms=llm_latency + rng.randint(1, 20),
            kong_version=version,
            ai=ai,
        )
        return _kong_json(record)

    def _error(self) -> bytes:
        rng = self.rng
        kind = rng.choices(tuple(_ERRORS), weights=tuple(spec[0] for spec in _ERRORS.values()))[0]
        _, status, provider, message = _ERRORS[kind]
        anthropic = provider == "anthropic"
        model = "claude-sonnet-4-20250514" if anthropic else rng.choice(("gpt-4o", "gpt-4o-mini"))
        chars = self.chars(200, 2000, (8_000, 40_000), 0.05)
        body, _ = self.chat_body(model, chars)
        if anthropic:
            body["max_tokens"] = 1024
            body.pop("stream_options", None)
            response_body = _dump(
                {"type": "error", "error": {"type": kind.split(":")[1], "message": message}}
            )
        elif provider == "kong":
            response_body = _dump({"message": message, "request_id": self.hex(32)})
        else:
            code = kind.split(":")[1]
            response_body = _dump(
                {
                    "error": {
                        "message": message,
                        "type": "invalid_request_error" if status < 500 else "server_error",
                        "param": None,
                        "code": code,
                    }
                }
            )
        headers = self.client_headers()
        if anthropic:
            headers["anthropic-version"] = "2023-06-01"
            headers["x-api-key"] = "sk-ant-api03-benchFAKE" + self.alnum(80)
        else:
            self.auth(headers)
        self.context(headers)
        response_headers: dict[str, Any] = {
            "date": "Sat, 29 Nov 2025 02:40:00 GMT",
            "content-type": "application/json; charset=utf-8",
        }
        if status == 429:
            response_headers["retry-after"] = str(rng.randint(1, 60))
        if provider == "kong":
            response_headers["x-ratelimit-limit-minute"] = "60"
            response_headers["x-ratelimit-remaining-minute"] = "0"
        record = self.record(
            method="POST",
            uri="/v1/messages" if anthropic else "/v1/chat/completions",
            headers=headers,
            service="anthropic" if anthropic else "openai",
            status=status,
            response_headers=response_headers,
            request_body=_dump(body),
            response_body=response_body,
            proxy_ms=rng.randint(40, 3000) if status >= 500 else rng.randint(20, 300),
            source="kong" if provider == "kong" else "upstream",
            upstream_status="" if provider == "kong" else str(status),
        )
        return _kong_json(record)

    def _non_ai(self) -> bytes:
        rng = self.rng
        kind = rng.choices(
            ("health", "models", "preflight", "count_tokens", "metrics", "rest"),
            weights=(25, 12, 10, 5, 5, 43),
        )[0]
        headers = self.client_headers("curl" if kind in ("health", "metrics") else None)
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
            response_body = _dump(
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
            self.auth(headers)
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
            body, _ = self.chat_body(
                "claude-sonnet-4-20250514", self.chars(200, 2000, (4_000, 8_000), 0.0)
            )
            request_body = _dump(body)
            response_body = '{"input_tokens":' + str(rng.randint(10, 2000)) + "}"
            headers["x-api-key"] = "sk-ant-api03-benchFAKE" + self.alnum(80)
            headers["anthropic-version"] = "2023-06-01"
        else:
            service = rng.choice(("orders", "users", "graphql"))
            if service == "graphql":
                method = "POST"
                uri = "/graphql"
                request_body = _dump(
                    {
                        "query": "query Order($id: ID!) { order(id: $id) { id total } }",
                        "variables": {"id": str(rng.randrange(10**6))},
                    }
                )
            else:
                method = rng.choice(("GET", "GET", "POST", "PUT", "DELETE"))
                uri = f"/{service}/api/v2/{service}/{rng.randrange(10**6)}"
                if method in ("POST", "PUT"):
                    request_body = _dump(
                        {
                            "note": self.text(rng.randint(50, 1500) * self.scale),
                            "qty": rng.randint(1, 9),
                        }
                    )
            if method != "DELETE":
                response_body = _dump(
                    {
                        "id": rng.randrange(10**6),
                        "status": "ok",
                        "detail": self.text(rng.randint(20, 1200) * self.scale),
                    }
                )
            else:
                status = 204
            self.auth(headers)
            self.context(headers)
        record = self.record(
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
        return _kong_json(record)

    def _malformed(self) -> bytes:
        rng = self.rng
        kind = rng.choices(
            ("truncated", "scalar", "foreign", "headers", "no_started_at"),
            weights=(45, 10, 15, 15, 15),
        )[0]
        if kind == "scalar":
            return rng.choice((b'"kong-log connectivity test"', b"null", b"[]", b"42"))
        if kind == "foreign":  # another application logging to the same topic
            return _kong_json(
                {
                    "@timestamp": "2025-11-29T02:40:00.123Z",
                    "level": "info",
                    "logger": "billing-worker",
                    "message": self.text(rng.randint(60, 400)),
                    "trace_id": self.hex(32),
                }
            )
        value = self._chat()
        if kind == "truncated":  # a bridge cut the value
            return value[: rng.randint(len(value) // 5, len(value) * 9 // 10)]
        record = orjson.loads(value)
        if kind == "headers":  # a bridge flattened the headers into text
            headers = record["request"]["headers"]
            record["request"]["headers"] = "\r\n".join(f"{k}: {v}" for k, v in headers.items())
        else:
            del record["started_at"]
        return _kong_json(record)


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
