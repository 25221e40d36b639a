"""Keep every request under Litefuse's size limits.

A batch is split so its encoded size stays under ``max_batch_bytes`` (2.5 MB by default, like
Langfuse's SDKs; the server refuses 4.5 MB), and a single trace over ``max_event_bytes`` has its
largest fields replaced by a truncation marker, field by field, until it fits.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson

from pipeline.trace import Trace

DEFAULT_MAX_BATCH_BYTES = 2_500_000
DEFAULT_MAX_EVENT_BYTES = 1_000_000
TRUNCATION_MARKER = "[truncated by kong-litefuse: {size} bytes]"

# Fields that may hold large payloads, by path from the trace.
_LARGE_FIELDS: tuple[tuple[str, ...], ...] = (
    ("generation", "input"),
    ("generation", "output"),
    ("input",),
    ("output",),
    ("metadata",),
    ("generation", "metadata"),
)


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        obj = getattr(obj, part)
    return obj


def _json_size(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value.encode())
    return len(orjson.dumps(value, default=str))


def fit_trace(trace: Trace, size_of: Callable[[Trace], int], max_event_bytes: int) -> Trace:
    """The trace itself if it fits, else a copy with its largest fields truncated."""
    size = size_of(trace)
    if size <= max_event_bytes:
        return trace
    data = copy.deepcopy(trace)
    # Largest first: truncating the biggest field first keeps most of the rest intact.
    fields = sorted(_LARGE_FIELDS, key=lambda p: _json_size(_get(data, p)), reverse=True)
    for path in fields:
        value = _get(data, path)
        value_size = _json_size(value)
        if value_size == 0:
            continue
        marker = TRUNCATION_MARKER.format(size=value_size)
        owner = _get(data, path[:-1]) if len(path) > 1 else data
        if path[-1] == "metadata":
            kept = {
                k: v for k, v in value.items() if isinstance(v, (int, float, bool)) or v is None
            }
            setattr(owner, path[-1], {**kept, "truncated": marker})
        else:
            setattr(owner, path[-1], marker)
        size = size_of(data)
        if size <= max_event_bytes:
            break
    return data


def split_by_size(
    items: Sequence[Trace], size_of: Callable[[Trace], int], max_batch_bytes: int
) -> Iterator[list[Trace]]:
    """Greedy chunks whose summed encoded sizes stay under ``max_batch_bytes``."""
    chunk: list[Trace] = []
    total = 0
    for item in items:
        size = size_of(item)
        if chunk and total + size > max_batch_bytes:
            yield chunk
            chunk, total = [], 0
        chunk.append(item)
        total += size
    if chunk:
        yield chunk
