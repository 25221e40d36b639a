"""Ctrl-C (SIGINT) and SIGTERM stop the long-running commands promptly, without a traceback.

Real processes (``python -m pipeline.cli …``), real signals, the real embedded broker. Every
wait is bounded and ends on a condition (a line printed, a port answering), not on a sleep.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.broker import EmbeddedBroker, free_port
from pipeline.demo import demo_values
from pipeline.kafka import publish
from pipeline.ops.topics import ensure_topics
from tests.conftest import ROOT, Names, still_running, wait_until

pytestmark = pytest.mark.integration

SIGNALS = [signal.SIGINT, signal.SIGTERM]


def _env(**extra: str) -> dict[str, str]:
    prefixes = ("KAFKA_", "LANGFUSE_", "KONG_", "INGEST_HTTP_", "WORKER_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update({"PYTHONUNBUFFERED": "1", **extra})
    return env


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The command in a session of its own: a signal to its process group is what a
    terminal's Ctrl-C sends (to the command and every process it started)."""
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", *args],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


class Output:
    """What a process printed so far on stdout and stderr, read without blocking."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.text = {"stdout": b"", "stderr": b""}
        self._selector = selectors.DefaultSelector()
        assert process.stdout is not None and process.stderr is not None
        for name, stream in (("stdout", process.stdout), ("stderr", process.stderr)):
            os.set_blocking(stream.fileno(), False)
            self._selector.register(stream, selectors.EVENT_READ, name)

    def read(self, wait: float = 0.1) -> None:
        for key, _ in self._selector.select(wait):
            chunk = key.fileobj.read()  # type: ignore[union-attr]
            if chunk:
                self.text[key.data] += chunk

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.read()
            found = re.search(pattern, self.all)
            if found:
                return found
            if self.process.poll() is not None:
                self.read(0)
                break
        raise AssertionError(f"{pattern!r} not printed in {timeout} s:\n{self.all[-3000:]}")

    def finish(self, timeout: float) -> tuple[int, float]:
        """Wait for the exit; (exit code, seconds it took)."""
        started = time.monotonic()
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise AssertionError(
                f"still running {timeout} s after the signal:\n{self.all}"
            ) from None
        seconds = time.monotonic() - started
        while True:  # drain what is left
            before = len(self.all)
            self.read(0)
            if len(self.all) == before:
                break
        return code, seconds

    @property
    def all(self) -> str:
        return (self.text["stdout"] + self.text["stderr"]).decode(errors="replace")

    @property
    def stderr(self) -> str:
        return self.text["stderr"].decode(errors="replace")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found.extend(int(child) for child in text.split())
    return found


@pytest.fixture
def stopping() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test started: killed at the end if a failed test left them running."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(10)


@pytest.mark.parametrize(
    ("sig", "to"),
    [(signal.SIGINT, "process"), (signal.SIGINT, "group"), (signal.SIGTERM, "process")],
    ids=lambda value: signal.Signals(value).name if isinstance(value, int) else value,
)
def test_broker_stops_at_once_and_exits_0(
    sig: int, to: str, stopping: list[subprocess.Popen[bytes]]
) -> None:
    process = _start(["broker", "--port", "0"], _env())
    stopping.append(process)
    output = Output(process)
    port = int(output.wait_for(r"KAFKA_BOOTSTRAP_SERVERS=127\.0\.0\.1:(\d+)", 30).group(1))
    tansu = _children(process.pid)
    assert _listening(port) and tansu
    if to == "group":
        os.killpg(process.pid, sig)
    else:
        process.send_signal(sig)
    code, seconds = output.finish(timeout=10)
    assert code == 0, output.all
    assert seconds <= 2.0, f"{seconds:.2f} s to stop"
    assert "Traceback" not in output.all and "TimeoutExpired" not in output.all
    assert f"embedded broker stopped ({signal.Signals(sig).name})" in output.stderr
    assert not still_running(tansu, 5), "Tansu outlived the command"
    assert not _listening(port)


def test_broker_whose_tansu_dies_says_so_and_fails(stopping: list[subprocess.Popen[bytes]]) -> None:
    process = _start(["broker", "--port", "0"], _env())
    stopping.append(process)
    output = Output(process)
    output.wait_for(r"KAFKA_BOOTSTRAP_SERVERS=", 30)
    (tansu,) = _children(process.pid)
    os.kill(tansu, signal.SIGKILL)
    code, _ = output.finish(timeout=10)
    assert code == 1, output.all
    assert "error: the embedded broker (Tansu) stopped by itself with exit code -9" in output.stderr
    assert "Traceback" not in output.all


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_ingest_http_stops_promptly_and_exits_0(
    sig: int, kafka_bootstrap: str, stopping: list[subprocess.Popen[bytes]]
) -> None:
    port = free_port()
    process = _start(
        ["ingest-http", "--port", str(port)], _env(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap)
    )
    stopping.append(process)
    output = Output(process)
    output.wait_for(r"ingest-http listening on", 30)
    assert wait_until(lambda: _listening(port), 10)
    process.send_signal(sig)
    code, seconds = output.finish(timeout=15)
    assert code == 0, output.all
    assert seconds <= 2.0, f"{seconds:.2f} s to stop"
    assert "Traceback" not in output.all


@pytest.fixture(scope="module")
def replay_topic(kafka_bootstrap: str) -> str:
    """A topic with a few hundred records: a replay at 20 records/s is still reading them."""
    names = Names(f"signals-{os.getpid()}")
    ensure_topics(kafka_bootstrap, [names.kong, f"{names.kong}-traces"], partitions=2)
    publish(kafka_bootstrap, names.kong, demo_values(30))
    return names.kong


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "publishing"])
def test_replay_stops_reading_reports_and_exits_128_plus_signal(
    sig: int,
    dry_run: bool,
    kafka_bootstrap: str,
    replay_topic: str,
    stopping: list[subprocess.Popen[bytes]],
) -> None:
    args = ["replay", "--topic", replay_topic, "--rate", "20", "--from-offset", "0"]
    env = _env(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, TRACES_TOPIC=f"{replay_topic}-traces")
    process = _start([*args, "--dry-run"] if dry_run else args, env)
    stopping.append(process)
    output = Output(process)
    output.wait_for(r"partition \d+: offsets", 60)  # planned: now reading
    if dry_run:
        output.wait_for(r"\t/v1/", 30)  # a trace printed
    process.send_signal(sig)
    code, seconds = output.finish(timeout=15)
    assert code == 128 + sig, output.all
    assert seconds <= 2.0, f"{seconds:.2f} s to stop"
    assert "Traceback" not in output.all
    assert re.search(r"\d+ messages, \d+ records: ", output.stderr), output.stderr
    name = signal.Signals(sig).name
    assert f"interrupted ({name}) before the end of the range" in output.stderr


@pytest.mark.parametrize(
    ("sig", "when", "to"),
    [
        (signal.SIGINT, "starting", "process"),
        (signal.SIGINT, "running", "process"),
        (signal.SIGINT, "running", "group"),  # Ctrl-C in a terminal
        (signal.SIGTERM, "starting", "process"),
        (signal.SIGTERM, "running", "process"),
    ],
    ids=lambda value: signal.Signals(value).name if isinstance(value, int) else value,
)
def test_demo_stops_promptly_without_traceback_or_a_broker_left(
    sig: int, when: str, to: str, stopping: list[subprocess.Popen[bytes]]
) -> None:
    process = _start(["demo", "--repeat", "200"], _env())
    stopping.append(process)
    output = Output(process)
    port = int(output.wait_for(r"embedded broker on 127\.0\.0\.1:(\d+)", 60).group(1))
    tansu = _children(process.pid)
    if when == "running":
        output.wait_for(r"dead letter \(enrich\)", 60)  # records are flowing
    if to == "group":
        os.killpg(process.pid, sig)
    else:
        process.send_signal(sig)
    code, seconds = output.finish(timeout=20)
    assert code == 128 + sig, output.all
    assert seconds <= 5.0, f"{seconds:.2f} s to stop"
    assert "Traceback" not in output.all
    assert "\x1b" not in output.all, "cursor or colour codes in a pipe"
    assert f"interrupted ({signal.Signals(sig).name})" in output.stderr
    assert not still_running(tansu, 5), "the demo's broker outlived it"
    assert not _listening(port)


def test_an_interrupted_broker_start_leaves_no_tansu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the embedded broker starts (demo, worker, broker): Tansu is stopped too."""
    started: list[int] = []

    def interrupted(self: EmbeddedBroker, timeout: float) -> None:
        assert self.pid is not None
        started.append(self.pid)
        raise KeyboardInterrupt

    monkeypatch.setattr(EmbeddedBroker, "_wait_listening", interrupted)
    broker = EmbeddedBroker()
    with pytest.raises(KeyboardInterrupt):
        broker.start()
    left = still_running(started, 5)
    for pid in left:  # a failure must not leave it behind either
        os.kill(pid, signal.SIGKILL)
    assert started and not left
    assert not broker.running
