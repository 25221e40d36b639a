"""Which record-batch events the sink agent may acknowledge, and when.

A sink batch can span events and an event can span sink batches, so an event is acknowledged
once every trace it brought is settled, in this order (a crash between two steps repeats the
earlier ones, never skips a later one):

1. Litefuse accepted the traces (or rejected them for good, or they were duplicates);
2. the de-duplication window's entries for the accepted ones are written (its changelog);
3. the dead letters of the rejected ones are produced and acknowledged by Kafka;
4. then the event is acknowledged, and faust commits its offset at the next commit.
"""

from __future__ import annotations

from collections.abc import Iterable

from faust.types import EventT


class Pending:
    """One event and how many of its traces are not settled yet."""

    __slots__ = ("event", "remaining")

    def __init__(self, event: EventT[bytes], remaining: int) -> None:
        self.event = event
        self.remaining = remaining


class PendingAcks:
    """Counts, per event, the traces still being delivered."""

    def add(self, event: EventT[bytes], traces: int) -> Pending:
        """An event whose ``traces`` go to the sink: the handle each trace carries."""
        return Pending(event, traces)

    def settle(self, handles: Iterable[Pending]) -> list[EventT[bytes]]:
        """One trace settled per handle: the events none of whose traces is left (step 4)."""
        done = []
        for handle in handles:
            handle.remaining -= 1
            if handle.remaining == 0:
                done.append(handle.event)
        return done
