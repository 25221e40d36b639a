"""Hostile records through a running worker on the real broker: none can stop a partition.

Anyone behind the gateway chooses the bodies (any shape, size and depth), and other producers
can write anything to our topics. Each hostile value is published on ONE partition between
good records; every good record must still be delivered exactly once, every hostile one traced,
skipped or dead-lettered with a reason, and the worker must keep running and stop on SIGTERM.
"""

from __future__ import annotations

import copy
import json
import signal
import time
from collections.abc import Callable
from typing import Any

import orjson

from pipeline.delivery.deadletter import read_headers
from pipeline.kafka import publish
from tests.conftest import Names, consume_all
from tests.factories import kong_record
from tests.receiver import LitefuseReceiver

SECRET = "sk-proj-HOSTILEHOSTILEHOSTILE0123456789"


def _nested(depth: int) -> str:
    return '{"a":' * depth + '"leaf"' + "}" * depth


def _with_body(text: str, index: int = 500) -> bytes:
    record = kong_record(index)
    record["request"]["body"] = text
    return orjson.dumps(record)


def _body_with(index: int, **fields: Any) -> bytes:
    record = kong_record(index)
    body = json.loads(record["request"]["body"])
    body.update(fields)
    record["request"]["body"] = json.dumps(body)
    return orjson.dumps(record)


def _changed(index: int, change: Callable[[dict[str, Any]], None]) -> bytes:
    record = copy.deepcopy(kong_record(index))
    change(record)
    return orjson.dumps(record)


def _deep_metadata(index: int, depth: int) -> bytes:
    record = kong_record(index)
    body = record["request"]["body"]
    record["request"]["body"] = body[:-1] + f', "metadata": {{"deep": {_nested(depth)}}}}}'
    return orjson.dumps(record)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(record: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = record
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value

    return apply


def hostile_values() -> list[bytes]:
    """37 values a gateway client or a foreign producer can put on the Kong topic."""
    ai_usage = {"proxy": {"meta": {"provider_name": "openai"}, "usage": {"prompt_tokens": 1e300}}}
    values = [
        # depth: inside a body, and the record itself
        _deep_metadata(501, 300),
        _deep_metadata(502, 1000),
        _deep_metadata(503, 5000),
        b'{"request": ' * 2000 + b"{}" + b"}" * 2000,
        # not a Kong record at all
        b"",
        b"null",
        b"[]",
        b"[1, 2, 3]",
        b'"just a string"',
        b"\xff\xfe\x00\x01 binary \x00",
        # sizes
        _with_body("x" * 600_000, 504),
        _body_with(505, messages=[{"role": "user", "content": "hi"}] * 20_000),
        _body_with(
            506, tools=[{"type": "function", "function": {"name": f"t{i}"}} for i in range(500)]
        ),
        # values out of range or of the wrong type
        _changed(507, _set("started_at", 1e30)),
        _changed(508, _set("started_at", -1)),
        _changed(509, _set("started_at", "yesterday")),
        # deep AND failing enrichment: its dead letter cannot be written back as JSON
        _deep_metadata(510, 300).replace(b'"started_at":', b'"started_at_was":'),
        _changed(511, _set("latencies.request", 1e300)),
        _changed(512, _set("latencies.proxy", -5)),
        _changed(513, _set("ai", ai_usage)),
        _changed(
            514, _set("ai", {"proxy": {"usage": {"prompt_tokens": -40, "total_tokens": "x"}}})
        ),
        _changed(515, _set("ai", {"proxy": {"meta": {"provider_name": {"nested": "object"}}}})),
        _changed(516, _set("ai", [1, "two", None])),
        _changed(517, _set("request.headers", ["not", "a", "map"])),
        _changed(518, _set("request.headers", {f"x-h-{i}": "v" for i in range(10_000)})),
        _changed(519, _set("request.headers", {"x-user-id": {"object": True}})),
        _changed(520, _set("request.body", {"body": "as an object"})),
        _changed(
            521, _set("response.body", 'data: {"choices": [{"delta": {"content": "unterminated')
        ),
        _changed(522, _set("response.body", 'data: {"choices": []}\n\n' * 10_000)),
        _changed(523, _set("response.status", "nine hundred")),
        _changed(524, _set("response.status", 999)),
        _changed(525, _set("request.id", "x" * 10_000)),
        _changed(526, _set("request.uri", f"/v1/chat/completions;api_key={SECRET}")),
        _body_with(527, model="m" * 10_000),
        _body_with(528, metadata={f"k{i}": i for i in range(10_000)}),
        # a lone surrogate and duplicate keys, as other JSON writers emit them
        _with_body(
            '{"model": "gpt-4o", "messages": [{"role": "user", "content": "\\ud800"}]}', 529
        ),
        b'{"request": {"id": "dup", "id": "dup2"}, "started_at": 1, "started_at": "x"}',
    ]
    assert len(values) == 37
    return values


def test_hostile_values_never_stop_the_partition(
    kafka_bootstrap: str,
    names: Names,
    receiver: LitefuseReceiver,
    worker_env: dict[str, str],
    start_worker: Any,
) -> None:
    worker = start_worker(worker_env)
    worker.wait_ready()
    good = [kong_record(i) for i in range(40)]
    hostile = hostile_values()
    # interleaved, all on one partition (same key): a value that stalls stops every later one
    batch: list[tuple[bytes, bytes]] = []
    for index, value in enumerate(hostile):
        batch.append((b"one-partition", orjson.dumps(good[index])))
        batch.append((b"one-partition", value))
    batch += [(b"one-partition", orjson.dumps(record)) for record in good[len(hostile) :]]
    publish(kafka_bootstrap, names.kong, batch)

    good_ids = {record["request"]["id"] for record in good}
    ids = receiver.wait_quiet(len(good_ids), timeout=180, quiet=3.0)
    arrived = [trace_id for trace_id in ids if trace_id in good_ids]
    assert sorted(arrived) == sorted(good_ids), worker.log()[-3000:]  # each exactly once
    assert len(ids) == len(set(ids)), "a trace arrived twice"

    # every hostile value was traced, skipped or dead-lettered: none is lost silently
    metrics = worker.metrics()
    consumed = _metric(metrics, "kong_litefuse_records_consumed_total")
    assert consumed == len(batch), metrics[-2000:]
    letters = consume_all(kafka_bootstrap, names.dlq, expected=1, timeout=10)
    for letter in letters:
        headers = read_headers(letter.headers())
        assert headers["reason"] and headers["stage"] == "enrich"
        assert SECRET.encode() not in letter.value()
    assert SECRET.encode() not in b"".join(receiver.raw_bodies)

    # still running, and SIGTERM stops it promptly
    assert worker.process.poll() is None, worker.log()[-3000:]
    started = time.monotonic()
    code = worker.stop(signal.SIGTERM, timeout=30)
    assert code == 0 and time.monotonic() - started < 15, worker.log()[-3000:]
    assert "Crashed" not in worker.log(), "an agent crashed"


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics")
