"""Prints traces as JSON lines: the default when no Litefuse is configured."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from pipeline import metrics
from pipeline.sinks.base import SinkError, WriteResult
from pipeline.trace import Trace


class ConsoleSink:
    """Reports like the Litefuse sink: batches, traces and bytes per sink, and
    ``kong_litefuse_sink_up`` (1 after a write, 0 when the stream refused one)."""

    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def write(self, traces: Sequence[Trace]) -> WriteResult:
        if not traces:
            return WriteResult()
        stream = self._stream or sys.stdout
        data = b"".join(trace.to_json() + b"\n" for trace in traces)
        try:
            stream.write(data.decode())
            stream.flush()
        except (OSError, ValueError) as exc:  # a closed pipe or file: nothing was delivered
            metrics.sink_up.set(0)
            raise SinkError(f"console: cannot write to the output: {exc}") from None
        metrics.sink_batches.labels(self.name).inc()
        metrics.sink_events.labels(self.name).inc(len(traces))
        metrics.sink_bytes.labels(self.name).inc(len(data))
        metrics.sink_up.set(1)
        return WriteResult(accepted_ids=[t.key for t in traces], requests=1, bytes_sent=len(data))

    async def aclose(self) -> None:
        return None
