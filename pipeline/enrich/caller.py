"""What the caller says about its trace: W3C trace context, Langfuse ids and attributes.

Apps behind the gateway often trace their agents already (OpenTelemetry, a Langfuse SDK):
their HTTP clients send a W3C ``traceparent`` on every call, or the app names the Langfuse
trace itself (``x-langfuse-trace-id``, LiteLLM's body ``metadata.trace_id``). Then the Kong
request joins that trace, as a child of the caller's span, instead of starting one of its own
(docs/enrichment.md, "Gateway calls inside your app's traces", has the table and the rules).

Two readings, both nearly free for a record that carries none of it: :func:`scan` intersects
the header names with the names below, and the body ``metadata``'s keys with the keys below,
once; only what it found is read.

* :func:`read_link` (before sampling, which follows the caller's trace): the trace to join,
  the parent span, the caller's sampled flag and ``tracestate``.
* :func:`read_attributes` (after): trace and observation names, prompt name and version, tags,
  release, version, trace and observation metadata.

Precedence, as for the rest of the context: body ``metadata`` over headers; the explicit
Langfuse ids over ``traceparent`` (an app that names a Langfuse trace means that one, while
any OpenTelemetry-instrumented client sends a ``traceparent``, for whatever backend its traces
go to). Every value exported is scrubbed of credentials like the rest of the trace.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from pipeline.enrich.privacy import redact_text, scrub
from pipeline.enrich.providers.base import header_value
from pipeline.kong.record import HeaderValue

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
TRACE_ID_HEADER = "x-langfuse-trace-id"
PARENT_HEADER = "x-langfuse-parent-observation-id"

# attribute → (body metadata keys in order, headers in order)
_TEXTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "trace_name": (("trace_name",), ("x-langfuse-trace-name",)),
    "observation_name": (("generation_name",), ("x-langfuse-observation-name",)),
    "prompt_name": (("prompt_name",), ("x-langfuse-prompt-name",)),
    "release": (("trace_release",), ("x-langfuse-release",)),
    "version": (("trace_version", "version"), ("x-langfuse-version",)),
}
_PROMPT_VERSION = (("prompt_version",), ("x-langfuse-prompt-version",))
_TAGS = (("tags",), ("x-langfuse-tags",))
_TRACE_METADATA = (("trace_metadata",), ("x-langfuse-trace-metadata",))
_OBSERVATION_METADATA = (("observation_metadata",), ("x-langfuse-observation-metadata",))

LINK_HEADERS = frozenset({TRACEPARENT, TRACESTATE, TRACE_ID_HEADER, PARENT_HEADER})
LINK_KEYS = frozenset({"existing_trace_id", "trace_id", "parent_observation_id"})
_ATTRIBUTE_SPECS = (
    *_TEXTS.values(),
    _PROMPT_VERSION,
    _TAGS,
    _TRACE_METADATA,
    _OBSERVATION_METADATA,
)
ATTRIBUTE_HEADERS = frozenset(name for _, names in _ATTRIBUTE_SPECS for name in names)
ATTRIBUTE_KEYS = frozenset(key for keys, _ in _ATTRIBUTE_SPECS for key in keys)
CALLER_HEADERS = LINK_HEADERS | ATTRIBUTE_HEADERS
CALLER_KEYS = LINK_KEYS | ATTRIBUTE_KEYS

MAX_ID_CHARS = 256
MAX_TEXT_CHARS = 1000
MAX_TAGS = 50
MAX_METADATA_KEYS = 100
MAX_HEADER_JSON_BYTES = 16_384
MAX_TRACESTATE_CHARS = 512  # W3C: vendors may drop a longer tracestate
_INT32_MAX = (1 << 31) - 1


@dataclass(frozen=True, slots=True)
class Found:
    """The caller's header names and body ``metadata`` keys a record holds (most hold none)."""

    headers: frozenset[str]
    keys: frozenset[str]
    metadata: dict[str, Any]


def scan(headers: dict[str, HeaderValue] | None, body: dict[str, Any] | None) -> Found | None:
    """The caller's names this record holds, or None: for a record without any, a hash look-up
    per header name and body metadata key (~0.3 µs), nothing else."""
    metadata = body.get("metadata") if body else None
    if type(metadata) is not dict:
        metadata = None
    if (not headers or CALLER_HEADERS.isdisjoint(headers)) and (
        not metadata or CALLER_KEYS.isdisjoint(metadata)
    ):
        return None
    named = headers.keys() & CALLER_HEADERS if headers else None
    keys = metadata.keys() & CALLER_KEYS if metadata else None
    found_metadata: dict[str, Any] = metadata if keys and type(metadata) is dict else {}
    return Found(frozenset(named or ()), frozenset(keys or ()), found_metadata)


# --- ids ----------------------------------------------------------------------------------------

_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX16 = re.compile(r"[0-9a-f]{16}")
_ZERO32 = "0" * 32
_ZERO16 = "0" * 16
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _id_text(value: Any) -> str | None:
    """An id as a caller gave it: a short printable string (an int is taken as its digits),
    None when empty, too long, or credential-like (a key must never become an id)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value).strip()
    if not text or len(text) > MAX_ID_CHARS or _CONTROL.search(text):
        return None
    return text if redact_text(text) == text else None


def trace_hex(given: str) -> str | None:
    """The 32-hex-char OTLP trace id for a caller's trace id (None: all zeros).

    32 hex chars are taken as they are (lower-cased); any other id (a UUID with dashes, a run
    name) is mapped as Langfuse's SDKs map an external id, ``Langfuse.create_trace_id(seed=id)``:
    the first 16 bytes of its SHA-256. The same id always gives the same trace.
    """
    lowered = given.lower()
    if _HEX32.fullmatch(lowered):
        return None if lowered == _ZERO32 else lowered
    return hashlib.sha256(given.encode()).digest()[:16].hex()


def span_hex(given: str) -> str | None:
    """The 16-hex-char OTLP span id for a caller's observation id (None: all zeros); any
    other shape becomes the first 8 bytes of its SHA-256."""
    lowered = given.lower()
    if _HEX16.fullmatch(lowered):
        return None if lowered == _ZERO16 else lowered
    return hashlib.sha256(given.encode()).digest()[:8].hex()


@dataclass(frozen=True, slots=True)
class TraceParent:
    trace_id: str
    parent_id: str
    sampled: bool


_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")


def parse_traceparent(value: HeaderValue | None) -> TraceParent | None:
    """A W3C ``traceparent`` (``00-<trace id>-<parent id>-<flags>``, lower-case hex), or None.

    Version ``ff``, all-zero ids, upper-case hex, a version-00 value with more fields, and
    repeated headers that disagree are invalid (W3C Trace Context, "traceparent Header"); a
    later version is read by its first four fields, as the specification asks.
    """
    if isinstance(value, list):
        values = {v.strip() for v in value if v and v.strip()}
        if len(values) != 1:
            return None
        value = values.pop()
    if not value:
        return None
    found = _TRACEPARENT.fullmatch(value.strip())
    if found is None:
        return None
    version, trace, parent, flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace == _ZERO32 or parent == _ZERO16:
        return None
    return TraceParent(trace, parent, bool(int(flags, 16) & 1))


_MEMBER = re.compile(
    r"[a-z0-9][a-z0-9_\-*/]{0,240}(?:@[a-z][a-z0-9_\-*/]{0,13})?=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
)


def parse_tracestate(value: HeaderValue | None) -> str | None:
    """A W3C ``tracestate`` as it is to be passed on (repeated headers joined), or None when
    it is absent or invalid: an invalid one is dropped, the ``traceparent`` still holds."""
    if isinstance(value, list):
        value = ",".join(v for v in value if v)
    if not value:
        return None
    members = [member.strip() for member in value.split(",")]
    members = [member for member in members if member]
    if not members or len(members) > 32:
        return None
    if not all(_MEMBER.fullmatch(member) for member in members):
        return None
    state = ",".join(members)
    if len(state) > MAX_TRACESTATE_CHARS or redact_text(state) != state:
        return None
    return state


@dataclass(frozen=True, slots=True)
class Link:
    """The caller's trace this request joins."""

    trace_id: str
    """32 hex chars: what OTLP sends."""
    parent_id: str | None
    """16 hex chars: the caller's span (None: a trace id was given without one)."""
    given_trace_id: str
    """The trace id as the caller gave it (Langfuse v2/v3's legacy ingestion takes any id)."""
    given_parent_id: str | None
    sampled: bool | None
    """The ``traceparent``'s sampled flag, when the trace joined is the ``traceparent``'s."""
    trace_state: str | None
    existing: bool
    """Named by ``metadata.existing_trace_id``: observation-level data only, whatever the
    join mode (LiteLLM's meaning: the trace exists, leave it as it is)."""
    keys: frozenset[str]
    """The body ``metadata`` keys it was read from (kept out of the trace's metadata)."""


JOINED = "joined"
INVALID = "invalid"
ABSENT = "absent"


def read_link(headers: dict[str, HeaderValue], found: Found | None) -> tuple[Link | None, str]:
    """The caller's trace to join, and the metric's result: joined, invalid or absent.

    Body ``metadata`` (``existing_trace_id``, ``trace_id``, ``parent_observation_id``) over
    the ``x-langfuse-trace-id`` / ``x-langfuse-parent-observation-id`` headers over
    ``traceparent``. A parent id comes from the same source as the trace id, or from the
    ``traceparent`` when that names the same trace. Something given but unusable (a malformed
    ``traceparent``, an empty or credential-like id) falls through to the next source.
    """
    if found is None:
        return None, ABSENT
    named, keys, metadata = found.headers, found.keys, found.metadata
    if not (named & LINK_HEADERS or keys & LINK_KEYS):
        return None, ABSENT
    invalid = False
    given: str | None = None
    existing = False
    used: set[str] = set()
    for key in ("existing_trace_id", "trace_id"):
        if key in keys:
            given = _id_text(metadata[key])
            if given is None:
                invalid = True
                continue
            existing = key == "existing_trace_id"
            used.add(key)
            break
    if given is None and TRACE_ID_HEADER in named:
        given = _id_text(header_value(headers, TRACE_ID_HEADER))
        invalid = invalid or given is None
    given_parent: str | None = None
    if "parent_observation_id" in keys:
        given_parent = _id_text(metadata["parent_observation_id"])
        if given_parent is None:
            invalid = True
        else:
            used.add("parent_observation_id")
    if given_parent is None and PARENT_HEADER in named:
        given_parent = _id_text(header_value(headers, PARENT_HEADER))
        invalid = invalid or given_parent is None
    w3c: TraceParent | None = None
    if TRACEPARENT in named:
        w3c = parse_traceparent(headers[TRACEPARENT])
        invalid = invalid or w3c is None
    trace = trace_hex(given) if given is not None else None
    if trace is None:
        if given is not None:  # all zeros: as if not given
            invalid, existing = True, False
            used.difference_update(("existing_trace_id", "trace_id"))
        if w3c is None:
            return None, INVALID if invalid or given_parent is not None else ABSENT
        trace = given = w3c.trace_id
    assert given is not None
    same = w3c is not None and w3c.trace_id == trace
    parent: str | None = None
    if given_parent is not None:
        parent = span_hex(given_parent)
        if parent is None:
            given_parent = None
    if parent is None and same and w3c is not None:
        parent = given_parent = w3c.parent_id
    state = parse_tracestate(headers.get(TRACESTATE)) if same and TRACESTATE in named else None
    link = Link(
        trace_id=trace,
        parent_id=parent,
        given_trace_id=given,
        given_parent_id=given_parent,
        sampled=w3c.sampled if same and w3c is not None else None,
        trace_state=state,
        existing=existing,
        keys=frozenset(used),
    )
    return link, JOINED


_DETACHED = b"kong-litefuse/detached-parent/"


def detached_parent(trace_id: str) -> str:
    """The parent span id the request span gets in a trace given without a parent, in
    observation mode: no span has it, so the request span is not the trace's root (which
    would make it the trace's row in Litefuse: ``toTraceScalarRecord`` takes root spans).
    Litefuse's trace view lists an observation whose parent it does not hold at the top
    (web/src/components/trace2/lib/helpers.ts). Langfuse's own SDK does the same with a
    random parent for ``trace_context={"trace_id": …}``; this one is a function of the trace
    id, so replays send the same spans."""
    return hashlib.blake2b(_DETACHED + trace_id.encode(), digest_size=8).hexdigest()


# --- attributes ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Attributes:
    """What an app says about its trace and the generation, through headers or metadata."""

    trace_name: str | None = None
    observation_name: str | None = None
    prompt_name: str | None = None
    prompt_version: int | None = None
    release: str | None = None
    version: str | None = None
    tags: list[str] = field(default_factory=list)
    trace_metadata: dict[str, Any] = field(default_factory=dict)
    observation_metadata: dict[str, Any] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)
    """The body ``metadata`` keys read (kept out of the trace's ``request_metadata``)."""


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = str(value).strip()
    if not text or len(text) > MAX_TEXT_CHARS:
        return None
    return redact_text(text)


def _version_number(value: Any) -> int | None:
    """A prompt version: a positive integer (Litefuse parses it with ``parseInt``; its spans
    column and the prompt look-up are integers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 1 <= value <= _INT32_MAX:
        return value
    return None


def _tags(value: Any) -> list[str] | None:
    """A list of strings, a JSON array or a comma-separated string."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError:
                return None
        else:
            value = text.split(",")
    if not isinstance(value, list):
        return None
    tags = [tag for tag in (_text(item) for item in value[:MAX_TAGS]) if tag]
    return tags or None


def _object(value: Any) -> dict[str, Any] | None:
    """A metadata object: a JSON object, or its text (a header), of string keys; scrubbed."""
    if isinstance(value, str):
        if len(value) > MAX_HEADER_JSON_BYTES:
            return None
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(value, dict) or not value or len(value) > MAX_METADATA_KEYS:
        return None
    if not all(type(key) is str for key in value):
        return None
    scrubbed: dict[str, Any] = scrub(value)
    return scrubbed


def _first(
    headers: dict[str, HeaderValue],
    found: Found,
    spec: tuple[tuple[str, ...], tuple[str, ...]],
    read: Any,
    used: set[str],
) -> Any:
    """The first readable value: body metadata keys in order, then headers in order."""
    keys, names = spec
    for key in keys:
        if key in found.keys:
            value = read(found.metadata[key])
            if value is not None:
                used.add(key)
                return value
    for name in names:
        if name in found.headers:
            raw = headers[name] if read is _tags else header_value(headers, name)
            value = read(raw)
            if value is not None:
                return value
    return None


def read_attributes(headers: dict[str, HeaderValue], found: Found | None) -> Attributes | None:
    """The app's Langfuse attributes (body ``metadata`` over ``x-langfuse-*`` headers)."""
    if found is None or not (found.headers & ATTRIBUTE_HEADERS or found.keys & ATTRIBUTE_KEYS):
        return None
    used: set[str] = set()
    texts = {name: _first(headers, found, spec, _text, used) for name, spec in _TEXTS.items()}
    prompt_name = texts["prompt_name"]
    prompt_version = _first(headers, found, _PROMPT_VERSION, _version_number, used)
    if prompt_name is None or prompt_version is None:
        # Litefuse links a prompt only with both (createEventRecord's look-up), and Langfuse's
        # legacy ingestion likewise: one without the other is dropped
        prompt_name = prompt_version = None
        used.discard("prompt_name")
        used.discard("prompt_version")
    return Attributes(
        trace_name=texts["trace_name"],
        observation_name=texts["observation_name"],
        prompt_name=prompt_name,
        prompt_version=prompt_version,
        release=texts["release"],
        version=texts["version"],
        tags=_first(headers, found, _TAGS, _tags, used) or [],
        trace_metadata=_first(headers, found, _TRACE_METADATA, _object, used) or {},
        observation_metadata=_first(headers, found, _OBSERVATION_METADATA, _object, used) or {},
        keys=used,
    )
