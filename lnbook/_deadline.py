"""The time limit on a learner's code: stop it after some seconds, whatever it catches.

A checker calls the learner's function inside :func:`time_limit`; code that runs past the
limit gets :class:`TimeLimit` raised into it, and :func:`lnbook.checking.call` turns that into
a verdict ("is there an endless loop?"). Two ways to raise it, one policy:

- with a timer signal (SIGALRM, Unix, main thread), which costs nothing while the code runs;
- elsewhere (the browser edition has no signals; a kernel may run cells in another thread)
  with a trace function that looks at the clock on every line of Python.

Why it is this involved: the exception is a ``BaseException``, so ``except Exception`` cannot
swallow it, but a retry loop with a bare ``except:`` can, and would then run on forever. So a
swallowed :class:`TimeLimit` tells its limit, from its finalizer, and the limit raises again
on the learner's next line (:meth:`_Limit.rearm`), until the exception reaches the harness.

The limit's own frames are never traced nor stopped: those of this module, of
:mod:`contextlib` (the ``with`` statement's machinery), and of the module whose frame entered
the limit (the harness, :mod:`lnbook.checking`). It lives apart from the harness because it is
the one part of it that reasons about frames and signals rather than about answers.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager

REPEAT_S = 0.05  # past the deadline, the alarm strikes again this often

# Frames of the limit's own machinery, never traced (nor stopped) by it; each limit adds the
# file of the frame that entered it (see _Limit).
_OWN_FILES = frozenset({__file__, contextlib.__file__})


class TimeLimit(BaseException):
    """Raised into the learner's code; a BaseException, so ``except Exception`` cannot
    swallow it. A bare ``except:`` can: when it does, the exception is dropped, and its
    finalizer tells the limit (``rearm``), which then raises again on the next line."""

    def __init__(self, rearm: Callable[[], None] | None = None):
        super().__init__()
        self._rearm = rearm

    def __del__(self):
        if self._rearm is not None:
            self._rearm()


class _Limit:
    """One running time limit: its deadline, and the trace function that raises
    :class:`TimeLimit` on the learner's next line once the deadline has passed.

    The trace function runs from the start where there are no signals
    (:func:`_traced_time_limit`); with the alarm, only once the learner's code has
    swallowed a :class:`TimeLimit` (:meth:`rearm`).
    """

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.active = True
        self.tracing = False
        # The frame that entered the limit (the harness's `with`): the first one outside the
        # machinery. Its code bounds rearm()'s walk up the stack, and its file's frames are
        # the harness's, never traced either.
        frame = sys._getframe(1)
        while frame.f_code.co_filename in _OWN_FILES:
            frame = frame.f_back
        self.home = frame.f_code
        self.own = _OWN_FILES | {frame.f_code.co_filename}

    def on_call(self, frame, event, arg):
        if not self.active or frame.f_code.co_filename in self.own:
            return None
        return self.on_line  # trace the new frame's lines

    def on_line(self, frame, event, arg):
        if not self.active:  # a generator of the learner's, resumed after the check
            return None
        if time.monotonic() > self.deadline:
            raise TimeLimit(self.rearm)  # raised into the traced frame, at its current line
        return self.on_line

    def trace(self) -> None:
        sys.settrace(self.on_call)
        self.tracing = True

    def rearm(self) -> None:
        """The learner's code swallowed a :class:`TimeLimit` (a bare ``except:``): trace
        its running frames, up to the harness's, so that its next line raises again.
        Python removed the trace function that raised; a debugger's is left alone."""
        if not self.active or sys.gettrace() not in (None, self.on_call):
            return
        frame = sys._getframe(2)  # the frame where the exception was dropped
        while frame is not None and frame.f_code is not self.home:
            if frame.f_code.co_filename not in self.own:
                frame.f_trace = self.on_line
            frame = frame.f_back
        self.trace()

    def close(self) -> None:
        self.active = False
        if self.tracing:
            # Raising from a trace function already removed it; otherwise remove it here.
            sys.settrace(None)


def alarm_usable() -> bool:
    """Whether SIGALRM can stop the learner's code: on Unix, in the main thread only (Python
    runs signal handlers there). Pyodide has no timer signal (no ``signal.setitimer``)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float):
    """Stop the learner's code after ``seconds``: raise :class:`TimeLimit` into it, and
    again until it reaches the harness (a retry loop with a bare ``except:`` swallows one:
    the next is raised on its next line, see :meth:`_Limit.rearm`).

    With a timer signal where there is one; elsewhere (the browser edition, a thread other
    than the main one) with a trace function that checks the clock on every line of Python
    (:func:`_traced_time_limit`).

    The limit is for Python code. Neither way interrupts one long call into compiled code,
    such as ``sum(range(10**11))`` or a huge NumPy product: Python runs a signal handler,
    and a trace function, only between bytecodes, so the check waits for that call to
    return. Stopping it would need the answer to run in another process, which cannot
    share the learner's functions and arrays; the checkers' small inputs make such calls
    unlikely, and the kernel's interrupt button still stops them.
    """
    if not alarm_usable():
        with _traced_time_limit(seconds):
            yield
        return
    limit = _Limit(seconds)

    def on_alarm(signum, frame):
        if limit.active:
            raise TimeLimit(limit.rearm)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT_S)
    try:
        yield
    finally:
        # A repeat may strike before close() has disarmed the handler: retry, so that no
        # alarm and no handler outlive the check.
        while True:
            try:
                limit.close()  # from here on, neither the alarm nor the trace function raises
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
                break
            except TimeLimit:
                continue


@contextmanager
def _traced_time_limit(seconds: float):
    """:func:`time_limit` without signals: ``sys.settrace`` sees every line the learner's
    code runs in this thread, and raises :class:`TimeLimit` there once the deadline passed.

    Tracing slows pure-Python code a few times, which the checkers' small inputs afford. A
    debugger or coverage tool already tracing keeps its trace function, and the code runs
    without a limit: replacing it would silently break the tool (and someone stepping
    through the code wants no limit).
    """
    if sys.gettrace() is not None:
        yield
        return
    limit = _Limit(seconds)
    limit.trace()
    try:
        yield
    finally:
        limit.close()
