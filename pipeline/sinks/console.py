"""Prints traces as JSON lines: the default when no Litefuse is configured."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from pipeline.sinks.base import WriteResult
from pipeline.trace import Trace


class ConsoleSink:
    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def write(self, traces: Sequence[Trace]) -> WriteResult:
        stream = self._stream or sys.stdout
        data = b"".join(trace.to_json() + b"\n" for trace in traces)
        stream.write(data.decode())
        stream.flush()
        return WriteResult(accepted_ids=[t.key for t in traces], requests=1, bytes_sent=len(data))

    async def aclose(self) -> None:
        return None
