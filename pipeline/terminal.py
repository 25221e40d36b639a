"""What the commands print for people, and how they stop on Ctrl-C.

Messages are written as they are: never through Rich markup (``[a-z0-9-_]`` in a regex, or a
user's value, would be taken for a style tag and vanish), one line each, and never wrapped at
80 columns or decorated with escape codes when the output is a pipe or a file. A user error is
a :class:`UserError`: the command line prints ``error: <message>`` and exits non-zero, without
a traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import IO, Any

_BREAKS = re.compile(r"\s*[\r\n]+\s*")


class UserError(Exception):
    """Something the user can fix (an option, a setting, a file, a service that is down).

    The message names the cause and the option or setting to change; ``exit_code`` is 2 for a
    wrong option or setting, 1 for anything else.
    """

    exit_code = 1


def one_line(text: object) -> str:
    """The text on one line: line breaks (and the blanks around them) become one space."""
    return _BREAKS.sub(" ", str(text)).strip()


def is_terminal(stream: IO[Any] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


def _colour(stream: IO[Any]) -> bool:
    return is_terminal(stream) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def say(message: str, stream: IO[Any] | None = None) -> None:
    """One literal line on stderr (or ``stream``)."""
    stream = stream or sys.stderr
    stream.write(one_line(message) + "\n")
    stream.flush()


def error(message: str) -> None:
    """``error: <message>`` on stderr, one line; ``error:`` in red on a colour terminal only."""
    stream = sys.stderr
    prefix = "\x1b[1;31merror:\x1b[0m" if _colour(stream) else "error:"
    stream.write(f"{prefix} {one_line(message)}\n")
    stream.flush()


def warning(message: str) -> None:
    stream = sys.stderr
    prefix = "\x1b[33mwarning:\x1b[0m" if _colour(stream) else "warning:"
    stream.write(f"{prefix} {one_line(message)}\n")
    stream.flush()


def console(stderr: bool = False) -> Any:
    """A Rich console for tables and progress bars: no markup, emoji codes or highlighting
    taken from the text printed, and, when not a terminal, no escape codes and no wrapping
    (lines are as long as their content)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if is_terminal(stream):
        return Console(file=stream, markup=False, emoji=False, highlight=False)
    return Console(
        file=stream,
        markup=False,
        emoji=False,
        highlight=False,
        force_terminal=False,
        no_color=True,
        soft_wrap=True,
        width=100_000,
    )


class Interruption:
    """SIGINT and SIGTERM for a command that stops cleanly.

    Inside :meth:`polled` (code that checks :attr:`requested` often) the first signal only sets
    the flag, so the work in progress ends at its next check and the command reports what it
    did; anywhere else, or at the second signal, it raises ``KeyboardInterrupt`` so ``finally``
    blocks and context managers (an embedded broker, a consumer) run on the way out. Either way
    no traceback: the command catches it.
    """

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.signal: int | None = None
        self._polled = 0
        self._previous: dict[int, Any] = {}

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as a shell reports a process a signal ended."""
        return 128 + (self.signal or signal.SIGINT)

    @property
    def name(self) -> str:
        return signal.Signals(self.signal or signal.SIGINT).name

    def handle(self, signum: int, _frame: FrameType | None = None) -> None:
        again = self.requested.is_set()
        if self.signal is None:
            self.signal = signum
        self.requested.set()
        if again or not self._polled:
            raise KeyboardInterrupt

    def install(self) -> Interruption:
        """Take over SIGINT and SIGTERM (main thread only; elsewhere: nothing)."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self.handle)
        return self

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def reinstall(self) -> None:
        """Take the signals back after code that set its own handlers (faust) finished."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, self.handle)

    @contextlib.contextmanager
    def polled(self) -> Iterator[threading.Event]:
        """Code inside checks the event it is given; the first signal only sets it."""
        self._polled += 1
        try:
            yield self.requested
        finally:
            self._polled -= 1
