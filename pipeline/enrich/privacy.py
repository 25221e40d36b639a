"""Credentials never leave: scrub them from anything exported or dead-lettered.

Works on raw text too, so even a record we cannot parse is scrubbed before it is
dead-lettered.
"""

from __future__ import annotations

import re

REDACTED = "REDACTED"

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
        "openai-api-key",
        "anthropic-api-key",
        "x-amz-security-token",
        "apikey",
    }
)
SECRET_KEY_PATTERN = re.compile(
    r"(?i)^(authorization|proxy-authorization|cookie|set-cookie|.*api[-_]?key|.*secret.*|"
    r".*password.*|(?:access|refresh|id|auth|session|api|bearer|security)[-_]?token|"
    r"access[-_]?key.*|key|sig|signature)$"
)
# "name": "value" pairs in JSON text whose name looks like a credential
_JSON_PAIR = re.compile(
    r'(?i)("(?:authorization|proxy-authorization|cookie|set-cookie|[\w-]*api[-_]?key|'
    r'[\w-]*secret[\w-]*|[\w-]*password[\w-]*|[\w-]*access[-_]?token|x-amz-security-token)"'
    r'\s*:\s*)("(?:[^"\\]|\\.)*"|\[[^\]]*\])'
)
# bare credentials anywhere: bearer tokens and well-known key prefixes
_TOKENS = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}|"
    r"\b(?:sk|pk|rk)-(?:[A-Za-z0-9]+-)*[A-Za-z0-9_]{16,}\b|"
    r"\bAIza[0-9A-Za-z_-]{30,}\b|\bAKIA[0-9A-Z]{16}\b"
)


def is_secret_name(name: str) -> bool:
    return name.lower() in SECRET_HEADERS or bool(SECRET_KEY_PATTERN.match(name))


def redact_text(text: str) -> str:
    """Scrub credential pairs and bare tokens from text (JSON or not)."""
    text = _JSON_PAIR.sub(lambda m: f'{m.group(1)}"{REDACTED}"', text)
    return _TOKENS.sub(lambda m: (m.group(1) or "") + REDACTED, text)


def redact_bytes(data: bytes) -> bytes:
    return redact_text(data.decode("utf-8", "replace")).encode()
