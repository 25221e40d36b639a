"""The console sink reports like the Litefuse sink, and the de-duplication gauge follows the
window as it changes (not only the worker's minutely sweep)."""

from __future__ import annotations

import asyncio
import gc
import io
from typing import Any

import pytest

from pipeline import metrics
from pipeline.delivery import dedup
from pipeline.delivery.dedup import DedupWindow
from pipeline.sinks.base import SinkError
from pipeline.sinks.console import ConsoleSink
from tests.factories import trace


def _sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_console_sink_reports_like_the_litefuse_sink() -> None:
    stream = io.StringIO()
    sink = ConsoleSink(stream)
    metrics.sink_up.set(0)
    batches = _sample("kong_litefuse_sink_batches_total", sink="console")
    traces = _sample("kong_litefuse_sink_traces_total", sink="console")
    sent = _sample("kong_litefuse_sink_bytes_total", sink="console")
    result = asyncio.run(sink.write([trace(0), trace(1)]))
    assert result.accepted == 2
    assert _sample("kong_litefuse_sink_up") == 1
    assert _sample("kong_litefuse_sink_batches_total", sink="console") == batches + 1
    assert _sample("kong_litefuse_sink_traces_total", sink="console") == traces + 2
    assert _sample("kong_litefuse_sink_bytes_total", sink="console") == sent + len(
        stream.getvalue().encode()
    )
    stream.close()  # the output went away: not delivered, and the gauge says so
    with pytest.raises(SinkError):
        asyncio.run(sink.write([trace(2)]))
    assert _sample("kong_litefuse_sink_up") == 0


class Table:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def send_changelog(self, partition: int | None, key: str, value: Any) -> None:
        return None


def test_the_dedup_gauge_follows_marks_sweeps_and_rebuilds() -> None:
    def gauge() -> float:
        return _sample("kong_litefuse_dedup_window_entries")

    gc.collect()  # windows of earlier tests, dead but in reference cycles, would leave later
    first, second = DedupWindow(Table(), 10), DedupWindow(Table(), 10)
    # what other windows alive in this process hold (the gauge may still show dead ones)
    baseline = sum(window._reported for window in dedup._WINDOWS)
    first.mark([("a" * 32, 0), ("b" * 32, 1)], now=100.0)
    assert gauge() == baseline + 2
    second.mark([("c" * 32, 0)], now=105.0)
    assert gauge() == baseline + 3
    assert first.sweep(now=111.0) == 2  # expired
    assert gauge() == baseline + 1
    recovered = Table()  # a restart: the changelog fills the table behind the window's back
    recovered.data["batch:x:2"] = [200.0, 0, ["d" * 32, "e" * 32]]
    third = DedupWindow(recovered, 60)
    assert third.seen("d" * 32, now=201.0)
    assert gauge() == baseline + 3
    bounded = DedupWindow(Table(), 3600, max_traces=2)
    bounded.mark([(f"{i:032}", 0) for i in range(3)], now=1.0)
    assert len(bounded) <= 2 and gauge() == baseline + 3 + len(bounded)
