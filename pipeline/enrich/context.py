"""Who made the call and in which conversation.

Precedence (as the reference Lua plugin, documented in the README): the body's ``metadata`` and
``user`` win over the ``X-*`` headers, which win over Kong's authenticated consumer. Without a
session id there is no session: we never invent one per request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.kong.record import HeaderValue, KongRecord

# field → (header names in order, body metadata keys in order)
_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "user_id": (
        ("x-user-id", "user-id", "x-user-email", "user-email", "x-auth-user", "authorization-user"),
        ("user_id", "userId", "user"),
    ),
    "session_id": (("x-session-id", "session-id"), ("session_id", "sessionId")),
    "chat_id": (("x-chat-id", "chat-id"), ("chat_id", "chatId")),
    "message_id": (("x-message-id", "message-id"), ("message_id", "messageId")),
    "organization_id": (
        ("x-organization-id", "openai-organization", "organization-id"),
        ("organization_id", "organizationId"),
    ),
    "project_id": (("x-project-id", "openai-project", "project-id"), ("project_id", "projectId")),
}


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


def header(headers: dict[str, HeaderValue], name: str) -> str | None:
    """A header's first non-empty value (Kong turns repeated headers into lists)."""
    value = headers.get(name)
    if isinstance(value, list):
        value = next((v for v in value if v), None)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (str, int, float)):
        text = str(value).strip()
        return text or None
    return None


def read_context(record: KongRecord, request_body: dict[str, Any] | None) -> Context:
    body = request_body or {}
    found = body.get("metadata")
    metadata: dict[str, Any] = found if isinstance(found, dict) else {}
    context = Context()
    promoted: set[str] = set()
    for name, (headers, keys) in _FIELDS.items():
        value: str | None = None
        for key in keys:
            value = _text(metadata.get(key))
            if value:
                promoted.add(key)
                break
        if value is None and name == "user_id":
            value = _text(body.get("user"))
        if value is None:
            value = next((v for h in headers if (v := header(record.request.headers, h))), None)
        if value is None and name == "user_id" and record.consumer is not None:
            value = record.consumer.username or record.consumer.custom_id or record.consumer.id
        setattr(context, name, value)
    context.metadata = {k: v for k, v in metadata.items() if k not in promoted}
    return context
