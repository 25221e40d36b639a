"""The sink contract the sink agent relies on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pipeline.trace import Trace


@dataclass(slots=True)
class Rejected:
    """A trace the destination refused for good (a 4xx on that event): it is dead-lettered."""

    trace: Trace
    status: int
    reason: str


@dataclass(slots=True)
class WriteResult:
    accepted_ids: list[str] = field(default_factory=list)
    """``Trace.key`` of each trace accepted (for a trace of its own, its id)."""
    rejected: list[Rejected] = field(default_factory=list)
    requests: int = 0
    bytes_sent: int = 0

    @property
    def accepted(self) -> int:
        return len(self.accepted_ids)


class SinkError(RuntimeError):
    """Part of the batch could not be delivered.

    ``result`` says what was accepted (and rejected) before the failure, so the caller
    remembers those and retries only the rest.
    """

    def __init__(self, message: str, result: WriteResult | None = None) -> None:
        super().__init__(message)
        self.result = result or WriteResult()


class SinkAuthError(SinkError):
    """401/403: keys wrong or ingestion suspended. Retrying cannot help until an operator acts."""


class Sink(Protocol):
    name: str

    async def write(self, traces: Sequence[Trace]) -> WriteResult:
        """Deliver the whole batch, or raise SinkError having delivered none for sure."""
        ...

    async def aclose(self) -> None: ...
