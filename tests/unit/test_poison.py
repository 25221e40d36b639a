"""A poison record costs one record, never a partition: a failure injected at each stage.

Parsing, enriching, encoding the trace, scrubbing the dead letter and sending to the sink: a
record that breaks any of them is dead-lettered (or traced with what can be kept) and every
other record of its batch goes on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from pipeline.delivery import deadletter
from pipeline.delivery.deadletter import (
    MAX_REASON_CHARS,
    TRUNCATED,
    UNREADABLE,
    DeadLetter,
    dead_letter_headers,
    letter_value,
)
from pipeline.delivery.deliverer import Deliverer
from pipeline.enrich import stage as stage_module
from pipeline.enrich.options import EnrichOptions
from pipeline.enrich.privacy import MAX_DEPTH, TOO_DEEP, scrub
from pipeline.enrich.stage import KafkaValue, Rejected, StageConfig, Traced, run_stage
from pipeline.sinks.base import WriteResult
from pipeline.trace import Trace
from tests.factories import kong_record, trace

SECRET = "sk-proj-POISONPOISONPOISON1234567890"


def _nested(depth: int, leaf: Any = "leaf") -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def _nested_text(depth: int) -> str:
    """JSON text nesting ``depth`` objects: what a client can send (JSON writers refuse it)."""
    return '{"a":' * depth + '"leaf"' + "}" * depth


def _deep_record(depth: int, secret: bool = True) -> bytes:
    """A chat whose request metadata nests ``depth`` levels (any client can send this)."""
    record = kong_record(7)
    body = json.loads(record["request"]["body"])
    body["metadata"] = {"deep": "DEEP", **({"api_key": SECRET} if secret else {})}
    text = orjson.dumps(body).decode().replace('"DEEP"', _nested_text(depth))
    record["request"]["body"] = text
    return orjson.dumps(record)


def _values(raw: Sequence[bytes]) -> list[KafkaValue]:
    return [KafkaValue(value, "kong-logs", 0, 100 + i) for i, value in enumerate(raw)]


CONFIG = StageConfig(options=EnrichOptions(), traces_topic="ai-traces")


@pytest.mark.parametrize("secret", [True, False], ids=["with-a-secret", "clean"])
@pytest.mark.parametrize("depth", [70, 300, 900])
def test_a_deeply_nested_body_is_traced_cut_at_the_depth_limit(depth: int, secret: bool) -> None:
    good = orjson.dumps(kong_record(1))
    outcomes = run_stage(_values([_deep_record(depth, secret), good]), CONFIG)
    assert [type(o) for o in outcomes] == [Traced, Traced]
    deep = Trace.from_json(outcomes[0].value)  # type: ignore[union-attr]
    assert TOO_DEEP in deep.to_json().decode()
    assert SECRET not in deep.to_json().decode()


def test_scrub_cuts_containers_below_the_depth_limit_only() -> None:
    assert scrub(_nested(MAX_DEPTH - 1)) == _nested(MAX_DEPTH - 1)
    cut = scrub(_nested(MAX_DEPTH + 5))
    for _ in range(MAX_DEPTH):
        cut = cut["a"]
    assert cut == TOO_DEEP


def test_a_failure_in_each_stage_costs_one_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parse, enrich and encode each raise for one marked record; its neighbours are traced."""
    marked = [orjson.dumps(kong_record(i, client_ip=f"10.0.0.{i}")) for i in range(3)]
    original_parse, original_enrich = stage_module.parse_records, stage_module.enrich

    def parse(raw: bytes) -> Any:
        if b"10.0.0.0" in raw:
            raise RecursionError("parse blew up")
        return original_parse(raw)

    def enrich(record: Any, *args: Any, **kwargs: Any) -> Any:
        if record.client_ip == "10.0.0.1":
            raise KeyError("enrich blew up")
        result = original_enrich(record, *args, **kwargs)
        if record.client_ip == "10.0.0.2":
            # a trace whose JSON cannot be written (an object msgspec cannot encode)
            result.metadata["unwritable"] = object()
        return result

    monkeypatch.setattr(stage_module, "parse_records", parse)
    monkeypatch.setattr(stage_module, "enrich", enrich)
    good = orjson.dumps(kong_record(9))
    outcomes = run_stage(_values([*marked, good]), CONFIG)
    assert [type(o) for o in outcomes] == [Rejected, Rejected, Rejected, Traced]
    reasons = [o.reason for o in outcomes if isinstance(o, Rejected)]
    assert reasons[0].startswith("internal error: RecursionError")
    assert reasons[1].startswith("internal error: KeyError")
    assert reasons[2].startswith("internal error: TypeError: Encoding objects of type object")
    assert all(o.error for o in outcomes if isinstance(o, Rejected))  # tracebacks for the log


def test_a_dead_letter_value_is_scrubbed_even_when_it_cannot_be_parsed_or_written() -> None:
    too_deep_to_write = f'{{"api_key": "{SECRET}", "x": {_nested_text(300)}}}'.encode()
    too_deep_to_parse = b'{"api_key": "' + SECRET.encode() + b'", "x": ' + b"[" * 2000
    not_json = b"Authorization: Bearer " + SECRET.encode() + b"\n\xff\xfe raw"
    for data in (too_deep_to_write, too_deep_to_parse, not_json):
        value = letter_value(data, 1_000_000)
        assert SECRET.encode() not in value and b"REDACTED" in value


def test_a_dead_letter_value_falls_back_and_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    data = orjson.dumps({"password": "hunter2-hunter2", "text": "hello"})

    def boom(*_: Any) -> Any:
        raise RuntimeError("scrubber bug")

    monkeypatch.setattr(deadletter, "redact_bytes", boom)
    value = letter_value(data, 1_000_000)  # the text scrub still runs
    assert b"hunter2" not in value and b"hello" in value
    monkeypatch.setattr(deadletter, "redact_text", boom)
    assert letter_value(data, 1_000_000) == UNREADABLE  # nothing scrubbed: nothing kept


def test_a_dead_letter_value_fits_the_record_limit() -> None:
    value = letter_value(b"x" * 50_000, 10_000)
    assert len(value) == 10_000 and value.endswith(TRUNCATED)


def test_a_dead_letter_reason_is_scrubbed_and_bounded() -> None:
    letter = DeadLetter(stage="enrich", reason=f"boom {{'api_key': '{SECRET}'}} " * 500, value=b"")
    reason = dict(dead_letter_headers(letter))["kong-litefuse-reason"]
    assert SECRET.encode() not in reason and len(reason) <= MAX_REASON_CHARS


def test_a_trace_the_sink_cannot_send_is_rejected_and_the_rest_delivered() -> None:
    """The deliverer halves a batch whose write fails with something other than the sink
    being down, until the one trace is found; it becomes a sink dead letter."""
    traces = [trace(i) for i in range(7)]
    poison = traces[4].id

    class PickySink:
        name = "picky"

        def __init__(self) -> None:
            self.delivered: list[str] = []

        async def write(self, batch: Sequence[Trace]) -> WriteResult:
            if any(t.id == poison for t in batch):
                raise OverflowError("cannot encode this one")
            self.delivered += [t.id for t in batch]
            return WriteResult(accepted_ids=[t.id for t in batch])

        async def aclose(self) -> None:
            return None

    sink = PickySink()
    report = asyncio.run(Deliverer(sink).deliver([(t, 0) for t in traces]))
    assert sorted(sink.delivered) == sorted(t.id for t in traces if t.id != poison)
    assert [(r.trace.id, r.status) for r in report.rejected] == [(poison, 0)]
    assert "OverflowError" in report.rejected[0].reason
    letter = DeadLetter.for_trace(report.rejected[0].trace, 0, report.rejected[0].reason)
    assert letter.stage == "sink" and letter.reason.startswith("the sink could not send")
