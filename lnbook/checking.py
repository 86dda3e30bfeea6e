"""The checker harness: what every exercise checker uses to call a learner's answer and say
what is right or wrong with it.

Every checker takes the learner's function, calls it on inputs of its own, and returns a
:class:`Verdict`: "not attempted yet" while the function still raises
``NotImplementedError``, "correct", or "wrong" with a diagnosis of the classic mistake it
recognizes (normalizing the wrong axis, the unbiased variance, eps outside the square root,
a wrong shape...) and what was found. A checker never raises because of the answer:
exceptions, ``sys.exit()``, garbage return values and NaN are all diagnosed (:func:`call`,
:func:`as_array`, :func:`as_number`), and Python code that runs too long is stopped (one
long call into compiled code is not: see :mod:`lnbook._deadline`).

Hints before answers. The first wrong try of a checker names the mistake and how to fix it
(the formula, the step to redo) without the expected values; from the second wrong try of
the same checker on, the verdict also shows them (the expected mu and var, what the
differing element should be, the count the model has, why a True/False prediction is
wrong). Tries are counted per checker in the running kernel; a correct answer or a "not
attempted yet" does not count. One mechanism applies this to every checker: a checker puts
what it withholds in ``answer=`` of :func:`wrong`, and :func:`checker`, which wraps every
public checker, decides whether it is shown. Values the learner returned may always be
quoted (:func:`quote`, bounded): they are not the answer.

One harness, so that the policies cannot drift between checkers: one tolerance
(:func:`tolerance`, by the answer's precision), one way to call and convert
(:func:`returned_array`), one way to judge values against the expected ones and a list of
known mistakes (:func:`compare`, :func:`known_mistake`), one True/False exercise
(:func:`predictions`). A checker in ``lnbook/topics/<topic>/checks.py`` then holds only what
is particular to its exercise: its inputs, the expected values, the mistakes it knows and
its messages.

Solutions in the book call the same checkers with ``.assert_correct()``, so every solution
is executed as a test, and nbgrader's test cells print ``checks.<checker>(f).assert_correct()``.
When the answer is wrong, that raises ``AssertionError("wrong: <message>")`` with no frame
of lnbook in its traceback (see :attr:`Verdict.assert_correct`), so the notebook and its
nbgrader feedback show the learner the verdict, not the teacher's file paths.
"""

from __future__ import annotations

import functools
import html
import math
import re
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ._deadline import TimeLimit, time_limit

NOT_ATTEMPTED, CORRECT, WRONG = "not attempted yet", "correct", "wrong"
TIME_LIMIT_S = 5.0  # how long a learner's function may run (lnbook._deadline)
REVEAL_AFTER = 2  # the wrong try (of one checker) from which the expected values are shown
WITHHELD = "Check again once you have fixed it; a second wrong try also shows the expected values."


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check: ``status`` (one of the three above) and a ``message``."""

    status: str
    message: str
    # A wrong verdict's expected values, kept out of `message` until the second wrong try;
    # only checkers set it (through `wrong`), and `checker` folds it in or drops it.
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


def numpy_of(value):
    """A learner's tensor as a NumPy array (detached, on the CPU; bfloat16, which NumPy
    lacks, as float32), anything else as it is. Raises for a tensor without data (on the
    ``meta`` device), which the callers turn into a verdict."""
    if not hasattr(value, "detach"):
        return value
    value = value.detach().cpu()
    return (value.float() if str(value.dtype) == "torch.bfloat16" else value).numpy()


def quote(value, limit: int = 60) -> str:
    """A learner's value quoted in a message: on one line and at most ``limit`` characters.

    The one place where a learner's value becomes text, so no value can flood a message:
    ``reprlib`` and NumPy's summarizing print stop early, instead of writing out a
    ``range(10**6)`` turned into a tuple (megabytes) and cutting it afterwards.
    """
    try:
        value = numpy_of(value)  # a tensor's repr spans lines and names its grad_fn
        if isinstance(value, np.ndarray):
            text = np.array2string(value, threshold=8, edgeitems=2, separator=", ")
        else:
            short = reprlib.Repr()
            short.maxstring = short.maxother = short.maxlong = limit
            text = short.repr(value)
    except Exception:  # a learner's class whose __repr__ raises
        text = f"<{type(value).__name__}>"
    text = " ".join(text.split())
    # Cut short: never in the middle of NumPy's "..." (it would read as "..…").
    return text if len(text) <= limit else text[: limit - 1].rstrip(" ,.") + "…"


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


# ------------------------------------------------ calling the answer, taking its values


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
        with time_limit(TIME_LIMIT_S):
            result = fn(*args)
    except NotImplementedError:
        return None, _not_attempted()
    except TimeLimit:
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

    A float32 (or float16) answer stays in its precision, so that :func:`close` can judge
    it by what that precision holds; anything else becomes float64."""
    if value is None:
        return None, wrong(f"{name} is None: did you forget to `return` it?")
    # torch's bfloat16, or ml_dtypes' (NumPy's bfloat16 arrays): no exercise asks for it.
    if str(getattr(value, "dtype", "")) in ("torch.bfloat16", "bfloat16"):
        kind = "tensor" if hasattr(value, "detach") else "array"
        return None, wrong(
            f"{name} is a bfloat16 {kind}, which keeps about 3 significant digits: compute "
            "and return float32 (or float64) values."
        )
    if hasattr(value, "detach"):  # a torch tensor, maybe requiring grad
        try:
            value = numpy_of(value)
        except Exception:
            return None, wrong(f"{name} should be an array of numbers, got {quote(value)}.")
    try:
        a = np.asarray(value)
        if a.dtype.kind == "c":  # NumPy would drop the imaginary part, with a warning
            return None, wrong(f"{name} should hold real numbers, got complex ones.")
        # An array (or tensor) of float32 or float16 is judged in its precision; a list is
        # float64 whatever its items.
        dtype = getattr(value, "dtype", None)
        low = isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize < 8
        a = a if low else a.astype(np.float64)
    except Exception:  # ragged lists, strings, objects...
        return None, wrong(f"{name} should be an array of numbers, got {type(value).__name__}.")
    if a.shape != shape:
        return None, wrong(f"{name} should have shape {shape}, got {a.shape}.")
    if not np.isfinite(a).all():
        return None, wrong(f"{name} contains NaN or infinity.")
    return a, None


def as_number(value, name: str) -> tuple[float | None, Verdict | None]:
    """A learner's single number as a float (not a string, not an array of several)."""
    try:
        value = numpy_of(value)
        if isinstance(value, str | bytes) or np.size(value) != 1:
            raise TypeError
        number = float(np.asarray(value).reshape(()))
    except Exception:
        return None, wrong(f"{name} should be a single number, got {quote(value)}.")
    if not math.isfinite(number):
        return None, wrong(f"{name} is {number}; it should be a finite number.")
    return number, None


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


def shape_of(value) -> tuple[int, ...] | None:
    """The shape of a learner's array-like value; None if it has none (ragged, not numbers)."""
    if hasattr(value, "detach") and hasattr(value, "shape"):  # a tensor: numbers, any dtype
        return tuple(value.shape)
    try:
        a = np.asarray(value)
        if a.dtype.kind not in "biufc":  # strings, objects: numbers only if they convert
            a = a.astype(np.float64)
        return a.shape
    except Exception:
        return None


def returned_array(
    fn,
    args: tuple,
    shape: tuple[int, ...],
    *,
    name: str = "The result",
    wrong_shapes: dict[tuple[int, ...], str] | None = None,
    read_only: dict[int, str] | None = None,
) -> tuple[np.ndarray | None, Verdict | None]:
    """Call ``fn(*args)`` (:func:`call`) and take its result as an array of ``shape``
    (:func:`as_array`): (the array, None), or (None, the verdict saying why not).

    ``wrong_shapes`` maps the shapes of known mistakes to their messages (one number per
    row where the rows were asked for, say), given instead of the plain "should have shape".
    """
    result, verdict = call(fn, *args, read_only=read_only)
    if verdict:
        return None, verdict
    mistake = (wrong_shapes or {}).get(shape_of(result))
    if mistake:
        return None, wrong(mistake)
    return as_array(result, name, shape)


# ------------------------------------------------ judging the values: tolerance, known mistakes


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


def worst(given: np.ndarray, expected: np.ndarray) -> tuple[int, ...]:
    """The index where ``given`` is furthest from ``expected``."""
    diff = np.abs(given.astype(np.float64) - expected)
    return tuple(int(i) for i in np.unravel_index(diff.argmax(), diff.shape))


def known_mistake(
    given, known: list[tuple[object, str]], rtol: float | None = None, atol: float | None = None
) -> str | None:
    """The message of the first of the ``known`` mistakes, (the values it gives, message)
    pairs, whose values ``given`` matches within :func:`close`; None if it matches none."""
    return next((message for values, message in known if close(given, values, rtol, atol)), None)


def compare(
    given,
    expected,
    known: list[tuple[object, str]],
    otherwise: str | Verdict,
    *,
    success: str = "",
    prefix: str = "",
    rtol: float | None = None,
    atol: float | None = None,
) -> Verdict:
    """The verdict on a learner's values ``given`` (converted, of the right shape): correct,
    saying ``success``, if they match ``expected``; else wrong, naming the first of the
    ``known`` mistakes they match (after ``prefix``: the case, where a checker tries
    several); else ``otherwise``, a message or a ready verdict (one that withholds the
    expected value, say). All comparisons within :func:`close`'s tolerance, or the ``rtol``
    and ``atol`` an exercise sets."""
    if close(given, expected, rtol, atol):
        return Verdict(CORRECT, success)
    mistake = known_mistake(given, known, rtol, atol)
    if mistake:
        return wrong(sentence(prefix + mistake))
    return otherwise if isinstance(otherwise, Verdict) else wrong(otherwise)


# ------------------------------------------------ the diagnoses several chapters share


def ln_rows(x, eps, ddof=0, eps_outside=False, axis=-1):
    """Layer norm of ``x`` along ``axis``, or one of its classic mistakes: the unbiased
    variance (``ddof=1``), eps added to the standard deviation (``eps_outside``), another
    axis (batch norm along axis 0). The candidates the diagnoses compare answers with."""
    mu = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True, ddof=ddof)
    if eps_outside:
        return (x - mu) / (np.sqrt(var) + eps)
    return (x - mu) / np.sqrt(var + eps)


def diagnose_layer_norm(y: np.ndarray, x: np.ndarray, eps: float, atol: float | None = None) -> str:
    """Name the mistake that turns ``x`` into ``y``, if it is a known one (``atol``: the
    tolerance of the comparison, if not :func:`tolerance`'s)."""
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
    return known_mistake(y, known, atol=atol) or (
        "The values differ from layer norm's, (x - mu) / sqrt(var + eps) with the mean and "
        "the variance of each row (`axis=-1, keepdims=True`)."
    )


# ------------------------------------------------ True/False exercises


def _check_predictions(
    fn: Callable[[], dict],
    questions: dict[str, str],
    truth: dict[str, bool],
    hint: str,
    success: str,
    explain: Callable[[str, bool], str] | None = None,
) -> Verdict:
    """The verdict on a True/False exercise: call ``fn``, validate its dict of answers and
    compare with ``truth`` (by the questions' keys). A wrong answer is named by its question
    (computing the answer is the exercise), followed by ``hint``; where ``explain(key,
    truth[key])`` says why, that is the answer, shown from the second wrong try on. All
    right gives ``success``."""
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
            # The questions as the learner reads them, not a list's repr (whose escaped
            # apostrophes and mixed quotes garble a question such as "Layer norm's ...").
            f"Answer every question; missing: {'; '.join(f'“{q}”' for q in missing)}. "
            "Use the question strings as keys "
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
                why.append(f"{question!r}: {explain(key, truth[key])}")
    if missed:
        return wrong(
            f"{len(missed)} of {len(questions)} wrong: " + "; ".join(missed) + ". " + hint,
            answer="; ".join(why),
        )
    return Verdict(CORRECT, success)


def predictions(
    questions: dict[str, str],
    hint: str,
    success: str,
    explain: Callable[[str, bool], str] | None = None,
) -> Callable[[Callable[[], dict[str, bool]]], Callable[..., Verdict]]:
    """Make a True/False exercise's truth table its checker: the decorated function
    computes the answers (``{key: bool}``, by the keys of ``questions``), and becomes the
    public checker of the same name and docstring, ``checker(fn)``, which judges ``fn()``'s
    answers with :func:`_check_predictions`. The truth is computed, not claimed: with
    lnbook's or torch's code, on each check (it is small)."""

    def make(truth: Callable[[], dict[str, bool]]) -> Callable[..., Verdict]:
        def check(fn: Callable[[], dict]) -> Verdict:
            return _check_predictions(fn, questions, truth(), hint, success, explain)

        check.__name__, check.__qualname__ = truth.__name__, truth.__qualname__
        check.__module__, check.__doc__ = truth.__module__, truth.__doc__
        return checker(check)

    return make
