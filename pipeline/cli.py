"""The ``kong-litefuse`` command."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from pipeline.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    name="kong-litefuse",
    help="Kong Gateway request logs on Kafka → LLM traces in Litefuse.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
topics_app = typer.Typer(help="Create and inspect the pipeline's topics.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")

err = Console(stderr=True)
out = Console()


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None


@app.command()
def demo(
    repeat: Annotated[
        int, typer.Option(min=1, max=10_000, help="Publish the bundled records N times.")
    ] = 1,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 120.0,
) -> None:
    """Run the whole pipeline on bundled Kong records and print the traces."""
    from pipeline.demo import print_report, run_demo

    settings = _settings()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    result = run_demo(settings, repeat=repeat, timeout=timeout)
    sink = "console" if settings.sink_kind == "console" else str(settings.langfuse_base_url)
    print_report(result, out, sink)
    if not result.completed:
        err.print("[bold red]error:[/] not every record was processed before the timeout")
        raise typer.Exit(1)


@app.command()
def worker(
    create_topics: Annotated[
        bool, typer.Option(help="Create missing topics before starting.")
    ] = True,
) -> None:
    """Run the faust worker (enrich and sink agents) with our settings."""
    import faust

    from pipeline.app import create_app
    from pipeline.kafka import bootstrap_servers, client_config
    from pipeline.ops.topics import ensure_topics, pipeline_topics

    settings = _settings()
    with bootstrap_servers(settings) as (bootstrap, embedded):
        update: dict[str, object] = {"kafka_bootstrap_servers": bootstrap}
        if embedded:
            update["kafka_producer_max_batch_bytes"] = 1  # Tansu's changelog-recovery quirk
        settings = settings.model_copy(update=update)
        if create_topics:
            ensure_topics(
                bootstrap,
                pipeline_topics(settings),
                settings.topic_partitions,
                settings.topic_replication_factor,
                client_config=client_config(settings),
            )
        faust_app = create_app(settings)
        faust.Worker(faust_app, loglevel=settings.log_level.lower()).execute_from_commandline()


@app.command()
def broker(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 9092,
) -> None:
    """Run the embedded Kafka-protocol broker (Tansu, memory storage) in the foreground."""
    from pipeline.broker import EmbeddedBroker

    embedded = EmbeddedBroker(port=port or None).start()
    out.print(f"KAFKA_BOOTSTRAP_SERVERS={embedded.bootstrap_servers}", highlight=False)
    err.print("embedded broker running (memory storage); Ctrl-C stops it")

    def stop(*_: object) -> None:
        embedded.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.exit(embedded.wait())


@app.command()
def transform(
    file: Annotated[str, typer.Argument(help="Kong records: a file, or - for stdin.")] = "-",
    output_format: Annotated[
        str, typer.Option("--format", help="langfuse (batch events) or otlp-json.")
    ] = "langfuse",
) -> None:
    """Kong records in, Litefuse ingestion events out (one JSON line each); no Kafka needed."""
    from pipeline.ops.transform import run_transform

    if output_format not in ("langfuse", "otlp-json"):
        err.print("[bold red]error:[/] --format must be langfuse or otlp-json")
        raise typer.Exit(2)
    fmt: Literal["langfuse", "otlp-json"] = (
        "langfuse" if output_format == "langfuse" else "otlp-json"
    )
    settings = _settings()
    data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    failures = run_transform(data, settings, fmt, sys.stdout, sys.stderr)
    raise typer.Exit(1 if failures else 0)


@topics_app.command("create")
def topics_create() -> None:
    """Create the Kong, traces and dead-letter topics if missing."""
    from pipeline.kafka import client_config
    from pipeline.ops.topics import ensure_topics, pipeline_topics

    settings = _settings()
    if not settings.kafka_bootstrap_servers:
        err.print("[bold red]error:[/] KAFKA_BOOTSTRAP_SERVERS is not set")
        raise typer.Exit(2)
    created = ensure_topics(
        settings.kafka_bootstrap_servers,
        pipeline_topics(settings),
        settings.topic_partitions,
        settings.topic_replication_factor,
        client_config=client_config(settings),
    )
    out.print(f"created: {', '.join(created) or 'nothing (all exist)'}")


@topics_app.command("describe")
def topics_describe() -> None:
    """Show the pipeline's topics and their partition counts."""
    from pipeline.ops.topics import describe_topics, pipeline_topics

    settings = _settings()
    if not settings.kafka_bootstrap_servers:
        err.print("[bold red]error:[/] KAFKA_BOOTSTRAP_SERVERS is not set")
        raise typer.Exit(2)
    for info in describe_topics(settings.kafka_bootstrap_servers, pipeline_topics(settings)):
        out.print(f"{info.name}\tpartitions={info.partitions}")


@app.command()
def schemas(
    check: Annotated[bool, typer.Option(help="Fail if the files differ from the models.")] = False,
) -> None:
    """Write (or check) the JSON Schema contracts in schemas/ from the pydantic models."""
    from pipeline.contracts import write_schemas

    stale = write_schemas(check=check)
    for name in stale:
        out.print(("stale: " if check else "wrote: ") + name)
    if check and stale:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
