"""``kong-litefuse bench e2e`` against the test broker: every phase runs and its figures hold."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pipeline.cli import app


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
    assert figures["ratio_to_ceiling"] == pytest.approx(
        figures["records_per_s"] / figures["ceiling_records_per_s"]
    )
    assert 0 < figures["latency_p50_ms"] <= figures["latency_p99_ms"]
    assert figures["requests"] >= 1 and figures["bytes_per_trace"] > 0
    assert figures["peak_rss_mb"] > 50 and figures["outage_peak_rss_mb"] > 50
    assert figures["embedded_broker"] is False and figures["workers"] == 1
