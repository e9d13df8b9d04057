"""What the commands print to, and how: standard output and error guarded against a
closed pipe or a full disk, whether a progress bar or a plot can be drawn, times."""
from __future__ import annotations

import errno
import io
import os
import sys
from typing import Any, Optional, TextIO


# The status of a program that a closed pipe (SIGPIPE) ends: 128 + the signal's number, as a
# shell reports it (`nnpy predict ... | head -n 1` then exits as `cat ... | head -n 1` does).
_CLOSED_PIPE = 128 + 13


class _Output:
    """sys.stdout or sys.stderr while a command runs: writes pass through until the stream
    fails (the reader of a pipe went away: `nnpy train ... | head -n 3`; a full disk), and
    are dropped from then on, so that a failed print never ends the work that matters
    (training, saving the model, writing the plots). The failure is kept for main to report.
    The stream's file descriptor then points at os.devnull (Python's recipe for SIGPIPE), so
    that what is left in its buffer does not fail again when the interpreter exits. A name
    or label the stream's encoding lacks is written escaped (\\xe9), not as a traceback."""

    def __init__(self, stream: Optional[TextIO]) -> None:
        self.stream = stream                        # None: the process has no such stream
        self.failure: Optional[OSError] = None      # why the stream stopped taking writes

    @property
    def closed_pipe(self) -> bool:
        return isinstance(self.failure, BrokenPipeError)

    def write(self, text: str) -> int:
        if self.stream is None and self.failure is None:  # started with the stream closed
            self.failure = OSError(errno.EBADF, "it is closed")
        if self.failure is None:
            try:
                try:
                    return self.stream.write(text)  # type: ignore[union-attr]
                except UnicodeEncodeError:  # a name or label its encoding lacks: escaped
                    encoding = self.stream.encoding or "ascii"  # type: ignore[union-attr]
                    return self.stream.write(  # type: ignore[union-attr]
                        text.encode(encoding, "backslashreplace").decode(encoding))
            except OSError as error:
                self._failed(error)
        return len(text)

    def flush(self) -> None:
        if self.stream is not None and self.failure is None:
            try:
                self.stream.flush()
            except OSError as error:
                self._failed(error)

    def _failed(self, error: OSError) -> None:
        self.failure = error
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self.stream.fileno())  # type: ignore[union-attr]
            finally:
                os.close(devnull)
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            pass  # not a file (embedded use, a test's capture): nothing is flushed at exit

    def isatty(self) -> bool:
        return self.stream is not None and self.failure is None and self.stream.isatty()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, ... of the stream
        return getattr(self.stream, name)


def _on_terminal() -> bool:
    """Whether a progress bar can be drawn: stderr (where tqdm draws) is a terminal, not a
    pipe or a log file."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # closed or replaced
        return False


def _have_tqdm() -> bool:
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def _have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _format_time(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"
