"""``kong-litefuse worker`` as a child process, the way operators run it.

Shared by ``kong-litefuse bench e2e`` and the integration tests, so both start, probe and stop
workers the same way.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx


class WorkerProcess:
    """One worker process; its output goes to ``log_path``, its web port is from ``env``."""

    def __init__(self, env: dict[str, str], log_path: Path, cwd: Path | None = None) -> None:
        self.env = env
        self.log_path = log_path
        self.cwd = cwd
        self.port = int(env["WORKER_WEB_PORT"])
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> WorkerProcess:
        self._log = open(self.log_path, "ab")  # noqa: SIM115  # closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "worker"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.cwd,
        )
        return self

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the worker was not started")
        return self.process.pid

    def ready(self) -> bool:
        """Whether the worker owns partitions now (``/readyz`` answers 200)."""
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"the worker exited early:\n{self.log()[-3000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"the worker was not ready after {timeout:.0f}s:\n{self.log()[-3000:]}")

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        """Signal the worker and wait (killing it after ``timeout``); its exit code."""
        try:
            if self.process is None or self.process.poll() is not None:
                return self.process.returncode if self.process else None
            self.process.send_signal(sig)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait(10)
        finally:
            if (
                self._log is not None
                and self.process is not None
                and self.process.poll() is not None
            ):
                self._log.close()
