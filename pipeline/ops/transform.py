"""``kong-litefuse transform``: Kong records → Litefuse ingestion events, offline.

Input is files, directories (their ``*.json``, ``*.jsonl`` and ``*.ndjson`` files, recursively,
in sorted order) or ``-`` for stdin, each a stream of JSON values: one document (an object or an
array of them), one value per line, or values one after another, pretty-printed or not. Output
is one JSON line per event: Langfuse batch events (``trace-create`` + ``generation-create``) or,
with ``otlp-json``, the OTLP JSON export request the sink would send for each trace. Same
settings, same enrichment, same size caps and same deterministic ids as the worker, so it
doubles as a dry run.

Every Langfuse event is checked against the rules Langfuse's own pydantic models do not enforce
(:func:`check_event`); a violation is reported like a malformed record.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, TextIO

import orjson

from pipeline.enrich import EnrichOptions, Skipped, enrich
from pipeline.enrich.stage import KAFKA_FRAMING_BYTES, enrich_options
from pipeline.kong import RecordError, parse_records
from pipeline.settings import Settings
from pipeline.sinks.batching import fit_trace
from pipeline.sinks.legacy import encode_events
from pipeline.sinks.otlp import encode_spans, request_json
from pipeline.terminal import UserError
from pipeline.trace import SourceRef, Trace

SUFFIXES = (".json", ".jsonl", ".ndjson")
"""What is read of a directory (any file named on the command line is read)."""


class InputError(UserError):
    """An input file or directory that cannot be read; the message names it."""


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


_BLANK = re.compile(r"[ \t\r\n]*")
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_DECODER = json.JSONDecoder()


def _matching_close(text: str, start: int) -> int | None:
    """The end of the bracketed value opening at ``start`` (strings skipped), None if it never
    closes: where a broken pretty-printed document ends, so it is one error, not one per line."""
    depth = 0
    for token in _TOKENS.finditer(text, start):
        first = token.group()[0]
        if first in "[{":
            depth += 1
        elif first in "]}":
            depth -= 1
            if depth == 0:
                return token.end()
    return None


def iter_values(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(line number, value) of each JSON value of a stream: one document, one value per line,
    or values one after another (concatenated, pretty-printed), read with a raw decoder.

    Text that is not JSON is given back a line at a time (its parser says why); a bracketed
    value that does not parse is given back whole, up to its closing bracket.
    """
    whole = data.strip()
    if not whole:
        return
    try:  # the common case, one document: parsed once more by the caller, by orjson
        orjson.loads(whole)
    except orjson.JSONDecodeError:
        pass
    else:
        yield 1 + data[: len(data) - len(data.lstrip())].count(b"\n"), whole
        return
    text = data.decode("utf-8", "surrogateescape")  # bytes come back exactly as they were
    position, line = 0, 1
    while True:
        blank = _BLANK.match(text, position)
        end = blank.end() if blank else position
        line += text.count("\n", position, end)
        position = end
        if position >= len(text):
            return
        try:
            _, after = _DECODER.raw_decode(text, position)
        except (ValueError, RecursionError):
            after = -1
        if after < 0 and text[position] in "[{":
            after = _matching_close(text, position) or -1
        if after < 0:  # not JSON here: this line, for the parser to say why
            newline = text.find("\n", position)
            after = len(text) if newline < 0 else newline
        yield line, text[position:after].encode("utf-8", "surrogateescape")
        line += text.count("\n", position, after)
        position = after


def split_input(data: bytes) -> list[tuple[int, bytes]]:
    """(line number, value) pairs of :func:`iter_values`."""
    return list(iter_values(data))


def input_paths(arguments: Sequence[str]) -> list[str]:
    """The files to read, in order: files as given, directories expanded (their
    ``*.json``/``*.jsonl``/``*.ndjson``, recursively, sorted), ``-`` for stdin.

    Every argument is checked before anything is read, so a typo prints nothing but the error.
    """
    paths: list[str] = []
    for argument in arguments or ["-"]:
        if argument == "-":
            paths.append(argument)
            continue
        path = Path(argument)
        if path.is_dir():
            found = sorted(
                str(p) for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()
            )
            if not found:
                raise InputError(
                    f"{argument}: no {', '.join('*' + s for s in SUFFIXES)} files in this "
                    "directory (transform's FILES argument)"
                )
            paths.extend(found)
        elif not path.exists():
            raise InputError(f"{argument}: no such file or directory (transform's FILES argument)")
        elif not os.access(path, os.R_OK):
            raise InputError(f"{argument}: permission denied (transform's FILES argument)")
        else:
            paths.append(argument)
    return paths


def read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise InputError(f"{path}: {reason} (transform's FILES argument)") from None


@dataclass(slots=True)
class TransformSummary:
    values: int = 0
    """JSON values read (each a record or an array of records), unreadable ones included."""
    records: int = 0
    """Kong records found in them."""
    failures: int = 0
    """Values and records rejected, each reported with its reason."""


def _sink_size(output_format: Literal["langfuse", "otlp-json"]) -> Callable[[Trace], int]:
    """A trace's size as the sink measures it against SINK_MAX_EVENT_BYTES: its JSON events
    (legacy, what ``langfuse`` prints) or its OTLP spans."""
    if output_format == "langfuse":
        return lambda trace: len(orjson.dumps(encode_events(trace))) + 2
    return lambda trace: len(encode_spans(trace))


class Transformer:
    """Kong records → events on ``out``, rejections (one line each, with the reason) on ``err``.

    Traces are capped as the worker caps them: under ``KAFKA_MAX_MESSAGE_BYTES`` less the
    record framing by the enrich stage, then under ``SINK_MAX_EVENT_BYTES`` by the sink, both
    with :func:`~pipeline.sinks.batching.fit_trace` (largest fields replaced by a marker).
    """

    def __init__(
        self,
        settings: Settings,
        output_format: Literal["langfuse", "otlp-json"],
        out: TextIO,
        err: TextIO,
        options: EnrichOptions | None = None,
    ) -> None:
        self.options = options or enrich_options(settings)
        self.output_format = output_format
        self.out, self.err = out, err
        self.max_record_bytes = settings.kafka_max_message_bytes - KAFKA_FRAMING_BYTES
        self.max_event_bytes = settings.sink_max_event_bytes
        self.sink_size = _sink_size(output_format)
        self.summary = TransformSummary()

    def _reject(self, where: str, reason: str) -> None:
        self.summary.failures += 1
        self.err.write(f"{where}: {reason}\n")

    def _fit(self, trace: Trace) -> Trace:
        """The trace as the worker would deliver it (RecordError as the worker raises it)."""
        if len(trace.to_json()) > self.max_record_bytes:
            trace = fit_trace(trace, lambda t: len(t.to_json()), self.max_record_bytes)
            size = len(trace.to_json())
            if size > self.max_record_bytes:
                raise RecordError(f"trace too large for Kafka even truncated: {size} bytes")
        return fit_trace(trace, self.sink_size, self.max_event_bytes)

    def feed(self, data: bytes, source: str | None = None) -> None:
        """Transform one input (``source``: its name in the messages; None for a lone stdin)."""
        prefix = f"{source}: " if source else ""
        for line, value in iter_values(data):
            self.summary.values += 1
            try:
                records = parse_records(value)
            except RecordError as exc:
                self._reject(f"{prefix}line {line}", str(exc))
                continue
            self.summary.records += len(records)
            for index, record in enumerate(records):
                where = f"{prefix}line {line} record {index}"
                try:
                    result = enrich(record, self.options, SourceRef(index=index), content=value)
                    if isinstance(result, Skipped):
                        continue
                    trace = self._fit(result)
                except RecordError as exc:
                    self._reject(where, str(exc))
                    continue
                self._write(trace, where)

    def _write(self, trace: Trace, where: str) -> None:
        if self.output_format != "langfuse":
            self.out.write(orjson.dumps(request_json([trace])).decode() + "\n")
            return
        for event in encode_events(trace):
            problems = check_event(event)
            if problems:
                self._reject(where, "; ".join(problems))
                continue
            self.out.write(orjson.dumps(event).decode() + "\n")


def run_transform(
    data: bytes,
    settings: Settings,
    output_format: Literal["langfuse", "otlp-json"],
    out: TextIO,
    err: TextIO,
) -> int:
    """Write events to ``out``; return how many inputs failed (each reported on ``err``)."""
    transformer = Transformer(settings, output_format, out, err)
    transformer.feed(data)
    return transformer.summary.failures


def transform_paths(
    arguments: Sequence[str],
    settings: Settings,
    output_format: Literal["langfuse", "otlp-json"],
    out: TextIO,
    err: TextIO,
) -> TransformSummary:
    """Transform files, directories and stdin (``-``) in order; see :func:`input_paths`."""
    paths = input_paths(arguments)
    transformer = Transformer(settings, output_format, out, err)
    named = len(paths) > 1 or paths != ["-"]
    for path in paths:
        source = ("<stdin>" if path == "-" else path) if named else None
        transformer.feed(read_input(path), source)
    return transformer.summary
