"""The harness's guard around plug-in code: what it prints goes to stderr, and a wall-clock deadline stops it.

The core calls plug-in code (a strategy's ``setup``, ``ask`` and ``tell``, a predictor's ``fit`` and
``predict``, a hardware backend's ``latency`` and ``describe``, any plug-in's constructor and module
import) inside :func:`plugin_code`, and an engine's worker runs its whole job inside
:func:`stdout_to_stderr` (:mod:`ofa_bench.search.engines`):

- **stdout**: while plug-in code runs, ``sys.stdout`` is ``sys.stderr`` and file descriptor 1 is a
  copy of descriptor 2, so a ``print`` and a C extension's ``printf`` both land on stderr and a
  command's ``--json`` output on stdout stays one JSON value. Nested and concurrent guards share
  one redirection, undone when the last one ends.
- **deadline**: inside :func:`wall_deadline` (the thread that entered it), no plug-in call starts
  after the deadline, one that returns after it raises :class:`OutOfTime`, and, in the main thread
  on Unix (``signal.setitimer``, while no one else uses ``SIGALRM``), one still running at the
  deadline is interrupted: :class:`OutOfTime` is raised in it at its next Python bytecode or
  interruptible wait (``time.sleep``, a lock, a socket or pipe read). C code that does not return
  to Python is not interrupted before it does. :class:`OutOfTime` is a ``BaseException``, so a
  plug-in's ``except Exception`` does not swallow it; one swallowed anyway is raised again
  (every :data:`AGAIN_S` seconds) and when the call returns. The harness's own code (logging,
  caching) is never interrupted: the deadline is only raised inside plug-in code.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from types import FrameType, TracebackType
from typing import Any

__all__ = ["AGAIN_S", "OutOfTime", "check_deadline", "plugin_code", "stdout_to_stderr", "wall_deadline"]

#: Seconds between raising :class:`OutOfTime` again in plug-in code that swallowed it.
AGAIN_S = 0.5
#: Seconds to wait when the alarm comes while a guard itself is being entered or left.
_RETRY_S = 0.005


class OutOfTime(BaseException):
    """The wall-clock deadline of :func:`wall_deadline` has passed (raised in or between plug-in calls)."""


# ----- stdout -------------------------------------------------------------------------------------

_lock = threading.Lock()
_redirected = 0  # guards open, all threads together
_saved_fd: int | None = None  # a copy of the real descriptor 1 while redirected
_saved_stdout: Any = None  # the real sys.stdout while redirected


def _flush(stream: Any) -> None:
    try:
        if stream is not None:
            stream.flush()
    except (OSError, ValueError, AttributeError):  # closed or not a stream: nothing to flush
        pass


def _redirect() -> None:
    global _redirected, _saved_fd, _saved_stdout
    with _lock:
        _redirected += 1
        if _redirected > 1:
            return
        _saved_stdout = sys.stdout
        _flush(sys.stdout)
        _flush(sys.__stdout__)
        try:
            os.fstat(2)
            _saved_fd = os.dup(1)
        except OSError:  # no descriptor 1 or 2 here: the Python-level redirection still holds
            _saved_fd = None
        else:
            os.dup2(2, 1)
        if sys.stderr is not None:
            sys.stdout = sys.stderr


def _restore() -> None:
    global _redirected, _saved_fd, _saved_stdout
    with _lock:
        _redirected -= 1
        if _redirected > 0:
            return
        # What plug-in code left in buffers is flushed while descriptor 1 still leads to stderr.
        _flush(sys.stdout)
        _flush(_saved_stdout)
        _flush(sys.__stdout__)
        if _saved_fd is not None:
            os.dup2(_saved_fd, 1)
            os.close(_saved_fd)
            _saved_fd = None
        sys.stdout = _saved_stdout
        _saved_stdout = None


class stdout_to_stderr:  # lower case: used as a function: ``with stdout_to_stderr():``
    """Send stdout (``sys.stdout`` and descriptor 1) to stderr until the block ends."""

    def __enter__(self) -> None:
        _redirect()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        _restore()


# ----- deadline -----------------------------------------------------------------------------------


class _Deadline:
    __slots__ = ("at", "inside", "signals")

    def __init__(self, at: float) -> None:
        self.at = at  # time.monotonic() of the deadline
        self.inside = 0  # plug-in calls in progress in the deadline's thread
        self.signals = False  # whether SIGALRM interrupts them


_local = threading.local()


def _current() -> _Deadline | None:
    return getattr(_local, "deadline", None)


def check_deadline() -> None:
    """Raise :class:`OutOfTime` when this thread's :func:`wall_deadline` has passed (else nothing)."""
    deadline = _current()
    if deadline is not None and time.monotonic() >= deadline.at:
        raise OutOfTime


class plugin_code:  # lower case: used as a function: ``with plugin_code():``
    """Run a call into plug-in code: stdout to stderr, and under this thread's deadline if there is one.

    Args:
        what: The call, as users know it (``"search strategy 'greedy': tell()"``). Given, an exception
            the plug-in raises that is not an :class:`~ofa_bench.errors.OfaBenchError` comes out as a
            :class:`~ofa_bench.errors.PluginError` naming the call and the original exception (chained,
            so ``--debug`` shows where it was raised): the command then blames the plug-in, not itself.
    """

    __slots__ = ("deadline", "what")

    def __init__(self, what: str | None = None) -> None:
        self.what = what

    def __enter__(self) -> None:
        _redirect()
        deadline = self.deadline = _current()
        if deadline is not None:
            if time.monotonic() >= deadline.at:
                _restore()
                raise OutOfTime
            deadline.inside += 1

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        deadline = self.deadline
        if deadline is not None:
            deadline.inside -= 1
        _restore()
        if deadline is not None and kind is None and time.monotonic() >= deadline.at:
            raise OutOfTime  # the call returned after the deadline: the caller stops here
        if self.what is not None and kind is not None and issubclass(kind, Exception):
            from ofa_bench.errors import OfaBenchError, PluginError
            from ofa_bench.io.untrusted import clip

            if not issubclass(kind, OfaBenchError):
                reason = clip(value, 300)
                raise PluginError(f"{self.what} raised {kind.__name__}" + (f": {reason}" if reason else "")) from value


class wall_deadline:  # lower case: used as a function: ``with wall_deadline(seconds):``
    """Hold this thread's plug-in calls to a deadline ``seconds`` from now (see the module's text).

    A deadline inside another keeps the earlier of the two. The caller catches :class:`OutOfTime`,
    which leaves the block from the plug-in call that was running, or about to start, at the deadline.
    """

    __slots__ = ("deadline", "outer", "previous")

    def __init__(self, seconds: float) -> None:
        self.deadline = _Deadline(time.monotonic() + max(0.0, float(seconds)))
        self.outer: _Deadline | None = None
        self.previous: Any = None

    def __enter__(self) -> None:
        deadline, outer = self.deadline, _current()
        self.outer = outer
        if outer is not None:
            deadline.at = min(deadline.at, outer.at)
            deadline.inside = outer.inside
        _local.deadline = deadline
        if outer is not None and outer.signals:  # the outer deadline's alarm serves this one too
            deadline.signals = True
            _set_alarm(deadline.at)
        else:
            self.previous = _arm(deadline)

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        deadline, outer = self.deadline, self.outer
        _local.deadline = outer
        if not deadline.signals:
            return
        deadline.signals = False
        if outer is not None and outer.signals:
            _set_alarm(outer.at)
        else:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)


def _set_alarm(at: float) -> None:
    signal.setitimer(signal.ITIMER_REAL, max(at - time.monotonic(), 1e-6))


def _arm(deadline: _Deadline) -> Any:
    """Interrupt plug-in code at the deadline with SIGALRM where this thread can: the previous handler."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        if signal.getsignal(signal.SIGALRM) not in (signal.SIG_DFL, None) or any(signal.getitimer(signal.ITIMER_REAL)):
            return None  # someone else's alarm (or an outer deadline's): leave it alone, check at each call
        previous = signal.signal(signal.SIGALRM, _on_alarm)
    except (ValueError, OSError):
        return None
    deadline.signals = True
    _set_alarm(deadline.at)
    return previous


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    deadline = _current()  # handlers run in the main thread: the main thread's deadline
    if deadline is None or not deadline.signals:
        return
    if time.monotonic() < deadline.at:  # early by the clocks' difference: wait for the rest
        _set_alarm(deadline.at)
        return
    if deadline.inside <= 0:
        return  # the harness's own code runs: the next plug-in call raises
    if _in_guard(frame):  # a guard is being entered or left: again in a moment
        signal.setitimer(signal.ITIMER_REAL, _RETRY_S)
        return
    signal.setitimer(signal.ITIMER_REAL, AGAIN_S)  # and again should the plug-in swallow it
    raise OutOfTime


def _in_guard(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code in _GUARD_CODE:
            return True
        frame = frame.f_back
    return False


#: The code that enters and leaves guards, where raising would leave one half done.
_GUARD_CODE = frozenset(
    f.__code__
    for f in (
        _flush, _redirect, _restore, check_deadline, _current, _arm, _set_alarm,
        stdout_to_stderr.__enter__, stdout_to_stderr.__exit__, plugin_code.__enter__, plugin_code.__exit__,
        wall_deadline.__enter__, wall_deadline.__exit__,
    )
)  # fmt: skip
