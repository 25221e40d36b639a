"""The Kong log record: what `kong.log.serialize()` puts on the topic.

The models are deliberately lenient (unknown fields kept, numbers given as strings accepted)
because every Kong version 3.4 → 3.15 and every `custom_fields_by_lua` adds its own fields;
they only reject what no Kong produces, so a rejection is a real dead letter.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

HeaderValue = str | list[str]


class RecordError(ValueError):
    """A Kafka value that is not a Kong log record; the message is the dead-letter reason."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def _empty_table_to_none(value: Any) -> Any:
    # lua-cjson encodes an empty Lua table as {} whether it was meant as a list or a map.
    return None if value == {} or value == [] else value


def _body_text(value: Any) -> Any:
    """A captured body as text: custom_fields_by_lua may set a table instead of a string."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return orjson.dumps(value).decode() if value not in ({}, []) else None
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
    if value == {} or value == []:  # an empty Lua table; any other object is rejected
        return None
    return value


_STR = frozenset({str})


def _headers(value: Any) -> dict[str, HeaderValue]:
    # The common case first: only string names and values (each record has a dozen headers).
    if (
        type(value) is dict
        and _STR.issuperset(map(type, value))
        and _STR.issuperset(map(type, value.values()))
    ):
        # Kong's serializer writes the names lower-cased already: one check for them all.
        names = "\n".join(value)
        if names == names.lower():
            return value  # validation copies it into the model
        return {name.lower(): item for name, item in value.items()}  # what the loop gives
    if value is None or value == [] or value == {}:
        return {}
    if not isinstance(value, dict):
        raise ValueError("headers must be an object")
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


class KongRequest(_Lenient):
    id: str | None = None
    method: str | None = None
    uri: str | None = None
    url: str | None = None
    size: int | None = None
    querystring: dict[str, Any] = Field(default_factory=dict)
    headers: dict[str, HeaderValue] = Field(default_factory=dict)
    body: str | None = Field(
        default=None, description="Captured request body (our Kong config's convention)."
    )

    @field_validator("body", mode="before")
    @classmethod
    def _body(cls, value: Any) -> Any:
        return _body_text(value)

    @field_validator("method", "uri", "url", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return None if value in ("", {}, []) else value

    @field_validator("headers", mode="before")
    @classmethod
    def _normalise_headers(cls, value: Any) -> dict[str, HeaderValue]:
        return _headers(value)

    @field_validator("querystring", mode="before")
    @classmethod
    def _query(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else {}

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        return None if value in ("", None) else str(value)

    @field_validator("size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        return _whole_number(value)


class KongResponse(_Lenient):
    status: int | None = None
    size: int | None = None
    headers: dict[str, HeaderValue] = Field(default_factory=dict)
    body: str | None = Field(
        default=None, description="Captured response body (raw text: JSON, SSE or NDJSON)."
    )

    @field_validator("body", mode="before")
    @classmethod
    def _body(cls, value: Any) -> Any:
        return _body_text(value)

    @field_validator("headers", mode="before")
    @classmethod
    def _normalise_headers(cls, value: Any) -> dict[str, HeaderValue]:
        return _headers(value)

    @field_validator("status", "size", mode="before")
    @classmethod
    def _int(cls, value: Any) -> Any:
        return _whole_number(value)


class KongLatencies(_Lenient):
    kong: float | None = None
    proxy: float | None = Field(default=None, description="Upstream time in ms; -1 not proxied.")
    request: float | None = None
    receive: float | None = None

    @field_validator("kong", "proxy", "request", "receive", mode="before")
    @classmethod
    def _latency(cls, value: Any) -> Any:
        return _number(value)


class KongEntity(_Lenient):
    """A route, service, consumer or workspace copy; only the fields we use are typed."""

    id: str | None = None
    name: str | None = None
    username: str | None = None
    custom_id: str | None = None
    host: str | None = None
    path: str | None = None
    protocol: str | None = None


class KongRecord(_Lenient):
    request: KongRequest = Field(default_factory=KongRequest)
    response: KongResponse = Field(default_factory=KongResponse)
    latencies: KongLatencies = Field(default_factory=KongLatencies)
    upstream_uri: str | None = None
    upstream_status: str | None = Field(
        default=None, description='As Kong sends it: "200", "502, 200" after retries, or "".'
    )
    started_at: float | None = Field(default=None, description="Epoch milliseconds.")
    client_ip: str | None = None
    source: str | None = None
    route: KongEntity | None = None
    service: KongEntity | None = None
    consumer: KongEntity | None = None
    workspace: str | None = None
    workspace_name: str | None = None
    ai: dict[str, Any] | None = Field(default=None, description="Kong AI Gateway statistics.")

    @field_validator("route", "service", "consumer", "ai", mode="before")
    @classmethod
    def _empty(cls, value: Any) -> Any:
        return _empty_table_to_none(value)

    @field_validator("upstream_status", mode="before")
    @classmethod
    def _upstream_status(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            value = int(value)
        return str(value)

    @field_validator("started_at", mode="before")
    @classmethod
    def _started_at(cls, value: Any) -> Any:
        value = _number(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return epoch_ms(float(value))
        return value

    @field_validator("latencies", "request", "response", mode="before")
    @classmethod
    def _empty_object(cls, value: Any) -> Any:
        return {} if value is None or value == [] else value

    @field_validator("workspace", "workspace_name", "client_ip", "source", mode="before")
    @classmethod
    def _optional_text(cls, value: Any) -> Any:
        return None if value in ("", {}, []) else value

    @property
    def final_upstream_status(self) -> int | None:
        """The status of the last upstream try (`"502, 200"` → 200)."""
        if not self.upstream_status:
            return None
        last = self.upstream_status.split(",")[-1].strip()
        return int(last) if last.isdigit() else None


def parse_records(value: bytes | str) -> list[KongRecord]:
    """Parse one Kafka value: a JSON object or a JSON array of objects.

    Raises RecordError with a reason fit for a dead letter (never the value itself, which may
    hold secrets).
    """
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


def parse_record(item: dict[str, Any]) -> KongRecord:
    """Validate one decoded Kong log object."""
    if "request" not in item and "response" not in item:
        raise RecordError("not a Kong log record: neither 'request' nor 'response' is present")
    try:
        # model_validate without its Python wrapper (same defaults): this runs for every record
        return KongRecord.__pydantic_validator__.validate_python(item)  # type: ignore[no-any-return]
    except ValidationError as exc:
        # Without the errors' context: it holds a validator's exception, whose traceback holds
        # this frame and its callers', so keeping it here made a reference cycle that held
        # the caller's whole batch (values and outcomes) until a full collection.
        first = exc.errors(include_url=False, include_context=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        reason = f"invalid Kong record: {where}: {first['msg']} ({exc.error_count()} error(s))"
    raise RecordError(reason)  # outside the handler: no context chained to the ValidationError
