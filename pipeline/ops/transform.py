"""``kong-litefuse transform``: Kong records → Litefuse ingestion events, offline.

Input is one JSON document (object or array) or one JSON value per line. Output is one JSON
line per event: Langfuse batch events (``trace-create`` + ``generation-create``) or, with
``otlp-json``, the OTLP JSON export request the sink would send for each trace. Same settings,
same enrichment and same deterministic ids as the worker, so it doubles as a dry run.

Every Langfuse event is checked against the rules Langfuse's own pydantic models do not enforce
(:func:`check_event`); a violation is reported like a malformed record.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal, TextIO

import orjson

from pipeline.enrich import Skipped, enrich
from pipeline.enrich.stage import enrich_options
from pipeline.kong import RecordError, parse_records
from pipeline.settings import Settings
from pipeline.sinks.legacy import encode_events
from pipeline.sinks.otlp import request_json
from pipeline.trace import SourceRef

_ENVIRONMENT = re.compile(r"^(?!langfuse)[a-z0-9-_]+$")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")
_TIME_FIELDS = ("timestamp", "startTime", "endTime", "completionStartTime")


def _iso(value: Any) -> bool:
    if not isinstance(value, str) or not _ISO.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def check_event(event: dict[str, Any]) -> list[str]:
    """What Litefuse's server rejects or silently drops but Langfuse's models accept.

    ISO-8601 timestamps with a zone, ``body.id`` present (a trace without one is acknowledged
    and never stored), the environment pattern, non-negative integer usage, non-negative cost.
    """
    problems: list[str] = []
    if not isinstance(event.get("id"), str) or not 1 <= len(event["id"]) <= 800:
        problems.append("event id must be 1-800 characters")
    if not _iso(event.get("timestamp")):
        problems.append("event timestamp is not ISO-8601 with a zone")
    body = event.get("body")
    if not isinstance(body, dict):
        return [*problems, "body is not an object"]
    if not isinstance(body.get("id"), str) or not body["id"]:
        problems.append("body.id is missing")
    for name in _TIME_FIELDS:
        if name in body and not _iso(body[name]):
            problems.append(f"body.{name} is not ISO-8601 with a zone")
    environment = body.get("environment")
    if environment is not None and (
        not isinstance(environment, str)
        or len(environment) > 40
        or not _ENVIRONMENT.match(environment)
    ):
        problems.append(f"body.environment {environment!r} breaks ^(?!langfuse)[a-z0-9-_]+$")
    for key, value in (body.get("usageDetails") or {}).items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"usageDetails.{key} is not a non-negative integer: {value!r}")
    for key, value in (body.get("costDetails") or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            problems.append(f"costDetails.{key} is not a non-negative number: {value!r}")
    return problems


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
                    problems = check_event(event)
                    if problems:
                        failures += 1
                        err.write(f"line {line} record {index}: {'; '.join(problems)}\n")
                        continue
                    out.write(orjson.dumps(event).decode() + "\n")
            else:
                out.write(orjson.dumps(request_json([result])).decode() + "\n")
    return failures
