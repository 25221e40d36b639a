"""``kong-litefuse demo``: the whole path on the bundled Kong records, nothing to set up.

Embedded broker → topics → publish the examples → run the worker in-process until every record
is accounted for (traced and delivered, skipped, or dead-lettered) → print a table and counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import faust
import orjson
from rich.console import Console
from rich.table import Table

from pipeline import metrics
from pipeline.app import create_app
from pipeline.broker import free_port
from pipeline.delivery.deliverer import DeliveryReport
from pipeline.kafka import bootstrap_servers, publish
from pipeline.ops.topics import ensure_topics, pipeline_topics
from pipeline.resources import example_records
from pipeline.settings import Settings, url_without_userinfo
from pipeline.sinks import Sink, WriteResult, build_sink
from pipeline.trace import Trace


@dataclass
class DemoResult:
    published: int = 0
    traces: list[Trace] = field(default_factory=list)
    consumed: float = 0
    traced: float = 0
    skipped: float = 0
    dead_lettered: float = 0
    delivered: int = 0
    seconds: float = 0.0
    completed: bool = False
    interrupted: int | None = None
    """The signal (SIGINT, SIGTERM) that stopped the demo before every record was processed."""


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels or {}) or 0.0


def _total(name: str) -> float:
    total = 0.0
    for family in metrics.REGISTRY.collect():
        for sample in family.samples:
            if sample.name == name:
                total += sample.value
    return total


def demo_values(repeat: int) -> list[bytes]:
    """The bundled records, ``repeat`` times; copies get their own request ids."""
    values: list[bytes] = []
    for copy in range(repeat):
        for _name, value in example_records():
            if copy and value.startswith(b"{") and b'"request"' in value:
                with contextlib.suppress(orjson.JSONDecodeError):
                    record = orjson.loads(value)
                    record["request"]["id"] = uuid.UUID(int=uuid.uuid4().int).hex
                    value = orjson.dumps(record)
            values.append(value)
    return values


class _Quiet:
    """Collects delivered traces; the demo prints them as a table instead of JSON lines."""

    name = "demo"

    async def write(self, traces: Sequence[Trace]) -> WriteResult:
        return WriteResult(accepted_ids=[t.id for t in traces])

    async def aclose(self) -> None:
        return None


class _Worker(faust.Worker):
    """faust's worker, noting which signal stopped it (faust stops on SIGINT/SIGTERM itself),
    without faust's spinner, which writes cursor codes even into a pipe."""

    stopped_by: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spinner = None

    def _on_sigint(self) -> None:
        self.stopped_by = self.stopped_by or signal.SIGINT
        super()._on_sigint()

    def _on_sigterm(self) -> None:
        self.stopped_by = self.stopped_by or signal.SIGTERM
        super()._on_sigterm()


def run_demo(
    settings: Settings,
    repeat: int = 1,
    timeout: float = 120.0,
    after_worker: Callable[[], None] | None = None,
) -> DemoResult:
    """Run the demo; ``after_worker`` runs once faust has stopped (it takes the signals back:
    faust leaves SIGTERM at its default, which kills)."""
    result = DemoResult()
    with bootstrap_servers(settings) as (bootstrap, embedded):
        suffix = "" if embedded else f"-demo-{uuid.uuid4().hex[:8]}"
        settings = settings.model_copy(
            update={
                "kafka_bootstrap_servers": bootstrap,
                "consumer_group": f"kong-litefuse-demo-{uuid.uuid4().hex[:8]}",
                "kong_log_topic": settings.kong_log_topic + suffix,
                "traces_topic": settings.traces_topic + suffix,
                "dead_letter_topic": settings.dead_letter_topic + suffix,
                "traces_dead_letter_topic": settings.traces_dead_letter_topic + suffix,
                "worker_web_port": free_port(),
                "kafka_producer_max_batch_bytes": 1
                if embedded
                else settings.kafka_producer_max_batch_bytes,
            }
        )
        ensure_topics(bootstrap, pipeline_topics(settings), settings.topic_partitions)
        values = demo_values(repeat)
        sink: Sink = _Quiet() if settings.sink_kind == "console" else build_sink(settings)

        def delivered(report: DeliveryReport) -> None:
            result.traces.extend(report.accepted)
            result.delivered += len(report.accepted) + len(report.rejected) + report.duplicates

        app = create_app(settings, sink=sink, on_delivered=delivered)
        worker = _Worker(app, loglevel="warning", quiet=True)
        started = time.monotonic()

        @app.task  # type: ignore[untyped-decorator]
        async def watch() -> None:
            result.published = publish(bootstrap, settings.kong_log_topic, values)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                result.consumed = _sample("kong_litefuse_records_consumed_total")
                result.traced = _total("kong_litefuse_traces_published_total")
                result.skipped = _total("kong_litefuse_records_skipped_total")
                result.dead_lettered = _total("kong_litefuse_dead_letters_total")
                if result.consumed >= result.published and result.delivered >= result.traced:
                    result.completed = True
                    break
                await asyncio.sleep(0.2)
            result.seconds = time.monotonic() - started
            await worker.stop()

        try:
            with contextlib.suppress(SystemExit):
                worker.execute_from_commandline()
        finally:
            if after_worker is not None:
                after_worker()
        if not result.seconds:
            result.seconds = time.monotonic() - started
        result.interrupted = worker.stopped_by if not result.completed else None
    return result


def sink_name(settings: Settings) -> str:
    """Where the demo's traces go, for the report: never with credentials in the URL."""
    if settings.sink_kind == "console":
        return "console"
    return url_without_userinfo(str(settings.langfuse_base_url))


def format_cost(usd: float | None) -> str:
    """A cost with three significant digits, never rounded to a false ``0.000000``:
    ``$0.00000014``, ``$0.0123``, ``$1.50``; ``-`` when the price is unknown; ``$0`` only when
    the price is known to be zero."""
    if usd is None or not math.isfinite(usd):
        return "-"
    if usd == 0:
        return "$0"
    if abs(usd) >= 1:
        return f"${usd:,.2f}"
    decimals = min(-math.floor(math.log10(abs(usd))) + 2, 20)
    return "$" + f"{usd:.{decimals}f}".rstrip("0").rstrip(".")


def print_report(result: DemoResult, console: Console, sink_name: str) -> None:
    sink_name = url_without_userinfo(sink_name)  # whoever called: no user:password@ printed
    table = Table(title=f"Traces delivered to {sink_name}", show_lines=False)
    for column in (
        "trace id",
        "name",
        "provider",
        "model",
        "user",
        "session",
        "tokens in/out",
        "cost",
        "latency ms",
        "level",
    ):
        table.add_column(column, overflow="fold")
    shown = result.traces[:50]
    for trace in shown:
        generation = trace.generation
        usage = generation.usage
        tokens = f"{usage.input or 0}/{usage.output or 0}" if usage else "-"
        if usage and usage.estimated:
            tokens += " (est.)"
        table.add_row(
            trace.id[:12],
            trace.name,
            str(trace.metadata.get("provider", "")),
            generation.model or "-",
            trace.user_id or "-",
            trace.session_id or "-",
            tokens,
            format_cost(generation.cost.total if generation.cost else None),
            str(trace.metadata.get("total_duration_ms", "-")),
            str(generation.level or "DEFAULT"),
        )
    console.print(table)
    messages = [(t.id[:12], t.generation.status_message) for t in shown]
    for trace_id, message in messages:
        if message:
            console.print(f"  {trace_id} status: {message}")
    rate = result.consumed / result.seconds if result.seconds else 0.0
    console.print(
        f"records in: {int(result.consumed)}  traced: {int(result.traced)}  "
        f"skipped: {int(result.skipped)}  dead-lettered: {int(result.dead_lettered)}  "
        f"delivered: {result.delivered}  "
        f"in {result.seconds:.2f}s ({rate:.0f} records/s end to end, group join included)"
    )
