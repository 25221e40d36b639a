"""``bench e2e --workers 1,2``: one run per value, one JSON line per run, charts of the sweep;
issue 18's targets as yes/no lines.

The runs are stand-ins here (no broker); tests/integration/test_bench_e2e.py runs the real one.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner

from pipeline.bench.cli import TIMES, _runs, e2e_targets
from pipeline.bench.e2e import E2EResult, summary_rows
from pipeline.cli import app


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace the benchmark run by one that records its arguments and returns figures."""
    made: list[dict[str, Any]] = []

    def run_e2e(records: int, **kwargs: Any) -> E2EResult:
        made.append({"records": records, **kwargs})
        result = E2EResult(
            records=records,
            traces_expected=records - 10,
            partitions=kwargs["partitions"],
            embedded_broker=True,
            workers=kwargs["workers"],
        )
        result.records_per_s = 900.0 * kwargs["workers"]
        result.ceiling_records_per_s = 12_000.0
        result.ratio_to_ceiling = result.records_per_s / result.ceiling_records_per_s
        result.latency_rate = result.records_per_s / 2
        result.latencies_ms = [200.0, 300.0, 900.0]
        result.latency_p50_ms, result.latency_p99_ms = 300.0, 900.0
        result.worker_cpu_ms_per_record = 0.4
        return result

    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setattr("pipeline.bench.e2e.run_e2e", run_e2e)
    return made


def test_runs_pair_lists_and_repeat_single_values() -> None:
    assert _runs([1], [4]) == [(1, 4)]
    assert _runs([1, 2], [4]) == [(1, 4), (2, 4)]
    assert _runs([1], [1, 4]) == [(1, 1), (1, 4)]
    assert _runs([1, 1, 2], [1, 4, 4]) == [(1, 1), (1, 4), (2, 4)]
    with pytest.raises(typer.BadParameter):
        _runs([1, 2], [1, 2, 4])


def test_a_sweep_runs_once_per_value_and_prints_a_json_line_per_run(
    calls: list[dict[str, Any]],
) -> None:
    outcome = CliRunner().invoke(
        app, ["bench", "e2e", "--records", "500", "--workers", "1,2", "--json"]
    )
    assert outcome.exit_code == 0, outcome.output
    assert [(c["workers"], c["partitions"]) for c in calls] == [(1, 4), (2, 4)]
    assert all(c["records"] == 500 and c["bootstrap"] is None for c in calls)
    lines = [orjson.loads(line) for line in outcome.stdout.splitlines()]
    assert [(d["benchmark"], d["workers"], d["records_per_s"]) for d in lines] == [
        ("e2e", 1, 900.0),
        ("e2e", 2, 1800.0),
    ]
    assert lines[0]["latencies_ms"] == [200.0, 300.0, 900.0]


def test_a_sweep_prints_each_run_and_a_table_side_by_side(calls: list[dict[str, Any]]) -> None:
    outcome = CliRunner().invoke(
        app, ["bench", "e2e", "--records", "500", "--workers", "1,2", "--partitions", "2,4"]
    )
    assert outcome.exit_code == 0, outcome.output
    assert [(c["workers"], c["partitions"]) for c in calls] == [(1, 2), (2, 4)]
    assert "(1 worker(s), 2 partitions)" in outcome.stdout
    assert "(2 worker(s), 4 partitions)" in outcome.stdout
    assert "end to end, run by run" in outcome.stdout
    # each run's yes/no lines: the stand-in is too slow (0.075 and 0.15 of the bare consumer)
    # and costs 400 µs a record
    assert outcome.stdout.count("worker CPU ≤ 350 µs/record (worker + helpers): no (400 µs)") == 2
    assert f"end to end ≥ 0.2 {TIMES} the bare consumer: no (0.075)" in outcome.stdout
    assert f"end to end ≥ 0.2 {TIMES} the bare consumer: no (0.150)" in outcome.stdout
    assert "10,000" not in outcome.stdout and "budget" not in outcome.stdout


def test_a_sweep_plots_its_runs(calls: list[dict[str, Any]], tmp_path: Path) -> None:
    pytest.importorskip(
        "matplotlib", reason="matplotlib is not installed: pip install -e '.[bench]'"
    )
    charts = tmp_path / "charts"
    outcome = CliRunner().invoke(
        app,
        ["bench", "e2e", "--records", "500", "--workers", "1,2", "--json", "--plot", str(charts)],
    )
    assert outcome.exit_code == 0, outcome.output
    assert sorted(p.name for p in charts.iterdir()) == ["e2e-latency.png", "e2e-workers.png"]


@pytest.mark.parametrize(
    "args",
    [
        ["--workers", "0"],
        ["--workers", "17"],
        ["--workers", "one"],
        ["--partitions", "65"],
        ["--workers", "1,2", "--partitions", "1,2,4"],
    ],
)
def test_bad_sweeps_are_refused_before_any_run(
    calls: list[dict[str, Any]], args: list[str]
) -> None:
    outcome = CliRunner().invoke(app, ["bench", "e2e", "--records", "500", *args])
    assert outcome.exit_code == 2
    assert calls == []


# --- issue 18's targets ----------------------------------------------------------------------


def _passing() -> E2EResult:
    """A run that meets every target."""
    result = E2EResult(records=1000, traces_expected=900, partitions=4, embedded_broker=True)
    result.worker_cpu_ms_per_record = 0.3
    result.records_per_s, result.ceiling_records_per_s = 3000.0, 12_000.0
    result.ratio_to_ceiling = 0.25
    result.requests_per_1000_traces = 1.2
    result.peak_rss_mb, result.outage_peak_rss_mb = 250.0, 260.0
    result.latency_p99_ms = 900.0
    return result


def test_the_yes_no_lines_are_issue_18s_targets() -> None:
    assert e2e_targets(_passing()) == [
        "worker CPU ≤ 350 µs/record (worker + helpers): yes (300 µs)",
        f"end to end ≥ 0.2 {TIMES} the bare consumer: yes (0.250)",
        "≤ 2 requests per 1,000 traces: yes (1.20)",
        "peak RSS ≤ 300 MB, outage included: yes (250 MB; outage 260 MB)",
        "p99 ≤ 2 s at half rate: yes (900 ms)",
        "lost 0 and duplicated 0: yes (0 / 0)",
    ]


@pytest.mark.parametrize(
    ("line", "change", "meets"),
    [
        (0, {"worker_cpu_ms_per_record": 0.349}, True),
        (0, {"worker_cpu_ms_per_record": 0.35}, True),
        (0, {"worker_cpu_ms_per_record": 0.351}, False),
        (0, {"worker_cpu_ms_per_record": 0.0}, False),  # not measured
        (1, {"ratio_to_ceiling": 0.201}, True),
        (1, {"ratio_to_ceiling": 0.2}, True),
        (1, {"ratio_to_ceiling": 0.199}, False),
        (2, {"requests_per_1000_traces": 2.0}, True),
        (2, {"requests_per_1000_traces": 2.01}, False),
        (3, {"peak_rss_mb": 300.0}, True),
        (3, {"peak_rss_mb": 301.0}, False),
        (3, {"outage_peak_rss_mb": 301.0}, False),  # the outage counts too
        (3, {"outage_peak_rss_mb": 0.0}, True),  # no outage phase
        (4, {"latency_p99_ms": 2000.0}, True),
        (4, {"latency_p99_ms": 2001.0}, False),
        (4, {"latency_p99_ms": 0.0}, False),  # no latency phase
        (5, {"lost": 1}, False),
        (5, {"duplicates": 1}, False),
    ],
)
def test_each_yes_no_line_flips_at_its_threshold(
    line: int, change: dict[str, float], meets: bool
) -> None:
    lines = e2e_targets(dataclasses.replace(_passing(), **change))
    assert len(lines) == 6
    for index, text in enumerate(lines):
        answer = "yes" if meets or index != line else "no"
        assert f": {answer} (" in text, (index, text)


def test_the_summary_shows_cpu_in_us_and_no_retired_budget() -> None:
    result = _passing()
    result.cores, result.others_cpu_us_per_record = 2, 118.4
    rows = dict(summary_rows(result))
    assert rows["worker CPU per record (full load, worker + helpers)"] == "300 µs"
    assert rows["broker and receiver CPU per record (full load)"] == "118 µs (2 cores shared)"
    assert not any("budget" in name or "10,000" in name for name in rows)
    figures = result.to_dict()
    assert figures["worker_cpu_us_per_record"] == pytest.approx(300.0)
    assert figures["worker_cpu_ms_per_record"] == pytest.approx(0.3)  # the saved key stays
    assert "worker_cpu_budget_us" not in figures
