"""What an operator reads: the demo's table, costs, the sink and de-duplication metrics, the
worker's first log line, librdkafka's lines, and messages printed literally."""

from __future__ import annotations

import copy
import logging
import math
import socket
import sys

import msgspec
import pytest
from rich.console import Console
from rich.table import Table

from pipeline.demo import DemoResult, format_cost, print_report
from pipeline.settings import load_settings
from pipeline.trace import Cost
from tests.factories import trace


@pytest.mark.parametrize(
    ("usd", "shown"),
    [
        (1.4e-7, "$0.00000014"),  # an embedding: it was 0.000000
        (2.21e-5, "$0.0000221"),
        (0.0123456, "$0.0123"),
        (0.5, "$0.5"),
        (1.5, "$1.50"),
        (1234.5, "$1,234.50"),
        (0.0, "$0"),  # a known price of zero
        (None, "-"),  # unknown: never a wrong $0
        (math.nan, "-"),
    ],
)
def test_costs_keep_their_significant_digits(usd: float | None, shown: str) -> None:
    assert format_cost(usd) == shown


def _report(result: DemoResult) -> str:
    console = Console(record=True, width=400, markup=False)
    print_report(result, console, "console")
    return console.export_text()


def test_the_demo_shows_the_level_in_its_column_and_the_status_message_below() -> None:
    failed = msgspec.structs.replace(copy.deepcopy(trace(1)), id="f" * 32)
    failed.generation.level = "ERROR"
    failed.generation.status_message = "Rate limit reached for gpt-4o [tokens per min]"
    failed.generation.cost = Cost(total=1.4e-7)
    text = _report(DemoResult(traces=[trace(0), failed]))
    rows = [line for line in text.splitlines() if failed.id[:12] in line]
    table_row = next(line for line in rows if line.startswith("│"))
    cells = [cell.strip() for cell in table_row.strip("│").split("│")]
    assert cells[-1] == "ERROR"  # the level, not the message
    assert "$0.00000014" in cells
    below = next(line for line in rows if not line.startswith("│"))
    # literally, [tokens per min] included (Rich markup would have eaten it)
    assert below.strip() == (
        f"{failed.id[:12]} status: Rate limit reached for gpt-4o [tokens per min]"
    )
    ok_row = next(line for line in text.splitlines() if trace(0).id[:12] in line)
    assert ok_row.rstrip().rstrip("│").strip().endswith("DEFAULT")


def test_the_worker_says_where_traces_go_without_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipeline.cli import _announcement

    for name in ("LANGFUSE_BASE_URL", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "SINK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092")
    console = _announcement(load_settings())
    line = console[0] % console[1:]
    assert line.startswith("worker starting: sink console, destination stdout (JSON lines)")
    assert "reading kong-logs, writing ai-traces" in line
    assert "consumer group kong-litefuse; Kafka kafka-1:9092" in line

    monkeypatch.setenv("LANGFUSE_BASE_URL", "https://user:hunter2@litefuse.example.com")
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-1")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-secret")
    monkeypatch.setenv("LANGFUSE_INGESTION", "legacy")
    monkeypatch.setenv("CONSUMER_GROUP", "team-a")
    litefuse = _announcement(load_settings())
    line = litefuse[0] % litefuse[1:]
    assert "sink litefuse, destination https://litefuse.example.com, ingestion legacy" in line
    assert "consumer group team-a" in line
    assert "hunter2" not in line and "user" not in line and "sk-lf" not in line


def test_librdkafka_lines_go_to_python_logging_at_debug(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    from confluent_kafka import Producer

    from pipeline.kafka import producer_config

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    caplog.set_level(logging.DEBUG, logger="librdkafka")
    producer = Producer(producer_config(f"127.0.0.1:{port}", **{"message.timeout.ms": 500}))
    producer.produce("t", b"v")
    producer.flush(2)
    del producer
    lines = [r for r in caplog.records if r.name == "librdkafka"]
    assert lines and all(r.levelno == logging.DEBUG for r in lines)
    assert any("Connection refused" in r.getMessage() for r in lines)
    assert "Connection refused" not in capfd.readouterr().err  # nothing written by librdkafka


def test_messages_are_printed_literally_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline import terminal

    terminal.error("must match ^(?!langfuse)[a-z0-9-_]+$ [bold]x[/bold] :smile:\nsecond line")
    err = capsys.readouterr().err
    assert err == (
        "error: must match ^(?!langfuse)[a-z0-9-_]+$ [bold]x[/bold] :smile: second line\n"
    )
    console = terminal.console()  # stdout is not a terminal here
    assert not sys.stdout.isatty()
    console.print("[red]" + "x" * 300 + "[/red]")
    out = capsys.readouterr().out
    assert out == "[red]" + "x" * 300 + "[/red]\n"  # no markup, no wrap, no escape codes
    table = Table(title="[b]wide[/b]")
    for column in ("a", "b", "c"):
        table.add_column(column)
    table.add_row("y" * 70, "z" * 70, ":smile: [i]literal[/i]")
    console.print(table)
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "y" * 70 in line)
    assert "z" * 70 in row and ":smile: [i]literal[/i]" in row  # one line, as it is
    assert "[b]wide[/b]" in out and "\x1b" not in out
