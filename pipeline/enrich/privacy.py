"""Credentials never leave: scrub them from anything exported or dead-lettered.

Kong redacts only ``authorization`` and ``proxy-authorization``; API keys in other headers, in
query strings and in bodies (``{"api_key": …}``) arrive in clear. Everything the pipeline sends
(trace input/output/metadata) goes through :func:`scrub`; dead letters through
:func:`redact_bytes`, which also works on raw text, so even a record we cannot parse is
scrubbed. Masking (emails, card numbers, custom regexes) and the payload mode are the user's
content choices, applied to message content only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import orjson

REDACTED = "REDACTED"
MASKED = "[MASKED]"
PayloadMode = Literal["full", "truncated", "none"]

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
        "x-auth-token",
        "x-access-token",
    }
)
# Names whose values are credentials: header names, body keys and query arguments.
_SECRET_NAME = (
    r"authorization|proxy-authorization|cookie|set-cookie|[\w-]*api[-_]?key|[\w-]*secret[\w-]*|"
    r"[\w-]*password[\w-]*|passwd|(?:access|refresh|id|auth|session|api|bearer|security|"
    r"x-auth|x-access|client)[-_]?token|access[-_]?key[\w-]*|[\w-]*private[-_]?key|"
    r"credentials?|key|sig|signature|jwt|x-amz-security-token"
)
SECRET_KEY_PATTERN = re.compile(rf"(?i)^(?:{_SECRET_NAME})$")
# Query arguments additionally treat a bare "token"/"code"/"auth" as secret.
_QUERY_SECRET = re.compile(rf"(?i)^(?:{_SECRET_NAME}|token|auth|code|session)$")
# "name": "value" pairs in JSON text (plain or escaped inside another JSON string)
_JSON_PAIR = re.compile(
    rf'(?i)((?P<q>\\*")(?:{_SECRET_NAME})(?P=q)\s*:\s*)'
    r'(\\*"(?:[^"\\]|\\.)*?\\*"(?=\s*[,}\]])|\[[^\]]*\]|[-\w.+/=]+)'
)
# name=value in URLs and form bodies
_QUERY_PAIR = re.compile(rf"(?i)([?&;](?:{_SECRET_NAME}|token|auth|code|session)=)[^&#\s\"'\\]+")
# "Name: value" header lines in free text
_HEADER_LINE = re.compile(
    r"(?im)^((?:authorization|proxy-authorization|x-api-key|api-key|cookie|set-cookie|"
    r"x-goog-api-key)\s*:\s*).+$"
)
# bare credentials anywhere: bearer/basic tokens and well-known key prefixes
_TOKENS = re.compile(
    r"(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}|"
    r"\b(?:sk|pk|rk)-(?:[A-Za-z0-9]+-)*[A-Za-z0-9_]{16,}\b|"
    r"\bsk-ant-[A-Za-z0-9_-]{16,}\b|"
    r"\bAIza[0-9A-Za-z_-]{30,}\b|\bAKIA[0-9A-Z]{16}\b|"
    r"\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bxox[abprs]-[A-Za-z0-9-]{10,}\b|"
    r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"
)


# One cheap, case-sensitive search tells whether any pattern above could match at all.
_MAYBE = re.compile(r'["=:]|[Bb]earer|BEARER|[Bb]asic|BASIC|[spr]k-|AIza|AKIA|gh[pousr]_|xox|eyJ')


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    return name.lower() in SECRET_HEADERS or bool(SECRET_KEY_PATTERN.match(name))


def is_secret_query_arg(name: str) -> bool:
    return bool(_QUERY_SECRET.match(name))


def redact_text(text: str) -> str:
    """Scrub credential pairs, header lines, query arguments and bare tokens from text."""
    if not _MAYBE.search(text):
        return text
    text = _JSON_PAIR.sub(lambda m: f"{m.group(1)}{_quoted(m.group(3), m.group('q'))}", text)
    text = _QUERY_PAIR.sub(lambda m: m.group(1) + REDACTED, text)
    text = _HEADER_LINE.sub(lambda m: m.group(1) + REDACTED, text)
    return _TOKENS.sub(lambda m: (m.group(1) or "") + REDACTED, text)


def _quoted(value: str, quote: str) -> str:
    return f"{quote}{REDACTED}{quote}" if value.endswith('"') else f'"{REDACTED}"'


def scrub(value: Any) -> Any:
    """A copy of a JSON-like value without credentials: secret keys dropped to REDACTED, strings
    scrubbed as text. Cheap on the common case (no secrets): strings are only rebuilt on a hit.
    """
    if isinstance(value, str):
        return redact_text(value) if value else value
    if isinstance(value, dict):
        return {
            key: (REDACTED if value_ is not None and is_secret_name(str(key)) else scrub(value_))
            for key, value_ in value.items()
        }
    if isinstance(value, list):
        return [scrub(item) for item in value]
    return value


def scrub_query(query: dict[str, Any]) -> dict[str, Any]:
    """Query arguments with key-like arguments (``key``, ``api_key``, ``token``, …) redacted."""
    return {k: REDACTED if is_secret_query_arg(str(k)) else scrub(v) for k, v in query.items()}


def _scrub_document(value: Any) -> Any:
    """Deep scrub of a decoded record: bodies captured as JSON text are scrubbed as JSON."""
    if isinstance(value, str):
        stripped = value.lstrip()
        if stripped[:1] in ("{", "["):
            try:
                inner = orjson.loads(value)
            except orjson.JSONDecodeError:
                return redact_text(value)
            return orjson.dumps(_scrub_document(inner)).decode()
        return redact_text(value)
    if isinstance(value, dict):
        scrubbed: dict[str, Any] = {}
        for key, item in value.items():
            if item is not None and is_secret_name(str(key)):
                scrubbed[key] = REDACTED
            elif key == "querystring" and isinstance(item, dict):
                scrubbed[key] = scrub_query(item)
            else:
                scrubbed[key] = _scrub_document(item)
        return scrubbed
    if isinstance(value, list):
        return [_scrub_document(item) for item in value]
    return value


def redact_bytes(data: bytes) -> bytes:
    """Scrub a Kafka value for the dead-letter topic: structurally when it is JSON, else as text."""
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return redact_text(data.decode("utf-8", "replace")).encode()
    return orjson.dumps(_scrub_document(document))


# --- content masking and payload mode (the user's choice, message content only) -------------

MASK_PRESETS: dict[str, str] = {
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "credit_card": r"\b(?:\d[ -]?){12,18}\d\b",
    "phone": r"(?<!\w)\+?\d{1,3}[ .-]?\(?\d{2,4}\)?[ .-]?\d{3,4}[ .-]?\d{3,4}(?!\w)",
    "ipv4": r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b",
    "iban": r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
    "us_ssn": r"\b\d{3}-\d{2}-\d{4}\b",
}


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char)
        if index % 2:
            number = number * 2 - 9 if number > 4 else number * 2
        total += number
    return total % 10 == 0


@dataclass(frozen=True, slots=True)
class MaskRule:
    """One content mask: a preset name or a regex, and what replaces a match."""

    name: str
    pattern: re.Pattern[str]
    replacement: str = MASKED

    def apply(self, text: str) -> str:
        if self.name == "credit_card":  # only numbers that pass the Luhn check
            return self.pattern.sub(
                lambda m: self.replacement if _luhn(re.sub(r"\D", "", m.group(0))) else m.group(0),
                text,
            )
        return self.pattern.sub(self.replacement, text)


def mask_rules(specs: Sequence[str]) -> tuple[MaskRule, ...]:
    """Compile ``MASK_PATTERNS``: preset names (``email``, ``credit_card``…) or regexes."""
    rules = []
    for spec in specs:
        if spec in MASK_PRESETS:
            rules.append(MaskRule(spec, re.compile(MASK_PRESETS[spec])))
        else:
            try:
                rules.append(MaskRule("regex", re.compile(spec)))
            except re.error as exc:
                raise ValueError(f"mask pattern {spec!r} is not a valid regex: {exc}") from None
    return tuple(rules)


def mask(value: Any, rules: Sequence[MaskRule]) -> Any:
    """Apply the masks to every string leaf of message content."""
    if not rules:
        return value
    if isinstance(value, str):
        for rule in rules:
            value = rule.apply(value)
        return value
    if isinstance(value, dict):
        return {key: mask(item, rules) for key, item in value.items()}
    if isinstance(value, list):
        return [mask(item, rules) for item in value]
    return value


def limit_payload(value: Any, mode: PayloadMode, max_chars: int) -> Any:
    """full: as is; none: dropped; truncated: cut to ``max_chars`` of JSON text when larger."""
    if value is None or mode == "full":
        return value
    if mode == "none":
        return None
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    if len(text) <= max_chars:
        return value
    return f"{text[:max_chars]}… [truncated: {len(text)} chars]"
