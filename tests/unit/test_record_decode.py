"""The two ways a Kong record is parsed: msgspec's typed decode (fast) and the lenient rules.

The fast path must give exactly what the lenient rules give for every value it takes, and
hand every other value over; these tests pin that down, and what JSON edge cases (integers
beyond 64 bits, duplicate keys, invalid UTF-8, depth) make of a record.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from pipeline.bench.mix import generate
from pipeline.kong import record as module
from pipeline.kong.record import NOT_KONG, KongRecord, RecordError, parse_records
from tests.factories import with_changes
from tests.integration.test_hostile_records import hostile_values
from tests.unit.test_enrich_golden import inputs

CHAT = orjson.loads(inputs()["kong/openai-chat-tools.json"])
BIG = 2**64 + 1  # orjson reads it as a float: 18446744073709551616.0


def _value(**changes: Any) -> bytes:
    """The chat fixture with ``a__b=value`` changes, as JSON that may hold any integer."""
    return json.dumps(with_changes(copy.deepcopy(CHAT), **changes)).encode()


def _outcome(parse: Any, value: bytes | str) -> list[KongRecord] | str:
    try:
        result: list[KongRecord] = parse(value)
    except RecordError as exc:
        return f"RecordError: {exc}"
    return result


@pytest.fixture
def lenient_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes | str]]:
    """The values parse_records handed to the lenient path."""
    calls: list[bytes | str] = []
    original = module._parse_lenient

    def counting(value: bytes | str) -> list[KongRecord]:
        calls.append(value)
        return original(value)

    monkeypatch.setattr(module, "_parse_lenient", counting)
    yield calls


# What the fast path takes and must finish like the lenient rules do.
FAST = {
    "chat": _value(),
    "header-names-upper": _value(
        request__headers={"X-User-Id": "u1", "ÄCCEPT": "x", "x-list": ["a", "b"]},
        response__headers={"Content-Type": "a/b", "X-ΑΣ": "c"},
    ),
    "header-names-collide": _value(request__headers={"X-A": "1", "x-a": "2"}),
    "empty-texts": _value(
        request__id="", request__method="", request__uri="", request__url="", client_ip=""
    ),
    "empty-workspace-source": _value(workspace="", workspace_name="", source=""),
    "empty-objects": _value(route={}, service={}, consumer={}, ai={}, authenticated_entity={}),
    "entities-without-our-fields": _value(route={"ws_id": "w"}, consumer={"id": None}),
    "ollama-port": _value(service={"host": "10.0.0.5", "port": 11434}),
    "port-as-text": _value(service={"name": "s", "port": "11434"}),
    "started-seconds": _value(started_at=1764400003.25),
    "started-micros": _value(started_at=1764400003250000),
    "started-nanos": _value(started_at=1764400003250000000),
    "started-negative": _value(started_at=-5),
    "latencies-ints": _value(latencies={"kong": 2, "proxy": -1, "request": 905}),
    "int-range-edges": _value(
        request__size=2**64 - 1, response__status=-(2**63), ai={"n": 2**64 - 1}
    ),
    "big-float-latency": _value(latencies={"request": BIG}),
    "array": b"[" + _value() + b"," + _value(request__id="second") + b"]",
    "text-value": _value().decode(),
}

# What the fast path hands over: each must come out of the lenient rules.
LENIENT = {
    "status-text": _value(response__status=" 429 "),
    "size-float": _value(request__size=12.9),
    "status-bool": _value(response__status=True),
    "latency-text": _value(latencies={"proxy": "1.5e3"}),
    "started-bool": _value(started_at=True),
    "headers-odd": _value(request__headers={"X-N": 1, "b": True, "c": None, "l": [1, "x"]}),
    "headers-list": _value(request__headers=[]),
    "upstream-status-int": _value(upstream_status=502),
    "body-object": _value(request__body={"model": "m"}),
    "request-null": _value(request=None),
    "querystring-list": _value(request__querystring=[]),
    "authenticated-entity-text": _value(authenticated_entity="someone"),
    "ai-list": _value(ai=[]),
    "status-beyond-64-bits": _value(response__status=BIG),
    "size-below-64-bits": _value(request__size=-(2**63) - 1),
    "ai-beyond-64-bits": _value(ai={"proxy": {"usage": {"prompt_tokens": BIG}}}),
    "query-beyond-64-bits": _value(request__querystring={"n": BIG}),
    "port-beyond-64-bits": _value(service={"port": BIG}),
    "entity-id-beyond-64-bits": _value(authenticated_entity={"id": BIG}),
    "invalid-method": _value(request__method=5),
    "no-request-no-response": b'{"started_at": 1, "ai": {"payload": {"request": "x"}}}',
    "array-with-a-number": b"[" + _value() + b", 7]",
    "scalar": b"42",
    "not-json": _value()[:-3],
}


@pytest.mark.parametrize("name", sorted(FAST))
def test_the_fast_path_finishes_records_like_the_lenient_rules(
    name: str, lenient_calls: list[bytes | str]
) -> None:
    value = FAST[name]
    fast = _outcome(parse_records, value)
    assert lenient_calls == [], "the fast path handed it over"
    assert fast == _outcome(module._parse_lenient, value)


@pytest.mark.parametrize("name", sorted(LENIENT))
def test_the_fast_path_hands_over_what_it_does_not_take(
    name: str, lenient_calls: list[bytes | str]
) -> None:
    value = LENIENT[name]
    got = _outcome(parse_records, value)
    assert lenient_calls == [value]
    assert got == _outcome(module._parse_lenient, value)


def test_every_bundled_and_bench_value_parses_the_same_both_ways() -> None:
    values = [*inputs().values(), *generate(600, seed=3), *hostile_values()]
    for value in values:
        assert _outcome(parse_records, value) == _outcome(module._parse_lenient, value)


def test_what_the_fast_path_finishes() -> None:
    (record,) = parse_records(FAST["header-names-upper"])
    assert record.request.headers == {"x-user-id": "u1", "äccept": "x", "x-list": ["a", "b"]}
    assert record.response.headers == {"content-type": "a/b", "x-ας": "c"}
    (record,) = parse_records(FAST["header-names-collide"])
    assert record.request.headers == {"x-a": "2"}
    (record,) = parse_records(FAST["empty-texts"])
    request = record.request
    assert (request.id, request.method, request.uri, request.url, record.client_ip) == (None,) * 5
    (record,) = parse_records(FAST["empty-objects"])
    assert (record.route, record.service, record.consumer, record.ai) == (None,) * 4
    (record,) = parse_records(FAST["entities-without-our-fields"])
    assert record.route is None and record.consumer is None
    (record,) = parse_records(FAST["ollama-port"])
    assert record.service is not None and record.service.port == 11434
    (record,) = parse_records(FAST["started-seconds"])
    assert record.started_at == 1764400003.25 * 1000
    (record,) = parse_records(FAST["started-nanos"])
    assert record.started_at == 1764400003250000000 / 1e6  # as the lenient rules compute it


def test_integers_beyond_64_bits_are_read_as_orjson_reads_them() -> None:
    """orjson reads them as floats (msgspec would keep them exact): the records are as before,
    and no integer a sink's orjson cannot write gets into the record."""
    (record,) = parse_records(LENIENT["status-beyond-64-bits"])
    assert record.response.status == int(float(BIG)) != BIG
    (record,) = parse_records(LENIENT["ai-beyond-64-bits"])
    assert record.ai == {"proxy": {"usage": {"prompt_tokens": float(BIG)}}}
    (record,) = parse_records(LENIENT["entity-id-beyond-64-bits"])
    assert record.authenticated_entity == {"id": float(BIG)}
    # beyond a double: not JSON to orjson, in a field we read …
    with pytest.raises(RecordError, match=r"^not JSON: number is infinity"):
        parse_records(_value(response__status=10**400))
    # … but skipped unread in any other field (orjson refused the whole value)
    unread = _value(tries=[{"balancer_start": 10**400}])[:-1] + b', "unknown": 1e400}'
    (record,) = parse_records(unread)
    assert record.request.id == CHAT["request"]["id"]


def test_duplicate_keys_last_one_wins() -> None:
    value = b'{"request": {"id": "first", "id": "second"}, "started_at": 1, "started_at": "x"}'
    (record,) = parse_records(value)
    assert record.request.id == "second" and record.started_at is None
    (record,) = parse_records(b'{"request": {"headers": {"a": "1", "A": "2", "a": "3"}}}')
    assert record.request.headers == {"a": "2"}  # {"a": "3", "A": "2"}, names lower-cased
    (record,) = parse_records(b'{"response": {}, "request": {"id": "x"}, "request": null}')
    assert record.request.id is None


def test_text_that_is_not_utf8_or_json() -> None:
    with pytest.raises(RecordError, match=r"^not JSON: str is not valid UTF-8"):
        parse_records(b'{"request": {"id": "\xff"}}')
    with pytest.raises(RecordError, match=r"^not JSON: .*surrogate"):
        parse_records(b'{"request": {}, "x": "\\ud800"}')
    with pytest.raises(RecordError, match=r"^not JSON"):
        parse_records('{"request": {"id": "\ud800"}}')
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        with pytest.raises(RecordError, match=r"^not JSON"):
            parse_records(b'{"request": {}, "latencies": {"kong": ' + literal + b"}}")
    # a field we never read is skipped unread: its bytes are not checked (orjson refused them)
    (record,) = parse_records(b'{"request": {"id": "ok"}, "x": "\xff"}')
    assert record.request.id == "ok"


def test_depth() -> None:
    deep = b"[" * 2000 + b"]" * 2000
    with pytest.raises(RecordError, match=r"^not JSON: .*depth"):
        parse_records(b'{"request": {}, "x": ' + deep + b"}")
    with pytest.raises(RecordError, match=r"^not JSON"):
        parse_records(b'{"request": ' * 2000 + b"{}" + b"}" * 2000)
    nested = b'{"a":' * 900 + b"1" + b"}" * 900
    (record,) = parse_records(b'{"request": {"id": "ok"}, "x": ' + nested + b"}")
    assert record.request.id == "ok"
    # a body object too deep for orjson to write back as text: a dead letter, not a TypeError
    body = b'{"a":' * 300 + b"1" + b"}" * 300
    with pytest.raises(RecordError, match=r"^invalid Kong record: request\.body: "):
        parse_records(b'{"request": {"body": ' + body + b"}}")


def test_a_ten_megabyte_body() -> None:
    body = "x" * 10_000_000
    (record,) = parse_records(_value(request__body=body))
    assert record.request.body == body


def test_not_a_kong_record() -> None:
    assert _outcome(parse_records, b"[]") == "RecordError: empty JSON array"
    assert _outcome(parse_records, LENIENT["array-with-a-number"]) == (
        "RecordError: item 1 is a JSON int, not a Kong log object"
    )
    assert _outcome(parse_records, b"null") == (
        "RecordError: value is a JSON NoneType, not a Kong log object"
    )
    # only the record's own keys count (Kong AI's payload has a "request" too)
    assert _outcome(parse_records, LENIENT["no-request-no-response"]) == f"RecordError: {NOT_KONG}"
    assert _outcome(parse_records, b"[" + _value() + b', {"hello": 1}]') == (
        f"RecordError: {NOT_KONG}"
    )
    with pytest.raises(ValueError, match="neither"):
        KongRecord()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (
            _value(response__status={"code": 200}),
            "response.status: Expected `int | null`, got `object`",
        ),
        (_value(request__headers="host: x"), "request.headers: headers must be an object"),
        (_value(route="r"), "route: Expected `object | null`, got `str`"),
        (_value(service={"name": 12}), "service.name: Expected `str | null`, got `int`"),
        (_value(latencies=[1]), "latencies: Expected `object`, got `array`"),
        (b"[" + _value(ai="yes") + b"]", "ai: Expected `object | null`, got `str`"),
    ],
)
def test_invalid_records_name_the_field_and_the_reason(value: bytes, reason: str) -> None:
    assert _outcome(parse_records, value) == f"RecordError: invalid Kong record: {reason}"
