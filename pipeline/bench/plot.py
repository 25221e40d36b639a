"""Charts of the benchmark figures as PNG files (``bench … --plot DIR``, ``bench plot``).

Needs matplotlib, which the ``bench`` extra installs (``pip install 'kong-litefuse[bench]'``).
Figures are drawn with matplotlib's object API on an Agg canvas: no pyplot, no display and no
process-wide backend, so plotting works headless and leaves other matplotlib users alone.

Each ``plot_*`` function takes result dataclasses, writes one PNG (its title is also the PNG's
``Title``) and returns the figure, whose axes tests can read:

- :func:`plot_enrich_sizes` — ``bench enrich --sizes …``: records/s and µs per record of the
  enrich stage against the mean record size, with the ceiling (``orjson.loads``) and the floor
  (the JSON work of any enricher) measured in the same rounds, and the target, 0.12 times the
  ceiling at each size;
- :func:`plot_e2e_scaling` — ``bench e2e --workers 1,2 …``: records/s of the worker(s) next to
  the bare consumer and the target, 0.2 times the bare consumer; the workers' CPU per record
  next to the broker's and receiver's, and the target, 350 µs; for each run (workers,
  partitions);
- :func:`plot_e2e_latency` — ``bench e2e`` with a latency phase: the distribution of the
  per-trace latencies at half the sustained rate (histogram and cumulative share), p50, p99
  and the target.

:func:`load_results` reads the ``--json`` output back (one document, or JSON lines), so a report
can be re-plotted without re-running anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from pipeline.bench.e2e import LATENCY_TARGET_MS, WORKER_CPU_TARGET_US, E2EResult
from pipeline.bench.e2e import RATIO_TARGET as E2E_RATIO_TARGET
from pipeline.bench.enrich import RATIO_TARGET as ENRICH_RATIO_TARGET
from pipeline.bench.enrich import EnrichBenchResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

EXTRA = "bench"
"""The optional dependency group that installs matplotlib."""
ENRICH_SIZES = "enrich-sizes.png"
E2E_SCALING = "e2e-workers.png"
E2E_LATENCY = "e2e-latency.png"
TIMES = "×"  # noqa: RUF001 - the multiplication sign, on purpose


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def require_matplotlib() -> None:
    """Raise :class:`PlotUnavailable` with the install command when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable(
            f"plotting needs matplotlib, from the {EXTRA} extra: "
            f"pip install 'kong-litefuse[{EXTRA}]'"
        ) from None


# --- the charts ------------------------------------------------------------------------------


def plot_enrich_sizes(results: Sequence[EnrichBenchResult], path: Path) -> Figure:
    """Records/s and µs per record against record size: enrich, ceiling and floor."""
    if not results:
        raise ValueError("no enrich results to plot")
    ordered = sorted(results, key=lambda r: r.mean_record_bytes)
    kb = [r.mean_record_bytes / 1024 for r in ordered]
    first = ordered[0]
    title = (
        f"Enrich stage by record size ({first.records:,} records, "
        f"median of {first.rounds} round(s), one thread)"
    )
    figure, (rate, cost) = _figure(title, 2)
    floor_rate = [1e6 / r.floor_us_per_record if r.floor_us_per_record else 0.0 for r in ordered]
    _log_panel(
        rate,
        kb,
        (
            ("ceiling: orjson.loads of each record", [r.ceiling_records_per_s for r in ordered]),
            ("floor: the JSON work any enricher does", floor_rate),
            ("enrich stage (run_stage)", [r.enrich_records_per_s for r in ordered]),
        ),
        (
            [r.target_records_per_s for r in ordered],
            f"target: ≥ {ENRICH_RATIO_TARGET:g} {TIMES} ceiling",
        ),
        ylabel="records/s",
        title="throughput",
    )
    _log_panel(
        cost,
        kb,
        (
            ("ceiling", [r.ceiling_us_per_record for r in ordered]),
            ("floor", [r.floor_us_per_record for r in ordered]),
            ("enrich stage", [r.enrich_us_per_record for r in ordered]),
        ),
        ([r.target_us_per_record for r in ordered], f"target: ≤ ceiling ÷ {ENRICH_RATIO_TARGET:g}"),
        ylabel="µs per record (wall clock of one thread)",
        title="time per record",
    )

    ticks = [f"{k:.1f}\n{TIMES}{r.size_scale:g}" for k, r in zip(kb, ordered, strict=True)]
    for axes in (rate, cost):
        axes.set_xscale("log")
        axes.set_xticks(kb, ticks)
        axes.minorticks_off()
        axes.set_xlabel("mean record size, KB (size scale)")
        _log_labels(axes)
        axes.legend(fontsize="small")
    return _save(figure, title, path)


def plot_e2e_scaling(results: Sequence[E2EResult], path: Path) -> Figure:
    """Records/s and worker CPU µs per record for each run of a workers/partitions sweep."""
    if not results:
        raise ValueError("no e2e results to plot")
    records = sorted({r.records for r in results})
    title = (
        f"End to end by workers and partitions ({', '.join(f'{n:,}' for n in records)} "
        "records per run)"
    )
    figure, (rate, cpu) = _figure(title, 2)
    x = list(range(len(results)))
    left = [i - 0.2 for i in x]
    right = [i + 0.2 for i in x]
    rate.bar(left, [r.records_per_s for r in results], 0.4, label="worker(s), sustained")
    rate.bar(
        right,
        [r.ceiling_records_per_s for r in results],
        0.4,
        label="bare consumer + orjson (ceiling)",
        color="#bbbbbb",
    )
    # the target follows each run's ceiling: a dash across its pair of bars
    rate.hlines(
        [E2E_RATIO_TARGET * r.ceiling_records_per_s for r in results],
        [i - 0.45 for i in x],
        [i + 0.45 for i in x],
        **_TARGET,
        label=f"target: ≥ {E2E_RATIO_TARGET:g} {TIMES} bare consumer",
    )
    rate.set_ylabel("records/s")
    rate.set_title("throughput")

    cpu.bar(
        left,
        [r.worker_cpu_us_per_record for r in results],
        0.4,
        label="worker(s) and helpers, CPU",
    )
    cpu.bar(
        right,
        [r.others_cpu_us_per_record for r in results],
        0.4,
        label="broker and receiver, CPU (same cores)",
        color="#bbbbbb",
    )
    cpu.axhline(
        WORKER_CPU_TARGET_US,
        **_TARGET,
        label=f"target: worker(s) ≤ {WORKER_CPU_TARGET_US:,.0f} µs",
    )
    cpu.set_ylabel("CPU µs per record")
    cpu.set_title("worker CPU per record")

    labels = [
        f"{r.workers} worker{'s' if r.workers != 1 else ''}\n{r.partitions} part." for r in results
    ]
    for axes in (rate, cpu):
        axes.set_xticks(x, labels)
        axes.set_xlabel("workers and partitions of each run")
        _plain_labels(axes)
        axes.legend(fontsize="small")
    return _save(figure, title, path)


def plot_e2e_latency(results: Sequence[E2EResult], path: Path) -> Figure:
    """The per-trace latencies of the latency phase: histogram and cumulative share."""
    runs = [r for r in results if r.latencies_ms]
    if not runs:
        raise ValueError("no latencies to plot: the runs had no latency phase")
    from matplotlib.ticker import MaxNLocator

    title = "End-to-end latency at half the sustained rate (produce → accepted by Litefuse)"
    figure, (histogram, cdf) = _figure(title, 2)
    highest = max(max(r.latencies_ms) for r in runs)
    bins = [highest * i / 50 for i in range(51)] if highest > 0 else 50
    for run, style in zip(runs, _cycle(len(runs)), strict=True):
        label = _run_label(run, several=len(runs) > 1)
        histogram.hist(run.latencies_ms, bins=bins, histtype="step", label=label, **style)
        ordered = sorted(run.latencies_ms)
        share = [(i + 1) / len(ordered) for i in range(len(ordered))]
        cdf.plot(ordered, share, label=label, drawstyle="steps-post", **style)
        for q, ms, marker in ((0.5, run.latency_p50_ms, "o"), (0.99, run.latency_p99_ms, "v")):
            cdf.plot([ms], [q], marker=marker, linestyle="none", **style)
    histogram.set_xlabel("latency, ms")
    histogram.set_ylabel("traces")
    histogram.yaxis.set_major_locator(MaxNLocator(integer=True))
    histogram.set_title("distribution")
    cdf.axvline(LATENCY_TARGET_MS, **_TARGET, label=f"target: p99 ≤ {LATENCY_TARGET_MS:,.0f} ms")
    cdf.axhline(0.99, color="#999999", linewidth=0.6, linestyle=":")
    cdf.set_ylim(0, 1.02)
    cdf.set_xlabel("latency, ms")
    cdf.set_ylabel("share of traces at most this late (● p50, ▼ p99)")
    cdf.set_title("cumulative")
    for axes in (histogram, cdf):
        _plain_labels(axes, x=True, y=axes is histogram)
        axes.legend(fontsize="small")
    return _save(figure, title, path)


# --- from results to files -------------------------------------------------------------------


@dataclass
class Loaded:
    """The results of ``--json`` documents, by benchmark."""

    enrich: list[EnrichBenchResult] = field(default_factory=list)
    e2e: list[E2EResult] = field(default_factory=list)


def load_results(path: Path) -> Loaded:
    """Read ``bench enrich --json`` / ``bench e2e --json`` output: one JSON document, or JSON
    lines (a sweep prints one line per run; files can be concatenated)."""
    text = path.read_bytes()
    try:
        documents = [orjson.loads(text)]
    except orjson.JSONDecodeError:
        try:
            documents = [orjson.loads(line) for line in text.splitlines() if line.strip()]
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{path}: not JSON or JSON lines ({exc})") from None
    loaded = Loaded()
    for document in documents:
        if not isinstance(document, dict):
            raise ValueError(f"{path}: expected JSON objects, found {type(document).__name__}")
        kind = document.get("benchmark") or _guess(document)
        if kind == "enrich":
            loaded.enrich.extend(EnrichBenchResult.from_dict(r) for r in document["results"])
        elif kind == "e2e":
            loaded.e2e.append(E2EResult.from_dict(document))
        else:
            raise ValueError(f"{path}: not the output of bench enrich --json or bench e2e --json")
    return loaded


def write_plots(
    out: Path,
    *,
    enrich: Sequence[EnrichBenchResult] = (),
    e2e: Sequence[E2EResult] = (),
) -> tuple[list[Path], list[str]]:
    """Every chart the results allow, in ``out``: the files written, and why others were not."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    notes: list[str] = []
    if enrich:
        plot_enrich_sizes(enrich, out / ENRICH_SIZES)
        written.append(out / ENRICH_SIZES)
        if len(enrich) == 1:
            notes.append(f"{ENRICH_SIZES}: one size only (--sizes 0.25,1,4,16 draws curves)")
    if len(e2e) > 1:
        plot_e2e_scaling(e2e, out / E2E_SCALING)
        written.append(out / E2E_SCALING)
    elif e2e:
        notes.append(f"no {E2E_SCALING}: it compares runs (--workers 1,2)")
    if any(r.latencies_ms for r in e2e):
        plot_e2e_latency(e2e, out / E2E_LATENCY)
        written.append(out / E2E_LATENCY)
    elif e2e:
        notes.append(f"no {E2E_LATENCY}: no latency phase (--latency-seconds 0)")
    return written, notes


# --- drawing helpers -------------------------------------------------------------------------

_STYLES: tuple[dict[str, Any], ...] = (
    {"marker": "s", "color": "#888888", "linestyle": "--"},
    {"marker": "^", "color": "#2a9d8f"},
    {"marker": "o", "color": "#1f5fa8", "linewidth": 2.2},
)
_TARGET: dict[str, Any] = {"color": "#c0392b", "linestyle": ":", "linewidth": 1.4, "zorder": 3}
_TARGET_MARK: dict[str, Any] = {"marker": "_", "markersize": 22, "markeredgewidth": 1.6}
_COLOURS = ("#1f5fa8", "#e07b00", "#2a9d8f", "#8e44ad", "#7f8c8d", "#c0392b")


def _cycle(count: int) -> list[dict[str, Any]]:
    return [{"color": _COLOURS[i % len(_COLOURS)]} for i in range(count)]


def _run_label(run: E2EResult, *, several: bool) -> str:
    """Which run (when there are several), its rate, p50 (●) and p99 (▼)."""
    rate = f"{run.latency_rate:,.0f} records/s"
    quantiles = f"p50 {run.latency_p50_ms:,.0f} ms, p99 {run.latency_p99_ms:,.0f} ms"
    if not several:
        return f"{len(run.latencies_ms):,} traces at {rate}: {quantiles}"
    workers = f"{run.workers} worker{'s' if run.workers != 1 else ''}"
    return f"{workers}, {run.partitions} part., {rate}: {quantiles}"


def _log_panel(
    axes: Axes,
    x: Sequence[float],
    series: Sequence[tuple[str, Sequence[float]]],
    target: tuple[Sequence[float], str],
    *,
    ylabel: str,
    title: str,
) -> None:
    """Ceiling, floor and enrich in their styles on a log y axis, and the target, which follows
    the ceiling: a dotted line through a dash at each size (one size: a dash)."""
    for (label, values), style in zip(series, _STYLES, strict=True):
        axes.plot(x, values, label=label, **style)
    values, label = target
    axes.plot(x, values, **_TARGET, **_TARGET_MARK, label=label)
    axes.set_yscale("log")
    axes.set_ylabel(ylabel)
    axes.set_title(title)


def _figure(title: str, panels: int) -> tuple[Figure, list[Axes]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.0 * panels, 4.6), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = [figure.add_subplot(1, panels, index + 1) for index in range(panels)]
    for each in axes:
        each.grid(True, which="major", color="#e6e6e6", linewidth=0.7)
        each.set_axisbelow(True)
    figure.suptitle(title)
    return figure, axes


def _log_labels(axes: Axes) -> None:
    """Plain numbers (1,000 rather than 10³) on a logarithmic y axis."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axes.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes.yaxis.set_major_formatter(FuncFormatter(_number))
    axes.yaxis.set_minor_formatter(NullFormatter())


def _plain_labels(axes: Axes, *, x: bool = False, y: bool = True) -> None:
    """Thousands separated by commas on the numeric axes."""
    from matplotlib.ticker import FuncFormatter

    if x:
        axes.xaxis.set_major_formatter(FuncFormatter(_number))
    if y:
        axes.yaxis.set_major_formatter(FuncFormatter(_number))


def _number(value: float, _position: float | None = None) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 or value == int(value) else f"{value:g}"


def _save(figure: Figure, title: str, path: Path) -> Figure:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", metadata={"Title": title, "Software": "kong-litefuse"})
    return figure


def _guess(document: dict[str, Any]) -> str | None:
    """The benchmark of a document saved before they carried ``benchmark``."""
    if isinstance(document.get("results"), list):
        return "enrich"
    if "records_per_s" in document and "workers" in document:
        return "e2e"
    return None
