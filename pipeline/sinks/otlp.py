"""Trace → OTLP protobuf, with the attributes Litefuse reads (docs/litefuse-mapping.md).

Each Kong request becomes two spans of one trace: the root span (the request through Kong)
and its child generation (the upstream LLM call). Trace-level attributes go on both spans,
because Litefuse v4 reads them per span; each span is exported once, complete. The trace's
input and output are the root span's observation input/output (the only place Litefuse reads
them), and usage/cost go as exclusive buckets (``Usage.details``), because Litefuse's UI sums
every ``input*`` / ``output*`` key. The ``gen_ai.*`` attributes are for other OTLP backends.

Why the protobuf wire format is written by hand
-----------------------------------------------
This is the sink's hot path: a worker spends ~320 µs of CPU a record in all, and the encoder
takes ~25-30 µs of it per trace. Building the request with the ``opentelemetry-proto`` classes (upb
backend) cost 220-320 µs per trace (batch of 200 traces enriched from the bundled examples and
Kong fixtures, ~72 attributes a trace): each ``KeyValue``/``AnyValue`` is a Python-to-upb
construction (~0.7-1.2 µs) and is copied again into its span (``Span(attributes=<30
KeyValues>)`` alone costs ~14 µs): the library would take as much CPU as the whole worker. Writing
the bytes costs ~22 µs per trace on the same traces, plus ~0.4 µs to join a request from the
sink's cached spans, because:

* a serialized message is the concatenation of its field encodings, so an attribute is one
  pre-encoded prefix (tag, lengths and key, per key and value length) plus the value's UTF-8;
* the trace-level attributes shared by both spans are encoded once, and the attributes of
  values that repeat from trace to trace (model, provider, route, …) are remembered, a bounded
  number per key;
* a trace's spans are encoded once (``encode_spans``, cached by the sink per write to size the
  batch) and a request only joins them under a resource/scope header.

Only the fields we emit are encoded: ``ExportTraceServiceRequest.resource_spans`` →
``ResourceSpans{resource, scope_spans}`` → ``ScopeSpans{scope, spans}`` → ``Span{trace_id,
span_id, parent_span_id, name, kind, start/end_time_unix_nano, attributes, status}``, with
``KeyValue`` values of the kinds string, bool, int (int64), double and array of strings; all
other values are sent as JSON strings. Fields are written in field-number order and proto3
defaults are left out, like the library does.

The library stays the reference: the tests decode these bytes with
``ExportTraceServiceRequest.FromString`` and require message equality with the library-built
request for every fixture trace and for synthetic traces with every kind of value.
``encode_request`` still returns a message (decoded from the bytes) for callers that want one,
and ``request_json`` the OTLP/JSON form (``transform --format otlp-json``); the sink sends
``encode_request_bytes``.

Wire format reminders: a field starts with the varint ``field_number << 3 | wire_type``
(0 varint, 1 fixed64, 2 length-delimited); length-delimited fields carry a varint length then
the payload; int64 is a varint of the two's complement (10 bytes when negative); double and
fixed64 are 8 little-endian bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from pipeline import __version__
from pipeline.enrich.caller import detached_parent
from pipeline.trace import Trace

# --- wire primitives --------------------------------------------------------------------------

_ONE_BYTE = tuple(bytes((n,)) for n in range(128))
_INT32_MAX = (1 << 31) - 1
_EXACT_DOUBLE = 1 << 53  # every int up to this is exactly a double
_pack_double = struct.Struct("<d").pack
# Span.start_time_unix_nano (7, fixed64) then Span.end_time_unix_nano (8, fixed64)
_pack_times = struct.Struct("<BQBQ").pack


def _varint(n: int) -> bytes:
    """Base-128 varint of a non-negative integer, least significant group first."""
    if n < 0x80:
        return _ONE_BYTE[n]
    if n < 0x4000:
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, varint length, payload."""
    return tag + _varint(len(payload)) + payload


def _string_array(values: list[str]) -> bytes:
    """AnyValue.array_value (5) = ArrayValue{values (1) = AnyValue{string_value (1)} each}."""
    items = []
    for value in values:
        utf8 = value.encode()
        n = len(utf8)
        if n < 126:  # both lengths fit one byte
            items.append(b"\x0a%c\x0a%c%b" % (n + 2, n, utf8))
        else:
            items.append(_field(b"\x0a", _field(b"\x0a", utf8)))
    return _field(b"\x2a", b"".join(items))


def _json(value: Any) -> bytes:
    """The UTF-8 of a value sent as a JSON string (a str is sent as it is)."""
    return value.encode() if isinstance(value, str) else orjson.dumps(value)


def _nanos(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


# Distinct values a _Key remembers the attribute of (only short ones: < 128 bytes each). With
# _METADATA_KEYS_MAX keys that bounds the memory at ~20 MB (≈300 B an entry); real traffic has a
# few dozen keys with a handful of repeating values each.
_MEMO_MAX = 128


class _Key:
    """One attribute key, pre-encoded: ``KeyValue{key (1), value (2) = AnyValue}`` in a field.

    ``tag`` is the field holding the KeyValue: ``Span.attributes`` (9) unless told otherwise.
    A string attribute is ``small[n] + utf8`` when the value has ``n < limit`` bytes (every
    length then fits one varint byte): the prefix holds the tag, the lengths and the key. An
    int attribute is ``ints[len(v)] + v`` for the varint ``v``; bools are constants.
    """

    __slots__ = ("double", "false", "ints", "key", "limit", "memo", "small", "tag", "true")

    def __init__(self, name: str, tag: bytes = b"\x4a") -> None:
        self.tag = tag
        self.key = _field(b"\x0a", name.encode())
        fixed = len(self.key) + 4  # key, value tag, value length, string tag, string length
        self.small = tuple(
            self._prefix(b"\x0a" + _ONE_BYTE[n], n) for n in range(max(0, 128 - fixed))
        )
        self.limit = len(self.small)
        self.ints = tuple(self._prefix(b"\x18", size) for size in range(11))  # int_value (3)
        self.true = self.any(b"\x10\x01")  # AnyValue.bool_value (2, varint)
        self.false = self.any(b"\x10\x00")
        self.double = self._prefix(b"\x21", 8)  # AnyValue.double_value (4, fixed64)
        self.memo: dict[Any, bytes] = {}  # str (memoized) or tuple of str (array) → attribute

    def _prefix(self, value_head: bytes, size: int) -> bytes:
        """The attribute's bytes up to an AnyValue's last ``size`` bytes."""
        return self.any(value_head + bytes(size))[: -size or None]

    def any(self, any_value: bytes) -> bytes:
        """The attribute for an encoded AnyValue."""
        return _field(self.tag, self.key + _field(b"\x12", any_value))

    def text(self, utf8: bytes) -> bytes:
        """The attribute for a string value (AnyValue.string_value, 1), given its UTF-8."""
        n = len(utf8)
        if n < self.limit:
            return self.small[n] + utf8
        return self.any(_field(b"\x0a", utf8))

    def memoized(self, value: Any) -> bytes:
        """``value(value)``, remembered for up to ``_MEMO_MAX`` distinct short strings.

        For the keys whose values repeat from trace to trace (model, provider, route, …).
        """
        if type(value) is not str:
            return self.value(value)
        attribute = self.memo.get(value)
        if attribute is None:
            utf8 = value.encode()
            attribute = self.text(utf8)
            if len(utf8) < self.limit and len(self.memo) < _MEMO_MAX:  # short ones only
                self.memo[value] = attribute
        return attribute

    def array(self, values: Any) -> bytes:
        """``value(values)`` for a list, remembered for a few short lists of short strings."""
        if type(values) is not list or len(values) > 8:
            return self.value(values)
        memo_key = tuple(values)
        attribute = self.memo.get(memo_key)
        if attribute is None:
            attribute = self.value(values)
            short = len(attribute) < 256 and all(type(v) is str for v in values)
            if short and len(self.memo) < _MEMO_MAX:
                self.memo[memo_key] = attribute
        return attribute

    def integer(self, value: int) -> bytes:
        """AnyValue.int_value (3), a varint, for 0 … 2**31 - 1; other ints as a double when
        exact, else as a string.

        Litefuse reads an int64 attribute back through protobufjs' Long as signed 32-bit halves
        and gets every other value wrong (3,000,000,000 becomes -1,294,967,296, -5 becomes
        -4,294,967,301): an epoch-milliseconds timestamp in a client's metadata would be.
        """
        if 0 <= value <= _INT32_MAX:
            encoded = _varint(value)
            return self.ints[len(encoded)] + encoded
        if -_EXACT_DOUBLE <= value <= _EXACT_DOUBLE:
            return self.double + _pack_double(float(value))
        return self.text(str(value).encode())

    def value(self, value: Any) -> bytes:
        """The attribute for any value, typed as the library-built encoder typed it."""
        kind = type(value)
        if kind is str:
            return self.text(value.encode())
        if kind is bool:
            return self.true if value else self.false
        if kind is int:
            return self.integer(value)
        if kind is float:
            return self.double + _pack_double(value)
        if kind is list and all(isinstance(v, str) for v in value):
            return self.any(_string_array(value))
        # subclasses, lists and everything else, in the reference's order of checks
        if isinstance(value, bool):
            return self.true if value else self.false
        if isinstance(value, int):
            return self.integer(int(value))
        if isinstance(value, float):
            return self.double + _pack_double(value)
        if isinstance(value, str):
            return self.text(value.encode())
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return self.any(_string_array(value))
        return self.text(orjson.dumps(value))


# --- attributes -------------------------------------------------------------------------------

_METADATA_KEYS_MAX = 512  # metadata keys are a small fixed set; never grow without bound
_TRACE_METADATA: dict[Any, _Key] = {}
_OBSERVATION_METADATA: dict[Any, _Key] = {}


def _metadata(
    out: list[bytes], metadata: dict[Any, Any], keys: dict[Any, _Key], prefix: str
) -> None:
    """Append a ``prefix + name`` attribute per metadata entry (``_Key.value`` inlined).

    Most metadata strings repeat from trace to trace (provider, route, service, …): their
    attributes are remembered per key (``_Key.memoized`` inlined).
    """
    for name, value in metadata.items():
        if value is None:
            continue
        key = keys.get(name)
        if key is None:
            key = _Key(f"{prefix}{name}")
            if type(name) is str and len(keys) < _METADATA_KEYS_MAX:
                keys[name] = key
        kind = type(value)
        if kind is str:
            attribute = key.memo.get(value)
            if attribute is None:
                utf8 = value.encode()
                n = len(utf8)
                if n < key.limit:
                    attribute = key.small[n] + utf8
                    if len(key.memo) < _MEMO_MAX:
                        key.memo[value] = attribute
                else:
                    attribute = key.text(utf8)
            out.append(attribute)
        elif kind is bool:
            out.append(key.true if value else key.false)
        elif kind is float:
            out.append(key.double + _pack_double(value))
        else:
            out.append(key.value(value))


_TRACE_NAME = _Key("langfuse.trace.name")
_USER_ID = _Key("langfuse.user.id")
_SESSION_ID = _Key("langfuse.session.id")
_ENVIRONMENT = _Key("langfuse.environment")
_RELEASE = _Key("langfuse.release")
_VERSION = _Key("langfuse.version")
_PROMPT_NAME = _Key("langfuse.observation.prompt.name")
_PROMPT_VERSION = _Key("langfuse.observation.prompt.version")
_TAGS = _Key("langfuse.trace.tags")
_OBSERVATION_TYPE = _Key("langfuse.observation.type")
_LEVEL = _Key("langfuse.observation.level")
_STATUS_MESSAGE = _Key("langfuse.observation.status_message")
_MODEL_NAME = _Key("langfuse.observation.model.name")
_REQUEST_MODEL = _Key("gen_ai.request.model")
_SYSTEM = _Key("gen_ai.system")
_OPERATION = _Key("gen_ai.operation.name")
_MODEL_PARAMETERS = _Key("langfuse.observation.model.parameters")
_INPUT = _Key("langfuse.observation.input")
_OUTPUT = _Key("langfuse.observation.output")
_USAGE = _Key("langfuse.observation.usage_details")
_INPUT_TOKENS = _Key("gen_ai.usage.input_tokens")
_OUTPUT_TOKENS = _Key("gen_ai.usage.output_tokens")
_COST = _Key("langfuse.observation.cost_details")
_COMPLETION_START = _Key("langfuse.observation.completion_start_time")
_FINISH_REASONS = _Key("gen_ai.response.finish_reasons")

_ROOT_TYPE = _OBSERVATION_TYPE.text(b"span")
UNKNOWN_MODEL = "unknown"
_UNKNOWN_MODEL = _MODEL_NAME.text(UNKNOWN_MODEL.encode())
_TYPES = {kind: _OBSERVATION_TYPE.text(kind.encode()) for kind in ("generation", "embedding")}
_LEVELS = {level: _LEVEL.text(level.encode()) for level in ("DEBUG", "DEFAULT", "WARNING", "ERROR")}

_SERVER = b"\x30\x02"  # Span.kind (6) = SPAN_KIND_SERVER
_CLIENT = b"\x30\x03"  # Span.kind (6) = SPAN_KIND_CLIENT
_ERROR_CODE = b"\x18\x02"  # Status.code (3) = STATUS_CODE_ERROR


# --- spans and requests -----------------------------------------------------------------------


def _optional(key: _Key, value: Any) -> bytes:
    return b"" if value is None else key.value(value)


def _id_field(tag: bytes, hex_id: str) -> bytes:
    """A trace or span id field (bytes, from hex); none when empty, as proto3 leaves it out."""
    raw = bytes.fromhex(hex_id)
    return tag + _varint(len(raw)) + raw if raw else b""


def encode_spans(trace: Trace) -> bytes:
    """The root span and the generation span of one trace, each framed as ``ScopeSpans.spans``.

    The bytes can be joined into any request (``encode_request_bytes``); their length is what
    the trace adds to a request.
    """
    generation = trace.generation
    metadata = trace.metadata
    # Joined to a caller's trace in observation mode: nothing that would update the app's
    # trace beyond user, session, tags, environment (and a release or version the app gave).
    # No trace name (Litefuse writes it on every observation row; Langfuse's trace-update
    # path, hasTraceUpdates, would rename the app's trace) and the gateway's metadata as
    # observation metadata, not trace metadata (which hasTraceUpdates also merges into the
    # app's trace): Litefuse's rows hold the same metadata either way.
    observation_only = trace.joined == "observation"

    # Trace-level attributes, on both spans: encoded once. (Like the library-built encoder,
    # a None leaves its attribute out, even where the model does not allow one.)
    shared = [] if trace.name is None or observation_only else [_TRACE_NAME.memoized(trace.name)]
    if trace.user_id is not None:
        shared.append(_USER_ID.memoized(trace.user_id))
    if trace.session_id is not None:
        shared.append(_SESSION_ID.value(trace.session_id))
    if trace.environment is not None:
        shared.append(_ENVIRONMENT.memoized(trace.environment))
    if trace.release is not None:
        shared.append(_RELEASE.memoized(trace.release))
    if trace.version is not None:
        shared.append(_VERSION.memoized(trace.version))
    if trace.tags:
        shared.append(_TAGS.array(trace.tags))
    if not observation_only:
        _metadata(shared, metadata, _TRACE_METADATA, "langfuse.trace.metadata.")
    shared_attributes = b"".join(shared)

    level = _LEVELS.get(generation.level) or _optional(_LEVEL, generation.level)
    status_message = generation.status_message
    message = b"" if status_message is None else _STATUS_MESSAGE.value(status_message)
    status = b""
    if generation.level == "ERROR":
        # Span.status (15) = Status{message (2), code (3)}
        text = (status_message or "").encode()
        status = _field(b"\x7a", (_field(b"\x12", text) if text else b"") + _ERROR_CODE)
    trace_id = _id_field(b"\x0a", trace.id)  # Span.trace_id (1)
    root_id = _id_field(b"\x12", trace.span_id)  # Span.span_id (2)
    child_id = _id_field(b"\x12", generation.id)
    parent_id = b"\x22" + root_id[1:] if root_id else b""  # Span.parent_span_id (4)
    # Span.trace_state (3): the caller's W3C tracestate, passed on as its SDK would
    state = b"" if trace.trace_state is None else _field(b"\x1a", trace.trace_state.encode())
    caller_span = trace.parent_span_id
    if caller_span is None and observation_only:
        caller_span = detached_parent(trace.id)  # not the trace's root: see detached_parent
    root_parent = b"" if caller_span is None else _id_field(b"\x22", caller_span)

    # The request span: the request through Kong, the trace's root unless it joined a
    # caller's trace. Fields in field-number order.
    root = [
        trace_id,
        root_id,
        state,
        root_parent,
        _field(b"\x2a", trace.name.encode()) if trace.name else b"",  # Span.name (5)
        _SERVER,
        _pack_times(0x39, _nanos(trace.timestamp), 0x41, _nanos(trace.end_time)),
        shared_attributes,
        _ROOT_TYPE,
    ]
    # Litefuse shows a trace's input/output from its root span's observation input/output
    # (langfuse.trace.input/output are not read there)
    trace_input = trace_output = b""
    if trace.input is not None:
        trace_input = _json(trace.input)
        root.append(_INPUT.text(trace_input))
    if trace.output is not None:
        trace_output = _json(trace.output)
        root.append(_OUTPUT.text(trace_output))
    root += (level, message)
    if observation_only:
        _metadata(root, metadata, _OBSERVATION_METADATA, "langfuse.observation.metadata.")
    root.append(status)

    # The child span: the generation (the upstream LLM call).
    child = [
        trace_id,
        child_id,
        state,
        parent_id,
        _field(b"\x2a", generation.name.encode()) if generation.name else b"",  # Span.name (5)
        _CLIENT,
        _pack_times(0x39, _nanos(generation.start_time), 0x41, _nanos(generation.end_time)),
        shared_attributes,
        _TYPES.get(generation.type) or _optional(_OBSERVATION_TYPE, generation.type),
    ]
    model = generation.model
    if model is not None:
        child += (_MODEL_NAME.memoized(model), _REQUEST_MODEL.memoized(model))
    elif generation.usage or generation.cost:
        # Litefuse keeps an observation's usage and cost only when it names a model
        child.append(_UNKNOWN_MODEL)
    provider = metadata.get("provider")
    if provider is not None:
        child.append(_SYSTEM.memoized(provider))
    operation = metadata.get("operation", generation.name)  # the caller may name the span
    if operation is not None:
        child.append(_OPERATION.memoized(operation))
    if generation.model_parameters:
        child.append(_MODEL_PARAMETERS.text(_json(generation.model_parameters)))
    # the generation usually holds the trace's own input and output objects: JSON them once
    if generation.input is not None:
        same = generation.input is trace.input
        child.append(_INPUT.text(trace_input if same else _json(generation.input)))
    if generation.output is not None:
        same = generation.output is trace.output
        child.append(_OUTPUT.text(trace_output if same else _json(generation.output)))
    counts = generation.usage
    if counts:
        usage = counts.details(model)
        if usage:
            child.append(_USAGE.text(orjson.dumps(usage)))
            # OTel GenAI's counts are inclusive (cached input and reasoning included)
            if counts.input is not None:
                child.append(_INPUT_TOKENS.value(counts.input))
            if counts.output is not None:
                child.append(_OUTPUT_TOKENS.value(counts.output))
    if generation.cost:
        cost = generation.cost.details(model)
        if cost:
            child.append(_COST.text(orjson.dumps(cost)))
    if generation.completion_start_time:
        child.append(_COMPLETION_START.value(generation.completion_start_time.isoformat()))
    if generation.finish_reason:
        child.append(_FINISH_REASONS.array([generation.finish_reason]))
    if generation.prompt_name is not None and generation.prompt_version is not None:
        child += (
            _PROMPT_NAME.memoized(generation.prompt_name),
            _PROMPT_VERSION.integer(generation.prompt_version),
        )
    child += (level, message)
    observation_metadata = generation.metadata
    if observation_only and metadata:
        # Litefuse's row: observation metadata overlaid by trace metadata; the same here
        observation_metadata = {**observation_metadata, **metadata}
    if observation_metadata:
        _metadata(
            child, observation_metadata, _OBSERVATION_METADATA, "langfuse.observation.metadata."
        )
    child.append(status)

    root_span = b"".join(root)
    child_span = b"".join(child)
    return b"".join(
        (b"\x12", _varint(len(root_span)), root_span, b"\x12", _varint(len(child_span)), child_span)
    )


# ResourceSpans.scope_spans (2) → ScopeSpans.scope (1) = InstrumentationScope{name, version}
_SCOPE = _field(
    b"\x0a",
    _field(b"\x0a", b"kong-litefuse") + _field(b"\x12", __version__.encode()),
)
# ResourceSpans.resource (1) = Resource{attributes (1)}: our service, then the environment.
# No service.version: Litefuse makes it every trace's version (the user's app version field);
# our own version is the scope's.
_SERVICE = _Key("service.name", b"\x0a").text(b"kong-litefuse")
_DEPLOYMENT_ENVIRONMENT = _Key("deployment.environment.name", b"\x0a")


def encode_request_bytes(
    traces: Sequence[Trace], spans_of: Callable[[Trace], bytes] = encode_spans
) -> bytes:
    """One serialized ``ExportTraceServiceRequest`` for a batch, a resource per environment.

    ``spans_of`` lets a caller that already encoded the spans (to measure them) reuse them.
    """
    by_environment: dict[str, list[bytes]] = {}
    for trace in traces:
        spans = spans_of(trace)
        group = by_environment.get(trace.environment)
        if group is None:
            by_environment[trace.environment] = [spans]
        else:
            group.append(spans)
    out: list[bytes] = []
    for environment, group in by_environment.items():
        spans_size = sum(map(len, group))
        # ResourceSpans{resource (1), scope_spans (2) = ScopeSpans{scope (1), spans (2)...}}
        head = (
            _field(b"\x0a", _SERVICE + _optional(_DEPLOYMENT_ENVIRONMENT, environment))
            + b"\x12"
            + _varint(len(_SCOPE) + spans_size)
            + _SCOPE
        )
        # ExportTraceServiceRequest.resource_spans (1)
        out += (b"\x0a", _varint(len(head) + spans_size), head)
        out += group
    return b"".join(out)


def encode_request(
    traces: Sequence[Trace], spans_of: Callable[[Trace], bytes] = encode_spans
) -> ExportTraceServiceRequest:
    """The same request as a message (decoded from ``encode_request_bytes``).

    For callers that want to inspect or convert it (``transform --format otlp-json``); the
    sink sends ``encode_request_bytes``, which skips the decoding.
    """
    request = ExportTraceServiceRequest()
    request.ParseFromString(encode_request_bytes(traces, spans_of))
    return request


def request_json(traces: Sequence[Trace]) -> dict[str, Any]:
    """The request in OTLP/JSON, the encoding OTLP/HTTP JSON receivers read.

    protobuf's JSON mapping, with OTLP's own rules where they differ from it: trace and span
    ids are hex strings (not base64), enums are integers (not names).
    """
    request = encode_request(traces)
    message: dict[str, Any] = json_format.MessageToDict(request, use_integers_for_enums=True)
    for resource_spans, resource_dict in zip(
        request.resource_spans, message.get("resourceSpans", []), strict=True
    ):
        for scope_spans, scope_dict in zip(
            resource_spans.scope_spans, resource_dict.get("scopeSpans", []), strict=True
        ):
            for span, span_dict in zip(scope_spans.spans, scope_dict.get("spans", []), strict=True):
                for field, raw in (
                    ("traceId", span.trace_id),
                    ("spanId", span.span_id),
                    ("parentSpanId", span.parent_span_id),
                ):
                    if raw:
                        span_dict[field] = raw.hex()
    return message
