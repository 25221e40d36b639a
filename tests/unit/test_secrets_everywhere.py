"""Every entry of the scrubber's table, planted in every place, greped in every byte that leaves.

The places a credential can sit in a Kong record: request headers, query arguments, the URI and
its path parameters, body keys (nested too), message text (as JSON, as Python's repr, as a
header line, as ``name=value``), error messages (text, repr'd dicts, dict-valued), stream
events (whole and split across events), and values that are not JSON at all. What leaves: the
trace on the traces topic, the OTLP and legacy requests, the dead letters (value and reason)
and the log lines.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import orjson
import pytest

from pipeline.delivery.deadletter import DeadLetter, dead_letter_headers, letter_value
from pipeline.enrich.options import EnrichOptions
from pipeline.enrich.privacy import QUERY_ONLY_NAMES, SECRET_NAMES, SECRET_VALUES
from pipeline.enrich.stage import KafkaValue, Rejected, StageConfig, Traced, run_stage
from pipeline.logs import JsonFormatter, TextFormatter
from pipeline.sinks.legacy import encode_batch
from pipeline.sinks.otlp import encode_request_bytes
from pipeline.trace import Trace
from tests.factories import kong_record

NAMES = [(entry.example, f"plantedname{i}Zq9Xv7Lm3Np5Wk") for i, entry in enumerate(SECRET_NAMES)]
QUERY_NAMES = [
    (entry.example, f"plantedquery{i}Zq9Xv7Lm3Np5Wk") for i, entry in enumerate(QUERY_ONLY_NAMES)
]
VALUES = [entry.example for entry in SECRET_VALUES]


def _chat(index: int, messages: list[dict[str, Any]], **body: Any) -> dict[str, Any]:
    record = kong_record(index)
    request = json.loads(record["request"]["body"])
    request["messages"] = messages
    request.update(body)
    record["request"]["body"] = json.dumps(request)
    return record


def _records() -> list[dict[str, Any]]:
    """Kong records with every secret in every place it can sit."""
    records: list[dict[str, Any]] = []
    pairs = {name: value for name, value in NAMES}
    query = {**pairs, **dict(QUERY_NAMES)}
    text_forms = [
        json.dumps(pairs),  # JSON text
        repr(pairs),  # Python's repr
        "\n".join(f"{name}: {value}" for name, value in NAMES if "-" in name),  # header lines
        "&".join(f"{name}={value}" for name, value in query.items()),  # form / query text
        " ".join(VALUES),  # bare credentials in prose
    ]
    # headers, query arguments, the URI and its path parameters, body keys
    headers = {name: value for name, value in NAMES}
    headers["x-notes"] = " ".join(VALUES)
    uri = "/v1/chat/completions;" + ";".join(f"{n}={v}" for n, v in query.items())
    uri += "?" + "&".join(f"{n}={v}" for n, v in query.items())
    record = _chat(1, [{"role": "user", "content": "hello"}], metadata={**pairs, "nested": pairs})
    record["request"]["headers"].update(headers)
    record["request"]["querystring"] = query
    record["request"]["uri"] = uri
    record["request"]["url"] = "https://gateway.example.com" + uri
    records.append(record)
    # message text, in every representation
    for index, text in enumerate(text_forms):
        records.append(_chat(10 + index, [{"role": "user", "content": text}]))
    # error messages: text, a repr'd dict, dict-valued, an HTML page
    for index, error in enumerate(
        [
            {"error": {"message": f"bad request {pairs!r}"}},
            {"error": {"message": pairs}},
            {"error": " ".join(VALUES)},
        ]
    ):
        record = _chat(20 + index, [{"role": "user", "content": "hi"}])
        record["response"]["status"] = 400
        record["response"]["body"] = json.dumps(error)
        records.append(record)
    page = _chat(25, [{"role": "user", "content": "hi"}])
    page["response"]["status"] = 502
    page["response"]["body"] = "<html><title>" + " ".join(VALUES) + "</title></html>"
    records.append(page)
    # a stream whose answer holds the credentials, whole and split across two events
    for index, split in enumerate((False, True)):
        record = _chat(30 + index, [{"role": "user", "content": "hi"}], stream=True)
        events = []
        for value in VALUES:
            parts = [value[: len(value) // 2], value[len(value) // 2 :]] if split else [value]
            events += [{"choices": [{"delta": {"content": part}}]} for part in parts]
        record["response"]["body"] = "".join(f"data: {json.dumps(e)}\n\n" for e in events)
        record["response"]["body"] += "data: [DONE]\n\n"
        records.append(record)
    return records


def _dead_letter_records() -> list[bytes]:
    """Values that become dead letters: no start time (enrichment fails), and not JSON."""
    failing = [orjson.dumps({**record, "started_at": None}) for record in _records()]
    not_json = (
        "Authorization: Bearer "
        + VALUES[0]
        + "\n"
        + "\n".join(f"{n}: {v}" for n, v in NAMES if "-" in n)
    ).encode() + b"\n{broken"
    return [*failing, not_json]


PLANTED = [value for _, value in NAMES] + [value for _, value in QUERY_NAMES] + VALUES


def _leaks(data: bytes, where: str) -> list[str]:
    found = []
    for value in PLANTED:
        # a credential split in a stream leaves as its halves: neither may leave either
        halves = (value[: len(value) // 2], value[len(value) // 2 :]) if value in VALUES else ()
        for piece in (value, *halves):
            if len(piece) >= 12 and piece.encode() in data:
                found.append(f"{where}: {piece[:30]}")
    return found


def test_no_planted_credential_leaves_in_a_trace_or_a_request() -> None:
    config = StageConfig(options=EnrichOptions(), traces_topic="ai-traces")
    values = [orjson.dumps(record) for record in _records()]
    outcomes = run_stage([KafkaValue(v, "kong", 0, i) for i, v in enumerate(values)], config)
    assert all(isinstance(o, Traced) for o in outcomes), [
        o.reason for o in outcomes if isinstance(o, Rejected)
    ]
    traces = [Trace.from_json(o.value) for o in outcomes if isinstance(o, Traced)]
    leaks: list[str] = []
    for outcome in outcomes:
        assert isinstance(outcome, Traced)
        leaks += _leaks(outcome.value, "traces topic")
    leaks += _leaks(encode_request_bytes(traces), "OTLP request")
    leaks += _leaks(orjson.dumps(encode_batch(traces)), "legacy batch")
    assert leaks == []


def test_no_planted_credential_leaves_in_a_dead_letter() -> None:
    config = StageConfig(options=EnrichOptions(), traces_topic="ai-traces")
    values = _dead_letter_records()
    outcomes = run_stage([KafkaValue(v, "kong", 0, i) for i, v in enumerate(values)], config)
    assert all(isinstance(o, Rejected) for o in outcomes)
    leaks: list[str] = []
    for outcome, value in zip(outcomes, values, strict=True):
        assert isinstance(outcome, Rejected)
        leaks += _leaks(letter_value(value, 1_000_000), "dead letter value")
        letter = DeadLetter(stage="enrich", reason=outcome.reason, value=value)
        for _, header in dead_letter_headers(letter):
            leaks += _leaks(header, "dead letter header")
    assert leaks == []


@pytest.mark.parametrize("formatter", [JsonFormatter(), TextFormatter()], ids=["json", "text"])
def test_no_planted_credential_leaves_in_a_log_line(formatter: logging.Formatter) -> None:
    """Whatever a log call is given (message, arguments, extra fields, an exception)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    log = logging.getLogger("test.secrets")
    log.addHandler(handler)
    log.propagate = False
    try:
        for text in [json.dumps(dict(NAMES)), repr(dict(NAMES)), " ".join(VALUES)]:
            log.warning("failed: %s", text, extra={"detail": text})
            try:
                raise ValueError(text)
            except ValueError:
                log.exception("boom")
    finally:
        log.removeHandler(handler)
    assert _leaks(stream.getvalue().encode(), "log") == []
