"""Custom providers: without code (match rules in the config file) and with code (entry points).

A rule says *which* records are calls of a provider (path, Kong service/route, upstream host,
request header, Kong provider name — all given conditions must hold) and *how* to read them (a
built-in parser family). Code goes in another distribution that declares an entry point in the
``kong_litefuse.providers`` group; see docs/enrichment.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from pipeline.enrich.providers.base import Exchange, LLMCall, Provider
from pipeline.enrich.providers.openai import operation_for_path

ENTRY_POINT_GROUP = "kong_litefuse.providers"
OPERATIONS = frozenset(
    {"chat_completion", "completion", "embedding", "responses", "messages", "generate"}
)


class ProviderConfigError(ValueError):
    """A custom provider rule or plugin that cannot be used; the message says which."""


def _names(value: Any, what: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset({value.lower()})
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(v.lower() for v in value)
    raise ProviderConfigError(f"{what} must be a string or a list of strings")


@dataclass(frozen=True, slots=True)
class ProviderRule:
    """A provider defined in the config file: match conditions → name + parser family."""

    name: str
    family: Provider
    family_name: str
    default_operation: str
    operation: str | None = None
    path_prefix: str | None = None
    path_regex: re.Pattern[str] | None = None
    services: frozenset[str] = frozenset()
    routes: frozenset[str] = frozenset()
    hosts: frozenset[str] = frozenset()
    headers: Mapping[str, str | None] = field(default_factory=dict)
    kong_provider: str | None = None

    def matches(self, exchange: Exchange) -> bool:
        if self.path_prefix is not None and not exchange.path.startswith(self.path_prefix):
            return False
        if self.path_regex is not None and not self.path_regex.search(exchange.path):
            return False
        if self.services and (exchange.service_name or "").lower() not in self.services:
            return False
        if self.routes and (exchange.route_name or "").lower() not in self.routes:
            return False
        if self.hosts and not any(exchange.upstream_host.endswith(h) for h in self.hosts):
            return False
        for name, expected in self.headers.items():
            value = exchange.request_header(name)
            if value is None or (expected is not None and value != expected):
                return False
        return self.kong_provider is None or exchange.kong_provider == self.kong_provider

    def detect(self, exchange: Exchange) -> str | None:
        if not self.matches(exchange):
            return None
        return (
            self.operation
            or self.family.detect(exchange)
            or operation_for_path(exchange.path)
            or self.default_operation
        )

    def parse(self, operation: str, exchange: Exchange) -> LLMCall:
        call = self.family.parse(operation, exchange)
        call.provider = self.name
        call.metadata["provider_family"] = self.family_name
        return call


def build_rule(
    raw: Mapping[str, Any], families: Mapping[str, tuple[Provider, str]]
) -> ProviderRule:
    """Validate one ``custom_providers`` entry of the config file."""
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ProviderConfigError("custom provider needs a non-empty 'name'")
    family_name = raw.get("family", "openai")
    if family_name not in families:
        known = ", ".join(sorted(families))
        raise ProviderConfigError(f"custom provider {name!r}: family must be one of {known}")
    operation = raw.get("operation")
    if operation is not None and operation not in OPERATIONS:
        raise ProviderConfigError(
            f"custom provider {name!r}: operation must be one of {', '.join(sorted(OPERATIONS))}"
        )
    match = raw.get("match")
    if not isinstance(match, Mapping) or not match:
        raise ProviderConfigError(f"custom provider {name!r} needs a non-empty 'match'")
    unknown = set(match) - {
        "path_prefix",
        "path_regex",
        "service",
        "route",
        "host",
        "header",
        "kong_provider",
    }
    if unknown:
        raise ProviderConfigError(f"custom provider {name!r}: unknown match keys {sorted(unknown)}")
    try:
        regex = re.compile(match["path_regex"]) if match.get("path_regex") else None
    except re.error as exc:
        raise ProviderConfigError(f"custom provider {name!r}: bad path_regex: {exc}") from None
    headers = match.get("header") or {}
    if not isinstance(headers, Mapping):
        raise ProviderConfigError(f"custom provider {name!r}: header must be a mapping")
    family, default_operation = families[family_name]
    return ProviderRule(
        name=name.strip(),
        family=family,
        family_name=family_name,
        default_operation=default_operation,
        operation=operation,
        path_prefix=match.get("path_prefix"),
        path_regex=regex,
        services=_names(match.get("service"), "match.service"),
        routes=_names(match.get("route"), "match.route"),
        hosts=_names(match.get("host"), "match.host"),
        headers={str(k).lower(): (None if v is None else str(v)) for k, v in headers.items()},
        kong_provider=match.get("kong_provider"),
    )


def load_plugins(group: str = ENTRY_POINT_GROUP) -> list[Provider]:
    """Providers from installed distributions: an instance, a class, or a no-argument factory."""
    providers: list[Provider] = []
    for entry in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            loaded = entry.load()
            candidate = loaded() if isinstance(loaded, type) or _factory(loaded) else loaded
        except Exception as exc:
            raise ProviderConfigError(
                f"provider plugin {entry.name!r} ({entry.value}) failed to load: {exc}"
            ) from exc
        if not isinstance(candidate, Provider):
            raise ProviderConfigError(
                f"provider plugin {entry.name!r} has no name/detect/parse: {entry.value}"
            )
        providers.append(candidate)
    return providers


def _factory(value: Any) -> bool:
    return callable(value) and not isinstance(value, Provider)


__all__ = [
    "ENTRY_POINT_GROUP",
    "ProviderConfigError",
    "ProviderRule",
    "build_rule",
    "load_plugins",
]
