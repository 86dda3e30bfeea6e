"""Exercise checkers: call a learner's answer, and say what is right or wrong with it.

Every checker takes the learner's function, calls it on inputs of its own, and returns a
:class:`Verdict`: "not attempted yet" while the function still raises
``NotImplementedError``, "correct", or "wrong" with a diagnosis of the classic mistake it
recognizes (normalizing the wrong axis, the unbiased variance, eps outside the square root,
a wrong shape...) and what was found. A checker never raises because of the answer:
exceptions, ``sys.exit()``, garbage return values and NaN are all diagnosed, and Python
code that runs too long is stopped (one long call into compiled code is not: see
:func:`_time_limit`).

Hints before answers. The first wrong try of a checker names the mistake and how to fix it
(the formula, the step to redo) without the expected values; from the second wrong try of
the same checker on, the verdict also shows them (the expected mu and var, what the
differing element should be, the count the model has, why a True/False prediction is
wrong). Tries are counted per checker in the running kernel; a correct answer or a "not
attempted yet" does not count. One mechanism applies this to every checker: a checker puts
what it withholds in ``answer=`` of :func:`_wrong`, and :func:`_checker`, which wraps every
public checker, decides whether it is shown. Values the learner returned may always be
quoted: they are not the answer.

Solutions in the book call the same checkers with ``.assert_correct()``, so every solution
is executed as a test, and nbgrader's test cells print ``checks.<checker>(f).assert_correct()``.
When the answer is wrong, that raises ``AssertionError("wrong: <message>")`` with no frame
of lnbook in its traceback (see :attr:`Verdict.assert_correct`), so the notebook and its
nbgrader feedback show the learner the verdict, not the teacher's file paths.
"""

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
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from . import numpy_ln
from ._optional import require_torch

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


def _wrong(message: str, answer: str = "") -> Verdict:
    """A wrong verdict. ``message`` names the mistake and how to fix it, without the expected
    values; ``answer`` holds those, shown from the second wrong try on (module docstring)."""
    return Verdict(WRONG, message, answer)


def _sentence(text: str) -> str:
    """``text`` ending as a sentence: an exception's text often has no final period, and a
    hint appended to it would run on as one sentence."""
    text = text.strip()
    return text if not text or text[-1] in ".!?" else text + "."


def _shown(value, limit: int = 60) -> str:
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


def _digits(given: float, expected: float, first: str = ".4g") -> tuple[str, str]:
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


def _checker(check: Callable[..., Verdict]) -> Callable[..., Verdict]:
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
        return Verdict(WRONG, f"{_sentence(verdict.message)} {_sentence(shown)}")

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
        while frame is not None and frame.f_code is not _call.__code__:
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


def _call(fn, *args, read_only: dict[int, str] | None = None) -> tuple[object, Verdict | None]:
    """Call the learner's ``fn``; return (result, None) or (None, a verdict explaining why not).

    ``read_only`` maps the positions of array arguments the function must not change to
    their names: changing one in place is reported as such (the caller still needs it,
    and the values computed from it are off for no visible reason).
    """
    if not callable(fn):
        return None, _wrong(f"Expected a function, got {type(fn).__name__}.")
    kept = {i: np.array(args[i], copy=True) for i in read_only or {}}
    try:
        with _time_limit(TIME_LIMIT_S):
            result = fn(*args)
    except NotImplementedError:
        return None, _not_attempted()
    except _TimeLimit:
        return None, _wrong(
            f"Your function ran for more than {TIME_LIMIT_S:g} s; is there an endless loop?"
        )
    except SystemExit:
        # sys.exit(), exit() or quit() would end the kernel (or the test run) with no word.
        return None, _wrong(
            "Your function called sys.exit() (or exit(), quit()), which ends the whole "
            "kernel; return a value or raise an exception instead."
        )
    except Exception as e:  # the learner's bug, reported, never re-raised
        text = str(e).strip()
        text = text if len(text) <= 300 else text[:299] + "…"  # a learner's raise may be huge
        # numpy's and torch's messages have no final period: end the sentence before a hint.
        raised = f"Your function raised {type(e).__name__}"
        message = _sentence(f"{raised}: {text}" if text else raised)
        if "could not be broadcast" in text:
            message += _broadcast_hint(text)
        return None, _wrong(message)
    for i, name in (read_only or {}).items():
        if not np.array_equal(np.asarray(args[i]), kept[i], equal_nan=True):
            return None, _wrong(
                f"Your function changed `{name}` in place (an augmented assignment such as "
                f"`{name} *= ...`, or writing into {name}[...]); the caller still needs it: "
                "work on a new array."
            )
    return result, None


def _as_array(value, name: str, shape: tuple[int, ...]) -> tuple[np.ndarray | None, Verdict | None]:
    """Coerce a learner's value to a float array of ``shape``, or explain why it is not one.

    A float32 (or float16) answer stays in its precision, so that :func:`_close` can judge
    it by what that precision holds; anything else becomes float64."""
    if value is None:
        return None, _wrong(f"{name} is None: did you forget to `return` it?")
    if hasattr(value, "detach"):  # a torch tensor, maybe requiring grad
        try:
            value = value.detach().cpu()
            if str(value.dtype) == "torch.bfloat16":  # NumPy has no bfloat16
                value = value.float()
            value = value.numpy()
        except Exception:
            return None, _wrong(f"{name} should be an array of numbers, got {_shown(value)}.")
    try:
        dtype = getattr(value, "dtype", None)
        low = isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize < 8
        a = np.asarray(value, dtype=dtype if low else np.float64)
    except Exception:  # ragged lists, strings, objects...
        return None, _wrong(f"{name} should be an array of numbers, got {type(value).__name__}.")
    if a.shape != shape:
        return None, _wrong(f"{name} should have shape {shape}, got {a.shape}.")
    if not np.isfinite(a).all():
        return None, _wrong(f"{name} contains NaN or infinity.")
    return a, None


def _as_number(value, name: str) -> tuple[float | None, Verdict | None]:
    """A learner's single number as a float (not a string, not an array of several)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        if isinstance(value, str | bytes) or np.size(value) != 1:
            raise TypeError
        number = float(np.asarray(value).reshape(()))
    except Exception:
        return None, _wrong(f"{name} should be a single number, got {_shown(value)}.")
    if not math.isfinite(number):
        return None, _wrong(f"{name} is {number}; it should be a finite number.")
    return number, None


def _tolerance(*arrays) -> tuple[float, float]:
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


def _close(a, b, rtol: float | None = None, atol: float | None = None) -> bool:
    """Whether ``a`` and ``b`` agree within :func:`_tolerance` (or the ``rtol``/``atol``
    given, for a checker whose exercise sets its own accuracy)."""
    default_rtol, default_atol = _tolerance(a, b)
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    return bool(np.allclose(a, b, rtol=rtol, atol=atol))


def _parts(value, n: int) -> list | None:
    """The ``n`` things a learner returned together: a tuple, a list, or an array (or
    tensor) of ``n`` rows, as ``np.array([gamma, beta])`` gives; None if it is not that."""
    if isinstance(value, tuple | list) or getattr(value, "ndim", 0) >= 1:
        try:
            parts = list(value)
        except Exception:
            return None
        return parts if len(parts) == n else None
    return None


def _worst(given: np.ndarray, expected: np.ndarray) -> tuple[int, ...]:
    """The index where ``given`` is furthest from ``expected``."""
    diff = np.abs(given.astype(np.float64) - expected)
    return tuple(int(i) for i in np.unravel_index(diff.argmax(), diff.shape))


# ---------------------------------------------------------------- variants -------------
# The classic mistakes, computed, so an answer can be recognized as one of them.


def _ln_rows(x, eps, ddof=0, eps_outside=False, axis=-1):
    mu = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True, ddof=ddof)
    if eps_outside:
        return (x - mu) / (np.sqrt(var) + eps)
    return (x - mu) / np.sqrt(var + eps)


def _diagnose_layer_norm(
    y: np.ndarray, x: np.ndarray, eps: float, atol: float | None = None
) -> str:
    """Name the mistake that turns ``x`` into ``y``, if it is a known one (``atol``: the
    tolerance of the comparison, if not :func:`_tolerance`'s)."""
    known = [
        (
            _ln_rows(x, eps, axis=0),
            "You normalized each *column* (feature across the batch): "
            "that is batch norm. Layer norm takes the statistics of each *row* "
            "(`axis=-1, keepdims=True`).",
        ),
        (
            _ln_rows(x, eps, ddof=1),
            "You used the unbiased variance (divide by D - 1). Layer norm divides by D: "
            "`x.var(axis=-1, keepdims=True)` or `np.mean((x - mu)**2, axis=-1, keepdims=True)`.",
        ),
        (
            _ln_rows(x, eps, eps_outside=True),
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
        (_ln_rows(x, 0.0), "Close, but eps is missing: use `np.sqrt(var + eps)`."),
    ]
    for candidate, message in known:
        if _close(y, candidate, atol=atol):
            return message
    return (
        "The values differ from layer norm's, (x - mu) / sqrt(var + eps) with the mean and "
        "the variance of each row (`axis=-1, keepdims=True`)."
    )


# ---------------------------------------------------------------- chapter 1 ------------

_HAND_X = np.array([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])


@_checker
def layer_norm_by_hand(answer: Callable[[], tuple]) -> Verdict:
    """Chapter 1: ``answer()`` returns ``(mu, var, x_hat)`` for x = [2, 4, 4, 4, 5, 5, 7, 9]
    with eps = 0."""
    result, verdict = _call(answer)
    if verdict:
        return verdict
    parts = _parts(result, 3)
    if parts is None:
        return _wrong("Return three things: `return mu, var, x_hat`.")
    mu, var, x_hat = parts
    x = _HAND_X
    mu, verdict = _as_number(mu, "mu")
    if verdict:
        return verdict
    var, verdict = _as_number(var, "var")
    if verdict:
        return verdict
    if not math.isclose(mu, x.mean(), abs_tol=1e-9):
        given, expected = _digits(mu, x.mean(), "g")
        return _wrong(
            f"You have mu = {given}, but mu should be the mean of the 8 values: add them up "
            "and divide by 8.",
            answer=f"Expected mu = {expected}.",
        )
    if math.isclose(var, x.var(ddof=1), abs_tol=1e-6):
        return _wrong(
            f"var = {var:g} is the unbiased variance (the squares summed, divided by 7). "
            "Layer norm divides by the number of features, 8: var = mean((x - mu)**2).",
            answer=f"Expected var = {x.var():g}.",
        )
    if math.isclose(var, x.std(), abs_tol=1e-9):
        return _wrong(
            f"var = {var:g} is the standard deviation; var is its square, mean((x - mu)**2).",
            answer=f"Expected var = {x.var():g}.",
        )
    if not math.isclose(var, x.var(), abs_tol=1e-9):
        given, expected = _digits(var, x.var(), "g")
        return _wrong(
            f"You have var = {given}, but var should be mean((x - mu)**2): square each "
            "value's distance from mu, then average the 8 squares.",
            answer=f"Expected var = {expected}.",
        )
    x_hat, verdict = _as_array(x_hat, "x_hat", (8,))
    if verdict:
        return verdict
    expected = (x - x.mean()) / x.std()
    if _close(x_hat, (x - x.mean()) / x.var()):
        return _wrong("x_hat divides by var; divide by the standard deviation sqrt(var).")
    if not _close(x_hat, expected):
        (i,) = _worst(x_hat, expected)
        given, _ = _digits(float(x_hat[i]), float(expected[i]), "g")
        return _wrong(
            f"x_hat should be (x - mu) / sqrt(var), value by value; your x_hat[{i}] = "
            f"{given} is not (x[{i}] - mu) / sqrt(var) for x[{i}] = {x[i]:g}.",
            answer=f"Expected x_hat = {expected.tolist()} (x_hat[{i}] = {expected[i]:g}).",
        )
    return Verdict(CORRECT, "mu = 5, var = 4, and x_hat has mean 0 and variance 1.")


@_checker
def layer_norm_rows(fn: Callable[[np.ndarray, float], np.ndarray]) -> Verdict:
    """Chapter 1: ``fn(x, eps)`` is layer norm of each row of a (N, D) array (no gamma/beta)."""
    rng = np.random.default_rng(7)
    # Rows of very different spread, one nearly constant (where eps matters), N != D so a
    # wrong axis shows up.
    x = rng.standard_normal((5, 6)) * np.array([[1.0], [5.0], [0.01], [2.0], [0.3]]) + 3.0
    eps = 1e-3
    result, verdict = _call(fn, x.copy(), eps)
    if verdict:
        return verdict
    y, verdict = _as_array(result, "The result", x.shape)
    if verdict:
        if "got (5,)" in verdict.message or "got (5, 1)" in verdict.message:
            return _wrong(
                "The result has one number per row. Keep the features: compute mu and var "
                "with keepdims=True, then return (x - mu) / sqrt(var + eps)."
            )
        return verdict
    expected = numpy_ln.layer_norm(x, 6, eps=eps)
    if _close(y, expected):
        return Verdict(
            CORRECT, "Each row now has mean 0 and variance var/(var + eps), just under 1."
        )
    return _wrong(_diagnose_layer_norm(y, x, eps))


INVARIANCE_QUESTIONS = {
    "add 5 to every feature": "shift",
    "multiply every feature by 3": "scale",
    "multiply every feature by -2": "negative",
    "add 0, 1, 2, ... to the features": "ramp",
    "multiply every feature by 0": "zero",
    "change another example of the batch": "other",
}


def _invariance_truth() -> dict[str, bool]:
    """Which transformations of one example leave its layer-norm output unchanged (computed)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 8))
    d = x.shape[1]

    def out(batch):
        return numpy_ln.layer_norm(batch, d)[0]

    row = x[0]
    changed = {
        "shift": row + 5,
        "scale": row * 3,
        "negative": row * -2,
        "ramp": row + np.arange(d),
        "zero": row * 0,
    }
    truth = {}
    for key, new in changed.items():
        x2 = x.copy()
        x2[0] = new
        truth[key] = _close(out(x2), out(x), rtol=1e-4, atol=1e-4)
    x2 = x.copy()
    x2[1] = rng.standard_normal(d) * 10
    truth["other"] = _close(out(x2), out(x))
    return truth


_INVARIANCE_WHY = {
    "shift": "adding a constant moves the mean by the same constant, which is subtracted",
    "scale": "a positive factor multiplies the deviations and the standard deviation alike",
    "negative": "the standard deviation stays positive, so the output flips its sign",
    "ramp": "a different amount per feature changes the pattern, not just the level",
    "zero": "every feature becomes 0: the output is all zeros (eps keeps it finite)",
    "other": "layer norm only uses the example's own features",
}


def _check_predictions(
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
    result, verdict = _call(fn)
    if verdict:
        return verdict
    if not isinstance(result, dict):
        return _wrong(
            f"Return a dict mapping each question to True or False, got {type(result).__name__}."
        )
    missing = [q for q in questions if q not in result]
    if missing:
        return _wrong(
            f"Answer every question; missing: {missing}. Use the question strings as keys "
            "(loop over the questions dict, as the stub does)."
        )
    wrong, why = [], []
    for question, key in questions.items():
        answer = result[question]
        if getattr(answer, "ndim", None) == 0 and "bool" in str(getattr(answer, "dtype", "")):
            answer = bool(answer.item())  # (a == b).all() gives a 0-d array or tensor
        if not isinstance(answer, bool | np.bool_):
            return _wrong(
                f"The answer to {question!r} should be True or False, got {_shown(answer)}."
            )
        if bool(answer) != truth[key]:
            wrong.append(repr(question))
            if explain:
                why.append(explain(question, key))
    if wrong:
        return _wrong(
            f"{len(wrong)} of {len(questions)} wrong: " + "; ".join(wrong) + ". " + hint,
            answer="; ".join(why),
        )
    return Verdict(CORRECT, success)


@_checker
def invariance_predictions(fn: Callable[[], dict]) -> Verdict:
    """Chapter 1: ``fn()`` returns ``{question: True if the output is unchanged}``."""
    truth = _invariance_truth()

    def explain(question: str, key: str) -> str:
        state = "unchanged" if truth[key] else "changed"
        return f"{question!r}: the output is {state} ({_INVARIANCE_WHY[key]})"

    return _check_predictions(
        fn,
        INVARIANCE_QUESTIONS,
        truth,
        "Try each one on an array to see it.",
        "All six right: a shift, a positive scale and changes to other examples leave the "
        "output unchanged; a negative scale, a ramp and zeroing do not.",
        explain,
    )


@_checker
def layer_norm_affine(fn: Callable[..., np.ndarray]) -> Verdict:
    """Chapter 2: ``fn(x, gamma, beta, eps)`` is layer norm over the last axis of an (N, D)
    batch followed by the per-feature scale ``gamma`` and shift ``beta`` (D,); result (N, D)."""
    rng = np.random.default_rng(18)
    n, d, eps = 4, 6, 1e-5
    x = rng.normal(rng.uniform(-2, 2, (n, 1)), rng.uniform(0.05, 2, (n, 1)), size=(n, d))
    gamma = rng.uniform(0.5, 2.0, d)
    beta = rng.normal(0.0, 1.0, d)
    result, verdict = _call(fn, x.copy(), gamma.copy(), beta.copy(), eps)
    if verdict:
        return verdict
    y, verdict = _as_array(result, "The result", (n, d))
    if verdict:
        return verdict
    x_hat = _ln_rows(x, eps)
    expected = gamma * x_hat + beta
    if _close(y, expected):
        return Verdict(CORRECT, "Normalize each example, then scale and shift each feature.")
    known = [
        (x_hat, "gamma and beta are missing: the result is the plain normalized x"),
        (gamma * x_hat, "beta is missing: add it after scaling"),
        (x_hat + beta, "gamma is missing: multiply by it before adding beta"),
        (beta * x_hat + gamma, "gamma and beta are swapped: gamma scales, beta shifts"),
        (
            _ln_rows(gamma * x + beta, eps),
            "gamma and beta were applied before normalizing, which divides them out again; "
            "apply them to the normalized values",
        ),
        (
            gamma * _ln_rows(x, eps, axis=0) + beta,
            "The statistics were taken over the batch axis (that is batch norm); take "
            "them over each example's features (`axis=-1, keepdims=True`)",
        ),
        (
            gamma * _ln_rows(x, eps, ddof=1) + beta,
            "The variance is the unbiased one (ddof=1); layer norm uses ddof=0",
        ),
        (
            gamma * _ln_rows(x, eps, eps_outside=True) + beta,
            "eps is outside the square root: divide by sqrt(var + eps), not std + eps",
        ),
    ]
    for candidate, message in known:
        if _close(y, candidate):
            return _wrong(message + ".")
    i, j = _worst(y, expected)
    given, wanted = _digits(float(y[i, j]), float(expected[i, j]), ".4f")
    return _wrong(
        f"At [{i}, {j}] you have {given}, not the expected value. Hint: "
        "gamma * (x - mean) / sqrt(var + eps) + beta, with the mean and the variance of "
        "each example (`axis=-1, keepdims=True`).",
        answer=f"Expected {wanted} there.",
    )


AFFINE_QUESTIONS = {
    "gamma and beta chosen for one example restore that example exactly": "own",
    "the same gamma and beta restore the other examples of the batch too": "others",
    "with gamma = 1 and beta = 0, every example's output has mean 0": "mean0",
    "halving gamma halves the spread of every example's output": "half",
}


def _affine_truth() -> dict[str, bool]:
    """Answers to :data:`AFFINE_QUESTIONS`, computed with lnbook's layer norm."""
    rng = np.random.default_rng(16)
    x = rng.normal(rng.uniform(-3, 3, (5, 1)), rng.uniform(0.5, 3, (5, 1)), size=(5, 12))
    d, eps = 12, 1e-5
    gamma, beta = np.full(d, np.sqrt(x[0].var() + eps)), np.full(d, x[0].mean())
    y = numpy_ln.layer_norm(x, d, gamma, beta, eps=eps)
    plain = numpy_ln.layer_norm(x, d, eps=eps)
    half = numpy_ln.layer_norm(x, d, np.full(d, 0.5), None, eps=eps)
    return {
        "own": _close(y[0], x[0]),
        "others": _close(y[1:], x[1:]),
        "mean0": bool(np.abs(plain.mean(axis=1)).max() < 1e-12),
        "half": _close(half.std(axis=1), 0.5 * plain.std(axis=1)),
    }


@_checker
def affine_predictions(fn: Callable[[], dict]) -> Verdict:
    """Chapter 2: ``fn()`` returns ``{question: True or False}`` for AFFINE_QUESTIONS."""
    return _check_predictions(
        fn,
        AFFINE_QUESTIONS,
        _affine_truth(),
        "Hint: compute each one with numpy_ln.layer_norm on a small batch.",
        "gamma and beta are shared by the batch: they can give back one example's mean and "
        "spread, never every example's, because each example's own were divided out.",
    )


# ---------------------------------------------------------------- chapter 3 ------------


@_checker
def variance_rows(fn: Callable[[np.ndarray], np.ndarray]) -> Verdict:
    """Chapter 3: ``fn(x)`` is the variance of each row of a float32 (N, D) batch, computed
    in float32 with an algorithm that survives a large offset; result (N,)."""
    rng = np.random.default_rng(13)
    x = (1e4 + rng.standard_normal((6, 256))).astype(np.float32)
    result, verdict = _call(fn, x.copy())
    if verdict:
        return verdict
    dtype = getattr(result, "dtype", None)
    v, verdict = _as_array(result, "The result", (6,))
    if verdict:
        return verdict
    if dtype is not None and str(dtype) in ("float64", "torch.float64"):
        return _wrong(
            "The result is float64: the computation left float32. Converting to float64 "
            "hides the cancellation instead of avoiding it (and doubles the memory); keep "
            "x in float32 and change the algorithm."
        )
    x64 = x.astype(np.float64)  # the same float32 numbers, in exact-enough arithmetic
    expected = x64.var(axis=1)
    # float32 two-pass is good to about 1e-4 here; one-pass is off by orders of magnitude.
    if _close(v, expected, rtol=1e-3, atol=0):
        return Verdict(CORRECT, "Stable in float32: subtract the mean first, then square.")
    one_pass = (x * x).mean(axis=1) - x.mean(axis=1) ** 2  # float32, as the learner might
    known = [
        (x64.var(axis=1, ddof=1), "That is the unbiased variance (ddof=1); layer norm uses ddof=0"),
        (x64.std(axis=1), "That is the standard deviation; return its square, the variance"),
    ]
    for candidate, message in known:
        if _close(v, candidate, rtol=1e-3, atol=0):
            return _wrong(message + ".")
    if _close(v, one_pass, rtol=1e-2, atol=1e-2) or (v <= 0).any():
        return _wrong(
            "These look like the one-pass E[x^2] - E[x]^2, which in float32 keeps only "
            "rounding errors here (some may even be negative); subtract each row's mean "
            "first (`x.mean(axis=1, keepdims=True)`), then square and average."
        )
    i = int(np.abs(v - expected).argmax())
    return _wrong(
        f"Row {i}: expected a variance of about 1 (the rows are noise of variance about 1 on "
        f"an offset of 10^4), got {v[i]:.4g}. Subtract each row's mean, then square and "
        "average.",
        answer=f"Row {i}'s variance is {expected[i]:.4f}.",
    )


BACKWARD_QUESTIONS = {
    "for every example, the entries of dx sum to zero": "sum_zero",
    "for every example, dx is orthogonal to x_hat": "orthogonal",
    "doubling x doubles dx": "double",
    "adding 5 to every feature of x changes dx": "shift",
}


def _backward_truth() -> dict[str, bool]:
    """Answers to :data:`BACKWARD_QUESTIONS`, computed with torch's autograd."""
    torch = require_torch()
    g = torch.Generator().manual_seed(14)
    x = torch.randn(4, 10, generator=g, dtype=torch.float64)
    dy = torch.randn(4, 10, generator=g, dtype=torch.float64)
    gamma = torch.rand(10, generator=g, dtype=torch.float64) + 0.5

    def dx_of(x):
        x = x.clone().requires_grad_(True)
        y = torch.nn.functional.layer_norm(x, (10,), gamma, None, eps=0.0)
        (y * dy).sum().backward()
        return x.grad

    dx = dx_of(x)
    x_hat = torch.nn.functional.layer_norm(x, (10,), eps=0.0)
    return {
        "sum_zero": bool(dx.sum(1).abs().max() < 1e-10),
        "orthogonal": bool((dx * x_hat).sum(1).abs().max() < 1e-10),
        "double": bool(torch.allclose(dx_of(2 * x), 2 * dx)),
        "shift": not torch.allclose(dx_of(x + 5), dx),
    }


@_checker
def backward_predictions(fn: Callable[[], dict]) -> Verdict:
    """Chapter 3: ``fn()`` returns ``{question: True or False}`` for BACKWARD_QUESTIONS."""
    return _check_predictions(
        fn,
        BACKWARD_QUESTIONS,
        _backward_truth(),
        "Hint: read them off dx = rstd * (g - c2 - x_hat * c1), then compute them with "
        "numpy_ln.layer_norm_forward and layer_norm_backward.",
        "dx has no component along the constant vector (c2 removed it) nor along x_hat (c1 "
        "removed it): the directions normalization ignores. And it scales like 1/std.",
    )


@_checker
def layer_norm_backward(fn: Callable) -> Verdict:
    """Chapter 3: ``fn(dy, x_hat, rstd, gamma)`` returns ``(dx, dgamma, dbeta)`` for
    ``y = gamma * x_hat + beta`` over the last axis of (N, D) arrays; ``rstd`` is (N, 1)."""
    torch = require_torch()
    rng = np.random.default_rng(15)
    n, d = 5, 8
    x = rng.normal(1.0, 2.0, size=(n, d))
    dy = rng.standard_normal((n, d))
    gamma = rng.uniform(0.5, 1.5, size=d)
    eps = 1e-5
    mu = x.mean(axis=1, keepdims=True)
    rstd = 1 / np.sqrt(x.var(axis=1, keepdims=True) + eps)  # (N, 1)
    x_hat = (x - mu) * rstd
    # The oracle: torch's autograd through torch's own layer norm.
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(gamma, requires_grad=True)
    bt = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    (torch.nn.functional.layer_norm(xt, (d,), gt, bt, eps) * torch.tensor(dy)).sum().backward()
    dx_ref, dg_ref, db_ref = (t.grad.numpy() for t in (xt, gt, bt))

    result, verdict = _call(
        fn,
        dy.copy(),
        x_hat.copy(),
        rstd.copy(),
        gamma.copy(),
        read_only={0: "dy", 1: "x_hat", 2: "rstd", 3: "gamma"},
    )
    if verdict:
        return verdict
    result = _parts(result, 3)
    if result is None:
        return _wrong("Return three arrays: (dx, dgamma, dbeta).")
    dx, verdict = _as_array(result[0], "dx", (n, d))
    if verdict:
        return verdict
    dgamma, verdict = _as_array(result[1], "dgamma", (d,))
    if verdict:
        return verdict
    dbeta, verdict = _as_array(result[2], "dbeta", (d,))
    if verdict:
        return verdict
    problems, answer = [], ""
    if not _close(dgamma, dg_ref):
        hint = "it is the sum over the examples of dy * x_hat"
        if _close(dgamma, db_ref):
            hint += " (you summed dy alone: that is dbeta)"
        problems.append("dgamma is wrong: " + hint)
    if not _close(dbeta, db_ref):
        problems.append("dbeta is wrong: it is the sum over the examples of dy")
    if not _close(dx, dx_ref):
        g = dy * gamma
        c1 = (x_hat * g).mean(axis=1, keepdims=True)
        c2 = g.mean(axis=1, keepdims=True)
        known = [
            (rstd * (g - x_hat * c1), "the mean term is missing: subtract c2 = mean(g)"),
            (rstd * (g - c2), "the projection term is missing: subtract x_hat * c1"),
            (rstd * g, "both correction terms are missing (c2 and x_hat * c1)"),
            (
                rstd
                * (dy - dy.mean(1, keepdims=True) - x_hat * (x_hat * dy).mean(1, keepdims=True)),
                "gamma is missing: the gradient reaching x_hat is g = dy * gamma",
            ),
            (g - c2 - x_hat * c1, "the factor rstd is missing"),
            (rstd * (g + c2 + x_hat * c1), "the correction terms are subtracted, not added"),
            (
                rstd * (g - c2 - x_hat * (x_hat * g).sum(1, keepdims=True)),
                "c1 is a mean over the features, not a sum",
            ),
        ]
        for candidate, message in known:
            if _close(dx, candidate):
                problems.append("dx: " + message)
                break
        else:
            i, j = _worst(dx, dx_ref)
            given, expected = _digits(float(dx[i, j]), float(dx_ref[i, j]), ".4f")
            problems.append(
                f"dx differs from autograd's: at [{i}, {j}] you have {given}. "
                "Hint: dx = rstd * (g - c2 - x_hat * c1)"
            )
            answer = f"Autograd's dx[{i}, {j}] is {expected}."
    if problems:
        return _wrong("; ".join(problems) + ".", answer=answer)
    return Verdict(CORRECT, "dx, dgamma and dbeta all match torch's autograd.")


# ---------------------------------------------------------------- chapter 2 ------------


@_checker
def undo_layer_norm(fn: Callable[[np.ndarray, float], tuple]) -> Verdict:
    """Chapter 2: ``fn(x_row, eps)`` returns ``(gamma, beta)`` (numbers) that make layer norm
    give back ``x_row`` exactly."""
    rng = np.random.default_rng(11)
    # A small spread, where eps is not negligible, so sqrt(var) and sqrt(var + eps) differ.
    x_row = 2.0 + 0.01 * rng.standard_normal(16)
    eps = 1e-5
    result, verdict = _call(fn, x_row.copy(), eps)
    if verdict:
        return verdict
    parts = _parts(result, 2)
    if parts is None:
        return _wrong("Return two numbers: `return gamma, beta`.")
    gamma, verdict = _as_number(parts[0], "gamma")
    if verdict:
        return _wrong(verdict.message + " Use one number for all features.")
    beta, verdict = _as_number(parts[1], "beta")
    if verdict:
        return _wrong(verdict.message + " Use one number for all features.")
    mu, var = x_row.mean(), x_row.var()
    if math.isclose(gamma, mu, rel_tol=1e-6) and math.isclose(
        beta, math.sqrt(var + eps), rel_tol=1e-6
    ):
        return _wrong(
            "gamma and beta are swapped: gamma scales (the spread), beta shifts (the mean)."
        )
    if math.isclose(gamma, math.sqrt(var), rel_tol=1e-6):
        return _wrong(
            "gamma = sqrt(var) is close but not exact: normalization divided by "
            "sqrt(var + eps), so multiply by that."
        )
    if math.isclose(gamma, var + eps, rel_tol=1e-6) or math.isclose(gamma, var, rel_tol=1e-6):
        return _wrong("gamma is the variance; it should be a standard deviation, sqrt(var + eps).")
    y = numpy_ln.layer_norm(x_row, 16, np.full(16, gamma), np.full(16, beta), eps=eps)
    if not _close(y, x_row, rtol=1e-9, atol=1e-9):
        return _wrong(
            f"Layer norm with gamma = {gamma:.6g}, beta = {beta:.6g} gives values "
            f"off by up to {np.abs(y - x_row).max():.3g}. Hint: the example's "
            "mean and its sqrt(var + eps)."
        )
    return Verdict(
        CORRECT,
        "gamma = sqrt(var + eps) and beta = mean recover this example; "
        "they would not recover another one.",
    )


@_checker
def count_norm_parameters(fn: Callable[[int, int], int]) -> Verdict:
    """Chapter 2: ``fn(d_hidden, depth)`` is the number of gamma and beta parameters in
    ``lnbook.models.MLP(64, d_hidden, 10, depth, norm="layer")``."""
    from . import models

    cases = [(100, 3), (64, 2), (7, 1)]  # depth 3 first: "half" and "one layer" differ
    for d_hidden, depth in cases:
        result, verdict = _call(fn, d_hidden, depth)
        if verdict:
            return verdict
        if isinstance(result, bool) or not isinstance(result, int | np.integer):
            return _wrong(f"Return a whole number, got {_shown(result)}.")
        model = models.MLP(64, d_hidden, 10, depth=depth, norm="layer")
        truth = sum(p.numel() for p in models.norm_parameters(model))
        if result == truth:
            continue
        if result == truth // 2:
            hint = "You counted only gamma (or only beta): each layer norm has both."
        elif result == truth // depth:
            hint = "That is one layer norm's worth: the MLP has one after each hidden layer."
        elif result == 2 * depth:
            hint = "gamma and beta are vectors, one value per feature, not single numbers."
        else:
            hint = "Each layer norm over d features has d values of gamma and d of beta."
        return _wrong(
            f"For d_hidden={d_hidden}, depth={depth} you return {result}, not the model's "
            f"count. {hint}",
            answer=f"The model has {truth}.",
        )
    return Verdict(CORRECT, "2 x d_hidden per layer norm, one layer norm per hidden layer.")


@_checker
def weight_decay_groups(fn: Callable[[object, float], list]) -> Verdict:
    """Chapter 2: ``fn(model, weight_decay)`` returns optimizer parameter groups that decay
    the weight matrices and exempt gamma, beta and biases."""
    torch = require_torch()

    from . import models

    model = models.MLP(8, 6, 3, depth=2, norm="layer")
    weight_decay = 0.1
    result, verdict = _call(fn, model, weight_decay)
    if verdict:
        return verdict
    if not isinstance(result, list | tuple) or not all(isinstance(g, dict) for g in result):
        return _wrong("Return a list of dicts, each with 'params' and 'weight_decay'.")
    for g in result:
        if "params" not in g:
            return _wrong("Each group needs a 'params' list of the model's parameters.")
        if not isinstance(g.get("weight_decay", 0.0), int | float | np.number) or isinstance(
            g.get("weight_decay"), bool
        ):
            given = _shown(g.get("weight_decay"))
            return _wrong(f"'weight_decay' should be a number, got {given}.")
    # The judge of what the groups may hold is the optimizer itself: AdamW takes lists,
    # tuples, generators and (name, parameter) pairs, and refuses sets (their order
    # changes between runs), tensors that are not leaves, and a parameter in two groups.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            groups = torch.optim.AdamW(list(result), lr=1e-3).param_groups
    except Exception as e:
        text = " ".join(str(e).split())[:300]
        if "more than one parameter group" in text:
            return _wrong("A parameter appears in two groups; the optimizer refuses that.")
        return _wrong(
            f"torch.optim.AdamW refuses these groups: {_sentence(text)} Give each group's "
            "'params' as a list of the model's parameters."
        )
    decay_of: dict[int, float] = {}
    for g in groups:
        for p in g["params"]:
            if not isinstance(p, torch.nn.Parameter):
                return _wrong("'params' should hold the model's parameters (model.parameters()).")
            decay_of[id(p)] = float(g["weight_decay"])
    names = dict(model.named_parameters())
    missing = [n for n, p in names.items() if id(p) not in decay_of]
    if missing:
        return _wrong(f"Some parameters are in no group and would not be trained: {missing}.")
    exempt = {id(p) for p in models.norm_parameters(model)}
    exempt |= {id(m.bias) for m in model.modules() if isinstance(m, torch.nn.Linear)}
    errors = []
    for n, p in names.items():
        if id(p) not in exempt and decay_of[id(p)] != weight_decay:
            errors.append(
                f"{n} (a weight matrix) has weight_decay={decay_of[id(p)]:g}, "
                f"not the {weight_decay:g} asked for"
            )
        if id(p) in exempt and decay_of[id(p)] != 0:
            errors.append(f"{n} is decayed but should not be")
    if errors:
        return _wrong(
            "; ".join(errors) + ". Decay the Linear weights only; give gamma, beta "
            "and biases weight_decay=0."
        )
    return Verdict(CORRECT, "Weight matrices decay; gamma, beta and biases do not.")


# ---------------------------------------------------------------- chapter 4 ------------

_AXES = {"batch norm": (0, 2, 3), "layer norm": (1, 2, 3), "instance norm": (2, 3)}


@_checker
def norm_axes(fn: Callable[[str], tuple]) -> Verdict:
    """Chapter 4: ``fn(method)`` returns the axes of an (N, C, H, W) tensor that ``method``
    ("batch norm", "layer norm", "instance norm") averages over."""
    wrong, answers = [], []
    for method, truth in _AXES.items():
        result, verdict = _call(fn, method)
        if verdict:
            return verdict
        try:
            if isinstance(result, str | bytes):
                raise TypeError
            raw = list(np.atleast_1d(result))
            if not all(isinstance(a, int | np.integer) and not isinstance(a, bool) for a in raw):
                raise TypeError
        except Exception:
            return _wrong(
                f"For {method!r} return a tuple of axis numbers (ints), got {_shown(result)}."
            )
        if any(not -4 <= a < 4 for a in raw):
            return _wrong(
                f"For {method!r}: a 4-d tensor has axes 0 to 3 (or -4 to -1), got "
                f"{_shown(tuple(raw))}."
            )
        axes = tuple(sorted({int(a) % 4 for a in raw}))
        if len(axes) != len(raw):
            return _wrong(f"For {method!r}: {_shown(tuple(raw))} names an axis twice.")
        if axes == truth:
            continue
        answers.append(f"{method} {truth}")
        others = [m for m, t in _AXES.items() if t == axes]
        if others:
            wrong.append(f"{method}: {axes} are the axes of {others[0]}")
        elif set(axes) < set(truth):
            missing = sorted(set(truth) - set(axes))
            wrong.append(
                f"{method}: {axes} misses some (the positions H, W are averaged too)"
                if 2 in missing or 3 in missing
                else f"{method}: {axes} misses some"
            )
        else:
            wrong.append(f"{method}: {axes} is not right")
    if wrong:
        return _wrong(
            f"{len(wrong)} of {len(_AXES)} wrong: " + "; ".join(wrong) + ". Axis 0 is the "
            "batch (N), 1 the channels (C), 2 and 3 the positions (H, W).",
            answer="Expected: " + "; ".join(answers),
        )
    return Verdict(
        CORRECT,
        "Batch norm: (0, 2, 3); layer norm: (1, 2, 3); instance norm: "
        "(2, 3). Only batch norm crosses examples.",
    )


@_checker
def batch_norm_training(fn: Callable[[np.ndarray, float], np.ndarray]) -> Verdict:
    """Chapter 4: ``fn(x, eps)`` is batch norm in training mode of a (N, D) array, without
    gamma and beta (statistics of each feature over the batch)."""
    rng = np.random.default_rng(5)
    # Features of very different spread, N != D so a wrong axis shows up.
    x = rng.standard_normal((6, 4)) * np.array([1.0, 5.0, 0.01, 0.3]) + 2.0
    eps = 1e-3
    result, verdict = _call(fn, x.copy(), eps)
    if verdict:
        return verdict
    y, verdict = _as_array(result, "The result", x.shape)
    if verdict:
        return verdict
    expected = _ln_rows(x, eps, axis=0)
    if _close(y, expected):
        return Verdict(
            CORRECT, "Each feature now has mean 0 over the batch and variance var / (var + eps)."
        )
    known = [
        (
            _ln_rows(x, eps),
            "You normalized each *row* (example): that is layer norm. Batch "
            "norm takes the statistics of each feature over the batch: axis=0.",
        ),
        (
            _ln_rows(x, eps, ddof=1, axis=0),
            "You used the unbiased variance (divide by N - 1) "
            "to normalize. Batch norm divides by N there (torch keeps N - 1 only for the running "
            "variance).",
        ),
        (
            _ln_rows(x, eps, eps_outside=True, axis=0),
            "You added eps to the standard deviation; "
            "it goes inside the square root: np.sqrt(var + eps).",
        ),
        (_ln_rows(x, 0.0, axis=0), "Close, but eps is missing: use np.sqrt(var + eps)."),
    ]
    for candidate, message in known:
        if _close(y, candidate):
            return _wrong(message)
    return _wrong("The values differ from batch norm's.")


@_checker
def batch_norm_inference(fn: Callable[..., np.ndarray]) -> Verdict:
    """Chapter 4: ``fn(x, running_mean, running_var, eps)`` is batch norm in inference mode
    of a (N, D) array, without gamma and beta."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 3)) * 2.0 + 1.0
    running_mean = np.array([0.5, -1.0, 2.0])
    running_var = np.array([4.0, 0.25, 1.0])
    eps = 1e-3
    result, verdict = _call(fn, x.copy(), running_mean.copy(), running_var.copy(), eps)
    if verdict:
        return verdict
    y, verdict = _as_array(result, "The result", x.shape)
    if verdict:
        return verdict
    if _close(y, (x - running_mean) / np.sqrt(running_var + eps)):
        return Verdict(
            CORRECT,
            "Inference uses the running statistics: each example's output "
            "no longer depends on the others.",
        )
    known = [
        (
            _ln_rows(x, eps, axis=0),
            "You used the statistics of this batch: that is training "
            "mode. At inference batch norm uses running_mean and running_var.",
        ),
        (
            (x - running_mean) / (np.sqrt(running_var) + eps),
            "eps goes inside the square root: np.sqrt(running_var + eps).",
        ),
        (
            (x - running_mean) / (running_var + eps),
            "running_var is a variance: divide by its square root.",
        ),
        ((x - running_mean) / np.sqrt(running_var), "Close, but eps is missing."),
    ]
    for candidate, message in known:
        if _close(y, candidate):
            return _wrong(message)
    return _wrong("The values differ from (x - running_mean) / sqrt(running_var + eps).")


BATCH_QUESTIONS = {
    "in training mode, changing one example changes the batch-norm output of the others": "others",
    "an example's layer-norm output depends on the batch size": "ln_size",
    "in inference mode, batch norm gives an example the same output in any batch": "infer",
    "in training mode, batch norm can normalize a batch of one example": "one",
}


def _batch_truth() -> dict[str, bool]:
    """Answers to :data:`BATCH_QUESTIONS`, computed with lnbook's batch and layer norm."""
    rng = np.random.default_rng(17)
    x = rng.normal(1.0, 2.0, size=(8, 6))
    changed = x.copy()
    changed[3] += rng.normal(0.0, 3.0, 6)

    def bn(batch, training=True):
        mean, var = np.full(6, 1.0), np.full(6, 4.0)  # running statistics, for inference
        return numpy_ln.batch_norm(batch, mean, var, training=training)

    return {
        "others": not _close(bn(x)[0], bn(changed)[0]),
        "ln_size": not _close(numpy_ln.layer_norm(x, 6)[0], numpy_ln.layer_norm(x[:2], 6)[0]),
        "infer": _close(bn(x, False)[0], bn(changed[:2], False)[0]),
        "one": _batch_of_one_works(bn, x[:1]),
    }


def _batch_of_one_works(bn, one: np.ndarray) -> bool:
    # One value per channel has no spread: every output would be 0 whatever the input, so
    # PyTorch, and lnbook after it, refuse it.
    try:
        bn(one)
    except ValueError:
        return False
    return True


@_checker
def batch_predictions(fn: Callable[[], dict]) -> Verdict:
    """Chapter 4: ``fn()`` returns ``{question: True or False}`` for BATCH_QUESTIONS."""
    return _check_predictions(
        fn,
        BATCH_QUESTIONS,
        _batch_truth(),
        "Hint: ask which examples each normalization reads in each mode, then compute it "
        "with numpy_ln.batch_norm and numpy_ln.layer_norm.",
        "Batch norm in training mode reads the whole batch (a lone example has no spread "
        "to divide by, so it is refused); in inference mode it reads stored statistics; "
        "layer norm reads only the example.",
    )


# ---------------------------------------------------------------- chapter 5 ------------


@_checker
def residual_placement(fn: Callable) -> Verdict:
    """Chapter 5: ``fn(x, f, norm, placement)`` applies one sublayer ``f`` with its residual
    connection and normalization ``norm``, for ``placement`` "pre" or "post"."""
    rng = np.random.default_rng(8)
    x = rng.normal(1.0, 2.0, size=(4, 6))
    W_ = rng.standard_normal((6, 6)) / 2

    def f(h):
        return np.tanh(h @ W_)

    def norm(h):
        return numpy_ln.layer_norm(h, 6)

    expected = {"pre": x + f(norm(x)), "post": norm(x + f(x))}
    known = {
        "pre": [
            (
                norm(x + f(x)),
                "that is post-norm; pre-norm normalizes the sublayer's *input*: x + f(norm(x))",
            ),
            (f(norm(x)), "the residual connection is missing: add x back"),
            (norm(x) + f(norm(x)), "the residual adds the raw x, not norm(x)"),
        ],
        "post": [
            (x + f(norm(x)), "that is pre-norm; post-norm normalizes the *sum*: norm(x + f(x))"),
            (norm(f(x)), "the residual connection is missing: norm(x + f(x))"),
            (x + norm(f(x)), "post-norm normalizes the whole sum, residual included"),
        ],
    }
    for placement in ("pre", "post"):
        result, verdict = _call(fn, x.copy(), f, norm, placement)
        if verdict:
            return verdict
        y, verdict = _as_array(result, f"The {placement}-norm result", x.shape)
        if verdict:
            return verdict
        if _close(y, expected[placement]):
            continue
        for candidate, message in known[placement]:
            if _close(y, candidate):
                return _wrong(f"{placement.capitalize()}-norm: {message}.")
        return _wrong(f"{placement.capitalize()}-norm: the values differ from the expected block.")
    return Verdict(
        CORRECT,
        "Pre-norm: x + f(norm(x)), the residual path stays un-normalized; "
        "post-norm: norm(x + f(x)).",
    )


@_checker
def masked_mean(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Verdict:
    """Chapter 5: ``fn(x, valid)`` is the mean of every feature over the valid tokens of a
    padded batch: x (B, T, D), valid (B, T) booleans; result (D,)."""
    rng = np.random.default_rng(9)
    lengths = [5, 2, 4]
    x = rng.normal(2.0, 1.0, size=(3, 5, 4))
    valid = np.arange(5)[None, :] < np.array(lengths)[:, None]  # (B, T)
    # Padding that is not zero (as after a layer, or a bias, it is not): an answer that sums
    # the padded positions cannot pass by luck.
    x[~valid] = rng.normal(-3.0, 1.0, size=(int((~valid).sum()), 4))
    result, verdict = _call(fn, x.copy(), valid.copy())
    if verdict:
        return verdict
    y, verdict = _as_array(result, "The result", (4,))
    if verdict:
        return verdict
    if _close(y, x[valid].mean(axis=0)):
        return Verdict(CORRECT, "Every real token counts once; padding counts not at all.")
    known = [
        (x.mean(axis=(0, 1)), "The padding positions are included: average over valid tokens only"),
        (
            x.sum(axis=(0, 1)) / valid.sum(),
            "The count is right, but the sum includes the padding positions; zero them first "
            "(multiply by valid[..., None]) or sum x[valid]",
        ),
        (
            (x * valid[..., None]).sum(axis=(0, 1)) / valid.size,
            "The sum is right, but you divided by every position, padding included; divide "
            "by the number of valid tokens, valid.sum()",
        ),
        (
            np.mean([x[b, :n].mean(axis=0) for b, n in enumerate(lengths)], axis=0),
            "That is the mean of each sequence's mean: short sequences weigh as much as long "
            "ones; average over all valid tokens together",
        ),
    ]
    for candidate, message in known:
        if _close(y, candidate):
            return _wrong(message + ".")
    return _wrong("The values differ from the mean over the valid tokens.")


DECODING_QUESTIONS = {
    "layer norm of token 3 changes when token 4 is generated": "ln_next",
    "batch norm over the tokens so far, of token 3, changes when token 4 is generated": "bn_next",
    "layer norm of a token depends on how much padding its batch has": "ln_pad",
    "batch norm over all positions of a padded batch depends on the padding": "bn_pad",
}


def _decoding_truth() -> dict[str, bool]:
    """Computed answers to :data:`DECODING_QUESTIONS` on random tokens."""
    rng = np.random.default_rng(10)
    x = rng.normal(rng.normal(size=6), 1.0, size=(5, 6))  # (T, D)
    ln3, ln3_later = numpy_ln.layer_norm(x[:4], 6)[3], numpy_ln.layer_norm(x[:5], 6)[3]
    bn3 = numpy_ln.batch_norm(x[:4], None, None, training=True)[3]
    bn3_later = numpy_ln.batch_norm(x[:5], None, None, training=True)[3]
    padded = np.vstack([x, np.zeros((3, 6))])  # the same tokens and 3 padding positions
    ln_pad = numpy_ln.layer_norm(padded, 6)[:5]
    bn_pad = numpy_ln.batch_norm(padded, None, None, training=True)[:5]
    return {
        "ln_next": not _close(ln3, ln3_later),
        "bn_next": not _close(bn3, bn3_later),
        "ln_pad": not _close(ln_pad, numpy_ln.layer_norm(x, 6)),
        "bn_pad": not _close(bn_pad, numpy_ln.batch_norm(x, None, None, training=True)),
    }


@_checker
def decoding_predictions(fn: Callable[[], dict]) -> Verdict:
    """Chapter 5: ``fn()`` returns ``{question: True or False}`` for DECODING_QUESTIONS."""
    return _check_predictions(
        fn,
        DECODING_QUESTIONS,
        _decoding_truth(),
        "Hint: ask which tokens each normalization reads, then compute it.",
        "Layer norm reads one token, so neither later tokens nor padding "
        "reach it; batch norm reads them all.",
    )


# ---------------------------------------------------------------- chapter 6 ------------


def _shape(value) -> tuple[int, ...] | None:
    """The shape of a learner's array-like value; None if it has none (ragged, not numbers)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64).shape
    except Exception:
        return None


@_checker
def percentile_bands(fn: Callable[[np.ndarray], np.ndarray]) -> Verdict:
    """Chapter 6: ``fn(h)`` takes one unit's inputs, ``h`` (C, P): C checkpoints of P
    images, and returns the 15th, 50th and 85th percentiles at each checkpoint, (C, 3)."""
    rng = np.random.default_rng(11)
    c, p = 5, 401
    # Skewed data, so that mean +- std and the percentiles differ clearly.
    h = rng.exponential(1.0, size=(c, p)) * np.arange(1, c + 1)[:, None] - 1.0
    result, verdict = _call(fn, h.copy())
    if verdict:
        return verdict
    if _shape(result) in ((3, p), (p, 3)):
        return _wrong(
            f"The result has {p} rows or columns, one per image: the percentiles were taken "
            "over the checkpoints. Take them over the images, the second axis of h."
        )
    if _shape(result) == (3, c):
        return _wrong(
            "The result has shape (3, C): one row per percentile. Return one row per "
            "checkpoint, shape (C, 3)."
        )
    y, verdict = _as_array(result, "The result", (c, 3))
    if verdict:
        return verdict
    expected = np.percentile(h, (15, 50, 85), axis=1).T  # (C, 3)
    # Any of NumPy's methods is fine (and any textbook definition): each picks, or
    # interpolates between, the sorted values next to position q * (P - 1). So a value is
    # right if it lies between the sorted values one further out on either side.
    ranked = np.sort(h, axis=1)
    at = np.array([15, 50, 85]) / 100 * (p - 1)
    low = ranked[:, np.maximum(np.floor(at).astype(int) - 1, 0)]  # (C, 3)
    high = ranked[:, np.minimum(np.ceil(at).astype(int) + 1, p - 1)]
    _, atol = _tolerance(y)
    if ((low - atol <= y) & (y <= high + atol)).all():
        return Verdict(CORRECT, "One row per checkpoint: the 15th, 50th and 85th percentiles.")
    mean, std = h.mean(axis=1), h.std(axis=1)
    known = [
        (
            np.percentile(h, (0.15, 0.5, 0.85), axis=1).T,
            "np.percentile takes percents (15, 50, 85); fractions (0.15, ...) are what "
            "np.quantile takes",
        ),
        (expected[:, ::-1], "The columns are in reverse order: 15th, 50th, then 85th"),
        (
            np.stack([mean - std, mean, mean + std], axis=1),
            "That is mean - std, mean, mean + std; they match the 15th, 50th and 85th "
            "percentiles only for a normal distribution, and these inputs are skewed",
        ),
    ]
    for candidate, message in known:
        if _close(y, candidate, rtol=0, atol=0.05):
            return _wrong(message + ".")
    worst = np.unravel_index(np.abs(y - expected).argmax(), y.shape)
    return _wrong(
        f"The values differ from the expected percentiles: at checkpoint {worst[0]}, column "
        f"{worst[1]}, you have {y[worst]:.3f}. Take the 15th, 50th and 85th percentiles of "
        "each checkpoint's images.",
        answer=f"Expected {expected[worst]:.3f} there.",
    )


SCALE_QUESTIONS = {
    "multiplying W by 10 changes the layer's output": "output",
    "multiplying W by 10 divides the gradient with respect to W by 10": "grad",
    "the gradient with respect to W is orthogonal to W": "orthogonal",
    "a plain SGD step on W makes the norm of W grow": "grows",
}


def _scale_truth() -> dict[str, bool]:
    """Answers to :data:`SCALE_QUESTIONS`, computed with torch for ``sigmoid(LN(x W^T))``."""
    torch = require_torch()

    from .torch_ln import LayerNorm

    g = torch.Generator().manual_seed(12)
    x = torch.randn(16, 8, generator=g, dtype=torch.float64)
    target = torch.randn(16, 6, generator=g, dtype=torch.float64)
    ln = LayerNorm(6).double()

    def output_and_grad(W: torch.Tensor):
        W = W.clone().requires_grad_(True)
        y = torch.sigmoid(ln(x @ W.T))
        ((y - target) ** 2).sum().backward()
        return y.detach(), W.grad

    W = torch.randn(6, 8, generator=g, dtype=torch.float64)
    y1, g1 = output_and_grad(W)
    y10, g10 = output_and_grad(10 * W)
    step = W - 0.5 * g1
    # eps (1e-5, against a variance near 8) breaks the invariance by about 1e-6: the
    # tolerances are set well above that and far below the effects asked about.
    return {
        "output": not torch.allclose(y1, y10, rtol=1e-4, atol=1e-6),
        "grad": float((g10 - g1 / 10).norm()) < 1e-4 * float((g1 / 10).norm()),
        "orthogonal": abs(float((W * g1).sum())) < 1e-4 * float(W.norm() * g1.norm()),
        "grows": bool(step.norm() > W.norm()),
    }


@_checker
def scale_invariance_predictions(fn: Callable[[], dict]) -> Verdict:
    """Chapter 6: ``fn()`` returns ``{question: True or False}`` for SCALE_QUESTIONS."""
    return _check_predictions(
        fn,
        SCALE_QUESTIONS,
        _scale_truth(),
        "Hint: layer norm divides out any positive factor of its input; compute each "
        "answer with torch (W.requires_grad_(), backward(), W.grad).",
        "Layer norm makes the loss blind to the scale of W: the gradient has no component "
        "along W and shrinks as W grows, so SGD can only lengthen W, and a longer W takes "
        "smaller effective steps.",
    )


@_checker
def gradient_predictiveness(fn: Callable) -> Verdict:
    """Chapter 6: ``fn(grad, w, etas)``: with ``g = grad(w)``, the largest
    ``|grad(w - eta g) - g|`` over ``etas`` (Santurkar et al.'s "gradient predictiveness")."""
    a = np.array([1.0, 4.0, 9.0])
    cases = [
        # A quadratic: grad(w - eta g) - g = -eta A g exactly, a closed form.
        ("a quadratic", lambda w: a * w, np.array([1.0, -1.0, 0.5])),
        # sum(cos(w)): the change is not monotone in eta and depends on the step's sign.
        ("sum(cos(w))", lambda w: -np.sin(w), np.array([0.4, -1.3, 2.0])),
        # sum(cos(3 w)): the change peaks at eta = 0.5, not at the last, largest eta (on
        # the two above it grows with eta, so the last value would pass for the largest).
        ("sum(cos(3 w))", lambda w: -3 * np.sin(3 * w), np.array([0.5, -0.9, -1.8])),
    ]
    etas = np.array([0.05, 0.2, 0.5, 1.0])
    for name, grad, w in cases:
        g = grad(w)
        ahead = [np.linalg.norm(grad(w - eta * g) - g) for eta in etas]
        expected = max(ahead)
        w_given = w.copy()
        result, verdict = _call(fn, grad, w_given, etas.copy())
        if verdict:
            return verdict
        if not np.array_equal(w_given, w):
            return _wrong("Your function changed `w` in place; work on a copy (w - eta * g).")
        if _shape(result) == (len(etas),):
            return _wrong(
                "You returned one value per eta; return only the largest, a single number."
            )
        value, verdict = _as_number(result, "The result")
        if verdict:
            return verdict
        if _close(value, expected):
            continue
        known = [
            (min(ahead), "that is the smallest change over the etas; return the largest"),
            (
                ahead[-1],
                "that is the change at the last eta only; the change need not grow with eta, "
                "so compute it for every eta and keep the largest",
            ),
            (
                max(np.linalg.norm(grad(w + eta * g) - g) for eta in etas),
                "that steps along +g; gradient descent steps against it, w - eta * g",
            ),
            (
                max(np.linalg.norm(grad(w - eta * g)) for eta in etas),
                "that is the size of the gradient ahead; subtract the gradient at w first",
            ),
            (
                max(c / (eta * np.linalg.norm(g)) for c, eta in zip(ahead, etas, strict=True)),
                "that divides by the step length: the effective beta-smoothness, a "
                "different measure; return the change itself",
            ),
        ]
        for candidate, message in known:
            if _close(value, candidate):
                return _wrong(f"On {name}: {message}.")
        return _wrong(
            f"On {name} the largest change is not {value:.4f}: with g = grad(w), take "
            "|grad(w - eta * g) - g| for each eta and keep the largest.",
            answer=f"It is {expected:.4f}.",
        )
    return Verdict(
        CORRECT,
        "Checked on a quadratic (where the change is eta |A g|, exactly), on sum(cos(w)) and "
        "on sum(cos(3 w)), where the change peaks before the largest eta.",
    )


# ---------------------------------------------------------------- chapter 7 ------------


@_checker
def rms_norm(fn: Callable[..., np.ndarray]) -> Verdict:
    """Chapter 7: ``fn(x, weight, eps)`` is RMSNorm over the last axis of a (N, D) array,
    ``x / sqrt(mean(x**2) + eps) * weight``; checked against ``torch.nn.functional.rms_norm``."""
    torch = require_torch()
    rng = np.random.default_rng(21)
    # Offset rows (so subtracting the mean shows), one with a tiny spread (so eps shows),
    # N != D (so a wrong axis shows), and a weight far from 1 (so a forgotten one shows).
    x = rng.standard_normal((4, 6)) * np.array([[1.0], [3.0], [0.01], [0.5]]) + np.array(
        [[2.0], [-1.0], [0.0], [0.5]]
    )
    weight = rng.uniform(0.5, 2.0, size=6)
    eps = 1e-3
    result, verdict = _call(fn, x.copy(), weight.copy(), eps)
    if verdict:
        return verdict
    y, verdict = _as_array(result, "The result", x.shape)
    if verdict:
        return verdict
    expected = torch.nn.functional.rms_norm(
        torch.tensor(x), (6,), torch.tensor(weight), eps
    ).numpy()
    if _close(y, expected):
        return Verdict(
            CORRECT,
            "Each row is divided by its root mean square; unlike layer norm, no mean is "
            "subtracted, so the rows keep their sign pattern around 0, not around their mean.",
        )

    def ms(a, axis=-1):
        return (a * a).mean(axis=axis, keepdims=True)

    known = [
        (
            _ln_rows(x, eps) * weight,
            "You subtracted the mean: that is layer norm (without beta). RMSNorm divides x "
            "itself by sqrt(mean(x**2) + eps).",
        ),
        (
            x / (np.sqrt(ms(x)) + eps) * weight,
            "You added eps to the root mean square; add it inside the square root: "
            "`np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + eps)`.",
        ),
        (
            x / np.sqrt(ms(x, axis=0) + eps) * weight,
            "You averaged over the batch (axis 0); RMSNorm averages over each row's "
            "features (`axis=-1, keepdims=True`).",
        ),
        (x / np.sqrt(ms(x) + eps), "The normalization is right, but the weight is missing."),
        (
            x / np.sqrt(x.var(axis=-1, keepdims=True) + eps) * weight,
            "You divided by the standard deviation (around the mean); RMSNorm divides by "
            "the root mean square around 0: mean(x**2), not var(x).",
        ),
        (x / np.sqrt(ms(x)) * weight, "Close, but eps is missing: sqrt(mean(x**2) + eps)."),
        (
            x / np.sqrt((x * x).sum(axis=-1, keepdims=True) + eps) * weight,
            "You divided by the length (L2 norm) of each row, sqrt(sum(x**2)); the root "
            "mean square divides the sum by D first: sqrt(mean(x**2) + eps).",
        ),
        (
            x / np.linalg.norm(x, axis=-1, keepdims=True) * weight,
            "You divided by the length (L2 norm) of each row; the root mean square is that "
            "divided by sqrt(D), plus eps inside the root: sqrt(mean(x**2) + eps).",
        ),
        (
            x / (ms(x) + eps) * weight,
            "The square root is missing: divide by sqrt(mean(x**2) + eps), not by the mean "
            "square itself.",
        ),
        (
            x / np.sqrt(ms(x) + eps) + weight,
            "You added the weight; it multiplies: `... * weight`.",
        ),
        (
            x / np.sqrt((x * x).mean() + eps) * weight,
            "You took one mean square over the whole batch; each row needs its own "
            "(axis=-1, keepdims=True).",
        ),
    ]
    for candidate, message in known:
        if _close(y, candidate):
            return _wrong(message)
    return _wrong(
        "The values differ from RMSNorm's: "
        "`x / np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + eps) * weight`."
    )


@_checker
def output_std(fn: Callable[[np.ndarray, float], np.ndarray]) -> Verdict:
    """Chapter 7: ``fn(s, eps)``: the standard deviation of layer norm's output for an
    example whose standard deviation is ``s`` (an array), in closed form."""
    s = np.array([1e-4, 1e-3, 3e-3, 1e-2, 0.1, 1.0, 10.0])
    for eps in (1e-5, 1e-3):
        result, verdict = _call(fn, s.copy(), eps)
        if verdict:
            return verdict
        if _shape(result) == ():  # one number for every spread: compare it with each
            result = np.full(s.shape, float(np.asarray(result, dtype=np.float64)))
        g, verdict = _as_array(result, "The result", s.shape)
        if verdict:
            return verdict
        expected = s / np.sqrt(s**2 + eps)
        if _close(g, expected):
            continue
        known = [
            (np.ones_like(s), "that ignores eps: the output's spread is 1 only when s**2 >> eps"),
            (s / (s + eps), "that adds eps to the standard deviation; it goes to the variance"),
            (
                s / (s + np.sqrt(eps)),
                "that adds sqrt(eps) to the standard deviation; "
                "layer norm adds eps to the variance, inside the square root",
            ),
            (s**2 / (s**2 + eps), "that is the output's variance; return its square root"),
            (s / np.sqrt(eps), "that is only the small-s limit; it exceeds 1 for large s"),
        ]
        for candidate, message in known:
            if _close(g, candidate):
                return _wrong(f"With eps = {eps:g}: {message}.")
        i = int(np.abs(g - expected).argmax())
        return _wrong(
            f"With eps = {eps:g} and s = {s[i]:g} you have {g[i]:.4g}, not the expected "
            "spread. Hint: layer norm divides by sqrt(var + eps) with var = s**2.",
            answer=f"Expected {expected[i]:.4g}.",
        )
    return Verdict(
        CORRECT,
        "s / sqrt(s**2 + eps): about 1 while s**2 >> eps, about s / sqrt(eps) below that. "
        "eps sets the spread under which an example is treated as constant.",
    )


RMS_QUESTIONS = {
    "RMSNorm's output changes when 5 is added to every feature": "shift",
    "RMSNorm's output changes when every feature is multiplied by 3": "scale",
    "RMSNorm's input gradient sums to zero over the features": "sum_zero",
    "RMSNorm's input gradient is orthogonal to its input x": "orthogonal",
    "DyT's output for one feature depends on the token's other features": "dyt_other",
    "RMSNorm of a token whose features are all equal (and not 0) is all zeros": "constant",
}


def _rms_truth() -> dict[str, bool]:
    """Answers to :data:`RMS_QUESTIONS`, computed with torch (autograd for gradients)."""
    torch = require_torch()

    from .models import DyT

    g = torch.Generator().manual_seed(22)
    x = torch.randn(4, 8, generator=g, dtype=torch.float64)
    dy = torch.randn(4, 8, generator=g, dtype=torch.float64)

    def rms(t):
        return torch.nn.functional.rms_norm(t, (8,), eps=1e-6)

    xg = x.clone().requires_grad_(True)
    rms(xg).backward(dy)
    dx = xg.grad
    dyt = DyT(8).double()
    changed = x.clone()
    changed[:, 1:] += 3.0  # every feature but the first
    with torch.no_grad():
        dyt_other = not torch.allclose(dyt(changed)[:, 0], dyt(x)[:, 0])
    constant = rms(torch.full((1, 8), 2.5, dtype=torch.float64))
    return {
        "shift": not torch.allclose(rms(x + 5), rms(x)),
        "scale": not torch.allclose(rms(3 * x), rms(x), rtol=1e-5, atol=1e-6),
        "sum_zero": bool(dx.sum(1).abs().max() < 1e-10),
        # Exact for eps = 0; with eps the cosine is about eps / mean(x**2), here ~1e-6.
        "orthogonal": bool(((dx * x).sum(1).abs() < 1e-4 * dx.norm(dim=1) * x.norm(dim=1)).all()),
        "dyt_other": dyt_other,
        "constant": bool(constant.abs().max() < 1e-6),
    }


@_checker
def rms_predictions(fn: Callable[[], dict]) -> Verdict:
    """Chapter 7: ``fn()`` returns ``{question: True or False}`` for RMS_QUESTIONS."""
    return _check_predictions(
        fn,
        RMS_QUESTIONS,
        _rms_truth(),
        "Hint: RMSNorm is x / sqrt(mean(x**2) + eps) and DyT is gamma * tanh(alpha * x) + "
        "beta; compute each answer with torch.nn.functional.rms_norm and backward().",
        "RMSNorm keeps layer norm's scale invariance and loses its shift invariance: its "
        "gradient is orthogonal to x but need not sum to zero, and a constant token comes out "
        "as all ones, not zeros. DyT works value by value and sees no other feature.",
    )


# ---------------------------------------------------------------- chapter 8 ------------


@_checker
def roofline_seconds(fn: Callable[[tuple, str, float], float]) -> Verdict:
    """Chapter 8: ``fn(shape, pass_, copy_gbps)``: the least time a float32 layer norm of
    ``shape`` can take for ``pass_`` ("forward", "backward" or "forward+backward") on a
    machine that copies at ``copy_gbps`` (GB/s, bytes read + written, 1 GB = 1e9 bytes)."""
    cases = [((4096, 1024), "forward"), ((1000, 300), "backward"), ((64, 64), "forward+backward")]
    arrays = {"forward": 2, "backward": 3, "forward+backward": 5}  # read x, write y; + dy, dx
    gbps = 40.0
    for shape, pass_ in cases:
        result, verdict = _call(fn, shape, pass_, gbps)
        if verdict:
            return verdict
        if result is None:
            return _wrong("The result is None: did you forget to `return` it?")
        value, verdict = _as_number(result, "The result")
        if verdict:
            return verdict
        nbytes = shape[0] * shape[1] * 4
        expected = arrays[pass_] * nbytes / (gbps * 1e9)
        if _close(value, expected, rtol=1e-6):
            continue
        known = [
            (nbytes / (gbps * 1e9), "that moves one array; the pass reads and writes several"),
            (
                arrays[pass_] * nbytes * 8 / (gbps * 1e9),
                "that counts bits; GB/s counts bytes (a float32 is 4 bytes)",
            ),
            (
                arrays[pass_] * nbytes / (gbps * 2**30),
                "that takes a GB as 2**30 bytes; here 1 GB = 1e9 bytes",
            ),
            (
                2 * nbytes / (gbps * 1e9),
                f"that counts the forward's 2 arrays for the {pass_!r} pass",
            ),
            (
                arrays[pass_] * shape[0] * shape[1] / (gbps * 1e9),
                "that counts values, not bytes: a float32 value is 4 bytes",
            ),
            (
                arrays[pass_] * nbytes / gbps,
                "that divides by GB/s without turning GB into bytes (x 1e9)",
            ),
            (1e3 * expected, "that is in milliseconds; return seconds"),
            (2 * expected, "that counts 8 bytes per value; a float32 is 4 bytes"),
            (
                4 * nbytes / (gbps * 1e9),
                "that is a single fused pass (read x and dy, write y and dx); the forward and "
                "the backward run one after the other, so y is written and x read again: 5",
            ),
        ]
        for candidate, message in known:
            if _close(value, candidate, rtol=1e-6):
                return _wrong(f"For {shape}, {pass_}: {message}.")
        return _wrong(
            f"For {shape}, {pass_}: {value:.3g} s is not the least time. Count the bytes the "
            "pass must move (each array it reads or writes, 4 bytes per float32 value) and "
            "divide by the copy speed in bytes per second.",
            answer=f"Expected {expected:.3g} s.",
        )
    return Verdict(
        CORRECT,
        "The forward moves 2 arrays (x in, y out), the backward 3 (x or x_hat and dy in, dx "
        "out), both 5; at copy speed that is the floor no implementation can beat by much.",
    )


@_checker
def layer_norm_blocked(fn: Callable[[np.ndarray, np.ndarray, float, int], object]) -> Verdict:
    """Chapter 8: ``fn(x, out, eps, rows)`` writes layer norm (no gamma, beta) of the float32
    (N, D) array ``x`` into ``out``, ``rows`` rows at a time, with no full-size temporary."""
    import tracemalloc

    rng = np.random.default_rng(23)
    # The last block is partial; a block is 1/32 of x, so a few float64 temporaries per
    # block (a fine answer too) stay far below a full-size temporary.
    n, d, rows = 1000, 256, 32
    # Spreads from 1e-3 (where eps inside or outside the root differ) to 3.
    spread = np.geomspace(1e-3, 3, n)[rng.permutation(n), None]
    x = (rng.standard_normal((n, d)) * spread + 2.0).astype(np.float32)
    # A first call, not measured: imports and first-call set-up are not the function's own
    # memory.
    _, verdict = _call(fn, x.copy(), np.empty_like(x), 1e-5, rows)
    if verdict:
        return verdict
    out = np.full_like(x, np.nan)
    x_given = x.copy()
    tracemalloc.start()
    try:
        _, verdict = _call(fn, x_given, out, 1e-5, rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if verdict:
        return verdict
    if not np.array_equal(x_given, x):
        return _wrong("Your function changed x; write only into out.")
    if np.isnan(out).all():
        return _wrong(
            "out is untouched: write the result into it (out[start:stop] = ..., or a ufunc "
            "with out=...), do not return a new array."
        )
    if np.isnan(out).any():
        missing = int(np.isnan(out).any(axis=1).sum())
        return _wrong(
            f"{missing} of {n} rows of out are still unwritten: does the loop reach the "
            "last rows (range(0, N, rows))?"
        )
    x64 = x.astype(np.float64)
    expected = _ln_rows(x64, 1e-5)
    if not _close(out, expected, rtol=0, atol=1e-3):
        per_block = np.concatenate(
            [_ln_rows(x64[b : b + rows], 1e-5, axis=0) for b in range(0, n, rows)]
        )
        if _close(out, per_block, rtol=0, atol=1e-3):
            return _wrong(
                "You normalized each column of a block (axis 0, over the block's rows); "
                "layer norm takes each row's statistics: axis=-1, keepdims=True."
            )
        return _wrong(_diagnose_layer_norm(out.astype(np.float64), x64, 1e-5, atol=1e-3))
    # One full-size temporary (x - mu, say) is as large as x; blocked work needs a few
    # blocks' worth, even in float64.
    if peak >= x.nbytes:
        return _wrong(
            f"The values are right, but the function allocated {peak / 2**10:.0f} KiB at its "
            f"peak, at least a full-size temporary ({x.nbytes / 2**10:.0f} KiB for x). Work "
            "on x[start:stop] and write each block into out[start:stop]."
        )
    return Verdict(
        CORRECT,
        f"At most {peak / 2**10:.0f} KiB of temporaries for a "
        f"{x.nbytes / 2**10:.0f} KiB input: each block stays in the cache while it is worked on.",
    )


@_checker
def median_time(fn: Callable[[Callable, int], float]) -> Verdict:
    """Chapter 8: ``fn(f, rounds)`` times ``f``: one warm-up call, then ``rounds`` timed
    calls; returns the median time of one call in seconds."""
    import statistics
    import time

    calls = []  # how long each call of f really took (time.sleep overshoots, more so on
    # a busy machine): the answer is judged against these, not against the delays asked
    # The first call is slow (a warm-up: compiling, allocating); the fifth is an outlier
    # (another program took the core). The others take different times, 2 to 26 ms, so
    # that the median (14 ms) differs from the fastest call and from the mean.
    delays = [0.1, 0.002, 0.006, 0.010, 0.15, 0.014, 0.022, 0.026]

    def f():
        start = time.perf_counter()
        time.sleep(delays[len(calls)] if len(calls) < len(delays) else 0.014)
        calls.append(time.perf_counter() - start)

    result, verdict = _call(fn, f, 7)
    if verdict:
        return verdict
    value, verdict = _as_number(result, "The result")
    if verdict:
        return verdict
    if len(calls) < 8:
        return _wrong(
            f"f was called {len(calls)} times for 7 rounds: call it once before timing "
            "(a warm-up), so first-call costs are not measured."
        )
    timed = calls[-7:]
    median, fastest = statistics.median(timed), min(timed)
    # The learner's own timing adds a little (the loop, perf_counter): 1 ms either side.
    # The neighbours of the median are about 4 and 8 ms away.
    if median - 0.001 <= value <= median + 0.001:
        return Verdict(
            CORRECT,
            "One warm-up, then the median: neither the first call's extra cost nor an outlier "
            "round moved the result.",
        )
    for factor, unit in ((1e3, "milliseconds"), (1e6, "microseconds"), (1e9, "nanoseconds")):
        if fastest / 2 <= value / factor <= 0.2:
            return _wrong(f"That looks like {unit}; return seconds, as time.perf_counter() gives.")
    if fastest - 0.0005 <= value <= fastest + 0.002:
        return _wrong(
            f"Got {value * 1e3:.1f} ms, the fastest call: that is the minimum. The minimum "
            "is a fine timer of its own, but the exercise asks for the median: sort the "
            "per-call times and take the middle one (statistics.median).",
            answer=f"The median call takes {median * 1e3:.0f} ms.",
        )
    if value > median:
        return _wrong(
            f"Got {value * 1e3:.1f} ms, more than a typical call takes: a mean (or a total, "
            "or a median that counts the warm-up) lets a slow call weigh in; take the median "
            "of the timed calls' per-call times.",
            answer=f"The median call takes {median * 1e3:.0f} ms.",
        )
    if value < fastest:
        return _wrong(
            f"Got {value * 1e3:.2f} ms, less than any call takes: time each call with "
            "time.perf_counter() before and after it.",
            answer=f"Every call takes at least {fastest * 1e3:.0f} ms.",
        )
    return _wrong(
        f"Got {value * 1e3:.1f} ms, not the median call's time: time each of the rounds "
        "with time.perf_counter() and take the median (statistics.median).",
        answer=f"The median call takes {median * 1e3:.0f} ms.",
    )
