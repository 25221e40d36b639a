"""The benchmark charts: each plot function writes a PNG with the expected title and axes, the
``--json`` output re-plots, and ``--plot`` without matplotlib fails in one line."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from pipeline.bench.e2e import E2EResult
from pipeline.bench.enrich import EnrichBenchResult
from pipeline.cli import app

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def mpl() -> ModuleType:
    """matplotlib, or the test is skipped: it comes with the bench (and test) extra."""
    return pytest.importorskip(
        "matplotlib", reason="matplotlib is not installed: pip install -e '.[bench]'"
    )


def _enrich(size_scale: float, mean_bytes: float, enrich_s: float) -> EnrichBenchResult:
    return EnrichBenchResult(
        records=1000,
        rounds=3,
        seed=7,
        size_scale=size_scale,
        mean_record_bytes=mean_bytes,
        ceiling_seconds=enrich_s / 20,
        floor_seconds=enrich_s / 8,
        floor_documents=3100,
        enrich_seconds=enrich_s,
        otlp_seconds=0.03,
        traced=890,
        skipped=90,
        dead_lettered=20,
        internal_errors=0,
        trace_json_bytes=8000.0,
        otlp_bytes_per_trace=4000.0,
        otlp_batches=5,
        otlp_encoder="encode_request_bytes",
        composition={"chat": 360},
        outcomes={"chat": {"traced": 360}},
        ceiling_samples=(enrich_s / 20,) * 3,
        floor_samples=(enrich_s / 8,) * 3,
        enrich_samples=(enrich_s,) * 3,
        otlp_samples=(0.03,) * 3,
    )


ENRICH = [_enrich(4.0, 16_000, 1.2), _enrich(0.25, 5_000, 0.3), _enrich(1.0, 7_400, 0.4)]


def _e2e(workers: int, partitions: int, *, latencies: int = 400) -> E2EResult:
    result = E2EResult(
        records=20_000,
        traces_expected=17_800,
        partitions=partitions,
        embedded_broker=True,
        workers=workers,
    )
    result.records_per_s = 1000.0 * workers
    result.ceiling_records_per_s = 12_000.0
    result.worker_cpu_ms_per_record = 0.9
    result.others_cpu_us_per_record = 80.0
    result.latency_rate = result.records_per_s / 2
    result.latencies_ms = [100.0 + 3 * i for i in range(latencies)]
    if latencies:
        result.latency_records = latencies
        result.latency_p50_ms = result.latencies_ms[latencies // 2]
        result.latency_p99_ms = result.latencies_ms[int(latencies * 0.99)]
    return result


def _assert_png(path: Path, title: str) -> None:
    from PIL import Image  # matplotlib's own dependency

    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    with Image.open(path) as image:
        assert image.info["Title"] == title
        assert image.size[0] > image.size[1] > 300


def _legend(axes: Any) -> list[str]:
    return [text.get_text() for text in axes.get_legend().get_texts()]


# --- the plot functions ----------------------------------------------------------------------


def test_enrich_sizes(mpl: ModuleType, tmp_path: Path) -> None:
    from pipeline.bench.plot import plot_enrich_sizes

    path = tmp_path / "sizes.png"
    figure = plot_enrich_sizes(ENRICH, path)
    title = figure.get_suptitle()
    assert title.startswith("Enrich stage by record size (1,000 records, median of 3 round(s)")
    _assert_png(path, title)
    rate, cost = figure.axes
    assert rate.get_title() == "throughput" and cost.get_title() == "time per record"
    assert rate.get_ylabel() == "records/s"
    assert cost.get_ylabel().startswith("µs per record")
    for axes in (rate, cost):
        assert axes.get_xlabel() == "mean record size, KB (size scale)"
        assert axes.get_xscale() == "log" and axes.get_yscale() == "log"
        legend = _legend(axes)
        assert any("ceiling" in label for label in legend)
        assert any("floor" in label for label in legend)
        assert any("enrich" in label for label in legend)
        assert any("target" in label for label in legend)
        # one tick per measured size, smallest first, with its size scale
        ticks = [tick.get_text() for tick in axes.get_xticklabels()]
        assert ticks == ["4.9\n×0.25", "7.2\n×1", "15.6\n×4"]  # noqa: RUF001
    # the enrich line is records/s of the smallest records first
    enrich_line = rate.get_lines()[2]
    assert list(enrich_line.get_ydata()) == pytest.approx([1000 / 0.3, 1000 / 0.4, 1000 / 1.2])
    # the target is 0.12 times the ceiling at each size (the ceiling takes 1/20 of enrich's time),
    # not a records/s line
    (target,) = [line for line in rate.get_lines() if line.get_label().startswith("target")]
    assert target.get_label() == "target: ≥ 0.12 × ceiling"  # noqa: RUF001
    ceiling = [20_000 / 0.3, 20_000 / 0.4, 20_000 / 1.2]
    assert list(target.get_ydata()) == pytest.approx([0.12 * c for c in ceiling])
    (target,) = [line for line in cost.get_lines() if line.get_label().startswith("target")]
    assert target.get_label() == "target: ≤ ceiling ÷ 0.12"
    assert list(target.get_ydata()) == pytest.approx([1e6 / (0.12 * c) for c in ceiling])


def test_e2e_scaling(mpl: ModuleType, tmp_path: Path) -> None:
    from pipeline.bench.plot import plot_e2e_scaling

    path = tmp_path / "workers.png"
    runs = [_e2e(1, 1), _e2e(1, 4), _e2e(2, 4)]
    figure = plot_e2e_scaling(runs, path)
    title = figure.get_suptitle()
    assert title == "End to end by workers and partitions (20,000 records per run)"
    _assert_png(path, title)
    rate, cpu = figure.axes
    assert rate.get_ylabel() == "records/s" and cpu.get_ylabel() == "CPU µs per record"
    for axes in (rate, cpu):
        assert axes.get_xlabel() == "workers and partitions of each run"
        ticks = [tick.get_text() for tick in axes.get_xticklabels()]
        assert ticks == ["1 worker\n1 part.", "1 worker\n4 part.", "2 workers\n4 part."]
    heights = [bar.get_height() for bar in rate.containers[0]]
    assert heights == [1000.0, 1000.0, 2000.0]
    assert [bar.get_height() for bar in cpu.containers[0]] == pytest.approx([900.0] * 3)
    assert [bar.get_height() for bar in cpu.containers[1]] == pytest.approx([80.0] * 3)
    assert any("bare consumer" in label for label in _legend(rate))
    # the targets: 0.2 times each run's bare consumer (12,000 records/s), 350 µs per record
    assert "target: ≥ 0.2 × bare consumer" in _legend(rate)  # noqa: RUF001
    (dashes,) = rate.collections
    assert [segment[0][1] for segment in dashes.get_segments()] == pytest.approx([2400.0] * 3)
    assert "target: worker(s) ≤ 350 µs" in _legend(cpu)
    (target,) = [line for line in cpu.get_lines() if line.get_label().startswith("target")]
    assert list(target.get_ydata()) == [350.0, 350.0]
    for axes in (rate, cpu):
        assert not any("10,000" in label or "budget" in label for label in _legend(axes))


def test_e2e_latency(mpl: ModuleType, tmp_path: Path) -> None:
    from pipeline.bench.plot import plot_e2e_latency

    path = tmp_path / "latency.png"
    figure = plot_e2e_latency([_e2e(1, 4)], path)
    title = figure.get_suptitle()
    assert title.startswith("End-to-end latency at half the sustained rate")
    _assert_png(path, title)
    histogram, cdf = figure.axes
    assert histogram.get_xlabel() == cdf.get_xlabel() == "latency, ms"
    assert histogram.get_ylabel() == "traces"
    assert cdf.get_ylabel().startswith("share of traces")
    legend = _legend(cdf)
    assert legend[0] == "400 traces at 500 records/s: p50 700 ms, p99 1,288 ms"
    assert any("p99 ≤ 2,000 ms" in label for label in legend)
    # the cumulative share ends at every trace
    assert list(cdf.get_lines()[0].get_ydata())[-1] == 1.0


def test_latency_needs_a_latency_phase(mpl: ModuleType, tmp_path: Path) -> None:
    from pipeline.bench.plot import plot_e2e_latency

    with pytest.raises(ValueError, match="no latency phase"):
        plot_e2e_latency([_e2e(1, 4, latencies=0)], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_write_plots_writes_what_the_results_allow(mpl: ModuleType, tmp_path: Path) -> None:
    from pipeline.bench.plot import write_plots

    written, notes = write_plots(tmp_path / "a", enrich=ENRICH, e2e=[_e2e(1, 4), _e2e(2, 4)])
    assert [p.name for p in written] == ["enrich-sizes.png", "e2e-workers.png", "e2e-latency.png"]
    assert notes == []
    written, notes = write_plots(tmp_path / "b", e2e=[_e2e(1, 4, latencies=0)])
    assert written == [] and len(notes) == 2
    assert "--workers 1,2" in notes[0] and "--latency-seconds 0" in notes[1]


# --- saved JSON ------------------------------------------------------------------------------


def test_json_round_trips_to_the_same_results(tmp_path: Path) -> None:
    from pipeline.bench.plot import load_results

    enrich_doc = {"benchmark": "enrich", "results": [r.to_dict() for r in ENRICH]}
    (tmp_path / "enrich.json").write_bytes(orjson.dumps(enrich_doc, option=orjson.OPT_INDENT_2))
    runs = [_e2e(1, 4), _e2e(2, 4)]
    (tmp_path / "e2e.json").write_bytes(b"\n".join(orjson.dumps(r.to_dict()) for r in runs))
    assert load_results(tmp_path / "enrich.json").enrich == ENRICH
    # a file saved with the retired targets' figures, and without the new derived ones
    retired = {"logic_budget_us": 30.0, "meets_throughput_target": False}
    dropped = ("target_records_per_s", "target_us_per_record", "ratio_logic_budget_us")
    old_results = [
        {**{k: v for k, v in r.to_dict().items() if k not in dropped}, **retired} for r in ENRICH
    ]
    old_doc = {
        "benchmark": "enrich",
        "targets": {"records_per_s": 20_000.0, "ratio": 0.25},
        "results": old_results,
    }
    (tmp_path / "old-enrich.json").write_bytes(orjson.dumps(old_doc))
    assert load_results(tmp_path / "old-enrich.json").enrich == ENRICH
    loaded = load_results(tmp_path / "e2e.json")
    assert loaded.e2e == runs and loaded.enrich == []
    # a file saved before the documents said which benchmark they are
    old = {k: v for k, v in runs[0].to_dict().items() if k not in ("benchmark", "latencies_ms")}
    (tmp_path / "old.json").write_bytes(orjson.dumps(old))
    assert load_results(tmp_path / "old.json").e2e == [
        dataclasses.replace(runs[0], latencies_ms=[])
    ]
    # … and one with the retired budget at 10,000 records/s, before the µs figure was saved
    older = {**runs[0].to_dict(), "worker_cpu_budget_us": 80.0}
    del older["worker_cpu_us_per_record"]
    (tmp_path / "older.json").write_bytes(orjson.dumps(older))
    (again,) = load_results(tmp_path / "older.json").e2e
    assert again == runs[0] and again.worker_cpu_us_per_record == pytest.approx(900.0)
    (tmp_path / "bad.json").write_bytes(b'{"something": "else"}')
    with pytest.raises(ValueError, match="not the output of bench"):
        load_results(tmp_path / "bad.json")


def test_bench_plot_redraws_saved_json(mpl: ModuleType, tmp_path: Path) -> None:
    saved = tmp_path / "sweep.json"
    # a run saved before issue 18's targets (with the retired budget) and one saved after
    before = {**_e2e(1, 4).to_dict(), "worker_cpu_budget_us": 80.0}
    del before["worker_cpu_us_per_record"]
    saved.write_bytes(orjson.dumps(before) + b"\n" + orjson.dumps(_e2e(2, 4).to_dict()))
    outcome = CliRunner().invoke(
        app, ["bench", "plot", "--from", str(saved), "--out", str(tmp_path / "out")]
    )
    assert outcome.exit_code == 0, outcome.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "e2e-latency.png",
        "e2e-workers.png",
    ]
    assert "wrote " in outcome.output

    (tmp_path / "junk.json").write_text("not json\n")
    outcome = CliRunner().invoke(
        app, ["bench", "plot", "--from", str(tmp_path / "junk.json"), "--out", str(tmp_path)]
    )
    assert outcome.exit_code == 2
    assert "not JSON or JSON lines" in outcome.output and "Traceback" not in outcome.output


@pytest.mark.parametrize(
    "args",
    [
        ["bench", "enrich", "--records", "10", "--rounds", "1"],
        ["bench", "e2e", "--records", "100"],
    ],
)
def test_plot_without_matplotlib_fails_in_one_line_naming_the_extra(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_run(*_: object, **__: object) -> None:
        raise AssertionError("the benchmark ran although it could not plot")

    monkeypatch.setattr("pipeline.bench.e2e.run_e2e", no_run)
    monkeypatch.setattr("pipeline.bench.enrich.run_sweep", no_run)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib → ImportError
    outcome = CliRunner().invoke(app, [*args, "--plot", str(tmp_path / "charts")])
    assert outcome.exit_code == 2
    lines = outcome.output.strip().splitlines()
    assert lines == [
        "error: plotting needs matplotlib, from the bench extra: pip install 'kong-litefuse[bench]'"
    ]
    assert not (tmp_path / "charts").exists()
