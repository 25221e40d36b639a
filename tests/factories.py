"""Realistic records and traces in bulk, derived from the bundled examples."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from msgspec.structs import replace

from pipeline.enrich import EnrichOptions, Skipped, enrich
from pipeline.kong import parse_records
from pipeline.trace import Trace
from tests.conftest import EXAMPLES

_CHAT = json.loads((EXAMPLES / "01-openai-chat.json").read_text())


def kong_record(index: int, **overrides: Any) -> dict[str, Any]:
    """The OpenAI chat example with its own request id and start time."""
    record = copy.deepcopy(_CHAT)
    record["request"]["id"] = uuid.UUID(int=(0xC0FFEE << 96) + index).hex
    record["started_at"] = _CHAT["started_at"] + index
    record.update(overrides)
    return record


def with_changes(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``record`` with ``request__size=value``-style changes made in place (missing parent
    objects created), returned for use in one expression."""
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = record
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    return record


def kong_values(count: int, start: int = 0) -> list[bytes]:
    return [json.dumps(kong_record(start + i)).encode() for i in range(count)]


def trace(index: int, **changes: Any) -> Trace:
    record = parse_records(json.dumps(kong_record(index)).encode())[0]
    result = enrich(record, EnrichOptions())
    assert not isinstance(result, Skipped)
    return replace(result, **changes) if changes else result
