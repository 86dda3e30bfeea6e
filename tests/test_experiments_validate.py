"""The experiments' sequence arguments (seeds, depths, rates, offsets, configs): the checks
of lnbook._validate that every experiment runs on them before any training starts."""

from __future__ import annotations

import numpy as np
import pytest

from lnbook._validate import (
    check_choices,
    check_floats,
    check_ints,
    check_nd_shape,
    check_pairs,
    check_sequence,
)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((0, 1, 2), (0, 1, 2)),
        ([3], (3,)),
        (range(2), (0, 1)),
        (np.arange(3), (0, 1, 2)),
        ((np.int64(5),), (5,)),
    ],
)
def test_check_ints_returns_a_tuple_of_plain_ints(values, expected):
    got = check_ints("seeds", values, 0)
    assert got == expected and all(type(v) is int for v in got)


@pytest.mark.parametrize(
    ("values", "error", "match"),
    [
        # A lone number: the message shows it wrapped, the fix for that call.
        (
            0,
            TypeError,
            r"seeds must be a non-empty sequence of ints >= 0, e\.g\. \(0,\), got int 0",
        ),
        (np.int64(3), TypeError, r"e\.g\. \(3,\), got int64 3"),
        (
            None,
            TypeError,
            r"seeds must be a non-empty sequence of ints >= 0, e\.g\. \(0,\), got None",
        ),
        ("012", TypeError, r"got str '012'"),
        ({0, 1}, TypeError, r"got set \{0, 1\}"),
        ((), ValueError, r"seeds must be a non-empty sequence of ints >= 0, .* got an empty tuple"),
        ([], ValueError, r"got an empty list"),
        (np.zeros((2, 2), int), ValueError, r"got an array of shape \(2, 2\)"),
        ([0, 1.5], TypeError, r"got \[0, 1\.5\]: 1\.5 is a float"),
        ([True], TypeError, r"True is a bool"),
        (np.array([1.0]), TypeError, r"1\.0 is a float64"),
        ([0, -1], ValueError, r"seeds must be a non-empty sequence of ints >= 0, got \[0, -1\]"),
    ],
)
def test_check_ints_names_the_argument_and_what_it_got(values, error, match):
    with pytest.raises(error, match=match):
        check_ints("seeds", values, 0)


def test_check_ints_bounds_and_examples():
    assert check_ints("offsets", (-3, 4)) == (-3, 4)  # no minimum: any int
    # A lone number below the minimum is not offered as the fix.
    with pytest.raises(TypeError, match=r"depths .* ints >= 1, e\.g\. \(1,\), got int 0"):
        check_ints("depths", 0, 1)
    with pytest.raises(TypeError, match=r"e\.g\. \(6,\), got int 6"):
        check_ints("depths", 6, 1)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ((0.1, 1), (0.1, 1.0)),
        (np.array([0.5, 2.0]), (0.5, 2.0)),
        ([np.float64(3.0)], (3.0,)),
    ],
)
def test_check_floats_returns_a_tuple_of_floats(values, expected):
    got = check_floats("lrs", values, positive=True)
    assert got == expected and all(type(v) is float for v in got)


@pytest.mark.parametrize(
    ("values", "kwargs", "error", "match"),
    [
        (0.1, {"positive": True}, TypeError,
         r"lrs must be a non-empty sequence of positive finite numbers, e\.g\. \(0\.1,\), "
         r"got float 0\.1"),
        (-1.0, {"positive": True}, TypeError, r"e\.g\. \(1\.0,\), got float -1\.0"),
        ((), {}, ValueError, r"lrs must be a non-empty sequence of finite numbers, .*empty tuple"),
        (np.array([0.1, -1.0]), {"positive": True}, ValueError, r"got \[0\.1, -1\.0\]"),
        ([0.0], {"positive": True}, ValueError, r"positive finite numbers, got \[0\.0\]"),
        ([-0.5], {"minimum": 0}, ValueError, r"finite numbers >= 0, got \[-0\.5\]"),
        ([float("nan")], {}, ValueError, r"finite numbers, got \[nan\]"),
        ([1.0, float("inf")], {}, ValueError, r"got \[1\.0, inf\]"),
        (["0.1"], {}, TypeError, r"got \['0\.1'\]: '0\.1' is a str"),
        ([False], {}, TypeError, r"False is a bool"),
    ],
)  # fmt: skip
def test_check_floats_names_the_argument_and_what_it_got(values, kwargs, error, match):
    with pytest.raises(error, match=match):
        check_floats("lrs", values, **kwargs)


def test_check_sequence_takes_any_items_but_not_a_string_or_a_number():
    assert check_sequence("norms", ["layer", None]) == ("layer", None)
    assert check_sequence("norms", ("layer",), "norm names", '("layer",)') == ("layer",)
    with pytest.raises(TypeError, match=r'norms .* norm names, e\.g\. \("layer",\), got str'):
        check_sequence("norms", "layer", "norm names", '("layer",)')
    with pytest.raises(TypeError, match="got int 3"):
        check_sequence("norms", 3)
    with pytest.raises(ValueError, match="got an empty list"):
        check_sequence("norms", [])


def test_check_pairs_wants_two_items_each():
    assert check_pairs("configs", [["pre", 0], ("post", 40)], "pairs", "()") == (
        ("pre", 0),
        ("post", 40),
    )
    with pytest.raises(
        TypeError, match=r"configs must be .* got \['pre', 0\]: 'pre' is not a pair"
    ):
        check_pairs("configs", ("pre", 0), "(placement, warm-up) pairs", '(("pre", 0),)')
    with pytest.raises(TypeError, match=r"\('pre', 0, 1\) is not a pair"):
        check_pairs("configs", [("pre", 0, 1)], "pairs", "()")
    with pytest.raises(ValueError, match="got an empty tuple"):
        check_pairs("configs", (), "pairs", "()")


NORMS = ("layer", "batch", "rms", None)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (("layer", "rms"), ("layer", "rms")),
        (["batch", None], ("batch", None)),
        (np.array(["layer", "rms"]), ("layer", "rms")),
        (("rms", "rms"), ("rms", "rms")),  # repeats are the caller's business
    ],
)
def test_check_choices_returns_the_items_unchanged(values, expected):
    got = check_choices("norms", values, NORMS)
    assert got == expected and isinstance(got, tuple)


@pytest.mark.parametrize(
    ("values", "error", "match"),
    [
        # The first unknown item, named, with every allowed one.
        (("layer", "rmss", "dyt"), ValueError,
         r"norms must be a non-empty sequence of names, each one of "
         r"\('layer', 'batch', 'rms', None\), got \['layer', 'rmss', 'dyt'\]: "
         r"'rmss' is not one of them"),
        (["layer", "None"], ValueError, r"'None' is not one of them"),  # a string, not None
        ([np.str_("lyer")], ValueError, r"got \['lyer'\]: 'lyer' is not one of them"),
        ([["layer"]], ValueError, r"\['layer'\] is not one of them"),
        ([np.array(["layer", "rms"])], ValueError, "is not one of them"),  # == is ambiguous
        ((), ValueError, r"norms must be a non-empty sequence of names, .* got an empty tuple"),
        # A lone name: the message shows it wrapped, the fix for that call.
        ("rms", TypeError, r"norms must be a non-empty sequence of names, e\.g\. \('rms',\), "
         r"got str 'rms'"),
        ("rmss", TypeError, r"e\.g\. \('layer',\), got str 'rmss'"),
        (None, TypeError, "got None"),
    ],
)  # fmt: skip
def test_check_choices_names_the_argument_and_the_unknown_item(values, error, match):
    with pytest.raises(error, match=match):
        check_choices("norms", values, NORMS)


def test_check_choices_kind_and_example():
    with pytest.raises(TypeError, match=r'modes must be a non-empty sequence of conditioning '
                       r'modes, e\.g\. \("adaLN",\), got int 3'):  # fmt: skip
        check_choices(
            "modes", 3, ["adaLN", "none"], kind="conditioning modes", example='("adaLN",)'
        )
    with pytest.raises(ValueError, match=r"modes .* each one of \('adaLN', 'none'\), got"):
        check_choices("modes", ("film",), ["adaLN", "none"], kind="conditioning modes")


def test_check_nd_shape_names_what_is_not_an_n_by_d_shape():
    assert check_nd_shape("shape", (3, 4)) == (3, 4)
    assert check_nd_shape("shape", [np.int64(3), 2], min_d=2) == (3, 2)
    for bad in (256, (1024,), (2, 3, 4), "ab"):
        with pytest.raises(ValueError, match=r"shape must be \(N, D\), two sizes, got"):
            check_nd_shape("shape", bad)
    with pytest.raises(TypeError, match=r"shape\[1\] must be an int, got float 2.5"):
        check_nd_shape("shape", (3, 2.5))
    with pytest.raises(ValueError, match=r"shape\[0\] must be >= 1, got 0"):
        check_nd_shape("shape", (0, 4))
    with pytest.raises(ValueError, match=r"shape\[1\] must be >= 2, got 1"):
        check_nd_shape("shape", (3, 1), min_d=2)
