"""``kong-litefuse bench …``: benchmarks on generated records (mounted by pipeline.cli)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from pipeline.bench.e2e import E2EResult
    from pipeline.bench.enrich import EnrichBenchResult

bench_app = typer.Typer(
    help="Benchmarks on a generated, realistic mix of Kong records.", no_args_is_help=True
)

err = Console(stderr=True)
TIMES = "×"  # noqa: RUF001 - the multiplication sign, on purpose


def _sizes(text: str) -> list[float]:
    try:
        sizes = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"not a list of numbers: {text!r}", param_hint="--sizes") from None
    if not sizes or any(not 0 < size <= 1000 for size in sizes):
        raise typer.BadParameter(
            "sizes must be numbers in (0, 1000], e.g. 0.5,1,4,16", param_hint="--sizes"
        )
    return sizes


def _counts(text: str, name: str, highest: int) -> list[int]:
    """``"1,2"`` → [1, 2]: the values of a sweep option, each in [1, highest]."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"not a list of whole numbers: {text!r}", param_hint=name
        ) from None
    if not counts or any(not 1 <= count <= highest for count in counts):
        raise typer.BadParameter(f"each value must be in [1, {highest}], e.g. 1,2", param_hint=name)
    return counts


def _runs(workers: list[int], partitions: list[int]) -> list[tuple[int, int]]:
    """(workers, partitions) of each run: the lists side by side, a single value repeated."""
    if len(workers) > 1 and len(partitions) > 1 and len(workers) != len(partitions):
        raise typer.BadParameter(
            "--workers and --partitions list different numbers of runs; give one value for "
            "either, or as many values for both (paired in order)"
        )
    count = max(len(workers), len(partitions))
    return [
        (workers[min(i, len(workers) - 1)], partitions[min(i, len(partitions) - 1)])
        for i in range(count)
    ]


PlotDir = Annotated[
    Path | None,
    typer.Option(
        "--plot",
        file_okay=False,
        help="Write PNG charts of the figures into this directory (needs the bench extra).",
    ),
]


def _check_plot_dir(directory: Path | None) -> None:
    """Before a run: matplotlib is there and the directory can be made (one line if not)."""
    if directory is None:
        return
    from pipeline.bench.plot import PlotUnavailable, require_matplotlib

    try:
        require_matplotlib()
        directory.mkdir(parents=True, exist_ok=True)
    except (PlotUnavailable, OSError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None


def _plot(
    directory: Path,
    *,
    enrich: Sequence[EnrichBenchResult] = (),
    e2e: Sequence[E2EResult] = (),
) -> None:
    from pipeline.bench.plot import write_plots

    written, notes = write_plots(directory, enrich=enrich, e2e=e2e)
    for path in written:
        err.print(f"wrote {escape(str(path))}", soft_wrap=True, highlight=False)
    for note in notes:
        err.print(f"[dim]{escape(note)}[/]", soft_wrap=True, highlight=False)


@bench_app.command("enrich")
def enrich(
    records: Annotated[
        int, typer.Option(min=1, max=10_000_000, help="Records in the generated mix.")
    ] = 20_000,
    rounds: Annotated[
        int, typer.Option(min=1, max=100, help="Timed rounds (medians are reported).")
    ] = 5,
    seed: Annotated[int, typer.Option(help="Seed of the generated mix.")] = 7,
    sizes: Annotated[
        str,
        typer.Option(help="Size scales to sweep, e.g. 0.5,1,4,16 (1 = the default mix)."),
    ] = "1",
    mix: Annotated[
        str | None,
        typer.Option(help="Category weights replacing the defaults, e.g. stream=40,malformed=0."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with every figure.")
    ] = False,
    plot: PlotDir = None,
) -> None:
    """Records/s of the enrich stage vs. the JSON-parse ceiling, and OTLP encoding per trace.

    Target: enrichment at least 0.12 times the ceiling (the ratio), with what it leaves above the
    floor (the JSON work any enricher does) for all else. --plot DIR writes enrich-sizes.png:
    records/s and µs per record against the record size, with the ceiling, the floor and the
    target.
    """
    import orjson

    from pipeline.bench.enrich import RATIO_TARGET, run_sweep, worker_options
    from pipeline.bench.mix import parse_weights

    scales = _sizes(sizes)
    try:
        weights = parse_weights(mix) if mix else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--mix") from None
    options = worker_options()  # a SettingsError is printed by pipeline.cli: one line, exit 2
    _check_plot_dir(plot)
    if not as_json:
        err.print(
            f"generating {records:,} records {TIMES} {len(scales)} size(s), {rounds} round(s)…"
        )
    results = run_sweep(scales, records, rounds=rounds, seed=seed, weights=weights, options=options)
    if as_json:
        document = {
            "benchmark": "enrich",
            "records": records,
            "rounds": rounds,
            "seed": seed,
            "sizes": scales,
            "targets": {"ratio": RATIO_TARGET},
            "results": [result.to_dict() for result in results],
        }
        sys.stdout.write(orjson.dumps(document).decode() + "\n")
        sys.stdout.flush()  # the figures first: a chart that fails must not lose them
        if plot is not None:
            _plot(plot, enrich=results)
        return

    out = Console() if sys.stdout.isatty() else Console(width=160)
    table = Table(title=f"enrich stage: {records:,} records, median of {rounds} round(s)")
    for column in (
        "size",
        "mean KB",
        "ceiling rec/s",
        "ceiling µs",
        "floor µs",
        "enrich rec/s",
        "enrich µs",
        "ratio",
        "OTLP µs/trace",
        "traced",
        "skipped",
        "dead",
    ):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            f"{TIMES}{r.size_scale:g}",
            f"{r.mean_record_bytes / 1024:.1f}",
            f"{r.ceiling_records_per_s:,.0f}",
            f"{r.ceiling_us_per_record:.1f}",
            f"{r.floor_us_per_record:.1f}",
            f"{r.enrich_records_per_s:,.0f}",
            f"{r.enrich_us_per_record:.1f}",
            f"{r.ratio:.3f}",
            f"{r.otlp_us_per_trace:.1f}",
            f"{r.traced:,}",
            f"{r.skipped:,}",
            f"{r.dead_lettered + r.internal_errors:,}",
        )
    out.print(table)

    first = results[0]
    mix_table = Table(title=f"outcome per record (size {TIMES}{first.size_scale:g})")
    mix_table.add_column("category")
    for column in ("records", "traced", "skipped", "dead letter", "internal error"):
        mix_table.add_column(column, justify="right")
    for category, row in first.outcomes.items():
        mix_table.add_row(
            category,
            f"{first.composition[category]:,}",
            *(f"{row[key]:,}" for key in ("traced", "skipped", "dead_letter", "internal_error")),
        )
    out.print(mix_table)
    out.print(
        f"trace JSON {first.trace_json_bytes:,.0f} B, OTLP {first.otlp_bytes_per_trace:,.0f} "
        f"B/trace in {first.otlp_batches} batches",
        highlight=False,
    )
    for r in results:
        prefix = f"size {TIMES}{r.size_scale:g}: " if len(results) > 1 else ""
        for line in enrich_targets(r, prefix):
            out.print(line, highlight=False)
    if any(r.internal_errors for r in results):
        err.print("[bold red]internal errors:[/] enrich raised on some records (a bug)")
    if plot is not None:
        _plot(plot, enrich=results)


def enrich_targets(r: EnrichBenchResult, prefix: str = "") -> list[str]:
    """The enrich target as a yes/no line, and what it leaves above the floor."""
    from pipeline.bench.enrich import RATIO_TARGET

    return [
        f"{prefix}enrich ≥ {RATIO_TARGET:g} {TIMES} ceiling: "
        f"{'yes' if r.meets_ratio_target else 'no'} ({r.ratio:.3f}: "
        f"{r.enrich_records_per_s:,.0f} records/s, the target {r.target_records_per_s:,.0f})",
        f"{prefix}floor (parse records and bodies, write traces) {r.floor_us_per_record:.1f} "
        f"µs/record: the target ({r.target_us_per_record:.1f} µs/record) leaves "
        f"{r.ratio_logic_budget_us:.1f} for all else; enrichment spends "
        f"{r.enrich_us_per_record - r.floor_us_per_record:.1f}",
    ]


@bench_app.command("e2e")
def e2e(
    records: Annotated[
        int, typer.Option(min=100, max=10_000_000, help="Records published as the backlog.")
    ] = 50_000,
    partitions: Annotated[
        str, typer.Option(help="Partitions per topic; a list (4,8) runs once per value.")
    ] = "4",
    workers: Annotated[
        str,
        typer.Option(
            help="Worker processes in the consumer group; a list (1,2) runs once per value."
        ),
    ] = "1",
    latency_seconds: Annotated[
        float, typer.Option(min=0, max=600, help="Length of the half-rate latency phase (0: skip).")
    ] = 10.0,
    outage_seconds: Annotated[
        float, typer.Option(min=0, max=600, help="Length of a Litefuse outage phase (0: skip).")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the generated mix.")] = 7,
    timeout: Annotated[
        float, typer.Option(min=10, max=3600, help="Longest wait of any phase, in seconds.")
    ] = 300.0,
    ceiling_passes: Annotated[
        int, typer.Option(min=1, max=9, help="Passes of the bare consumer (the median counts).")
    ] = 3,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print every figure as JSON: one object (a line) per run."),
    ] = False,
    plot: PlotDir = None,
) -> None:
    """Kafka → worker → a local Litefuse stand-in, next to a bare consumer on the same topic.

    Uses KAFKA_BOOTSTRAP_SERVERS when set, else starts the embedded broker. Lists in --workers
    and --partitions run the benchmark once per value (side by side when both are lists).
    Yes/no for the targets: worker CPU ≤ 350 µs/record, at least 0.2 times the bare consumer,
    ≤ 2 requests per 1,000 traces, peak RSS ≤ 300 MB (outage included), p99 ≤ 2 s at half
    rate, none lost or duplicated. --plot DIR writes e2e-latency.png (the latency phase's
    distribution) and, for several runs, e2e-workers.png (records/s and worker CPU per record
    by workers and partitions, with the targets).
    """
    import orjson

    from pipeline.bench.e2e import run_e2e, summary_rows
    from pipeline.kafka import check_kafka
    from pipeline.settings import load_settings

    runs = _runs(_counts(workers, "--workers", 16), _counts(partitions, "--partitions", 64))
    bootstrap = load_settings().kafka_bootstrap_servers  # errors: one line, by pipeline.cli
    if bootstrap:
        check_kafka(bootstrap)
    _check_plot_dir(plot)
    results: list[E2EResult] = []
    with _sigterm_exits():
        for number, (run_workers, run_partitions) in enumerate(runs, 1):
            prefix = (
                f"run {number}/{len(runs)} ({run_workers} worker(s), {run_partitions} partitions): "
                if len(runs) > 1
                else ""
            )

            def progress(text: str, prefix: str = prefix) -> None:
                if not as_json:
                    err.print(f"[dim]{escape(prefix + text)}…[/]")

            result = run_e2e(
                records,
                bootstrap=bootstrap,
                partitions=run_partitions,
                workers=run_workers,
                latency_seconds=latency_seconds,
                outage_seconds=outage_seconds,
                seed=seed,
                timeout=timeout,
                ceiling_passes=ceiling_passes,
                progress=progress,
            )
            results.append(result)
            if as_json:  # as each run ends: a long sweep keeps what it measured so far
                sys.stdout.write(orjson.dumps(result.to_dict()).decode() + "\n")
                sys.stdout.flush()
    if as_json:
        if plot is not None:
            _plot(plot, e2e=results)
        return
    for result in results:
        table = Table(
            title=f"kong-litefuse end to end ({result.workers} worker(s), "
            f"{result.partitions} partitions)"
        )
        table.add_column("figure")
        table.add_column("value", justify="right")
        for name, value in summary_rows(result):
            table.add_row(name, value)
        Console().print(table)
        for line in e2e_targets(result):
            Console().print(line)
    if len(results) > 1:
        Console().print(_sweep_table(results))
    if plot is not None:
        _plot(plot, e2e=results)
    if any(result.lost or result.duplicates for result in results):
        raise typer.Exit(1)


def _sweep_table(results: Sequence[E2EResult]) -> Table:
    """The runs of a sweep side by side."""
    table = Table(title="end to end, run by run")
    for column in (
        "workers",
        "partitions",
        "records/s",
        "vs bare consumer",
        "worker CPU µs/record",
        "p99 ms",
        "peak RSS MB",
        "lost / dup",
    ):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            str(r.workers),
            str(r.partitions),
            f"{r.records_per_s:,.0f}",
            f"{r.ratio_to_ceiling:.3f}",
            f"{r.worker_cpu_us_per_record:,.0f}",
            f"{r.latency_p99_ms:,.0f}",
            f"{r.peak_rss_mb:,.0f}",
            f"{r.lost} / {r.duplicates}",
        )
    return table


@bench_app.command("plot")
def plot_saved(
    source: Annotated[
        Path,
        typer.Option(
            "--from",
            exists=True,
            dir_okay=False,
            help="Output of bench enrich --json or bench e2e --json (JSON lines may be joined).",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", file_okay=False, help="Directory for the PNG charts.")
    ],
) -> None:
    """Draw the charts of saved --json output again, without re-running the benchmark."""
    _check_plot_dir(out)
    from pipeline.bench.plot import load_results

    try:
        loaded = load_results(source)
    except (ValueError, KeyError, TypeError) as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    _plot(out, enrich=loaded.enrich, e2e=loaded.e2e)


@contextlib.contextmanager
def _sigterm_exits() -> Iterator[None]:
    """Make SIGTERM (``timeout``, process managers) exit through the benchmark's finally blocks,
    which stop its workers, receiver and embedded broker. By default Python dies at once and
    they outlive it: an orphaned worker then retried its broker for good, taking a share of
    the CPU from every later measurement. (Signals can be set from the main thread only.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, leave)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def e2e_targets(result: E2EResult) -> list[str]:
    """Issue 18's end-to-end targets as yes/no lines (a phase that did not run: 0, "no";
    an outage that did not run counts as within the RSS target)."""
    from pipeline.bench.e2e import (
        LATENCY_TARGET_MS,
        RATIO_TARGET,
        REQUESTS_TARGET,
        RSS_TARGET_MB,
        WORKER_CPU_TARGET_US,
    )

    def yes(ok: bool) -> str:
        return "yes" if ok else "no"

    cpu = result.worker_cpu_us_per_record
    ratio = result.ratio_to_ceiling
    requests = result.requests_per_1000_traces
    rss, outage = result.peak_rss_mb, result.outage_peak_rss_mb  # outage 0: no outage phase
    p99 = result.latency_p99_ms
    return [
        f"worker CPU ≤ {WORKER_CPU_TARGET_US:,.0f} µs/record (worker + helpers): "
        f"{yes(0 < cpu <= WORKER_CPU_TARGET_US)} ({cpu:,.0f} µs)",
        f"end to end ≥ {RATIO_TARGET:g} {TIMES} the bare consumer: "
        f"{yes(ratio >= RATIO_TARGET)} ({ratio:.3f})",
        f"≤ {REQUESTS_TARGET:g} requests per 1,000 traces: {yes(requests <= REQUESTS_TARGET)} "
        f"({requests:.2f})",
        f"peak RSS ≤ {RSS_TARGET_MB:,.0f} MB, outage included: "
        f"{yes(0 < rss <= RSS_TARGET_MB and outage <= RSS_TARGET_MB)} "
        f"({rss:,.0f} MB; outage {outage:,.0f} MB)",
        f"p99 ≤ {LATENCY_TARGET_MS / 1000:g} s at half rate: "
        f"{yes(0 < p99 <= LATENCY_TARGET_MS)} ({p99:,.0f} ms)",
        f"lost 0 and duplicated 0: {yes(result.lost == 0 and result.duplicates == 0)} "
        f"({result.lost} / {result.duplicates})",
    ]
