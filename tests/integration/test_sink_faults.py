"""The Litefuse sink and the deliverer against a real local HTTP receiver with injected faults."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

from pipeline.delivery.dedup import DedupWindow
from pipeline.delivery.deliverer import Deliverer
from pipeline.sinks import LitefuseSink, SinkAuthError, SinkError
from pipeline.sinks.batching import TRUNCATION_MARKER
from tests.factories import trace
from tests.receiver import PUBLIC_KEY, SECRET_KEY, Canned, LitefuseReceiver


def _sink(receiver: LitefuseReceiver, **options: object) -> LitefuseSink:
    defaults: dict[str, object] = {"backoff_base": 0.05, "backoff_cap": 0.2, "timeout": 2.0}
    defaults.update(options)
    return LitefuseSink(receiver.base_url, PUBLIC_KEY, SECRET_KEY, **defaults)  # type: ignore[arg-type]


class _Table:
    """The faust Table surface DedupWindow uses, over a plain dict (changelog recorded)."""

    def __init__(self) -> None:
        self.data: dict[str, object] = {}
        self.changelog: list[tuple[int | None, str, object]] = []

    def send_changelog(self, partition: int | None, key: str, value: object) -> None:
        self.changelog.append((partition, key, value))


def test_retry_after_is_honoured(receiver: LitefuseReceiver) -> None:
    receiver.canned.append(Canned(429, b'{"message":"rate limited"}', {"Retry-After": "1"}))
    result = asyncio.run(_sink(receiver).write([trace(1), trace(2)]))
    assert result.accepted == 2
    first, second = receiver.requests[0], receiver.requests[1]
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 1.0, "retried before Retry-After passed"


def test_503_burst_then_success(receiver: LitefuseReceiver) -> None:
    receiver.canned.extend(Canned(503) for _ in range(3))
    result = asyncio.run(_sink(receiver).write([trace(i) for i in range(5)]))
    assert [r.status for r in receiver.requests] == [503, 503, 503, 200]
    assert result.accepted == 5
    assert len(set(receiver.trace_ids())) == 5


def test_retries_exhausted_raise_with_nothing_accepted(receiver: LitefuseReceiver) -> None:
    receiver.canned.extend(Canned(502) for _ in range(10))
    with pytest.raises(SinkError) as info:
        asyncio.run(_sink(receiver, max_retries=2).write([trace(1)]))
    assert info.value.result.accepted == 0
    assert len(receiver.requests) == 3


def test_413_splits_the_batch(receiver: LitefuseReceiver) -> None:
    receiver.canned.append(Canned(413, b'{"message":"too large"}'))
    traces = [trace(i) for i in range(8)]
    result = asyncio.run(_sink(receiver).write(traces))
    assert [r.status for r in receiver.requests] == [413, 200, 200]
    assert result.accepted == 8
    assert sorted(receiver.trace_ids()) == sorted(t.id for t in traces)


def test_401_stops_at_once_and_names_the_keys(receiver: LitefuseReceiver) -> None:
    sink = LitefuseSink(receiver.base_url, PUBLIC_KEY, "sk-lf-wrong", backoff_base=0.01)
    with pytest.raises(SinkAuthError) as info:
        asyncio.run(sink.write([trace(1)]))
    assert len(receiver.requests) == 1
    assert "LANGFUSE_SECRET_KEY" in str(info.value)
    assert "sk-lf-wrong" not in str(info.value) and "sk-lf-wrong" not in repr(sink)


def test_legacy_400_unsupported_event_types_says_what_to_do(receiver: LitefuseReceiver) -> None:
    body = b'{"error":"UnsupportedEventTypes","message":"only score-create and sdk-log"}'
    receiver.canned.append(Canned(400, body))
    with pytest.raises(SinkError, match="LANGFUSE_INGESTION=otel"):
        asyncio.run(_sink(receiver, mode="legacy").write([trace(1)]))


def test_legacy_207_resends_only_5xx_and_rejects_4xx(receiver: LitefuseReceiver) -> None:
    traces = [trace(i) for i in range(4)]
    bad, flaky = traces[1].id, traces[2].id
    calls: list[list[str]] = []

    def respond(batch: list[dict[str, object]]) -> tuple[int, dict[str, object]]:
        ids = [str(e["id"]) for e in batch]
        calls.append(ids)
        errors = []
        for event_id in ids:
            if event_id.startswith(bad):
                errors.append({"id": event_id, "status": 400, "message": "invalid usage"})
            elif event_id.startswith(flaky) and len(calls) == 1:
                errors.append({"id": event_id, "status": 500, "message": "try again"})
        successes = [{"id": i, "status": 201} for i in ids if i not in {e["id"] for e in errors}]
        return 207, {"successes": successes, "errors": errors}

    receiver.legacy_responder = respond
    result = asyncio.run(_sink(receiver, mode="legacy").write(traces))
    assert len(calls) == 2
    assert {i.split("-")[0] for i in calls[1]} == {flaky}, "only the 5xx trace is resent"
    assert sorted(result.accepted_ids) == sorted(t.id for t in traces if t.id != bad)
    assert [(r.trace.id, r.status, r.reason) for r in result.rejected] == [
        (bad, 400, "invalid usage")
    ]


def test_batches_stay_under_the_byte_limit(receiver: LitefuseReceiver) -> None:
    big = "x" * 30_000
    traces = [trace(i, input=big) for i in range(20)]
    sink = _sink(receiver, max_batch_bytes=100_000)
    result = asyncio.run(sink.write(traces))
    assert result.accepted == 20
    assert len(receiver.requests) > 1
    assert all(r.size <= 100_000 for r in receiver.requests)


def test_oversized_trace_is_truncated_with_a_marker(receiver: LitefuseReceiver) -> None:
    huge = trace(1)
    huge.generation.output = {"content": "y" * 50_000}
    sink = _sink(receiver, max_event_bytes=20_000)
    asyncio.run(sink.write([huge]))
    assert receiver.requests[0].size <= 20_000
    generation = receiver.generation(huge.id)
    assert (generation.output or "").startswith(TRUNCATION_MARKER.split("{")[0])
    assert generation.model == "gpt-4o-mini-2024-07-18"


def test_deliverer_holds_the_batch_through_an_outage(receiver: LitefuseReceiver) -> None:
    traces = [(trace(i), i % 4) for i in range(10)]
    receiver.stop()
    table = _Table()
    deliverer = Deliverer(
        _sink(receiver, max_retries=1), DedupWindow(table, 3600), backoff_start=0.1, backoff_cap=0.3
    )
    restarter = threading.Timer(2.0, receiver.start)
    restarter.start()
    started = time.monotonic()
    report = asyncio.run(asyncio.wait_for(deliverer.deliver(traces), timeout=30))
    assert time.monotonic() - started >= 2.0
    assert len(report.accepted) == 10 and report.attempts > 1
    assert sorted(receiver.trace_ids()) == sorted(t.id for t, _ in traces)
    # accepted ids are remembered on the partition of their own record: one entry per
    # partition of the settled batch, not one changelog record per trace
    assert len(table.changelog) == 4
    assert {(p, i) for p, _, v in table.changelog for i in v[2]} == {(p, t.id) for t, p in traces}

    # the same traces again (a redelivery after a crash, or a replay): nothing is re-sent
    requests = len(receiver.requests)
    again = asyncio.run(deliverer.deliver(traces))
    assert again.duplicates == 10 and not again.accepted
    assert len(receiver.requests) == requests


def test_partial_progress_is_remembered_before_a_failure(receiver: LitefuseReceiver) -> None:
    traces = [(trace(i, input="z" * 40_000), None) for i in range(6)]
    # first chunk accepted, then the server fails the rest until retries run out
    receiver.canned.extend([Canned(200, b"{}")] + [Canned(503) for _ in range(3)])
    table = _Table()
    deliverer = Deliverer(
        _sink(receiver, max_batch_bytes=100_000, max_retries=2),
        DedupWindow(table, 3600),
        backoff_start=0.05,
    )
    report = asyncio.run(asyncio.wait_for(deliverer.deliver(traces), timeout=30))
    assert len(report.accepted) == 6
    sent_after_failure = receiver.raw_bodies[4:]
    first_chunk = {t.id for t, _ in traces[:2]}
    assert not any(bytes.fromhex(i) in body for i in first_chunk for body in sent_after_failure)


def test_window_expiry_and_sweep() -> None:
    table = _Table()
    window = DedupWindow(table, window_seconds=10)
    window.mark([("a" * 32, 1), ("b" * 32, 2)], now=100.0)
    assert window.seen("a" * 32, now=105.0)
    assert not window.seen("a" * 32, now=111.0)
    window.mark([("c" * 32, 3)], now=108.0)
    assert window.sweep(now=112.0) == 2
    assert list(table.data.values()) == [[108.0, 3, ["c" * 32]]]
    removed = {(p, k) for p, k, v in table.changelog if v is None}
    assert removed == {(1, f"batch:{'a' * 32}:1"), (2, f"batch:{'b' * 32}:1")}
    assert len(window) == 1 and not window.seen("a" * 32, now=112.0)
    assert json.dumps(next(iter(table.data.values()))) == f'[108.0, 3, ["{"c" * 32}"]]'


def test_window_is_bounded_by_size_oldest_first() -> None:
    table = _Table()
    window = DedupWindow(table, window_seconds=3600, max_traces=5)
    for batch in range(4):
        window.mark([(f"{batch}{i}".ljust(32, "0"), 0) for i in range(2)], now=100.0 + batch)
    assert len(window) <= 5
    assert not window.seen("00".ljust(32, "0"), now=110.0)  # the oldest batch went first
    assert window.seen("30".ljust(32, "0"), now=110.0)


def test_window_rebuilds_after_recovery_and_reads_old_entries() -> None:
    table = _Table()
    # what a restarted worker finds in its recovered table: a batch entry and a per-trace
    # entry written by an earlier version
    table.data["batch:x:2"] = [100.0, 0, ["a" * 32, "b" * 32]]
    table.data["c" * 32] = [100.0, 1]
    window = DedupWindow(table, window_seconds=60)
    assert window.seen("a" * 32, now=120.0) and window.seen("c" * 32, now=120.0)
    table.data["batch:y:1"] = [110.0, 2, ["d" * 32]]  # recovery adds more behind our back
    assert window.seen("d" * 32, now=120.0)
    assert not window.seen("e" * 32, now=120.0)
