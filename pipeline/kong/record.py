"""The Kong log record: what `kong.log.serialize()` puts on the topic.

Parsing is lenient (numbers given as strings accepted, empty Lua tables read as nothing)
because every Kong version 3.4 → 3.15 and every `custom_fields_by_lua` adds its own fields;
it only rejects what no Kong produces, so a rejection is a real dead letter.

The models are msgspec Structs holding only the fields we read: the hot path decodes a value
straight into them (unknown fields are skipped, never built) and finishes the few
normalisations a well-formed record needs. Anything that path does not take as-is (a number as
a string, a null object, a JSON error …) is parsed again by the lenient path: orjson and the
rules below, then typed by ``msgspec.convert``. Both give the same record; the lenient path
alone defines the dead-letter reasons.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import msgspec
import orjson

HeaderValue = str | list[str]

# orjson reads integers in this range as int (beyond it: float, or not JSON); msgspec keeps
# any integer exact, so a record holding one outside it takes the lenient path (orjson's view).
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1

NOT_KONG = "not a Kong log record: neither 'request' nor 'response' is present"


class RecordError(ValueError):
    """A Kafka value that is not a Kong log record; the message is the dead-letter reason."""


class KongRequest(msgspec.Struct):
    id: str | None = None
    method: str | None = None
    uri: str | None = None
    url: str | None = None
    size: int | None = None
    querystring: dict[str, Any] = {}
    headers: Annotated[
        dict[str, HeaderValue], msgspec.Meta(description="Names lower-cased; nulls dropped.")
    ] = {}
    body: Annotated[
        str | None,
        msgspec.Meta(description="Captured request body (our Kong config's convention)."),
    ] = None


class KongResponse(msgspec.Struct):
    status: int | None = None
    size: int | None = None
    headers: Annotated[
        dict[str, HeaderValue], msgspec.Meta(description="Names lower-cased; nulls dropped.")
    ] = {}
    body: Annotated[
        str | None,
        msgspec.Meta(description="Captured response body (raw text: JSON, SSE or NDJSON)."),
    ] = None


class KongLatencies(msgspec.Struct):
    kong: float | None = None
    proxy: Annotated[
        float | None, msgspec.Meta(description="Upstream time in ms; -1 not proxied.")
    ] = None
    request: float | None = None
    receive: float | None = None


class KongEntity(msgspec.Struct):
    """A route, service or consumer copy; only the fields we use are declared."""

    id: str | None = None
    name: str | None = None
    username: str | None = None
    custom_id: str | None = None
    host: str | None = None
    path: str | None = None
    protocol: str | None = None
    port: Annotated[Any, msgspec.Meta(description="A service's port, as Kong wrote it.")] = None


_NO_ENTITY = KongEntity()
# Defaults that say "the key was absent" (a record needs a request or a response): replaced by
# fresh objects as soon as the record is built, so no record ever holds these two.
_NO_REQUEST = KongRequest()
_NO_RESPONSE = KongResponse()


class KongRecord(msgspec.Struct):
    """One Kong log entry: the fields the enricher reads (others are skipped)."""

    request: KongRequest = msgspec.field(default_factory=lambda: _NO_REQUEST)
    response: KongResponse = msgspec.field(default_factory=lambda: _NO_RESPONSE)
    latencies: KongLatencies = msgspec.field(default_factory=KongLatencies)
    upstream_uri: str | None = None
    upstream_status: Annotated[
        str | None,
        msgspec.Meta(description='As Kong sends it: "200", "502, 200" after retries, or "".'),
    ] = None
    started_at: Annotated[float | None, msgspec.Meta(description="Epoch milliseconds.")] = None
    client_ip: str | None = None
    source: str | None = None
    route: KongEntity | None = None
    service: KongEntity | None = None
    consumer: KongEntity | None = None
    workspace: str | None = None
    workspace_name: str | None = None
    ai: Annotated[
        dict[str, Any] | None, msgspec.Meta(description="Kong AI Gateway statistics.")
    ] = None
    authenticated_entity: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(description="Who authenticated when no consumer did (its id)."),
    ] = None

    def __post_init__(self) -> None:
        """A record has a request or a response (else it is not Kong's); the absent one is
        empty. Raising here makes the fast decode hand the value to the lenient path."""
        if self.request is _NO_REQUEST:
            if self.response is _NO_RESPONSE:
                raise ValueError(NOT_KONG)
            self.request = KongRequest()
        elif self.response is _NO_RESPONSE:
            self.response = KongResponse()

    @property
    def final_upstream_status(self) -> int | None:
        """The status of the last upstream try (`"502, 200"` → 200)."""
        if not self.upstream_status:
            return None
        last = self.upstream_status.split(",")[-1].strip()
        return int(last) if last.isdigit() else None


# --- the fast path: decode into the Structs, finish what a well-formed record needs ---------


class _Lenient(Exception):
    """The fast path does not take this value as-is: parse it on the lenient path."""


_DECODER = msgspec.json.Decoder(KongRecord | list[KongRecord])


def _huge(value: Any) -> bool:
    """An integer orjson would not read as one, anywhere in a decoded JSON value."""
    kind = type(value)
    if kind is int:
        return not _INT_MIN <= value <= _INT_MAX
    if kind is dict:
        return any(map(_huge, value.values()))
    if kind is list:
        return any(map(_huge, value))
    return False


def _lower_names(headers: dict[str, HeaderValue]) -> dict[str, HeaderValue]:
    # Kong's serializer writes the names lower-cased already: one check for them all (joined
    # without a separator: only an upper-case letter makes the lower-cased text differ).
    names = "".join(headers)
    if names == names.lower():
        return headers
    return {name.lower(): item for name, item in headers.items()}


def _whole(value: int | None) -> None:
    """An integer orjson would have read as a float: the lenient path does what it did."""
    if value is not None and not _INT_MIN <= value <= _INT_MAX:
        raise _Lenient


def _entity(entity: KongEntity | None) -> KongEntity | None:
    if entity is None or entity == _NO_ENTITY:
        return None  # {} (an empty Lua table) or no field we read
    if _huge(entity.port):
        raise _Lenient
    return entity


def _finish(record: KongRecord) -> KongRecord:
    """What the lenient rules change in a record the typed decode took: "" read as nothing,
    header names lower-cased, started_at in ms, empty objects as None."""
    request = record.request
    if not request.id:
        request.id = None
    if not request.method:
        request.method = None
    if not request.uri:
        request.uri = None
    if not request.url:
        request.url = None
    _whole(request.size)
    if request.headers:
        request.headers = _lower_names(request.headers)
    if request.querystring and _huge(request.querystring):
        raise _Lenient
    response = record.response
    _whole(response.status)
    _whole(response.size)
    if response.headers:
        response.headers = _lower_names(response.headers)
    started = record.started_at
    if started is not None and started > 0:
        record.started_at = epoch_ms(started)
    if not record.client_ip:
        record.client_ip = None
    if not record.source:
        record.source = None
    if not record.workspace:
        record.workspace = None
    if not record.workspace_name:
        record.workspace_name = None
    record.route = _entity(record.route)
    record.service = _entity(record.service)
    record.consumer = _entity(record.consumer)
    if not record.ai:
        record.ai = None
    elif _huge(record.ai):
        raise _Lenient
    if record.authenticated_entity and _huge(record.authenticated_entity):
        raise _Lenient
    return record


def parse_records(value: bytes | str) -> list[KongRecord]:
    """Parse one Kafka value: a JSON object or a JSON array of objects.

    Raises RecordError with a reason fit for a dead letter (never the value itself, which may
    hold secrets).
    """
    try:
        decoded = _DECODER.decode(value)
        if isinstance(decoded, KongRecord):
            return [_finish(decoded)]
        if not decoded:
            raise RecordError("empty JSON array")
        return [_finish(record) for record in decoded]
    except (msgspec.DecodeError, RecursionError, UnicodeError, _Lenient):
        pass
    return _parse_lenient(value)


# --- the lenient path: the rules every value the fast path did not take goes through -------


def _parse_lenient(value: bytes | str) -> list[KongRecord]:
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"not JSON: {exc.msg} at position {exc.pos}") from None
    items = document if isinstance(document, list) else [document]
    if not items:
        raise RecordError("empty JSON array")
    records = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            where = f"item {index}" if isinstance(document, list) else "value"
            raise RecordError(f"{where} is a JSON {type(item).__name__}, not a Kong log object")
        records.append(parse_record(item))
    return records


class _Invalid(ValueError):
    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")


def parse_record(item: dict[str, Any]) -> KongRecord:
    """Validate one decoded Kong log object (a dict as orjson or ``json`` reads it)."""
    if "request" not in item and "response" not in item:
        raise RecordError(NOT_KONG)
    try:
        record = msgspec.convert(_lenient_record(item), KongRecord)
    except _Invalid as exc:
        reason = f"invalid Kong record: {exc}"
    except msgspec.ValidationError as exc:
        message, _, path = str(exc).partition(" - at `")
        where = path.rstrip("`").removeprefix("$").removeprefix(".") or "record"
        reason = f"invalid Kong record: {where}: {message}"
    else:
        record.route = _entity_or_none(record.route)
        record.service = _entity_or_none(record.service)
        record.consumer = _entity_or_none(record.consumer)
        return record
    raise RecordError(reason)  # outside the handler: no context chained to the error


def _entity_or_none(entity: KongEntity | None) -> KongEntity | None:
    return None if entity == _NO_ENTITY else entity


def _empty_table_to_none(value: Any) -> Any:
    # lua-cjson encodes an empty Lua table as {} whether it was meant as a list or a map.
    return None if value == {} or value == [] else value


def _body_text(value: Any, where: str) -> Any:
    """A captured body as text: custom_fields_by_lua may set a table instead of a string."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        if value in ({}, []):
            return None
        try:
            return orjson.dumps(value).decode()
        except orjson.JSONEncodeError as exc:  # nested deeper than orjson writes
            raise _Invalid(where, f"cannot be written as text: {exc}") from None
    return str(value)


def _number(value: Any) -> Any:
    """Numbers as Kong writes them: maybe strings, maybe floats in exponent form."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            return None
    return value


def _float(value: Any) -> Any:
    """``_number``, and a bool read as 0.0 / 1.0 (as pydantic's lax float did)."""
    value = _number(value)
    return float(value) if isinstance(value, bool) else value


def epoch_ms(value: float) -> float:
    """Epoch milliseconds from a value Kong or a custom field wrote in s, ms, µs or ns."""
    if value > 1e17:
        return value / 1e6
    if value > 1e14:
        return value / 1e3
    if value < 1e11:
        return value * 1000
    return value


def _whole_number(value: Any) -> Any:
    """Kong writes sizes and statuses as numbers, numeric strings, or ``""`` when unknown:
    anything that is not a number is unknown (None), never a reason to dead-letter a record."""
    if isinstance(value, str):
        try:
            return int(float(value)) if value.strip() else None
        except (ValueError, OverflowError):
            return None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if isinstance(value, bool):
        return int(value)
    if value == {} or value == []:  # an empty Lua table; any other object is rejected
        return None
    return value


def _text(value: Any) -> Any:
    return None if value in ("", {}, []) else value


_STR = frozenset({str})


def _headers(value: Any, where: str) -> dict[str, HeaderValue]:
    # The common case first: only string names and values (each record has a dozen headers).
    if (
        type(value) is dict
        and _STR.issuperset(map(type, value))
        and _STR.issuperset(map(type, value.values()))
    ):
        return _lower_names(value)
    if value is None or value == [] or value == {}:
        return {}
    if not isinstance(value, dict):
        raise _Invalid(where, "headers must be an object")
    headers: dict[str, HeaderValue] = {}
    for name, item in value.items():
        key = str(name).lower()
        if item is None:  # JSON null: the header is not there
            continue
        if isinstance(item, list):
            headers[key] = [str(v) for v in item]
        elif isinstance(item, bool):
            headers[key] = "" if item else "false"
        else:
            headers[key] = str(item)
    return headers


def _object(value: Any) -> Any:
    return {} if value is None or value == [] else value


def _lenient_request(value: Any) -> Any:
    if not isinstance(value, dict):
        return value  # msgspec.convert names the wrong type
    fields = dict(value)
    if "id" in fields:
        fields["id"] = None if fields["id"] in ("", None) else str(fields["id"])
    for name in ("method", "uri", "url"):
        if name in fields:
            fields[name] = _text(fields[name])
    if "size" in fields:
        fields["size"] = _whole_number(fields["size"])
    if "querystring" in fields and not isinstance(fields["querystring"], dict):
        fields["querystring"] = {}
    if "headers" in fields:
        fields["headers"] = _headers(fields["headers"], "request.headers")
    if "body" in fields:
        fields["body"] = _body_text(fields["body"], "request.body")
    return fields


def _lenient_response(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    fields = dict(value)
    for name in ("status", "size"):
        if name in fields:
            fields[name] = _whole_number(fields[name])
    if "headers" in fields:
        fields["headers"] = _headers(fields["headers"], "response.headers")
    if "body" in fields:
        fields["body"] = _body_text(fields["body"], "response.body")
    return fields


def _lenient_latencies(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    fields = dict(value)
    for name in ("kong", "proxy", "request", "receive"):
        if name in fields:
            fields[name] = _float(fields[name])
    return fields


def _upstream_status(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float):
        value = int(value)
    return str(value)


def _started_at(value: Any) -> Any:
    value = _number(value)
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and value > 0:
        return epoch_ms(float(value))
    return value


def _lenient_record(item: dict[str, Any]) -> dict[str, Any]:
    """The lenient rules, field by field, on a decoded object (unknown fields left as they are:
    ``msgspec.convert`` skips them)."""
    fields = dict(item)
    if "request" in fields:
        fields["request"] = _lenient_request(_object(fields["request"]))
    if "response" in fields:
        fields["response"] = _lenient_response(_object(fields["response"]))
    if "latencies" in fields:
        fields["latencies"] = _lenient_latencies(_object(fields["latencies"]))
    if "upstream_status" in fields:
        fields["upstream_status"] = _upstream_status(fields["upstream_status"])
    if "started_at" in fields:
        fields["started_at"] = _started_at(fields["started_at"])
    for name in ("workspace", "workspace_name", "client_ip", "source"):
        if name in fields:
            fields[name] = _text(fields[name])
    for name in ("route", "service", "consumer", "ai"):
        if name in fields:
            fields[name] = _empty_table_to_none(fields[name])
    if "authenticated_entity" in fields and not isinstance(fields["authenticated_entity"], dict):
        fields["authenticated_entity"] = None  # only an object's id is read
    return fields
