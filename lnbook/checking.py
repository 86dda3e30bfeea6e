"""DOCSTRING checking"""

from __future__ import annotations

import contextlib
import functools
import html
import math
import re
import reprlib
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

NOT_ATTEMPTED, CORRECT, WRONG = "not attempted yet", "correct", "wrong"


TIME_LIMIT_S = 5.0


REVEAL_AFTER = 2  # the wrong try (of one checker) from which the expected values are shown


WITHHELD = "Check again once you have fixed it; a second wrong try also shows the expected values."


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: ``status`` (one of the three above) and a ``message``."""

    status: str
    message: str
    # A wrong verdict's expected values, kept out of `message` until the second wrong try;
    # only checkers set it (through `_wrong`), and `_checker` folds it in or drops it.
    _answer: str = field(default="", repr=False, compare=False)

    @property
    def passed(self) -> bool:
        return self.status == CORRECT

    @property
    def assert_correct(self) -> Callable[[], Verdict]:
        """``verdict.assert_correct()`` returns the verdict if it is correct, else raises
        ``AssertionError("<status>: <message>")`` (the book's solution cells and nbgrader's
        test cells call it).

        A property that returns the function, not a method: a method's own frame would be
        the innermost frame of the traceback, which IPython always shows (it hides frames
        marked ``__tracebackhide__`` except the last, and its Plain mode not at all), with
        the absolute path of this file. Here the error is raised by a call into C made
        from the caller's frame, so the traceback ends in the learner's cell.
        """
        if self.passed:
            return lambda: self
        return _raiser(AssertionError(f"{self.status}: {self.message}"))

    def __str__(self) -> str:
        icon = {CORRECT: "✔", WRONG: "✘", NOT_ATTEMPTED: "✎"}[self.status]
        return f"{icon} {self.status.capitalize()}. {self.message}".rstrip()

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour = {CORRECT: "#009E73", WRONG: "#D55E00", NOT_ATTEMPTED: "#56B4E9"}[self.status]
        # `code` in a message becomes <code>code</code>; everything else is escaped.
        parts = html.escape(str(self)).split("`")
        text = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
        return (
            f'<div class="lnbook-verdict" style="border-left:4px solid {colour};'
            f'padding:0.3em 0.8em">{text}</div>'
        )


def _raiser(error: BaseException) -> Callable[[], Verdict]:
    """A function that raises ``error`` without running a Python frame of its own.

    ``throw`` into a generator that has already finished raises the exception at once, from
    C, so the traceback starts in the frame that calls the returned function.
    """
    spent = (_ for _ in ())
    next(spent, None)  # run it to its end: from now on `throw` only raises
    return functools.partial(spent.throw, error)


def _not_attempted() -> Verdict:
    return Verdict(NOT_ATTEMPTED, "Replace `raise NotImplementedError` with your answer and rerun.")


def wrong(message: str, answer: str = "") -> Verdict:
    """A wrong verdict. ``message`` names the mistake and how to fix it, without the expected
    values; ``answer`` holds those, shown from the second wrong try on (module docstring)."""
    return Verdict(WRONG, message, answer)


def sentence(text: str) -> str:
    """``text`` ending as a sentence: an exception's text often has no final period, and a
    hint appended to it would run on as one sentence."""
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def quote(value, limit: int = 60) -> str:
    """A learner's value quoted in a message: on one line and at most ``limit`` characters.

    The one place where a learner's value becomes text, so no value can flood a message:
    ``reprlib`` and NumPy's summarizing print stop early, instead of writing out a
    ``range(10**6)`` turned into a tuple (megabytes) and cutting it afterwards.
    """
    if hasattr(value, "detach"):  # a tensor's repr spans lines and names its grad_fn
        value = value.detach().cpu().numpy()
    try:
        if isinstance(value, np.ndarray):
            text = np.array2string(value, threshold=8, edgeitems=2, separator=", ")
        else:
            short = reprlib.Repr()
            short.maxstring = short.maxother = short.maxlong = limit
            text = short.repr(value)
    except Exception:  # a learner's class whose __repr__ raises
        text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def distinct_digits(given: float, expected: float, first: str = ".4g") -> tuple[str, str]:
    """``given`` and ``expected`` as text, in the format ``first`` or with as many more
    significant digits as it takes to tell them apart: 1.5000001 and 1.5 both print as
    "1.5" with ``:g``, and a message saying one is not the other would puzzle."""
    for spec in (first, ".6g", ".8g", ".10g", ".12g", ".17g"):
        a, b = format(given, spec), format(expected, spec)
        if a != b:
            break
    return a, b


# Wrong tries so far in this kernel, by checker name (see the module docstring).
_wrong_tries: dict[str, int] = {}


def checker(check: Callable[..., Verdict]) -> Callable[..., Verdict]:
    """Make ``check`` a public checker: count its wrong tries and show the expected values
    (the ``answer`` of its wrong verdict) only from the second wrong try on.

    One mechanism for every checker, so the policy cannot drift between them.
    """

    @functools.wraps(check)
    def checked(*args, **kwargs) -> Verdict:
        verdict = check(*args, **kwargs)
        if verdict.status != WRONG:
            return Verdict(verdict.status, verdict.message)
        tries = _wrong_tries[check.__name__] = _wrong_tries.get(check.__name__, 0) + 1
        if not verdict._answer:
            return Verdict(WRONG, verdict.message)
        shown = verdict._answer if tries >= REVEAL_AFTER else WITHHELD
        return Verdict(WRONG, f"{sentence(verdict.message)} {sentence(shown)}")

    return checked


class _TimeLimit(BaseException):
    """Raised into the learner's code; a BaseException, so ``except Exception`` cannot
    swallow it. A bare ``except:`` can: when it does, the exception is dropped, and its
    finalizer tells the limit (``rearm``), which then raises again on the next line."""

    def __init__(self, rearm: Callable[[], None] | None = None):
        super().__init__()
        self._rearm = rearm

    def __del__(self):
        if self._rearm is not None:
            self._rearm()


REPEAT_S = 0.05  # past the deadline, the alarm strikes again this often


# Frames of the limit's own machinery, never traced (nor stopped) by it.
_OWN_FILES = {__file__, contextlib.__file__}


class _Limit:
    """One running time limit: its deadline, and the trace function that raises
    :class:`_TimeLimit` on the learner's next line once the deadline has passed.

    The trace function runs from the start where there are no signals
    (:func:`_traced_time_limit`); with the alarm, only once the learner's code has
    swallowed a :class:`_TimeLimit` (:meth:`rearm`).
    """

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.active = True
        self.tracing = False

    def on_call(self, frame, event, arg):
        if not self.active or frame.f_code.co_filename in _OWN_FILES:
            return None
        return self.on_line  # trace the new frame's lines

    def on_line(self, frame, event, arg):
        if not self.active:  # a generator of the learner's, resumed after the check
            return None
        if time.monotonic() > self.deadline:
            raise _TimeLimit(self.rearm)  # raised into the traced frame, at its current line
        return self.on_line

    def trace(self) -> None:
        sys.settrace(self.on_call)
        self.tracing = True

    def rearm(self) -> None:
        """The learner's code swallowed a :class:`_TimeLimit` (a bare ``except:``): trace
        its running frames, up to the checker's, so that its next line raises again.
        Python removed the trace function that raised; a debugger's is left alone."""
        if not self.active or sys.gettrace() not in (None, self.on_call):
            return
        frame = sys._getframe(2)  # the frame where the exception was dropped
        while frame is not None and frame.f_code is not call.__code__:
            if frame.f_code.co_filename not in _OWN_FILES:
                frame.f_trace = self.on_line
            frame = frame.f_back
        self.trace()

    def close(self) -> None:
        self.active = False
        if self.tracing:
            # Raising from a trace function already removed it; otherwise remove it here.
            sys.settrace(None)


def _alarm_usable() -> bool:
    """Whether SIGALRM can stop the learner's code: on Unix, in the main thread only (Python
    runs signal handlers there). Pyodide has no timer signal (no ``signal.setitimer``)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def _time_limit(seconds: float):
    """Stop the learner's code after ``seconds``: raise :class:`_TimeLimit` into it, and
    again until it reaches the checker (a retry loop with a bare ``except:`` swallows one:
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
    if not _alarm_usable():
        with _traced_time_limit(seconds):
            yield
        return
    limit = _Limit(seconds)

    def on_alarm(signum, frame):
        if limit.active:
            raise _TimeLimit(limit.rearm)

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
            except _TimeLimit:
                continue


@contextmanager
def _traced_time_limit(seconds: float):
    """:func:`_time_limit` without signals: ``sys.settrace`` sees every line the learner's
    code runs in this thread, and raises :class:`_TimeLimit` there once the deadline passed.

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


def _broadcast_hint(text: str) -> str:
    """A hint for NumPy's "could not be broadcast" error, when a lost last axis is the
    likely cause: one operand's shape is the other's without its last axis, (N,) against
    (N, D) (a reduction without keepdims) or (B, T) against (B, T, D) (a mask without a
    feature axis). Other mismatches (a column-shaped gamma, say) get no hint: it would
    mislead."""
    shapes = [
        tuple(int(n) for n in re.findall(r"\d+", group))
        for group in re.findall(r"\(([\d,\s]*)\)", text.split("shapes", 1)[-1])
    ]
    for a in shapes:
        for b in shapes:
            if len(a) >= 2 and b == a[:-1] and a[-1] != 1:
                return (
                    f" An array of shape {b} lost the last axis of {a}: keep it with "
                    "keepdims=True in the reduction that made it (or add it back with "
                    "[..., None]), so that it broadcasts."
                )
    return ""


def call(fn, *args, read_only: dict[int, str] | None = None) -> tuple[object, Verdict | None]:
    """Call the learner's ``fn``; return (result, None) or (None, a verdict explaining why not).

    ``read_only`` maps the positions of array arguments the function must not change to
    their names: changing one in place is reported as such (the caller still needs it,
    and the values computed from it are off for no visible reason).
    """
    if not callable(fn):
        return None, wrong(f"Expected a function, got {type(fn).__name__}.")
    kept = {i: np.array(args[i], copy=True) for i in read_only or {}}
    try:
        with _time_limit(TIME_LIMIT_S):
            result = fn(*args)
    except NotImplementedError:
        return None, _not_attempted()
    except _TimeLimit:
        return None, wrong(
            f"Your function ran for more than {TIME_LIMIT_S:g} s; is there an endless loop?"
        )
    except SystemExit:
        # sys.exit(), exit() or quit() would end the kernel (or the test run) with no word.
        return None, wrong(
            "Your function called sys.exit() (or exit(), quit()), which ends the whole "
            "kernel; return a value or raise an exception instead."
        )
    except Exception as e:  # the learner's bug, reported, never re-raised
        text = str(e).strip()
        text = text if len(text) <= 300 else text[:299] + "…"  # a learner's raise may be huge
        # numpy's and torch's messages have no final period: end the sentence before a hint.
        raised = f"Your function raised {type(e).__name__}"
        message = sentence(f"{raised}: {text}" if text else raised)
        if "could not be broadcast" in text:
            message += _broadcast_hint(text)
        return None, wrong(message)
    for i, name in (read_only or {}).items():
        if not np.array_equal(np.asarray(args[i]), kept[i], equal_nan=True):
            return None, wrong(
                f"Your function changed `{name}` in place (an augmented assignment such as "
                f"`{name} *= ...`, or writing into {name}[...]); the caller still needs it: "
                "work on a new array."
            )
    return result, None


def as_array(value, name: str, shape: tuple[int, ...]) -> tuple[np.ndarray | None, Verdict | None]:
    """Coerce a learner's value to a float array of ``shape``, or explain why it is not one.

    A float32 (or float16) answer stays in its precision, so that :func:`_close` can judge
    it by what that precision holds; anything else becomes float64."""
    if value is None:
        return None, wrong(f"{name} is None: did you forget to `return` it?")
    if hasattr(value, "detach"):  # a torch tensor, maybe requiring grad
        try:
            value = value.detach().cpu()
            if str(value.dtype) == "torch.bfloat16":  # NumPy has no bfloat16
                value = value.float()
            value = value.numpy()
        except Exception:
            return None, wrong(f"{name} should be an array of numbers, got {quote(value)}.")
    try:
        dtype = getattr(value, "dtype", None)
        low = isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize < 8
        a = np.asarray(value, dtype=dtype if low else np.float64)
    except Exception:  # ragged lists, strings, objects...
        return None, wrong(f"{name} should be an array of numbers, got {type(value).__name__}.")
    if a.shape != shape:
        return None, wrong(f"{name} should have shape {shape}, got {a.shape}.")
    if not np.isfinite(a).all():
        return None, wrong(f"{name} contains NaN or infinity.")
    return a, None


def as_number(value, name: str) -> tuple[float | None, Verdict | None]:
    """A learner's single number as a float (not a string, not an array of several)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        if isinstance(value, str | bytes) or np.size(value) != 1:
            raise TypeError
        number = float(np.asarray(value).reshape(()))
    except Exception:
        return None, wrong(f"{name} should be a single number, got {quote(value)}.")
    if not math.isfinite(number):
        return None, wrong(f"{name} is {number}; it should be a finite number.")
    return number, None


def tolerance(*arrays) -> tuple[float, float]:
    """(rtol, atol) for comparing a learner's values: the one tolerance policy of every
    checker. float64 answers within 1e-6 (relative) and 1e-8; answers in a lower precision
    within a few hundred of its rounding steps (float32: 1e-4), which float32 code holds
    on the checkers' inputs and every diagnosed mistake stays far outside."""
    steps = [
        np.finfo(a.dtype).eps
        for a in arrays
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.dtype.itemsize < 8
    ]
    if not steps:
        return 1e-6, 1e-8
    tol = min(1e-2, 800 * max(steps))
    return tol, tol


def close(a, b, rtol: float | None = None, atol: float | None = None) -> bool:
    """Whether ``a`` and ``b`` agree within :func:`tolerance` (or the ``rtol``/``atol``
    given, for a checker whose exercise sets its own accuracy)."""
    default_rtol, default_atol = tolerance(a, b)
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    return bool(np.allclose(a, b, rtol=rtol, atol=atol))


def parts_of(value, n: int) -> list | None:
    """The ``n`` things a learner returned together: a tuple, a list, or an array (or
    tensor) of ``n`` rows, as ``np.array([gamma, beta])`` gives; None if it is not that."""
    if isinstance(value, tuple | list) or getattr(value, "ndim", 0) >= 1:
        try:
            parts = list(value)
        except Exception:
            return None
        return parts if len(parts) == n else None
    return None


def worst(given: np.ndarray, expected: np.ndarray) -> tuple[int, ...]:
    """The index where ``given`` is furthest from ``expected``."""
    diff = np.abs(given.astype(np.float64) - expected)
    return tuple(int(i) for i in np.unravel_index(diff.argmax(), diff.shape))


def ln_rows(x, eps, ddof=0, eps_outside=False, axis=-1):
    mu = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True, ddof=ddof)
    if eps_outside:
        return (x - mu) / (np.sqrt(var) + eps)
    return (x - mu) / np.sqrt(var + eps)


def diagnose_layer_norm(y: np.ndarray, x: np.ndarray, eps: float, atol: float | None = None) -> str:
    """Name the mistake that turns ``x`` into ``y``, if it is a known one (``atol``: the
    tolerance of the comparison, if not :func:`_tolerance`'s)."""
    known = [
        (
            ln_rows(x, eps, axis=0),
            "You normalized each *column* (feature across the batch): "
            "that is batch norm. Layer norm takes the statistics of each *row* "
            "(`axis=-1, keepdims=True`).",
        ),
        (
            ln_rows(x, eps, ddof=1),
            "You used the unbiased variance (divide by D - 1). Layer norm divides by D: "
            "`x.var(axis=-1, keepdims=True)` or `np.mean((x - mu)**2, axis=-1, keepdims=True)`.",
        ),
        (
            ln_rows(x, eps, eps_outside=True),
            "You added eps to the standard deviation. Layer "
            "norm adds it to the variance, inside the square root: `np.sqrt(var + eps)`.",
        ),
        (
            x - x.mean(axis=-1, keepdims=True),
            "You subtracted the mean but did not divide by the standard deviation.",
        ),
        (
            x / np.sqrt(x.var(axis=-1, keepdims=True) + eps),
            "You divided by the standard deviation but did not subtract the mean.",
        ),
        (ln_rows(x, 0.0), "Close, but eps is missing: use `np.sqrt(var + eps)`."),
    ]
    for candidate, message in known:
        if close(y, candidate, atol=atol):
            return message
    return (
        "The values differ from layer norm's, (x - mu) / sqrt(var + eps) with the mean and "
        "the variance of each row (`axis=-1, keepdims=True`)."
    )


def check_predictions(
    fn: Callable[[], dict],
    questions: dict[str, str],
    truth: dict[str, bool],
    hint: str,
    success: str,
    explain: Callable[[str, str], str] | None = None,
) -> Verdict:
    """The checker of every True/False exercise: call ``fn``, validate its dict of answers
    and compare with ``truth`` (computed by the caller). A wrong answer is named by its
    question (computing the answer is the exercise), followed by ``hint``; where
    ``explain(question, key)`` says why, that is the answer, shown from the second wrong
    try on. All right gives ``success``."""
    result, verdict = call(fn)
    if verdict:
        return verdict
    if not isinstance(result, dict):
        return wrong(
            f"Return a dict mapping each question to True or False, got {type(result).__name__}."
        )
    missing = [q for q in questions if q not in result]
    if missing:
        return wrong(
            f"Answer every question; missing: {missing}. Use the question strings as keys "
            "(loop over the questions dict, as the stub does)."
        )
    missed, why = [], []
    for question, key in questions.items():
        answer = result[question]
        if getattr(answer, "ndim", None) == 0 and "bool" in str(getattr(answer, "dtype", "")):
            answer = bool(answer.item())  # (a == b).all() gives a 0-d array or tensor
        if not isinstance(answer, bool | np.bool_):
            return wrong(
                f"The answer to {question!r} should be True or False, got {quote(answer)}."
            )
        if bool(answer) != truth[key]:
            missed.append(repr(question))
            if explain:
                why.append(explain(question, key))
    if missed:
        return wrong(
            f"{len(missed)} of {len(questions)} wrong: " + "; ".join(missed) + ". " + hint,
            answer="; ".join(why),
        )
    return Verdict(CORRECT, success)


def shape_of(value) -> tuple[int, ...] | None:
    """The shape of a learner's array-like value; None if it has none (ragged, not numbers)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64).shape
    except Exception:
        return None
