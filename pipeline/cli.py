"""The ``kong-litefuse`` command.

A user error (an option, a setting, a file, Kafka or a port that is not there) is one line on
stderr, ``error: <cause> (<option or setting>)``, and a non-zero exit, never a traceback: the
errors are :class:`~pipeline.terminal.UserError` and click's usage errors, printed by
:func:`main`. Everything printed is literal text (no Rich markup).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from pipeline import terminal
from pipeline.bench.cli import bench_app
from pipeline.settings import Settings, load_settings, retired_in_use
from pipeline.terminal import Interruption, UserError, error, say

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


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("kong-litefuse")
    except PackageNotFoundError:  # a checkout run without installing
        from pipeline import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"kong-litefuse {version()}\n")
        raise typer.Exit(0)


@app.callback()
def _main_options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Kong Gateway request logs on Kafka → LLM traces in Litefuse."""


def _require_bootstrap(settings: Settings) -> str:
    """The Kafka bootstrap servers, or exit with the setting's name (no embedded default here)."""
    if not settings.kafka_bootstrap_servers:
        raise UserError(
            "KAFKA_BOOTSTRAP_SERVERS is not set: this command needs a Kafka cluster "
            "(host:port[,host:port]; `kong-litefuse broker` starts one for trying)"
        )
    return settings.kafka_bootstrap_servers


def _settings() -> Settings:
    return load_settings()  # SettingsError is a UserError: one line, exit 2


def _reachable(settings: Settings, bootstrap: str) -> None:
    """Kafka answers, or KafkaUnavailable naming KAFKA_BOOTSTRAP_SERVERS (a few seconds at
    most, instead of librdkafka retrying and logging for as long as the command waits)."""
    from pipeline.kafka import check_kafka, client_config

    check_kafka(bootstrap, client_config(settings))


def _command_logging(settings: Settings) -> None:
    """Warnings and errors for the commands; everything (librdkafka's lines too) with
    LOG_LEVEL=DEBUG."""
    level = logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


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
    if settings.kafka_bootstrap_servers:
        _reachable(settings, settings.kafka_bootstrap_servers)
    _command_logging(settings)
    interruption = Interruption().install()
    try:
        result = run_demo(
            settings, repeat=repeat, timeout=timeout, after_worker=interruption.reinstall
        )
    except KeyboardInterrupt:
        say(f"interrupted ({interruption.name}) before the pipeline ran")
        raise typer.Exit(interruption.exit_code) from None
    print_report(result, terminal.console(), sink_name(settings))
    if result.interrupted is not None:
        interruption.signal = result.interrupted
        say(
            f"interrupted ({interruption.name}): {int(result.consumed)} of {result.published} "
            f"records consumed, {result.delivered} of {int(result.traced)} traces delivered"
        )
        raise typer.Exit(interruption.exit_code)
    if not result.completed:
        raise UserError(
            f"not every record was processed in {timeout:g} s (--timeout): "
            f"{int(result.consumed)} of {result.published} consumed, {result.delivered} of "
            f"{int(result.traced)} traces delivered"
        )


@app.command()
def worker(
    create_topics: Annotated[
        bool, typer.Option(help="Create missing topics before starting.")
    ] = True,
) -> None:
    """Run the faust worker (enrich and sink agents) with our settings."""
    import faust

    from pipeline.app import create_app
    from pipeline.broker import check_listen
    from pipeline.kafka import bootstrap_servers, client_config
    from pipeline.ops.topics import ensure_topics, pipeline_topics
    from pipeline.runtime import freeze_startup_heap, tune_interpreter

    settings = _settings()
    check_listen(
        settings.worker_web_host, settings.worker_web_port, "WORKER_WEB_HOST / WORKER_WEB_PORT"
    )
    if settings.kafka_bootstrap_servers:
        _reachable(settings, settings.kafka_bootstrap_servers)
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
        announce = _announcement(settings)
        retired = retired_in_use()

        class Worker(faust.Worker):
            async def on_execute(self) -> None:  # logging is set up, nothing started yet
                log = logging.getLogger("pipeline.worker")
                log.info(*announce)
                if retired:
                    log.warning("settings no longer used, remove them: %s", "; ".join(retired))
                await super().on_execute()

        freeze_startup_heap()
        faust_worker = Worker(faust_app, loglevel=settings.log_level.lower())
        if not terminal.is_terminal(sys.stdout):
            faust_worker.spinner = None  # it writes cursor codes even into a pipe or a file
        faust_worker.execute_from_commandline()


def _announcement(settings: Settings) -> tuple[Any, ...]:
    """The worker's first INFO line: where traces go (no credentials), how, from where."""
    from pipeline.settings import url_without_userinfo

    if settings.sink_kind == "console":
        sink, destination, ingestion = "console", "stdout (JSON lines)", "-"
    else:
        sink = "litefuse"
        destination = url_without_userinfo(str(settings.langfuse_base_url))
        ingestion = settings.langfuse_ingestion
    routes = ", ".join(
        f"{r.name} → {url_without_userinfo(r.base_url)}" for r in settings.langfuse_routes
    )
    return (
        "worker starting: sink %s, destination %s, ingestion %s%s; reading %s, writing %s; "
        "dead letters %s, %s; consumer group %s; Kafka %s",
        sink,
        destination,
        ingestion,
        f", routes: {routes}" if routes else "",
        settings.kong_log_topic,
        settings.traces_topic,
        settings.dead_letter_topic,
        settings.traces_dead_letter_topic,
        settings.consumer_group,
        settings.kafka_bootstrap_servers,
    )


@app.command()
def broker(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 9092,
) -> None:
    """Run the embedded Kafka-protocol broker (Tansu, memory storage) in the foreground.

    Ctrl-C (SIGINT) or SIGTERM stops it at once and exits 0.
    """
    from pipeline.broker import EmbeddedBroker, check_listen

    if port:
        check_listen("127.0.0.1", port, "--port")
    interruption = Interruption().install()
    embedded = EmbeddedBroker(port=port or None)
    try:
        embedded.start()
        sys.stdout.write(f"KAFKA_BOOTSTRAP_SERVERS={embedded.bootstrap_servers}\n")
        sys.stdout.flush()
        say("embedded broker running (memory storage); Ctrl-C stops it")
        code = embedded.wait()
        reason = embedded.exit_reason()
    except KeyboardInterrupt:
        embedded.stop()
        say(f"embedded broker stopped ({interruption.name})")
        return
    finally:
        embedded.stop()
    raise UserError(
        f"the embedded broker (Tansu) stopped by itself with exit code {code}: {reason}"
    )


@app.command()
def transform(
    files: Annotated[
        list[str] | None,
        typer.Argument(
            help="Kong records: files, directories (their *.json, *.jsonl, *.ndjson, "
            "recursively, sorted), or - for stdin (the default). A file holds one JSON "
            "document, one value per line, or values one after another (pretty-printed too).",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="langfuse (batch events) or otlp-json.")
    ] = "langfuse",
) -> None:
    """Kong records in, Litefuse ingestion events out (one JSON line each); no Kafka needed.

    Each rejected record is one line on stderr with its reason, and the exit code is 1.
    """
    from pipeline.ops.transform import InputError, transform_paths

    if output_format not in ("langfuse", "otlp-json"):
        raise _bad_option("--format", output_format, ("langfuse", "otlp-json"))
    fmt: Literal["langfuse", "otlp-json"] = (
        "langfuse" if output_format == "langfuse" else "otlp-json"
    )
    settings = _settings()
    summary = transform_paths(files or ["-"], settings, fmt, sys.stdout, sys.stderr)
    sys.stdout.flush()
    if summary.records == 0 and summary.failures == 0:
        raise InputError("no Kong records in the input (transform's FILES argument, or stdin)")
    raise typer.Exit(1 if summary.failures else 0)


def _bad_option(
    flag: str, value: object, allowed: tuple[object, ...], setting: str = ""
) -> UserError:
    choices = ", ".join(str(a) for a in allowed if a is not None)
    where = f" ({setting})" if setting else ""
    failure = UserError(f"{flag} must be one of {choices}, not {value!r}{where}")
    failure.exit_code = 2
    return failure


@topics_app.command("create")
def topics_create() -> None:
    """Create the Kong, traces and dead-letter topics if missing."""
    from pipeline.kafka import client_config
    from pipeline.ops.topics import ensure_topics, pipeline_topics

    settings = _settings()
    bootstrap = _require_bootstrap(settings)
    _reachable(settings, bootstrap)
    created = ensure_topics(
        bootstrap,
        pipeline_topics(settings),
        settings.topic_partitions,
        settings.topic_replication_factor,
        client_config=client_config(settings),
    )
    say(f"created: {', '.join(created) or 'nothing (all exist)'}", sys.stdout)


@topics_app.command("describe")
def topics_describe() -> None:
    """Show the pipeline's topics and their partition counts."""
    from pipeline.kafka import client_config
    from pipeline.ops.topics import describe_topics, pipeline_topics

    settings = _settings()
    bootstrap = _require_bootstrap(settings)
    _reachable(settings, bootstrap)
    wanted = pipeline_topics(settings)
    found = describe_topics(bootstrap, wanted, client_config=client_config(settings))
    for info in found:
        sys.stdout.write(f"{info.name}\tpartitions={info.partitions}\n")
    missing = sorted(set(wanted) - {info.name for info in found})
    if missing:
        terminal.warning(
            f"missing: {', '.join(missing)} (`kong-litefuse topics create` creates them)"
        )


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
    _reachable(settings, bootstrap)
    from confluent_kafka import KafkaException

    config = client_config(settings)
    for info in describe_topics(bootstrap, pipeline_topics(settings), client_config=config):
        if info.partitions >= total:
            say(f"{info.name}: already {info.partitions} partitions", sys.stdout)
            continue
        try:
            add_partitions(bootstrap, info.name, total, client_config=config)
        except KafkaException as exc:
            raise UserError(f"{info.name}: {exc.args[0].str()}") from None
        say(f"{info.name}: {info.partitions} → {total} partitions", sys.stdout)


@app.command()
def schemas(
    check: Annotated[bool, typer.Option(help="Fail if the files differ from the models.")] = False,
) -> None:
    """Write (or check) the JSON Schema contracts in schemas/ from the models."""
    from pipeline.contracts import write_schemas

    try:
        stale = write_schemas(check=check)
    except OSError as exc:
        raise UserError(
            f"cannot write the schema files: {exc.filename}: {(exc.strerror or '').lower()} "
            "(run it in a checkout; --check only compares)"
        ) from None
    for name in stale:
        say(("stale: " if check else "wrote: ") + name, sys.stdout)
    if check and stale:
        raise UserError(
            f"{len(stale)} schema file(s) differ from the models: run `kong-litefuse schemas` "
            "and commit them"
        )


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
    from pipeline.kafka import client_config
    from pipeline.ops.offsets import OffsetSearchError
    from pipeline.ops.replay import (
        PartitionPlan,
        ReplayFilter,
        ReplayRequest,
        check_offset_range,
        parse_offsets,
        parse_time,
        run_replay,
    )

    settings = _settings()
    bootstrap = _require_bootstrap(settings)

    def option(flag: str, parse: Callable[[Any], Any], value: Any) -> Any:
        try:
            return parse(value)
        except ValueError as exc:
            raise ValueError(f"{flag}: {exc}") from None

    try:
        start_time = option("--from", parse_time, from_time) if from_time else None
        end_time = option("--to", parse_time, to_time) if to_time else None
        if start_time is not None and end_time is not None and start_time >= end_time:
            raise ValueError(
                f"--from {from_time} ({start_time:%Y-%m-%dT%H:%M:%SZ}) is not before --to "
                f"{to_time} ({end_time:%Y-%m-%dT%H:%M:%SZ}): the window is empty"
            )
        first = option("--from-offset", parse_offsets, from_offset or [])
        last = option("--to-offset", parse_offsets, to_offset or [])
        check_offset_range(first, last)
        request = ReplayRequest(
            bootstrap=bootstrap,
            client_config=client_config(settings),
            topic=topic or settings.kong_log_topic,
            traces_topic=settings.traces_topic,
            options=enrich_options(settings),
            routes=settings.langfuse_routes,
            start_time=start_time,
            end_time=end_time,
            from_offsets=first,
            to_offsets=last,
            selection=option(
                "--status",
                lambda statuses: ReplayFilter(
                    services=tuple(service or ()),
                    routes=tuple(route or ()),
                    consumers=tuple(consumer or ()),
                    providers=tuple(provider or ()),
                    statuses=statuses,
                ),
                tuple(status or ()),
            ),
            dry_run=dry_run,
            rate=rate,
            idle_timeout=idle_timeout,
            max_seconds=timeout,
        )
    except ValueError as exc:
        failure = UserError(str(exc))
        failure.exit_code = 2
        raise failure from None
    _reachable(settings, bootstrap)
    _command_logging(settings)
    interruption = Interruption().install()

    reading: list[bool] = []

    def show(plans: list[PartitionPlan]) -> None:
        reading.append(True)
        for plan in plans:
            say(
                f"partition {plan.partition}: offsets {plan.start}..{plan.stop} "
                f"(start by {plan.start_method}, stop by {plan.stop_method}; log "
                f"{plan.low}..{plan.end}, {plan.fetches} probe fetches)"
            )

    try:
        summary = run_replay(
            request,
            out=sys.stdout,
            show_progress=progress and terminal.is_terminal(sys.stderr),
            console=terminal.console(stderr=True),
            interruption=interruption,
            on_plan=show,
        )
    except OffsetSearchError as exc:
        hint = " (--topic)" if "does not exist" in str(exc) else ""
        raise UserError(f"{exc}{hint}") from None
    except KeyboardInterrupt:
        if reading:  # a second signal while reading: stopped at once
            say(
                f"interrupted ({interruption.name}) twice: stopped at once; traces not yet "
                "acknowledged by Kafka were dropped (run the same replay again: trace ids "
                "repeat, nothing doubles)"
            )
        else:
            say(f"interrupted ({interruption.name}) while planning: nothing was published")
        raise typer.Exit(interruption.exit_code) from None
    verb = "would publish" if dry_run else f"published to {summary.traces_topic}"
    say(
        f"{summary.messages} messages, {summary.records} records: {verb} {summary.traces} "
        f"traces; skipped {summary.skipped} non-AI, filtered {summary.filtered}, outside the "
        f"window {summary.outside_window}, failed {summary.failed} "
        f"({summary.messages_per_second:.0f} messages/s)"
    )
    for reason, count in summary.failure_reasons.most_common(10):
        say(f"  failed {count}x {reason}")
    if summary.interrupted:
        done = (
            "nothing was published (dry run)"
            if dry_run
            else "the traces of what was read were published (run the same replay again: "
            "trace ids repeat, nothing doubles)"
        )
        say(f"interrupted ({interruption.name}) before the end of the range: {done}")
        raise typer.Exit(interruption.exit_code)
    if not summary.complete:
        say("incomplete: some partitions stopped before their end offset")
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
            raise _bad_option(flag, value, allowed)
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
    except KongConfigError:
        raise  # a UserError: one line, exit 2
    if output is None:
        sys.stdout.write(text)
    else:
        try:
            output.write_text(text)
        except OSError as exc:
            reason = (exc.strerror or str(exc)).lower()
            raise UserError(f"cannot write {output}: {reason} (--output)") from None
        say(f"wrote {output}")


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
    from pipeline.broker import check_listen
    from pipeline.ops.ingest_http import (
        COMPRESSIONS,
        IngestConfig,
        check_config,
        serve,
    )

    settings = _settings()
    bootstrap = _require_bootstrap(settings)
    if compression not in COMPRESSIONS:
        raise _bad_option("--compression", compression, COMPRESSIONS, "INGEST_HTTP_COMPRESSION")
    if (basic_user is None) != (basic_password is None):
        failure = UserError(
            "Basic auth needs both --basic-user and --basic-password "
            "(INGEST_HTTP_BASIC_USER / INGEST_HTTP_BASIC_PASSWORD)"
        )
        failure.exit_code = 2
        raise failure
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
    check_config(config, announce=False)  # refusals first: IngestConfigError, one line, exit 2
    check_listen(host, port, "--host / --port, INGEST_HTTP_HOST / INGEST_HTTP_PORT")
    _reachable(settings, bootstrap)
    interruption = Interruption().install()  # aiohttp takes the signals over once it serves
    try:
        serve(config)
    except OSError as exc:  # the port was taken between the check and the bind
        reason = (exc.strerror or str(exc)).lower()
        raise UserError(
            f"cannot listen on {host}:{port} (--host / --port, INGEST_HTTP_HOST / "
            f"INGEST_HTTP_PORT): {reason}"
        ) from None
    except KeyboardInterrupt:
        say(f"ingest-http stopped ({interruption.name}) before it served")


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
    from pipeline.ops.offsets import OffsetSearchError

    settings = _settings()
    bootstrap = _require_bootstrap(settings)
    _reachable(settings, bootstrap)
    dead_letters = topic or settings.dead_letter_topic
    try:
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
    except OffsetSearchError as exc:
        hint = " (--topic, DEAD_LETTER_TOPIC)" if "does not exist" in str(exc) else ""
        raise UserError(f"{exc}{hint}") from None
    verb = "would move" if dry_run else "moved"
    say(
        f"{dead_letters}: read {summary.read}, {verb} "
        f"{sum(summary.by_target.values()) if dry_run else summary.redriven}, "
        f"filtered out {summary.filtered}",
        sys.stdout,
    )
    for target, count in summary.by_target.items():
        say(f"  → {target}: {count}", sys.stdout)
    for reason, count in summary.by_reason.most_common(10):
        say(f"  reason {reason!r}: {count}", sys.stdout)
    if not summary.complete:
        terminal.warning("stopped before the end of the topic (limit or timeout)")


def _click_errors() -> tuple[type[Exception], ...]:
    """click's exception base class, wherever this typer keeps click (vendored or not)."""
    return tuple(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def run(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code. User errors are one line on stderr."""
    click_errors = _click_errors()
    try:
        result = app(args=argv, prog_name="kong-litefuse", standalone_mode=False)
    except UserError as exc:
        error(str(exc))
        return exc.exit_code
    except click_errors as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            return 2  # the help was printed
        message = exc.format_message()  # type: ignore[attr-defined]
        context = getattr(exc, "ctx", None)
        where = f" (see {context.command_path} --help)" if context is not None else ""
        error(f"{message}{where}")
        return int(exc.exit_code)  # type: ignore[attr-defined]
    except typer.Abort:
        error("aborted")
        return 1
    except BrokenPipeError:  # `kong-litefuse transform … | head`: the reader has gone
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return result if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
