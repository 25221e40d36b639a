"""The ``kong-litefuse`` command."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from pipeline.bench.cli import bench_app
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
app.add_typer(bench_app, name="bench", help="Benchmarks on generated Kong records.")

err = Console(stderr=True)
out = Console()
if not out.is_terminal:  # piped or logged: do not squeeze tables into 80 columns
    out = Console(width=160)


def _require_bootstrap(settings: Settings) -> str:
    """The Kafka bootstrap servers, or exit with the setting's name (no embedded default here)."""
    if not settings.kafka_bootstrap_servers:
        err.print("[bold red]error:[/] KAFKA_BOOTSTRAP_SERVERS is not set")
        raise typer.Exit(2)
    return settings.kafka_bootstrap_servers


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
    from pipeline.demo import print_report, run_demo, sink_name

    settings = _settings()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    result = run_demo(settings, repeat=repeat, timeout=timeout)
    print_report(result, out, sink_name(settings))
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
    from pipeline.runtime import freeze_startup_heap, tune_interpreter

    settings = _settings()
    tune_interpreter(settings)
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
        freeze_startup_heap()
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
    bootstrap = _require_bootstrap(settings)
    created = ensure_topics(
        bootstrap,
        pipeline_topics(settings),
        settings.topic_partitions,
        settings.topic_replication_factor,
        client_config=client_config(settings),
    )
    out.print(f"created: {', '.join(created) or 'nothing (all exist)'}")


@topics_app.command("describe")
def topics_describe() -> None:
    """Show the pipeline's topics and their partition counts."""
    from pipeline.kafka import client_config
    from pipeline.ops.topics import describe_topics, pipeline_topics

    settings = _settings()
    bootstrap = _require_bootstrap(settings)
    for info in describe_topics(
        bootstrap,
        pipeline_topics(settings),
        client_config=client_config(settings),
    ):
        out.print(f"{info.name}\tpartitions={info.partitions}")


@topics_app.command("add-partitions")
def topics_add_partitions(
    total: Annotated[int, typer.Argument(min=1, help="The new partition count of each topic.")],
) -> None:
    """Grow the pipeline's topics to TOTAL partitions (to run more workers in parallel).

    Kafka cannot shrink a topic. Keys move to new partitions afterwards, so traces published
    before and after may be owned by different workers; the de-duplication window of a moved
    key starts empty on its new partition.
    """
    from pipeline.kafka import client_config
    from pipeline.ops.topics import add_partitions, describe_topics, pipeline_topics

    settings = _settings()
    bootstrap = _require_bootstrap(settings)
    from confluent_kafka import KafkaException

    config = client_config(settings)
    for info in describe_topics(bootstrap, pipeline_topics(settings)):
        if info.partitions >= total:
            out.print(f"{info.name}: already {info.partitions} partitions")
            continue
        try:
            add_partitions(bootstrap, info.name, total, client_config=config)
        except KafkaException as exc:
            err.print(f"[bold red]error:[/] {info.name}: {exc.args[0].str()}")
            raise typer.Exit(1) from None
        out.print(f"{info.name}: {info.partitions} → {total} partitions")


@app.command()
def schemas(
    check: Annotated[bool, typer.Option(help="Fail if the files differ from the models.")] = False,
) -> None:
    """Write (or check) the JSON Schema contracts in schemas/ from the models."""
    from pipeline.contracts import write_schemas

    stale = write_schemas(check=check)
    for name in stale:
        out.print(("stale: " if check else "wrote: ") + name)
    if check and stale:
        raise typer.Exit(1)


@app.command()
def replay(
    topic: Annotated[
        str | None, typer.Option(help="Topic to replay (default KONG_LOG_TOPIC; a DLQ works).")
    ] = None,
    from_time: Annotated[
        str | None, typer.Option("--from", help="Start time: ISO-8601, -2h, -30m, -1d or now.")
    ] = None,
    to_time: Annotated[
        str | None, typer.Option("--to", help="End time (exclusive), same forms as --from.")
    ] = None,
    from_offset: Annotated[
        list[str] | None,
        typer.Option(help="Start offset: N for every partition or P:N (only those partitions)."),
    ] = None,
    to_offset: Annotated[
        list[str] | None, typer.Option(help="Stop before this offset: N or P:N.")
    ] = None,
    service: Annotated[list[str] | None, typer.Option(help="Kong service name or id.")] = None,
    route: Annotated[list[str] | None, typer.Option(help="Kong route name or id.")] = None,
    consumer: Annotated[
        list[str] | None, typer.Option(help="Kong consumer username, custom_id or id.")
    ] = None,
    provider: Annotated[
        list[str] | None, typer.Option(help="openai, anthropic, vllm, … (after enrichment).")
    ] = None,
    status: Annotated[
        list[str] | None, typer.Option(help="Response status: 200, 429, 5xx, …")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the traces, publish nothing.")
    ] = False,
    rate: Annotated[
        float | None, typer.Option(min=0.001, help="At most this many records per second.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar with ETA.")] = True,
    idle_timeout: Annotated[
        float, typer.Option(min=0.5, help="Stop when no record comes for this many seconds.")
    ] = 10.0,
    timeout: Annotated[
        float | None, typer.Option(min=1.0, help="Stop reading after this many seconds.")
    ] = None,
) -> None:
    """Re-run a range of a topic through enrichment onto the traces topic (the sink delivers)."""
    from pipeline.enrich.stage import enrich_options
    from pipeline.ops.replay import (
        ReplayFilter,
        ReplayRequest,
        parse_offsets,
        parse_time,
        run_replay,
    )

    settings = _settings()
    bootstrap = _require_bootstrap(settings)
    try:
        request = ReplayRequest(
            bootstrap=bootstrap,
            topic=topic or settings.kong_log_topic,
            traces_topic=settings.traces_topic,
            options=enrich_options(settings),
            routes=settings.langfuse_routes,
            start_time=parse_time(from_time) if from_time else None,
            end_time=parse_time(to_time) if to_time else None,
            from_offsets=parse_offsets(from_offset or []),
            to_offsets=parse_offsets(to_offset or []),
            selection=ReplayFilter(
                services=tuple(service or ()),
                routes=tuple(route or ()),
                consumers=tuple(consumer or ()),
                providers=tuple(provider or ()),
                statuses=tuple(status or ()),
            ),
            dry_run=dry_run,
            rate=rate,
            idle_timeout=idle_timeout,
            max_seconds=timeout,
        )
    except ValueError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    summary = run_replay(request, out=sys.stdout, show_progress=progress, console=err)
    for plan in summary.plans:
        err.print(
            f"partition {plan.partition}: offsets {plan.start}..{plan.stop} "
            f"(start by {plan.start_method}, stop by {plan.stop_method}; log {plan.low}..{plan.end}"
            f", {plan.fetches} probe fetches)",
            highlight=False,
        )
    verb = "would publish" if dry_run else f"published to {summary.traces_topic}"
    err.print(
        f"{summary.messages} messages, {summary.records} records: {verb} {summary.traces} "
        f"traces; skipped {summary.skipped} non-AI, filtered {summary.filtered}, outside the "
        f"window {summary.outside_window}, failed {summary.failed} "
        f"({summary.messages_per_second:.0f} messages/s)",
        highlight=False,
    )
    for reason, count in summary.failure_reasons.most_common(10):
        err.print(f"  failed {count}x {reason}", highlight=False)
    if not summary.complete:
        err.print("[bold red]incomplete:[/] some partitions stopped before their end offset")
    if summary.failed or not summary.complete:
        raise typer.Exit(1)


@app.command("kong-config")
def kong_config(
    service_name: Annotated[str, typer.Option(help="Kong service (and route) name.")] = "llm",
    service_url: Annotated[
        str, typer.Option(help="Upstream URL (ignored by ai-proxy, which picks the provider).")
    ] = "https://api.openai.com",
    route_path: Annotated[
        list[str] | None, typer.Option(help="Route path; repeat for several. Default: /v1.")
    ] = None,
    transport: Annotated[
        str, typer.Option(help="kafka-log (Kong Enterprise) or http-log (→ ingest-http).")
    ] = "kafka-log",
    bootstrap_servers: Annotated[
        str, typer.Option(help="host:port[,host:port] as Kong reaches Kafka.")
    ] = "kafka:9092",
    topic: Annotated[str, typer.Option(help="Kong topic.")] = "kong-logs",
    sasl_mechanism: Annotated[
        str | None, typer.Option(help="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.")
    ] = None,
    sasl_user: Annotated[str | None, typer.Option(help="SASL user name.")] = None,
    sasl_password_env: Annotated[
        str, typer.Option(help="Kong's environment variable holding the SASL password.")
    ] = "KAFKA_SASL_PASSWORD",
    tls: Annotated[bool, typer.Option(help="TLS to the brokers.")] = False,
    tls_verify: Annotated[bool, typer.Option(help="Verify the brokers (Kong 3.13+).")] = True,
    body_capture: Annotated[
        bool, typer.Option(help="Capture request/response bodies with pre/post-function.")
    ] = True,
    body_cap: Annotated[int, typer.Option(help="Bytes kept of each body.")] = 262144,
    identity_encoding: Annotated[
        bool, typer.Option(help="Drop Accept-Encoding upstream so bodies are readable.")
    ] = True,
    ai_proxy: Annotated[bool, typer.Option(help="Add Kong AI Gateway's ai-proxy.")] = False,
    ai_provider: Annotated[str, typer.Option(help="openai or anthropic.")] = "openai",
    ai_model: Annotated[str, typer.Option(help="ai-proxy model name.")] = "gpt-4o-mini",
    ai_log_payloads: Annotated[
        bool, typer.Option(help="ai-proxy logging.log_payloads (statistics are always on).")
    ] = True,
    ai_auth_env: Annotated[
        str | None, typer.Option(help="Kong's environment variable with the provider key.")
    ] = None,
    http_endpoint: Annotated[
        str, typer.Option(help="ingest-http URL, as Kong reaches it (http-log).")
    ] = "http://kong-litefuse-ingest:8080/ingest",
    http_token_env: Annotated[
        str, typer.Option(help="Kong's environment variable with the ingest token; '' for none.")
    ] = "INGEST_HTTP_TOKEN",
    kong_version: Annotated[str, typer.Option(help="Kong Gateway version, 3.0 to 3.15.")] = "3.10",
    output_format: Annotated[
        str, typer.Option("--format", help="yaml (decK / DB-less) or admin-api (curl calls).")
    ] = "yaml",
    output: Annotated[Path | None, typer.Option(help="Write to this file, not stdout.")] = None,
) -> None:
    """Generate Kong's configuration: kafka-log (or http-log), body capture, ai-proxy logging."""
    from pipeline.ops.kong_config import (
        KongConfigError,
        KongConfigOptions,
        command_line,
        render_admin_api,
        render_yaml,
    )

    choices = {
        "--transport": (transport, ("kafka-log", "http-log")),
        "--format": (output_format, ("yaml", "admin-api")),
        "--ai-provider": (ai_provider, ("openai", "anthropic")),
        "--sasl-mechanism": (sasl_mechanism, (None, "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")),
    }
    for flag, (value, allowed) in choices.items():
        if value not in allowed:
            err.print(f"[bold red]error:[/] {flag} must be one of {', '.join(map(str, allowed))}")
            raise typer.Exit(2)
    try:
        options = KongConfigOptions(
            service_name=service_name,
            service_url=service_url,
            route_paths=tuple(route_path or ["/v1"]),
            transport=transport,  # type: ignore[arg-type]
            bootstrap_servers=tuple(s for s in bootstrap_servers.split(",") if s.strip()),
            topic=topic,
            sasl_mechanism=sasl_mechanism,  # type: ignore[arg-type]
            sasl_user=sasl_user,
            sasl_password_env=sasl_password_env,
            tls=tls,
            tls_verify=tls_verify,
            body_capture=body_capture,
            body_cap=body_cap,
            identity_encoding=identity_encoding,
            ai_proxy=ai_proxy,
            ai_provider=ai_provider,  # type: ignore[arg-type]
            ai_model=ai_model,
            ai_log_payloads=ai_log_payloads,
            ai_auth_env=ai_auth_env,
            http_endpoint=http_endpoint,
            http_token_env=http_token_env or None,
            kong_version=kong_version,
        )
        fmt = "admin-api" if output_format == "admin-api" else "yaml"
        command = command_line(options, fmt)
        text = (
            render_admin_api(options, command)
            if fmt == "admin-api"
            else render_yaml(options, command)
        )
    except KongConfigError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        err.print(f"wrote {output}")


@app.command("ingest-http")
def ingest_http(
    host: Annotated[
        str, typer.Option(envvar="INGEST_HTTP_HOST", help="Bind address (0.0.0.0 in a container).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="INGEST_HTTP_PORT", min=0, max=65535)] = 8080,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="INGEST_HTTP_TOKEN",
            show_default=False,
            help="Shared secret expected in x-kong-litefuse-token (or Bearer). Prefer the env var.",
        ),
    ] = None,
    basic_user: Annotated[str | None, typer.Option(envvar="INGEST_HTTP_BASIC_USER")] = None,
    basic_password: Annotated[
        str | None, typer.Option(envvar="INGEST_HTTP_BASIC_PASSWORD", show_default=False)
    ] = None,
    max_body_bytes: Annotated[
        int, typer.Option(envvar="INGEST_HTTP_MAX_BODY_BYTES", min=1024, help="413 above this.")
    ] = 10 * 1024 * 1024,
    max_record_bytes: Annotated[
        int, typer.Option(envvar="INGEST_HTTP_MAX_RECORD_BYTES", min=1024, help="Per record.")
    ] = 1_000_000,
    delivery_timeout: Annotated[
        float,
        typer.Option(envvar="INGEST_HTTP_DELIVERY_TIMEOUT", min=0.5, help="503 after this (s)."),
    ] = 8.0,
    compression: Annotated[
        str,
        typer.Option(
            envvar="INGEST_HTTP_COMPRESSION",
            help="Codec of the records published: lz4, zstd, gzip, snappy or none. Every "
            "consumer of the topic must decode it.",
        ),
    ] = "lz4",
    max_records: Annotated[
        int,
        typer.Option(
            envvar="INGEST_HTTP_MAX_RECORDS",
            min=1,
            max=1_000_000,
            help="Records per request at most (413 above): bounds memory. Kong http-log's "
            "queue.max_batch_size must stay below it.",
        ),
    ] = 1000,
    max_in_flight_bytes: Annotated[
        int,
        typer.Option(
            envvar="INGEST_HTTP_MAX_IN_FLIGHT_BYTES",
            min=1024,
            help="Bytes all requests in progress may hold (bodies, records awaiting Kafka); "
            "503 above it. At least --max-body-bytes.",
        ),
    ] = 64 * 1024 * 1024,
    allow_no_auth: Annotated[
        bool,
        typer.Option(
            "--allow-no-auth",
            envvar="INGEST_HTTP_ALLOW_NO_AUTH",
            help="Serve without credentials on a non-loopback address (something in front "
            "authenticates). Without it ingest-http refuses to start that way.",
        ),
    ] = False,
) -> None:
    """Accept Kong http-log batches over HTTP and publish them to the Kong topic (Kong OSS)."""
    from pipeline.ops.ingest_http import COMPRESSIONS, IngestConfig, IngestConfigError, serve

    settings = _settings()
    bootstrap = _require_bootstrap(settings)
    if compression not in COMPRESSIONS:
        err.print(f"[bold red]error:[/] --compression must be one of {', '.join(COMPRESSIONS)}")
        raise typer.Exit(2)
    if (basic_user is None) != (basic_password is None):
        err.print("[bold red]error:[/] Basic auth needs both user and password")
        raise typer.Exit(2)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = IngestConfig(
        bootstrap_servers=bootstrap,
        topic=settings.kong_log_topic,
        host=host,
        port=port,
        token=token or None,
        basic_user=basic_user or None,
        basic_password=basic_password if basic_user else None,
        max_body_bytes=max_body_bytes,
        max_record_bytes=max_record_bytes,
        delivery_timeout=delivery_timeout,
        compression=compression,
        max_records=max_records,
        allow_no_auth=allow_no_auth,
        max_in_flight_bytes=max_in_flight_bytes,
    )
    try:
        serve(config)
    except IngestConfigError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None


@app.command()
def redrive(
    topic: Annotated[
        str | None, typer.Option(help="Dead-letter topic (default DEAD_LETTER_TOPIC).")
    ] = None,
    to: Annotated[
        str | None, typer.Option(help="Publish here instead of each letter's source topic.")
    ] = None,
    reason_contains: Annotated[
        str | None, typer.Option(help="Only letters whose reason contains this text.")
    ] = None,
    from_beginning: Annotated[
        bool, typer.Option(help="Ignore earlier redrives' progress and start over.")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="Show what would move; move nothing.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Move at most N letters.")] = None,
) -> None:
    """Re-publish dead letters to their source topics once the cause is fixed."""
    from pipeline.delivery.redrive import redrive as run_redrive
    from pipeline.kafka import client_config

    settings = _settings()
    bootstrap = _require_bootstrap(settings)
    dead_letters = topic or settings.dead_letter_topic
    summary = run_redrive(
        bootstrap,
        dead_letters,
        group_id=f"{settings.consumer_group}-redrive",
        kong_topic=settings.kong_log_topic,
        traces_topic=settings.traces_topic,
        to_topic=to,
        reason_contains=reason_contains,
        from_beginning=from_beginning,
        dry_run=dry_run,
        limit=limit,
        client_config=client_config(settings),
    )
    verb = "would move" if dry_run else "moved"
    out.print(
        f"{dead_letters}: read {summary.read}, {verb} "
        f"{sum(summary.by_target.values()) if dry_run else summary.redriven}, "
        f"filtered out {summary.filtered}"
    )
    for target, count in summary.by_target.items():
        out.print(f"  → {target}: {count}")
    for reason, count in summary.by_reason.most_common(10):
        out.print(f"  reason {reason!r}: {count}")
    if not summary.complete:
        err.print("[yellow]stopped before the end of the topic (limit or timeout)[/]")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
