"""A second real broker for the integration tests: noida-db, where Tansu falls short.

noida-db answers ``offsets_for_times`` and the high watermarks right, so the replay tests run on
a broker whose answers can be trusted as well as on Tansu, whose answers cannot.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.broker import BrokerError, free_port, wait_for_port

# noida-db ignores fetch.max.bytes, so confluent consumers need a larger receive buffer.
NOIDA_CONSUMER_CONFIG = {"receive.message.max.bytes": 500_000_000}


def noida_binary() -> str | None:
    """The ``noida-db`` script of this interpreter's environment (the `test` extra), or PATH's."""
    return shutil.which("noida-db", path=str(Path(sys.executable).parent)) or shutil.which(
        "noida-db"
    )


@pytest.fixture(scope="session")
def noida_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """noida-db (Kafka only) on 127.0.0.1, data in a temporary directory; stopped at the end."""
    binary = noida_binary()
    if binary is None:
        pytest.skip("noida-db is not installed (pip install -e '.[test]' installs it)")
    data_dir = tmp_path_factory.mktemp("noida")
    log_path = data_dir.parent / "noida.log"
    port = free_port()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                binary,
                "start",
                "--only",
                "kafka",
                "--host",
                "127.0.0.1",
                "--kafka-port",
                str(port),
                "--data-dir",
                str(data_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        try:
            wait_for_port("127.0.0.1", port, timeout=20)
        except BrokerError as exc:
            code = process.poll()
            tail = log_path.read_text(errors="replace")[-1500:]
            pytest.skip(f"noida-db did not start ({exc}; exit code {code}): {tail}")
        yield f"127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # its documented stop (Ctrl-C): saves and exits
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
