"""``kong-litefuse bench e2e`` against the test broker: every phase runs and its figures hold."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from typer.testing import CliRunner

from pipeline.bench.cli import e2e_targets
from pipeline.bench.e2e import E2EResult, _cpu_seconds, _Receiver, descendants, summary_rows
from pipeline.bench.receiver import OTLP_PATH
from pipeline.cli import app
from tests.conftest import still_running


def test_bench_e2e_reports_every_figure(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "e2e",
            "--records",
            "400",
            "--latency-seconds",
            "2",
            "--outage-seconds",
            "3",
            "--timeout",
            "120",
            "--ceiling-passes",
            "2",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    # the generated mix has non-AI noise and malformed records: not every record is a trace
    assert 0 < figures["traces_expected"] < figures["records"] == 400
    # three phases of records (backlog, half-rate, outage), all delivered exactly once
    assert figures["lost"] == 0 and figures["duplicates"] == 0
    assert figures["traces_received"] > figures["traces_expected"]
    assert figures["ceiling_records_per_s"] > 0 and figures["records_per_s"] > 0
    # the ceiling is the median of its passes
    assert len(figures["ceiling_samples"]) == 2 and min(figures["ceiling_samples"]) > 0
    assert figures["ceiling_records_per_s"] == pytest.approx(sum(figures["ceiling_samples"]) / 2)
    assert figures["ratio_to_ceiling"] == pytest.approx(
        figures["records_per_s"] / figures["ceiling_records_per_s"]
    )
    assert 0 < figures["latency_p50_ms"] <= figures["latency_p99_ms"]
    # the latencies behind p50 and p99 are kept (sorted, 0.1 ms steps) for the latency chart
    latencies = figures["latencies_ms"]
    assert 0 < len(latencies) <= figures["latency_records"] and latencies == sorted(latencies)
    assert latencies[0] <= figures["latency_p50_ms"] + 0.05
    assert figures["latency_p99_ms"] <= latencies[-1] + 0.05
    assert figures["benchmark"] == "e2e"
    assert figures["requests"] >= 1 and figures["bytes_per_trace"] > 0
    assert figures["peak_rss_mb"] > 50 and figures["outage_peak_rss_mb"] > 50
    # PSS counts shared pages once: sampled, it is above zero and under the summed RSS peak
    assert 30 < figures["peak_pss_mb"] <= figures["peak_rss_mb"]
    # CPU over the full load: the worker did the work; an external broker is not measured
    cpu = figures["cpu_seconds"]
    assert set(cpu) == {"workers", "helpers", "broker", "receiver", "harness"}
    assert cpu["workers"] > 0 and cpu["receiver"] >= 0 and cpu["broker"] == 0
    assert cpu["helpers"] < 0.2  # ENRICH_PROCESSES=0: only multiprocessing's tracker, if any
    assert cpu["workers"] <= 2 * figures["drain_seconds"] + 0.5  # two cores at most
    assert figures["worker_cpu_ms_per_record"] == pytest.approx(
        (cpu["workers"] + cpu["helpers"]) * 1000 / 400, abs=0.01
    )
    assert figures["worker_cpu_us_per_record"] == pytest.approx(
        figures["worker_cpu_ms_per_record"] * 1000
    )
    # what the worker's counterparts (here the receiver) took of the same cores
    assert figures["cores"] == len(os.sched_getaffinity(0))
    others = (cpu["broker"] + cpu["receiver"]) * 1e6 / 400
    assert figures["others_cpu_us_per_record"] == pytest.approx(others, abs=1)
    assert "worker_cpu_budget_us" not in figures  # the retired 10,000 records/s target
    assert 30 < figures["outage_peak_pss_mb"] <= figures["peak_rss_mb"]
    assert figures["embedded_broker"] is False and figures["workers"] == 1


def test_the_summary_shows_cpu_per_record_in_us() -> None:
    result = E2EResult(records=1000, traces_expected=900, partitions=4, embedded_broker=True)
    result.cores, result.others_cpu_us_per_record = 2, 118.4
    result.worker_cpu_ms_per_record = 0.3124
    rows = dict(summary_rows(result))
    assert rows["worker CPU per record (full load, worker + helpers)"] == "312 µs"
    assert rows["broker and receiver CPU per record (full load)"] == "118 µs (2 cores shared)"


def test_cpu_seconds_are_what_the_kernel_counts_for_the_process() -> None:
    busy_until = time.process_time() + 0.3
    while time.process_time() < busy_until:  # bounded: 0.3 s of this process's CPU
        pass
    times = os.times()
    assert _cpu_seconds([os.getpid()]) == pytest.approx(times.user + times.system, abs=0.05)
    no_such_pid = 2**22 + 1  # above any pid_max
    assert _cpu_seconds([no_such_pid]) == 0


def test_the_receiver_counts_without_listing_arrivals_when_asked() -> None:
    """The benchmark's polls take the light form; the full form still lists every arrival."""
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for trace_id in (b"\x01" * 16, b"\x02" * 16, b"\x01" * 16):
        spans.add(trace_id=trace_id, span_id=b"\x03" * 8, name="chat")
    receiver = _Receiver()
    try:
        body = gzip.compress(request.SerializeToString())
        answer = httpx.post(
            receiver.url + OTLP_PATH, content=body, headers={"Content-Encoding": "gzip"}
        )
        assert answer.status_code == 200
        light = receiver.stats(arrivals=False)
        full = receiver.stats()
    finally:
        receiver.stop()
    assert "arrivals" not in light
    assert light["traces"] == full["traces"] == 2 and light["requests"] == 1
    assert sorted(trace_id for trace_id, _ in full["arrivals"]) == ["01" * 16, "02" * 16]


def test_the_memory_target_counts_the_outage_too() -> None:
    result = E2EResult(records=1000, traces_expected=900, partitions=4, embedded_broker=True)
    result.peak_rss_mb, result.outage_peak_rss_mb = 250.0, 0.0  # no outage phase

    def memory_line() -> str:
        (line,) = [line for line in e2e_targets(result) if line.startswith("peak RSS")]
        return line

    assert memory_line().startswith("peak RSS ≤ 300 MB, outage included: yes")
    result.outage_peak_rss_mb = 320.0
    assert memory_line().startswith("peak RSS ≤ 300 MB, outage included: no")


def test_a_terminated_benchmark_leaves_no_process_behind(kafka_bootstrap: str) -> None:
    """SIGTERM (what ``timeout`` sends) stops the benchmark's worker and receiver with it."""
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}
    bench = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "bench", "e2e", "--records", "3000"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        children: list[int] = []
        while time.monotonic() < deadline and bench.poll() is None:
            children = descendants(bench.pid)
            if any(b"pipeline.cli\x00worker" in _cmdline(pid) for pid in children):
                break
            time.sleep(0.2)
        assert any(b"pipeline.cli\x00worker" in _cmdline(pid) for pid in children), children
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(90) == 128 + signal.SIGTERM
    finally:
        if bench.poll() is None:
            bench.kill()
    assert still_running(children, 30) == []


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
