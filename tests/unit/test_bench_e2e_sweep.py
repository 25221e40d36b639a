"""``bench e2e --workers 1,2``: one run per value, one JSON line per run, charts of the sweep.

The runs are stand-ins here (no broker); tests/integration/test_bench_e2e.py runs the real one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner

from pipeline.bench.cli import _runs
from pipeline.bench.e2e import E2EResult
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
        result.latency_rate = result.records_per_s / 2
        result.latencies_ms = [200.0, 300.0, 900.0]
        result.latency_p50_ms, result.latency_p99_ms = 300.0, 900.0
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
