"""Fixed parts of every record's envelope: Kong's workspace, services, routes and consumers,
the providers behind the chat routes, the clients and the people sending requests."""

from __future__ import annotations

import hashlib
from typing import Any

BASE_MS = 1_764_384_000_000
WORKSPACE = "0f1a6c5e-3c5d-4b52-9c1e-2a0f1f0f2b10"
GATEWAY = "gateway.example.com"


def fake_uuid(name: str) -> str:
    h = hashlib.md5(name.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def _service(name: str, host: str, port: int = 443, protocol: str = "https") -> dict[str, Any]:
    return {
        "id": fake_uuid("service:" + name),
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
        "ws_id": WORKSPACE,
        "tags": {},
    }


def _route(
    name: str, service: dict[str, Any], paths: list[str], strip: bool = False
) -> dict[str, Any]:
    return {
        "id": fake_uuid("route:" + name),
        "created_at": 1764000000,
        "updated_at": 1764000000,
        "name": name,
        "paths": paths,
        "protocols": ["http", "https"],
        "strip_path": strip,
        "preserve_host": False,
        "service": {"id": service["id"]},
        "ws_id": WORKSPACE,
        "tags": {},
    }


# provider → (service, route, path prefix, chat models with their response snapshot)
CHAT_PROVIDERS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
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
CHAT_SHARES = (
    ("openai", 64),
    ("azure", 8),
    ("mistral", 8),
    ("groq", 6),
    ("deepseek", 5),
    ("together", 5),
    ("openrouter", 4),
)

SERVICES: dict[str, dict[str, Any]] = {
    name: _service(name, host) for name, (host, _, _) in CHAT_PROVIDERS.items()
}
SERVICES["azure"] = _service("azure-openai", "acme-prod.openai.azure.com")
SERVICES["anthropic"] = _service("anthropic", "api.anthropic.com")
SERVICES["vllm-llama"] = _service(
    "vllm-llama", "vllm-llama.inference.svc.cluster.local", 8000, "http"
)
SERVICES["vllm-qwen"] = _service("vllm-qwen", "vllm-qwen.inference.svc.cluster.local", 8000, "http")
SERVICES["ai-gateway"] = _service("ai-gateway", "localhost", 443)
SERVICES["status"] = _service("status", "status.internal", 8080, "http")
SERVICES["orders"] = _service("orders", "orders.internal", 8080, "http")
SERVICES["users"] = _service("users", "users.internal", 8080, "http")
SERVICES["graphql"] = _service("graphql", "graphql.internal", 4000, "http")

ROUTES: dict[str, dict[str, Any]] = {
    name: _route(
        f"{name}-v1",
        svc,
        [f"/{name}"] if name not in ("openai", "anthropic") else ["/v1"],
        strip=name not in ("openai", "anthropic"),
    )
    for name, svc in SERVICES.items()
}
ROUTES["azure"] = _route("azure-openai", SERVICES["azure"], ["/openai"])
ROUTES["ai-gateway"] = _route("ai-chat", SERVICES["ai-gateway"], ["/ai", "/llm"])

CONSUMERS = tuple(
    {
        "id": fake_uuid("consumer:" + name),
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

CLIENTS = (
    ("openai-python", 45),
    ("openai-node", 20),
    ("httpx", 15),
    ("langchain", 12),
    ("curl", 8),
)
FEATURES = (
    "support-bot",
    "search",
    "summarise",
    "sql-assistant",
    "code-review",
    "triage",
    "translate",
)
FIRST_NAMES = (
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
