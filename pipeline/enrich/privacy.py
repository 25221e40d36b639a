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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import ahocorasick_rs
import orjson

REDACTED = "REDACTED"
MASKED = "[MASKED]"
PayloadMode = Literal["full", "truncated", "none"]


@dataclass(frozen=True, slots=True)
class SecretName:
    """Names whose values are credentials, wherever a name meets a value: a header, a JSON or
    Python-repr key, a query argument or path parameter, a ``Name: value`` line in text."""

    pattern: str
    """A regex for the whole name, any letter case."""
    example: str
    """A name it matches: the tests plant every example in every place a value can leave."""


@dataclass(frozen=True, slots=True)
class SecretValue:
    """Shapes of credentials, found in any text whatever name (or none) they come with."""

    pattern: str
    example: str


# The table (docs/operations.md lists it). A name is a secret one when a pattern matches it
# whole; key and token at the end of a name (x-functions-key, hf_token) are enough, except for
# the token counts of usage objects (prompt_token, max_token, …).
SECRET_NAMES: tuple[SecretName, ...] = (
    SecretName(r"(?:proxy-)?authorization", "proxy-authorization"),
    SecretName(r"(?:set-)?cookie", "set-cookie"),
    SecretName(r"apikey|(?:[\w.-]*[-_.])?key", "ocp-apim-subscription-key"),
    SecretName(r"[\w.-]*api[-_]?key[\w.-]*", "openai-api-key-id"),
    SecretName(r"[\w.-]*secret[\w.-]*", "client_secret"),
    SecretName(r"[\w.-]*passw(?:or)?d[\w.-]*|pwd", "db_password"),
    SecretName(
        r"(?!(?:prompt|completion|total|max|input|output|cached|reasoning|audio|text|image)"
        r"[-_]token$)(?:[\w.-]*[-_.])?token",
        "x-vault-token",
    ),
    SecretName(r"[\w.-]*access[-_]?key[\w.-]*|[\w.-]*private[-_]?key[\w.-]*", "aws_access_key_id"),
    SecretName(
        r"credentials?|jwt|sig|signature|x-amz-[\w-]*(?:signature|credential)", "x-amz-signature"
    ),
)
QUERY_ONLY_NAMES: tuple[SecretName, ...] = (
    # too common as body keys, but credentials as query arguments or path parameters
    SecretName(r"auth|code|session", "code"),
)
SECRET_VALUES: tuple[SecretValue, ...] = (
    SecretValue(
        r"(?i:\b(?:bearer|basic))\s+[A-Za-z0-9._~+/=-]{8,}", "Bearer Zm9vYmFyYmF6cXV4cXV1eA"
    ),
    SecretValue(
        r"\b(?:sk|pk|rk)-(?:[A-Za-z0-9]+-)*[A-Za-z0-9_]{16,}\b", "sk-proj-A1b2C3d4E5f6G7h8I9j0"
    ),
    SecretValue(r"\bsk-ant-[A-Za-z0-9_-]{16,}\b", "sk-ant-api03-A1b2C3d4E5f6G7h8I9j0"),
    SecretValue(r"\bAIza[0-9A-Za-z_-]{30,}\b", "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p"),
    SecretValue(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", "AKIAIOSFODNN7EXAMPLE"),
    SecretValue(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7"),
    SecretValue(
        r"\bgithub_pat_[A-Za-z0-9_]{40,}\b", "github_pat_11A1b2C3d4_E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9"
    ),
    SecretValue(r"\bglpat-[A-Za-z0-9_-]{20,}", "glpat-A1b2C3d4E5f6G7h8I9j0"),
    SecretValue(r"\bxox[abprs]-[A-Za-z0-9-]{10,}", "xoxb-1234567890-A1b2C3d4E5"),
    SecretValue(r"\bhf_[A-Za-z0-9]{30,}\b", "hf_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"),
    SecretValue(
        r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
    ),
    SecretValue(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
    ),
)

_SECRET_NAME = "|".join(f"(?:{entry.pattern})" for entry in SECRET_NAMES)
_QUERY_NAMES = "|".join(f"(?:{entry.pattern})" for entry in (*SECRET_NAMES, *QUERY_ONLY_NAMES))
SECRET_KEY_PATTERN = re.compile(rf"(?i)^(?:{_SECRET_NAME})$")
_QUERY_SECRET = re.compile(rf"(?i)^(?:{_QUERY_NAMES})$")

# How a name and its value appear in text:
# "name": value, \"name\": value (JSON inside JSON), 'name': 'value' (Python's repr)
_JSON_PAIR = re.compile(
    rf"""(?i)((?P<q>\\*["'])(?:{_SECRET_NAME})(?P=q)\s*:\s*)"""
    r"""(\\*"(?:[^"\\]|\\.)*?\\*"(?=\s*[,}\]])|'(?:[^'\\]|\\.)*'|\[[^\]]*\]|[-\w.+/=]+)"""
)
# name=value in URLs, form bodies and path parameters (;name=value)
_QUERY_PAIR = re.compile(rf"(?i)((?:^|[?&;\s])(?:{_QUERY_NAMES})=)[^&#;\s\"'\\]+")
# "Name: value" header lines anywhere in text (header-like names: with a hyphen, or the two
# plain ones), to the end of the line
_HEADER_LINE = re.compile(
    rf"(?i)(\b(?=[\w.]*-|(?:authorization|cookie)\b)(?:{_SECRET_NAME})[ \t]*:[ \t]*)"
    r"""(?!["'{\[])[^\r\n"\\]+"""
)
# bare credentials anywhere; the first keeps its "Bearer "/"Basic " (group 1). Only the auth
# schemes are case-insensitive: key formats are not (an upper-case "XOXP-…" is no Slack token).
_TOKENS = re.compile(
    r"(?i:(\b(?:bearer|basic)\s+))[A-Za-z0-9._~+/=-]{8,}|"
    + "|".join(f"(?:{entry.pattern})" for entry in SECRET_VALUES[1:])
)


# One cheap, case-sensitive search tells whether any pattern above could match at all. Every
# branch starts with a literal, so the regex engine skips ahead on their first characters.
_MAYBE = re.compile(
    r"""["'=:]|Bearer|bearer|BEARER|Basic|basic|BASIC|sk-|pk-|rk-|AIza|AKIA|ASIA|gh[pousr]_|"""
    r"github_pat_|glpat-|xox|hf_|eyJ|PRIVATE KEY"
)
# Values scrub() returns as they are.
_LEAVES = frozenset({int, float, bool, type(None)})
MAX_DEPTH = 64
"""Levels of nesting an exported value keeps. Deeper containers become :data:`TOO_DEEP`: a
client can send any depth, and JSON writers refuse a few hundred levels (orjson, pydantic)."""
TOO_DEEP = f"[nested deeper than {MAX_DEPTH} levels]"


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """A header name or body key whose value is a credential (:data:`SECRET_NAMES`)."""
    return bool(SECRET_KEY_PATTERN.match(name))


def is_secret_query_arg(name: str) -> bool:
    """A query argument or path parameter whose value is a credential (the names, and
    :data:`QUERY_ONLY_NAMES`)."""
    return bool(_QUERY_SECRET.match(name))


def redact_text(text: str) -> str:
    """Scrub credential pairs, header lines, query arguments and bare tokens from text."""
    if not _MAYBE.search(text) and (text.isascii() or not any(c in text for c in _FOLDS)):
        return text
    needs = _patterns_for(text)
    return _redact(text, needs) if needs else text


def _redact(text: str, needs: int) -> str:
    """Run the patterns in ``needs`` (a substitution only inserts REDACTED, which never creates
    a later pattern's match, so the gates of the original text stand)."""
    if needs & _JSON:
        text = _JSON_PAIR.sub(lambda m: f"{m.group(1)}{_quoted(m.group(3), m.group('q'))}", text)
    if needs & _QUERY:
        text = _QUERY_PAIR.sub(lambda m: m.group(1) + REDACTED, text)
    if needs & _HEADER:
        text = _HEADER_LINE.sub(lambda m: m.group(1) + REDACTED, text)
    if needs & _TOKEN:
        text = _TOKENS.sub(redact_token, text)
    return text


# Prose, not a credential: "a basic understanding", "the bearer e-commerce model".
_PROSE = re.compile(r"(?:basic|bearer)\s+[a-z]{1,24}(?:-[a-z]{1,24})?\.?")


def redact_token(match: re.Match[str]) -> str:
    """The replacement for a :data:`_TOKENS` match, keeping prose after "basic"/"bearer".

    Only the lower-case keyword followed by a lower-case word is kept: an auth scheme is
    written ``Basic``/``Bearer``, and its credential has capitals, digits or symbols.
    """
    prefix = match.group(1)
    if prefix is not None and _PROSE.fullmatch(match.group(0)):
        return match.group(0)
    return (prefix or "") + REDACTED


@lru_cache(maxsize=4096)
def _is_header_secret(name: str) -> bool:
    """Whether _HEADER_LINE redacts after ``name``, or after a part of it that starts a word
    (after a "-" or "."): a secret name that looks like a header."""
    starts = [0] + [i + 1 for i, char in enumerate(name) if char in "-."]
    for start in starts:
        part = name[start:]
        lowered = part.lower()
        if ("-" in part or lowered in ("authorization", "cookie")) and is_secret_name(part):
            return True
    return False


def _quoted(value: str, quote: str) -> str:
    """REDACTED in the quoting the value had (JSON, escaped JSON or Python's repr)."""
    if value.endswith(('"', "'")):
        return f"{quote}{REDACTED}{quote}"
    return f'"{REDACTED}"'


def scrub(value: Any) -> Any:
    """The value without credentials: secret keys' values replaced by REDACTED, strings scrubbed
    as text, containers nested deeper than :data:`MAX_DEPTH` replaced by :data:`TOO_DEEP`. A
    value needing none of that is returned as it is (never modified in place); otherwise a copy
    is.
    """
    if type(value) is str:
        return redact_text(value) if value else value
    strings: list[str] = []
    if _unchanged(value, strings) and _texts_unchanged(strings):
        return value
    return _scrubbed(value)


def all_clean(
    values: Iterable[Any], mapping: Mapping[Any, Any], plain_keys: frozenset[str] = frozenset()
) -> bool:
    """Whether ``scrub`` leaves each of ``values``, and ``scrub_present`` the ``mapping``, as
    they are: their structure walked (secret keys, depth), then ONE gate over all their text.

    What a trace exports is a dozen values; gating each on its own (per-call costs on short
    texts, a pre-check useless on punctuated text) cost more than the searches themselves.
    False may be a false alarm (text joined across values): then scrub value by value.
    """
    strings: list[str] = []
    for value in values:
        kind = type(value)
        if kind is str:
            strings.append(value)
        elif kind not in _LEAVES and not _unchanged(value, strings):
            return False
    for key, value in mapping.items():
        if key not in plain_keys and _secret_key(key):
            return False
        kind = type(value)
        if kind is str:
            strings.append(value)
        elif kind not in _LEAVES and not _unchanged(value, strings):
            return False
    return not strings or not _patterns_for("\x00".join(strings))


def scrub_present(
    values: dict[str, Any], plain_keys: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """``scrub`` of the entries whose value is not None, always a new dict; the keys in
    ``plain_keys`` are known not to be secret names."""
    present: dict[str, Any] = {}
    strings: list[str] = []
    unchanged = True
    for key, value in values.items():
        if value is None:
            continue
        present[key] = value
        if unchanged:
            kind = type(value)
            if key not in plain_keys and _secret_key(key):
                unchanged = False
            elif kind is str:
                strings.append(value)
            elif kind not in _LEAVES:
                unchanged = _unchanged(value, strings)
    if unchanged and _texts_unchanged(strings):
        return present
    scrubbed: dict[str, Any] = _scrubbed(present)
    return scrubbed


def _texts_unchanged(strings: list[str]) -> bool:
    """redact_text leaves every one of ``strings`` as it is."""
    if not strings or _clean("\x00".join(strings)):
        return True
    return all(redact_text(text) == text for text in strings if text)


_PLAIN_NAMES: set[str] = set()
"""Names is_secret_name said no to (bounded): most keys are the same few, every time."""


def _secret_key(key: Any) -> bool:
    if key in _PLAIN_NAMES:
        return False
    name = key if type(key) is str else str(key)
    if is_secret_name(name):
        return True
    if type(key) is str and len(_PLAIN_NAMES) < 4096:
        _PLAIN_NAMES.add(key)
    return False


def _unchanged(value: Any, strings: list[str], depth: int = 1) -> bool:
    """False when scrub would change ``value`` for other reasons than its strings (a secret key,
    a subclass of str, dict or list, nesting deeper than MAX_DEPTH); else True, with the strings
    appended to ``strings``.

    One pass that copies nothing: values without credentials are the common case.
    """
    kind = type(value)
    if depth > MAX_DEPTH and kind in (dict, list) and value:
        return False
    if kind is dict:
        for key, item in value.items():
            if item is None:
                continue
            if _secret_key(key):
                return False
            item_kind = type(item)
            if item_kind is str:
                strings.append(item)
            elif item_kind not in _LEAVES and not _unchanged(item, strings, depth + 1):
                return False
        return True
    if kind is list:
        for item in value:
            item_kind = type(item)
            if item_kind is str:
                strings.append(item)
            elif item_kind not in _LEAVES and not _unchanged(item, strings, depth + 1):
                return False
        return True
    if kind is str:
        strings.append(value)
        return True
    return kind in _LEAVES or not isinstance(value, (str, dict, list))


# The only non-ASCII characters re's IGNORECASE matches to an ASCII letter, or that lower-case
# to one (dotted and dotless i, long s, Kelvin sign): bytes.lower() leaves them as they are.
_FOLDS = ("\u0130", "\u0131", "\u017f", "\u212a")
# The patterns, as bits of what _patterns_for returns.
_JSON, _QUERY, _HEADER, _TOKEN = 1, 2, 4, 8
_ALL = _JSON | _QUERY | _HEADER | _TOKEN


def _patterns_for(text: str) -> int:
    """The patterns that could change ``text``: each one's prerequisites, found in ONE pass over
    the lower-cased text: every token prefix (:data:`_TOKEN_PREFIXES`) and every name part
    (:data:`_NAME_PARTS`; each occurrence is read out to the name around it and judged by what
    encloses it, see :func:`_pair_needs`).

    Nearly all text holds none: these look-ups, not the patterns, are the cost of scrubbing.
    An Aho-Corasick automaton finds all of them at once (~5 µs for the 2 KB a trace exports,
    where a substring search per fact cost ~45 µs). The text is lower-cased as UTF-8 bytes,
    which only ASCII letters change (several times faster than ``str.lower()`` on non-ASCII
    text, and the same for ASCII needles once the folding characters are ruled out).
    """
    if not text.isascii() and any(char in text for char in _FOLDS):
        return _ALL
    lowered = text.encode("utf-8", "surrogatepass").lower()
    colon = ":" in text
    quoted = colon and ('"' in text or "'" in text)
    equals = "=" in text
    needs = 0
    judged_until = -1  # a name holding several parts is judged once
    for index, start, end in _FACTS.find_matches_as_indexes(lowered, overlapping=True):
        if index >= _PARTS:
            needs |= _TOKEN
        elif (colon or equals) and start >= judged_until:
            found, judged_until = _pair_needs(lowered, start, end, colon, quoted, equals)
            if found < 0:  # a name with non-ASCII letters: let the patterns decide
                return _ALL
            needs |= found
    return needs


# Every secret name (SECRET_NAMES) holds one of the name parts; query arguments may also be
# "code" or "session". Every SECRET_VALUES shape starts with one of the token prefixes.
_NAME_PARTS = (
    b"key",
    b"token",
    b"secret",
    b"passw",
    b"pwd",
    b"auth",
    b"cookie",
    b"credential",
    b"sig",
    b"jwt",
    b"code",
    b"session",
)
_TOKEN_PREFIXES = (
    b"bearer",
    b"basic",
    b"sk-",
    b"pk-",
    b"rk-",
    b"aiza",
    b"akia",
    b"asia",
    b"xox",
    b"eyj",
    b"glpat-",
    b"private key",
    b"hf_",
    b"github_pat_",
    *(b"gh%c_" % char for char in b"pousr"),
)
_PARTS = len(_NAME_PARTS)
_FACTS = ahocorasick_rs.BytesAhoCorasick(
    [*_NAME_PARTS, *_TOKEN_PREFIXES], implementation=ahocorasick_rs.Implementation.DFA
)
_NAME_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_.-")
_BLANKS = b" \t\r\n\x0b\x0c"
_QUOTES = b"\"'"
_DELIMITERS = b"?&;" + _BLANKS
_AFTER_NAME = frozenset(b"\"'\\=:")
"""What can follow a name in a pair: a quote or backslash (JSON, repr), "=" (query), ":"."""


def _pair_needs(
    lowered: bytes, start: int, end: int, colon: bool, quoted: bool, equals: bool
) -> tuple[int, int]:
    """(the pair patterns that could change the text at this name part, where its name ends;
    -1 when the name has non-ASCII letters): a quote before the name and ``:`` after (a JSON or
    repr pair), a delimiter before and ``=`` after (a query argument), ``:`` after (a header
    line)."""
    size = len(lowered)
    right = end
    while right < size and (lowered[right] in _NAME_BYTES or lowered[right] > 0x7F):
        right += 1
    # Prose ("the token is …") is most hits: no quote, backslash, "=" or ":" after the name,
    # so no pattern can match here, whatever the name.
    after = right
    while after < size and lowered[after] in b" \t":
        after += 1
    if (
        after == size
        or lowered[after] not in _AFTER_NAME
        or (after > right and lowered[after] != 0x3A)
    ):
        return 0, right
    left = start
    while left and (lowered[left - 1] in _NAME_BYTES or lowered[left - 1] > 0x7F):
        left -= 1
    word = lowered[left:right]
    if not word.isascii():  # \w takes non-ASCII letters
        return -1, right
    name = word.decode()
    needs = 0
    before = lowered[left - 1] if left else 0x20  # the text's start, as a blank
    after = right
    while after < size and lowered[after] == 0x5C:  # backslashes of escaped JSON
        after += 1
    if quoted and before in _QUOTES and after < size and lowered[after] in _QUOTES:
        colon_at = after + 1
        while colon_at < size and lowered[colon_at] in _BLANKS:
            colon_at += 1
        if colon_at < size and lowered[colon_at] == 0x3A and is_secret_name(name):
            needs |= _JSON
    if (
        equals
        and right < size
        and lowered[right] == 0x3D  # "="
        and before in _DELIMITERS
        and _is_query_secret(name)
    ):
        needs |= _QUERY
    if colon:
        colon_at = right
        while colon_at < size and lowered[colon_at] in b" \t":
            colon_at += 1
        if colon_at < size and lowered[colon_at] == 0x3A and _is_header_secret(name):
            needs |= _HEADER
    return needs, right


@lru_cache(maxsize=4096)
def _is_query_secret(name: str) -> bool:
    return bool(_QUERY_SECRET.match(name))


def _clean(text: str) -> bool:
    """True when redact_text leaves ``text`` (and so each of its substrings) as it is."""
    return not _MAYBE.search(text) or not _patterns_for(text)


def _scrubbed(value: Any, depth: int = 1) -> Any:
    """The copying scrub: rebuilds dicts and lists, redacts secret keys, scrubs strings, cuts
    what is nested deeper than MAX_DEPTH."""
    if isinstance(value, str):
        return redact_text(value) if value else value
    if isinstance(value, (dict, list)) and value and depth > MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {
            key: (
                REDACTED
                if item is not None and is_secret_name(key if type(key) is str else str(key))
                else _scrubbed(item, depth + 1)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_scrubbed(item, depth + 1) for item in value]
    return value


def scrub_query(query: dict[str, Any]) -> dict[str, Any]:
    """Query arguments with key-like arguments (``key``, ``api_key``, ``token``, …) redacted."""
    return {k: REDACTED if is_secret_query_arg(str(k)) else scrub(v) for k, v in query.items()}


STREAM_WITHHELD = "[stream withheld by kong-litefuse: a credential spans its events]"


def _scrub_document(value: Any) -> Any:
    """Deep scrub of a decoded record: bodies captured as JSON text are scrubbed as JSON, and
    a captured stream whose events, joined, hold a credential (a key streamed in pieces) is
    withheld whole: no single event shows enough of it to be found."""
    if isinstance(value, str):
        stripped = value.lstrip()
        if stripped[:1] in ("{", "["):
            try:
                inner = orjson.loads(value)
            except orjson.JSONDecodeError:
                return redact_text(value)
            return orjson.dumps(_scrub_document(inner)).decode()
        if stripped.startswith(("data:", "event:")) and _stream_holds_secret(value):
            return STREAM_WITHHELD
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


def _stream_holds_secret(text: str) -> bool:
    """Whether the text of an SSE stream's events, joined, holds a credential that none of
    them holds whole."""
    pieces: list[str] = []
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            pieces.append(payload)
            continue
        stack: list[Any] = [event]
        while stack:  # the event's string leaves, in order
            item = stack.pop()
            if isinstance(item, str):
                pieces.append(item)
            elif isinstance(item, dict):
                stack.extend(reversed(list(item.values())))
            elif isinstance(item, list):
                stack.extend(reversed(item))
    # each piece scrubbed first: what is left to find spans pieces
    joined = "".join(map(redact_text, pieces))
    return redact_text(joined) != joined


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
