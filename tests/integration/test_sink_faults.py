"""The Litefuse sink and the deliverer against a real local HTTP receiver with injected faults."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from confluent_kafka import Consumer, TopicPartition

from pipeline import metrics
from pipeline.bench.worker import WorkerProcess
from pipeline.delivery.dedup import DedupWindow
from pipeline.delivery.deliverer import Deliverer
from pipeline.kafka import publish
from pipeline.settings import load_settings
from pipeline.sinks import LitefuseSink, SinkAuthError, SinkError, build_sink
from pipeline.sinks.batching import TRUNCATION_MARKER
from pipeline.sinks.litefuse import SinkMisdirectedError
from tests.conftest import Names
from tests.factories import kong_values, trace
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
    result = asyncio.run(_sink(receiver, backoff_cap=5.0).write([trace(1), trace(2)]))
    assert result.accepted == 2
    first, second = receiver.requests[0], receiver.requests[1]
    assert first.status == 429 and second.status == 200
    assert second.at - first.at >= 1.0, "retried before Retry-After passed"


def _far_future() -> str:
    return format_datetime(datetime.now(UTC) + timedelta(days=3650), usegmt=True)


@pytest.mark.parametrize(
    "retry_after", ["inf", "1e9", "nan", "-5", "1000000000", "far-future-date"]
)
def test_a_huge_or_invalid_retry_after_waits_at_most_the_backoff_cap(
    receiver: LitefuseReceiver, retry_after: str
) -> None:
    value = _far_future() if retry_after == "far-future-date" else retry_after
    receiver.canned.append(Canned(429, b'{"message":"slow down"}', {"Retry-After": value}))
    sink = _sink(receiver, backoff_cap=0.3)
    result = asyncio.run(asyncio.wait_for(sink.write([trace(1)]), timeout=20))
    assert result.accepted == 1
    first, second = receiver.requests[0], receiver.requests[1]
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at < 0.3 + 0.5, f"waited {second.at - first.at:.1f}s"


def test_the_sink_gets_its_cap_from_sink_backoff_cap_seconds(
    receiver: LitefuseReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "LANGFUSE_BASE_URL": receiver.base_url,
        "LANGFUSE_PUBLIC_KEY": PUBLIC_KEY,
        "LANGFUSE_SECRET_KEY": SECRET_KEY,
        "SINK_BACKOFF_CAP_SECONDS": "0.4",
        "KONG_LITEFUSE_CONFIG": "",
    }.items():
        monkeypatch.setenv(name, value)
    sink = build_sink(load_settings())
    assert isinstance(sink, LitefuseSink) and sink.backoff_cap == 0.4
    receiver.canned.append(Canned(503, b"", {"Retry-After": "1000000000"}))
    result = asyncio.run(asyncio.wait_for(sink.write([trace(1)]), timeout=20))
    assert result.accepted == 1
    assert receiver.requests[1].at - receiver.requests[0].at < 0.4 + 0.5


def _counted(sink: LitefuseSink) -> float:
    return metrics.sink_events.labels(sink.name)._value.get()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_delivered_not_followed_and_names_the_setting(
    receiver: LitefuseReceiver, status: int
) -> None:
    with LitefuseReceiver() as elsewhere:  # where the redirect points: must get nothing
        location = f"{elsewhere.base_url}/api/public/otel/v1/traces"
        receiver.canned.append(Canned(status, b"", {"Location": location}))
        sink = _sink(receiver)
        before = _counted(sink)
        with pytest.raises(SinkMisdirectedError) as info:
            asyncio.run(sink.write([trace(1), trace(2)]))
        assert info.value.result.accepted == 0
        assert isinstance(info.value, SinkAuthError)  # held like an auth failure
        assert "LANGFUSE_BASE_URL" in str(info.value) and location in str(info.value)
        assert info.value.location == location
        assert len(receiver.requests) == 1, "retried in a loop"
        assert elsewhere.requests == [], "the redirect was followed: the keys went elsewhere"
        assert receiver.trace_ids() == [] and elsewhere.trace_ids() == []
        assert _counted(sink) == before
        assert metrics.sink_up._value.get() == 0


def test_the_sink_never_shows_credentials_of_its_url(receiver: LitefuseReceiver) -> None:
    url = f"http://url-user:url-password@127.0.0.1:{receiver.port}"
    receiver.canned.append(Canned(308, b"", {"Location": "https://elsewhere.example/"}))
    sink = LitefuseSink(url, PUBLIC_KEY, SECRET_KEY, backoff_base=0.01)
    with pytest.raises(SinkMisdirectedError) as info:
        asyncio.run(sink.write([trace(1)]))
    for shown in (repr(sink), str(info.value)):
        assert "url-password" not in shown and "url-user" not in shown
        assert f"127.0.0.1:{receiver.port}" in shown


def test_a_legacy_207_without_a_readable_body_is_resent_not_counted(
    receiver: LitefuseReceiver,
) -> None:
    receiver.canned.append(Canned(207, b"<html>proxy says hi</html>"))
    result = asyncio.run(_sink(receiver, mode="legacy").write([trace(1)]))
    assert [r.status for r in receiver.requests] == [207, 207]  # then the normal answer
    assert result.accepted == 1 and receiver.trace_ids() == [trace(1).id]


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


def _committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition of ``topic`` (-1001: nothing committed), read
    with a consumer of the same group that neither joins nor commits."""
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        found = reader.committed([TopicPartition(topic, p) for p in range(4)], timeout=10)
    finally:
        reader.close()
    return {tp.partition: tp.offset for tp in found}


def _all_committed(offsets: dict[int, int], count: int) -> bool:
    """Every record of a 4-partition topic holding ``count`` records is committed (the sum of
    the offsets: the embedded broker's high watermarks are imprecise, see the README). A
    partition the producer gave no record has nothing committed (-1001): it counts as 0."""
    return sum(max(o, 0) for o in offsets.values()) == count


def _until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


@pytest.mark.integration
def test_a_worker_redirected_by_litefuse_delivers_nothing_and_commits_nothing(
    kafka_bootstrap: str,
    names: Names,
    receiver: LitefuseReceiver,
    worker_env: dict[str, str],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    with LitefuseReceiver() as elsewhere:
        location = f"{elsewhere.base_url}/api/public/otel/v1/traces"
        receiver.canned.extend(Canned(307, b"", {"Location": location}) for _ in range(10_000))
        worker = start_worker({**worker_env, "SINK_BACKOFF_CAP_SECONDS": "1"})
        worker.wait_ready()
        count = 40
        publish(kafka_bootstrap, names.kong, kong_values(count))

        # the enrich side works and commits: every Kong record traced, its offsets committed
        assert _until(
            lambda: _all_committed(_committed(kafka_bootstrap, names.group, names.kong), count), 60
        ), (_committed(kafka_bootstrap, names.group, names.kong), worker.log()[-2000:])
        # ...and Litefuse has been asked (and redirected) several times since
        assert _until(lambda: len(receiver.requests) >= 3, 60), worker.log()[-2000:]

        assert all(r.status == 307 for r in receiver.requests)
        assert receiver.trace_ids() == []
        assert elsewhere.requests == [], "the redirect was followed: the keys went elsewhere"
        text = worker.metrics()
        assert "kong_litefuse_sink_up 0.0" in text
        assert not re.search(r"kong_litefuse_sink_traces_total\{[^}]*\} [1-9]", text), text
        # nothing of the traces topic is committed: the held batch is not acknowledged
        held = _committed(kafka_bootstrap, names.group, names.traces)
        assert all(offset < 0 for offset in held.values()), held
        errors = [
            line
            for line in worker.log().splitlines()
            if '"level":"ERROR"' in line and "LANGFUSE_BASE_URL" in line and location in line
        ]
        assert errors, worker.log()[-3000:]

        # the URL fixed (the server stops redirecting): the held traces go through, once each
        receiver.canned.clear()
        assert _until(lambda: len(set(receiver.trace_ids())) >= count, 60), worker.log()[-2000:]
        ids = receiver.trace_ids()
        assert len(ids) == len(set(ids)) == count
        assert _until(
            lambda: _all_committed(_committed(kafka_bootstrap, names.group, names.traces), count),
            60,
        ), _committed(kafka_bootstrap, names.group, names.traces)
        assert elsewhere.requests == []
