"""``kong-litefuse transform``: Kong records → Litefuse ingestion events, offline.

Input is one JSON document (object or array) or one JSON value per line. Output is one JSON
line per event: Langfuse batch events (``trace-create`` + ``generation-create``) or, with
``otlp-json``, the OTLP JSON export request the sink would send for each trace.
"""

from __future__ import annotations

from typing import Literal, TextIO

import orjson
from google.protobuf import json_format

from pipeline.app import enrich_options
from pipeline.enrich import Skipped, enrich
from pipeline.kong import RecordError, parse_records
from pipeline.settings import Settings
from pipeline.sinks.legacy import encode_events
from pipeline.sinks.otlp import encode_request
from pipeline.trace import SourceRef


def split_input(data: bytes) -> list[tuple[int, bytes]]:
    """(line number, value) pairs: the whole input if it is one JSON document, else per line."""
    stripped = data.strip()
    if not stripped:
        return []
    try:
        orjson.loads(stripped)
        return [(1, stripped)]
    except orjson.JSONDecodeError:
        return [
            (number, line.strip())
            for number, line in enumerate(data.splitlines(), start=1)
            if line.strip()
        ]


def run_transform(
    data: bytes,
    settings: Settings,
    output_format: Literal["langfuse", "otlp-json"],
    out: TextIO,
    err: TextIO,
) -> int:
    """Write events to ``out``; return how many inputs failed (each reported on ``err``)."""
    options = enrich_options(settings)
    failures = 0
    for line, value in split_input(data):
        try:
            records = parse_records(value)
        except RecordError as exc:
            failures += 1
            err.write(f"line {line}: {exc}\n")
            continue
        for index, record in enumerate(records):
            try:
                result = enrich(record, options, SourceRef(index=index), content=value)
            except RecordError as exc:
                failures += 1
                err.write(f"line {line} record {index}: {exc}\n")
                continue
            if isinstance(result, Skipped):
                continue
            if output_format == "langfuse":
                for event in encode_events(result):
                    out.write(orjson.dumps(event).decode() + "\n")
            else:
                message = json_format.MessageToDict(encode_request([result]))
                out.write(orjson.dumps(message).decode() + "\n")
    return failures
