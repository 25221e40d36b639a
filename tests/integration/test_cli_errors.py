"""Bad invocations of every command, as a new user or an operator makes them.

Each row runs ``python -m pipeline.cli`` as a real process with stdout and stderr on pipes (not
a terminal) and expects: a non-zero exit, exactly one line on stderr that names the cause and
the option or setting to change, no traceback and no escape codes anywhere. Kafka is the real
embedded broker, or an address where nothing (or no Kafka) listens; ports are held by real
sockets on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

REFUSED = "127.0.0.1:1"  # nothing listens on port 1


@dataclass(frozen=True)
class Case:
    """One bad invocation. ``{busy}``, ``{silent}``, ``{kafka}`` and ``{tmp}`` in the
    arguments and the environment are filled in by the test."""

    id: str
    args: list[str]
    expect: list[str]
    env: dict[str, str] = field(default_factory=dict)
    stdin: str = ""


CASES = [
    # --- demo ---------------------------------------------------------------------------
    Case(
        "demo-kafka-unreachable",
        ["demo"],
        ["cannot reach Kafka at 127.0.0.1:1 (KAFKA_BOOTSTRAP_SERVERS): connection refused"],
        {"KAFKA_BOOTSTRAP_SERVERS": REFUSED},
    ),
    Case("demo-repeat", ["demo", "--repeat", "0"], ["'--repeat'", "kong-litefuse demo --help"]),
    # --- worker -------------------------------------------------------------------------
    Case(
        "worker-kafka-unreachable",
        ["worker"],
        ["cannot reach Kafka at 127.0.0.1:1 (KAFKA_BOOTSTRAP_SERVERS): connection refused"],
        {"KAFKA_BOOTSTRAP_SERVERS": REFUSED},
    ),
    Case(
        "worker-not-kafka",
        ["worker"],
        ["Kafka at 127.0.0.1:{silent} (KAFKA_BOOTSTRAP_SERVERS)", "gave no metadata"],
        {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:{silent}"},
    ),
    Case(
        "worker-web-port-busy",
        ["worker"],
        ["cannot listen on 127.0.0.1:{busy}", "WORKER_WEB_PORT", "address already in use"],
        {"KAFKA_BOOTSTRAP_SERVERS": "{kafka}", "WORKER_WEB_PORT": "{busy}"},
    ),
    Case(
        "worker-bad-setting",
        ["worker"],
        ["LANGFUSE_ENVIRONMENT: must match ^(?!langfuse)[a-z0-9-_]+$ and be at most 40 characters"],
        {"LANGFUSE_ENVIRONMENT": "Production"},
    ),
    Case(
        "worker-setting-not-json",
        ["worker"],
        ["MASK_PATTERNS: not valid JSON"],
        {"MASK_PATTERNS": "email"},
    ),
    # --- broker -------------------------------------------------------------------------
    Case(
        "broker-port-busy",
        ["broker", "--port", "{busy}"],
        ["cannot listen on 127.0.0.1:{busy} (--port): address already in use"],
    ),
    # --- transform ----------------------------------------------------------------------
    Case(
        "transform-no-such-file",
        ["transform", "/nonexistent.json"],
        ["/nonexistent.json: no such file or directory", "FILES"],
    ),
    Case(
        "transform-empty-directory",
        ["transform", "{tmp}"],
        ["{tmp}: no *.json, *.jsonl, *.ndjson files", "FILES"],
    ),
    Case("transform-empty-input", ["transform"], ["no Kong records in the input"]),
    Case(
        "transform-format",
        ["transform", "--format", "yaml"],
        ["--format must be one of langfuse, otlp-json, not 'yaml'"],
    ),
    Case(
        "transform-config-file",
        ["transform"],
        ["KONG_LITEFUSE_CONFIG: {tmp}/bad.yaml is not valid YAML"],
        {"KONG_LITEFUSE_CONFIG": "{tmp}/bad.yaml"},
    ),
    # --- replay -------------------------------------------------------------------------
    Case(
        "replay-no-such-topic",
        ["replay", "--dry-run", "--topic", "nosuch-{unique}"],
        ["topic 'nosuch-{unique}' does not exist (--topic)"],
        {"KAFKA_BOOTSTRAP_SERVERS": "{kafka}"},
    ),
    Case(
        "replay-inverted-window",
        ["replay", "--from", "-1m", "--to", "-2h"],
        ["--from -1m", "is not before --to -2h", "the window is empty"],
        {"KAFKA_BOOTSTRAP_SERVERS": "{kafka}"},
    ),
    Case(
        "replay-inverted-offsets",
        ["replay", "--from-offset", "0:50", "--to-offset", "0:10"],
        ["--from-offset 50 is not below --to-offset 10 for partition 0"],
        {"KAFKA_BOOTSTRAP_SERVERS": "{kafka}"},
    ),
    Case(
        "replay-bad-time",
        ["replay", "--from", "yesterday"],
        ["--from: 'yesterday' is not a time"],
        {"KAFKA_BOOTSTRAP_SERVERS": "{kafka}"},
    ),
    Case(
        "replay-no-kafka-set",
        ["replay", "--from", "-1h"],
        ["KAFKA_BOOTSTRAP_SERVERS is not set"],
    ),
    Case(
        "replay-kafka-unreachable",
        ["replay", "--from", "-1h"],
        ["cannot reach Kafka at 127.0.0.1:1 (KAFKA_BOOTSTRAP_SERVERS): connection refused"],
        {"KAFKA_BOOTSTRAP_SERVERS": REFUSED},
    ),
    # --- redrive ------------------------------------------------------------------------
    Case(
        "redrive-no-such-topic",
        ["redrive", "--topic", "nosuch-{unique}"],
        ["topic 'nosuch-{unique}' does not exist (--topic, DEAD_LETTER_TOPIC)"],
        {"KAFKA_BOOTSTRAP_SERVERS": "{kafka}"},
    ),
    Case(
        "redrive-kafka-unreachable",
        ["redrive"],
        ["cannot reach Kafka at 127.0.0.1:1 (KAFKA_BOOTSTRAP_SERVERS): connection refused"],
        {"KAFKA_BOOTSTRAP_SERVERS": REFUSED},
    ),
    # --- kong-config --------------------------------------------------------------------
    Case(
        "kong-config-version",
        ["kong-config", "--kong-version", "2.8"],
        ["--kong-version 2.8", "3.0 to 3.15"],
    ),
    Case(
        "kong-config-transport",
        ["kong-config", "--transport", "tcp-log"],
        ["--transport must be one of kafka-log, http-log, not 'tcp-log'"],
    ),
    Case(
        "kong-config-output",
        ["kong-config", "--output", "/nonexistent/dir/kong.yaml"],
        ["cannot write /nonexistent/dir/kong.yaml: no such file or directory (--output)"],
    ),
    # --- ingest-http --------------------------------------------------------------------
    Case(
        "ingest-http-port-busy",
        ["ingest-http", "--port", "{busy}"],
        ["cannot listen on 127.0.0.1:{busy}", "INGEST_HTTP_PORT", "address already in use"],
        {"KAFKA_BOOTSTRAP_SERVERS": "{kafka}"},
    ),
    Case(
        "ingest-http-kafka-unreachable",
        ["ingest-http", "--port", "0"],
        ["cannot reach Kafka at 127.0.0.1:1 (KAFKA_BOOTSTRAP_SERVERS): connection refused"],
        {"KAFKA_BOOTSTRAP_SERVERS": REFUSED},
    ),
    Case(
        "ingest-http-compression",
        ["ingest-http", "--port", "0", "--compression", "brotli"],
        ["--compression must be one of", "not 'brotli' (INGEST_HTTP_COMPRESSION)"],
        {"KAFKA_BOOTSTRAP_SERVERS": "{kafka}"},
    ),
    Case(
        "ingest-http-half-basic-auth",
        ["ingest-http", "--port", "0", "--basic-user", "kong"],
        ["--basic-user and --basic-password"],
        {"KAFKA_BOOTSTRAP_SERVERS": "{kafka}"},
    ),
    # --- topics -------------------------------------------------------------------------
    Case(
        "topics-kafka-unreachable",
        ["topics", "create"],
        ["cannot reach Kafka at 127.0.0.1:1 (KAFKA_BOOTSTRAP_SERVERS): connection refused"],
        {"KAFKA_BOOTSTRAP_SERVERS": REFUSED},
    ),
    Case(
        "topics-unknown-host",
        ["topics", "describe"],
        ["cannot reach Kafka at kafka.invalid:9092 (KAFKA_BOOTSTRAP_SERVERS): unknown host"],
        {"KAFKA_BOOTSTRAP_SERVERS": "kafka.invalid:9092"},
    ),
    Case("topics-no-kafka-set", ["topics", "describe"], ["KAFKA_BOOTSTRAP_SERVERS is not set"]),
    Case("topics-partitions", ["topics", "add-partitions", "0"], ["'total'"]),
    # --- schemas ------------------------------------------------------------------------
    Case("schemas-option", ["schemas", "--chek"], ["No such option: --chek", "--check"]),
    # --- bench --------------------------------------------------------------------------
    Case(
        "bench-enrich-sizes",
        ["bench", "enrich", "--sizes", "x"],
        ["--sizes", "not a list of numbers: 'x'"],
    ),
    Case(
        "bench-e2e-bad-setting",
        ["bench", "e2e"],
        ["LANGFUSE_ENVIRONMENT: must match ^(?!langfuse)[a-z0-9-_]+$"],
        {"LANGFUSE_ENVIRONMENT": "langfuse-prod"},
    ),
    # --- the command itself -------------------------------------------------------------
    Case("unknown-command", ["deploy"], ["No such command 'deploy'"]),
]


@pytest.fixture(scope="module")
def busy_port() -> Iterator[int]:
    """A port some process listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (not Kafka)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def _clean_env() -> dict[str, str]:
    """The test's environment without the pipeline's settings (as a new user has it)."""
    prefixes = ("KAFKA_", "LANGFUSE_", "KONG_", "INGEST_HTTP_", "WORKER_", "SINK", "MASK_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.pop("LOG_LEVEL", None)
    env.pop("FORCE_COLOR", None)
    return env


def run_cli(
    args: list[str], env: dict[str, str], stdin: str = "", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        input=stdin,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_invocation_is_one_line_naming_cause_and_option(
    case: Case, kafka_bootstrap: str, busy_port: int, silent_port: int, tmp_path: Path
) -> None:
    (tmp_path / "bad.yaml").write_text("kong_log_topic: [unclosed\n")
    values = {
        "busy": str(busy_port),
        "silent": str(silent_port),
        "kafka": kafka_bootstrap,
        "tmp": str(tmp_path),
        "unique": uuid.uuid4().hex[:8],
    }

    def fill(text: str) -> str:
        return text.format(**values)

    env = {**_clean_env(), **{k: fill(v) for k, v in case.env.items()}}
    started = time.monotonic()
    done = run_cli([fill(a) for a in case.args], env, case.stdin)
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output
    assert "\x1b" not in output, "escape codes in a pipe"
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), lines
    for expected in case.expect:
        assert fill(expected) in lines[0], lines[0]
    assert seconds < 30, f"{seconds:.1f} s to say it"


def test_every_command_has_a_row() -> None:
    import typer

    from pipeline.cli import app

    group = typer.main.get_command(app)
    commands = set(group.commands)  # type: ignore[attr-defined]
    covered = {case.args[0] for case in CASES}
    assert commands <= covered, sorted(commands - covered)
    topics = set(group.commands["topics"].commands)  # type: ignore[attr-defined]
    covered_topics = {case.args[1] for case in CASES if case.args[0] == "topics"}
    assert topics <= covered_topics, sorted(topics - covered_topics)


def test_an_unreachable_kafka_is_said_in_a_second_without_librdkafka_lines() -> None:
    """The issue's case: before, 16 s, 291 librdkafka FAIL lines and a 40-line traceback."""
    env = {**_clean_env(), "KAFKA_BOOTSTRAP_SERVERS": REFUSED}
    started = time.monotonic()
    done = run_cli(["worker"], env)
    seconds = time.monotonic() - started
    assert done.returncode == 1
    assert done.stderr == (
        "error: cannot reach Kafka at 127.0.0.1:1 (KAFKA_BOOTSTRAP_SERVERS): connection refused\n"
    )
    assert seconds < 10


def test_version() -> None:
    from pipeline.cli import version

    done = run_cli(["--version"], _clean_env())
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout == f"kong-litefuse {version()}\n"
    assert version()[0].isdigit()
