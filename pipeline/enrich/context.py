"""Who made the call and in which conversation.

Precedence (as the reference Lua plugin, documented in docs/enrichment.md): the body's
``metadata`` and ``user`` win over the ``X-*`` headers (and the seed's fallbacks), which win over
Kong's authenticated consumer. Without a session id there is no session: we never invent one
per request, so anonymous traffic is not split into one-trace sessions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pipeline.enrich.providers.base import header_value
from pipeline.kong.record import KongRecord

ENVIRONMENT_PATTERN = re.compile(r"^(?!langfuse)[a-z0-9-_]+$")
_ENVIRONMENT_HEADERS = ("x-langfuse-environment", "x-environment")

# field → (header names in order, body metadata keys in order)
_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "user_id": (
        (
            "x-langfuse-user-id",
            "x-user-id",
            "user-id",
            "x-user-email",
            "user-email",
            "x-auth-user",
            "authorization-user",
        ),
        ("user_id", "userId", "trace_user_id", "user"),
    ),
    "session_id": (
        ("x-langfuse-session-id", "x-session-id", "session-id"),
        ("session_id", "sessionId"),
    ),
    "chat_id": (("x-chat-id", "chat-id"), ("chat_id", "chatId")),
    "message_id": (("x-message-id", "message-id"), ("message_id", "messageId")),
    "organization_id": (
        ("x-organization-id", "openai-organization", "organization-id"),
        ("organization_id", "organizationId"),
    ),
    "project_id": (("x-project-id", "openai-project", "project-id"), ("project_id", "projectId")),
}
_CONTEXT_HEADERS = frozenset(name for names, _ in _FIELDS.values() for name in names)


@dataclass(slots=True)
class Context:
    user_id: str | None = None
    session_id: str | None = None
    chat_id: str | None = None
    message_id: str | None = None
    organization_id: str | None = None
    project_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    """The body's ``metadata`` object, minus the keys promoted above."""

    def ids(self) -> dict[str, str]:
        values = {
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "organization_id": self.organization_id,
            "project_id": self.project_id,
        }
        return {key: value for key, value in values.items() if value}


header = header_value
"""A header's first non-empty value (Kong turns repeated headers into lists)."""


def valid_environment(value: str | None) -> str | None:
    """Litefuse's rule: ``^(?!langfuse)[a-z0-9-_]+$``, at most 40 chars; normalised or None."""
    if not value:
        return None
    name = re.sub(r"[^a-z0-9_-]+", "-", value.strip().lower()).strip("-")[:40]
    return name if name and ENVIRONMENT_PATTERN.match(name) else None


def request_environment(record: KongRecord, request_body: dict[str, Any] | None) -> str | None:
    """The environment a client asked for (body metadata over headers), validated."""
    metadata = (request_body or {}).get("metadata")
    if isinstance(metadata, dict):
        found = valid_environment(_text(metadata.get("environment")))
        if found:
            return found
    for name in _ENVIRONMENT_HEADERS:
        found = valid_environment(header(record.request.headers, name))
        if found:
            return found
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int, float)):
        text = str(value).strip()
        return text or None
    return None


def kong_consumer(record: KongRecord) -> str | None:
    """Kong's authenticated consumer (username, custom id, id), else the authenticated entity."""
    if record.consumer is not None:
        found = record.consumer.username or record.consumer.custom_id or record.consumer.id
        if found:
            return found
    entity = record.authenticated_entity
    if entity is not None:
        return _text(entity.get("id")) or _text(entity.get("consumer_id"))
    return None


def read_context(
    record: KongRecord,
    request_body: dict[str, Any] | None,
    promoted_elsewhere: frozenset[str] | set[str] = frozenset(),
) -> Context:
    """The context; ``promoted_elsewhere`` are body metadata keys read as the caller's trace
    context or Langfuse attributes (kept out of ``metadata`` like the keys promoted here)."""
    body = request_body or {}
    found = body.get("metadata")
    metadata: dict[str, Any] = found if isinstance(found, dict) else {}
    headers = record.request.headers
    # most records carry none of these headers: find out once
    named = headers.keys() & _CONTEXT_HEADERS if headers else set()
    values: dict[str, str | None] = {}
    promoted: set[str] = set()
    for name, (header_names, keys) in _FIELDS.items():
        value: str | None = None
        if metadata:
            for key in keys:
                value = _text(metadata.get(key))
                if value:
                    promoted.add(key)
                    break
        if value is None and name == "user_id":
            value = _text(body.get("user")) or _text(body.get("safety_identifier"))
        if value is None and named:
            for header_name in header_names:
                if header_name in named:
                    value = header(headers, header_name)
                    if value:
                        break
        if value is None and name == "user_id":
            value = kong_consumer(record)
        values[name] = value
    return Context(
        user_id=values["user_id"],
        session_id=values["session_id"],
        chat_id=values["chat_id"],
        message_id=values["message_id"],
        organization_id=values["organization_id"],
        project_id=values["project_id"],
        metadata={
            k: v
            for k, v in metadata.items()
            if k not in promoted and k != "environment" and k not in promoted_elsewhere
        },
    )
