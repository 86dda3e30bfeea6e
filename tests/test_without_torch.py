"""The browser edition: lnbook and the chapters without PyTorch and scikit-learn.

Pyodide (JupyterLite) has NumPy and plotly but neither torch nor scikit-learn. Each test
runs a fresh Python process in which both imports fail (``sys.modules[name] = None``, so
``import torch`` raises ModuleNotFoundError as it does there), and myst_nb's too (the
browser edition leaves out ``from myst_nb import glue``), the digits coming from the copy
that :func:`lnbook.data.save_digits` packs into the browser edition's package.

For every chapter, the cells the browser edition keeps (not tagged ``needs-torch``, nor
``remove-cell``, which no reader edition has) run in order and must all succeed; then each
``needs-torch`` cell, run after them, must fail for want of torch (ImportError, or NameError
for a name a torch cell defines), so no cell is tagged that the browser could run.

The cells run in an IPython shell (displays and magics work as in a kernel, at a fraction of
a kernel's start), with ``fig.show()`` a no-op, in one process per worker: each chapter from
an empty namespace (``shell.reset()``, as a kernel's ``%reset -f``), as the chapter tests
run theirs in one kernel. The same file is that process's program:
``python tests/test_without_torch.py`` (see :func:`_child` and :func:`_serve`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.md"))
# What the browser lacks: torch and scikit-learn (not shipped), resource (no such module in
# Pyodide), threadpoolctl (not shipped; Pyodide runs one thread), myst_nb (build only),
# ml_dtypes (bfloat16 for NumPy: not shipped).
BLOCKED = ("torch", "sklearn", "resource", "threadpoolctl", "myst_nb", "ml_dtypes")
# The lite edition drops the build-only glue import (lnbook.book.lite.lite_notebook), as the
# reader edition drops the glue cells (remove-cell).
GLUE_IMPORT = re.compile(r"^from myst_nb import glue\n", re.M)
NEEDS_TORCH = "needs-torch"
# Left out of the import test: torch-only modules, the benchmarks (torch in most
# measurements) and the build tooling (lnbook.book).
NOT_IN_BROWSER = {
    "torch_ln",
    "models",
    "stacked",
    "recurrent",
    "attention",
    "conditioning",
    "distributed",
    "process_group",
    "folding",
    "bench",
    "triton_ln",
}


def _defined(source: str) -> set[str]:
    """The names a cell's code binds at its top level (assignments, defs, imports)."""
    import ast

    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            for target in getattr(node, "targets", []) + [getattr(node, "target", None)]:
                for sub in ast.walk(target) if target is not None else []:
                    if isinstance(sub, ast.Name):
                        names.add(sub.id)
    return names


def _for_want_of_torch(failure: dict, torch_names: set[str]) -> bool:
    """Whether a needs-torch cell failed for want of torch: torch itself could not be
    imported (or lnbook said it needs it), or it used a name only a torch cell binds."""
    if failure["error"] in ("ImportError", "ModuleNotFoundError"):
        return "torch" in failure["text"] or "PyTorch" in failure["text"]
    if failure["error"] == "NameError":
        name = re.search(r"name '(\w+)' is not defined", failure["text"])
        return name is not None and name[1] in torch_names
    return False


def _block_imports() -> None:
    """Make ``import torch``, ``import sklearn`` and ``import myst_nb`` fail, as in the browser."""
    for name in BLOCKED:
        sys.modules[name] = None


def _child(job: dict) -> dict:
    """Run a chapter's cells as the browser edition would, from an empty namespace; return
    what happened.

    ``job``: ``digits`` (the packed digits file), ``run`` (cells that must succeed, in
    order) and ``need`` (cells each run afterwards on a copy of the namespace).
    """
    _block_imports()
    import plotly.io as pio
    from IPython.core.interactiveshell import InteractiveShell

    import lnbook.data

    pio.show = lambda *args, **kwargs: None  # fig.show() and a figure as a cell's result
    lnbook.data.DIGITS_FILE = job["digits"]  # absolute: replaces the package folder's copy
    shell = InteractiveShell.instance(colors="NoColor")  # tracebacks read as text
    shell.reset(new_session=False)  # what an earlier chapter left: names, output history
    out = {"ran": [], "needs": []}
    for cell in job["run"]:
        start = time.perf_counter()
        result = shell.run_cell(cell["source"], silent=False, store_history=False)
        error = result.error_before_exec or result.error_in_exec
        out["ran"].append(
            {
                "index": cell["index"],
                "seconds": time.perf_counter() - start,
                "error": None if error is None else f"{type(error).__name__}: {error}",
            }
        )
    for cell in job["need"]:
        namespace = dict(shell.user_ns)  # each on the state the browser cells left
        # A glue cell (remove-cell) tagged needs-torch must fail for want of torch, not glue.
        namespace.setdefault("glue", lambda *args, **kwargs: None)
        try:
            exec(compile(shell.transform_cell(cell["source"]), "<cell>", "exec"), namespace)
        except Exception as e:
            out["needs"].append({"index": cell["index"], "error": type(e).__name__, "text": str(e)})
        else:
            out["needs"].append({"index": cell["index"], "error": None, "text": ""})
    return out


def _cells(path: Path) -> tuple[list[dict], list[dict]]:
    """(cells the browser edition runs, cells tagged needs-torch), each with its index."""
    import jupytext

    run, need = [], []
    for index, cell in enumerate(jupytext.read(path).cells):
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        entry = {"index": index, "source": GLUE_IMPORT.sub("", cell.source)}
        if NEEDS_TORCH in tags:
            need.append(entry)
        elif "remove-cell" not in tags:
            run.append(entry)
    return run, need


def _run(args: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run Python in a fresh process; ``LNBOOK_RESULTS`` off: compute all, keep nothing."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "LNBOOK_RESULTS": ""},
    )


def _serve() -> None:
    """The worker's process: for each line ``JOB OUT`` read, :func:`_child` of the JSON
    in file JOB, written to file OUT with what the cells printed; then ``done``."""
    import contextlib
    import io

    protocol = sys.stdout
    for line in sys.stdin:
        job_file, out_file = line.split()
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            out = _child(json.loads(Path(job_file).read_text()))
        Path(out_file).write_text(json.dumps(out | {"stdout": printed.getvalue()}))
        print("done", file=protocol, flush=True)


@pytest.fixture(scope="module")
def browser_python(tmp_path_factory):
    """This worker's process for the chapters (:func:`_serve`), in book/ as a chapter
    runs; ``LNBOOK_RESULTS`` off: compute all, keep nothing."""
    errors = tmp_path_factory.mktemp("without-torch") / "stderr.txt"
    with errors.open("w") as stderr:  # a file: a full pipe would stop the process
        proc = subprocess.Popen(
            [sys.executable, __file__],
            cwd=ROOT / "book",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "LNBOOK_RESULTS": ""},
        )
    proc.errors = errors
    yield proc
    proc.stdin.close()
    proc.wait(timeout=60)


def _run_child(job: dict, proc: subprocess.Popen, tmp_path: Path) -> dict:
    """Run :func:`_child` in the worker's process (``browser_python``)."""
    import select

    job_file, out_file = tmp_path / "job.json", tmp_path / "out.json"
    job_file.write_text(json.dumps(job))
    proc.stdin.write(f"{job_file} {out_file}\n")
    proc.stdin.flush()
    if not select.select([proc.stdout], [], [], 600)[0]:  # a hang guard, not a speed limit
        proc.kill()
        pytest.fail(f"no answer after 600 s: {proc.errors.read_text()[-3000:]}")
    answer = proc.stdout.readline()  # "done", or "" once the process has died
    assert answer == "done\n", f"the chapters' process ended: {proc.errors.read_text()[-3000:]}"
    return json.loads(out_file.read_text())


@pytest.fixture(scope="module")
def digits_file(tmp_path_factory) -> str:
    """The digits as the browser edition's package carries them."""
    from lnbook import data

    return str(data.save_digits(tmp_path_factory.mktemp("lite") / data.DIGITS_FILE))


def test_require_torch_says_where_the_part_runs(monkeypatch):
    from lnbook._optional import require_torch

    assert require_torch().__name__ == "torch"
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"^The figure needs PyTorch\. .*Binder.*make lab") as e:
        require_torch("The figure")
    assert e.value.name == "torch" and isinstance(e.value.__cause__, ImportError)


def test_lnbook_works_without_torch_and_sklearn(digits_file, tmp_path):
    modules = sorted(
        ".".join(p.relative_to(ROOT / "lnbook").with_suffix("").parts)
        for p in (ROOT / "lnbook").rglob("*.py")
        if p.stem != "__init__"
        and p.stem not in NOT_IN_BROWSER
        and p.relative_to(ROOT / "lnbook").parts[0] != "book"
    )
    code = textwrap.dedent(
        f"""
        import importlib
        import numpy as np
        import lnbook
        for name in {modules!r}:
            importlib.import_module("lnbook." + name)
        from lnbook import checking, data, numpy_ln, training
        from lnbook.topics.statistics import checks, experiments, figures, widgets
        from lnbook.topics.variants import checks as variants_checks
        from lnbook._optional import WHERE_IT_RUNS

        data.DIGITS_FILE = {digits_file!r}
        x = data.layer_activations(16, 32, seed=0)  # the digits, without scikit-learn
        y = numpy_ln.layer_norm(x, 32)
        assert np.allclose(y.mean(axis=-1), 0, atol=1e-9)
        stats = experiments.row_statistics(x)
        figures.batch_stats_figure(x, stats).to_dict()
        widgets.example_explorer(x)
        assert checks.layer_norm_rows(
            lambda x, eps: (x - x.mean(-1, keepdims=True))
            / np.sqrt(x.var(-1, keepdims=True) + eps)
        ).status == checking.CORRECT

        # What needs torch says so, and where it runs instead.
        def refused(call):
            try:
                call()
            except ImportError as e:
                assert WHERE_IT_RUNS in str(e), str(e)
                return True
            return False

        assert refused(lambda: importlib.import_module("lnbook.torch_ln"))
        assert refused(lambda: importlib.import_module("lnbook.models"))
        assert refused(lambda: importlib.import_module("lnbook.recurrent"))
        assert refused(lambda: importlib.import_module("lnbook.attention"))
        assert refused(lambda: training.train_digits_mlp(steps=1, seed=0))
        assert refused(lambda: variants_checks.rms_norm(lambda x, w, eps: x))
        print("ok")
        """
    )
    proc = _run(["-c", f"import sys\nfor m in {BLOCKED!r}: sys.modules[m] = None\n{code}"])
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-3000:]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_without_torch(path, digits_file, browser_python, tmp_path, record_property):
    run, need = _cells(path)
    start = time.perf_counter()
    out = _run_child({"digits": digits_file, "run": run, "need": need}, browser_python, tmp_path)
    seconds = time.perf_counter() - start
    record_property("measured", f"{path.stem} without torch: {seconds:.1f} s")
    sources = {c["index"]: c["source"] for c in run + need}

    failed = [r for r in out["ran"] if r["error"]]
    assert not failed, (
        f"{path.name}: cells the browser edition runs failed without torch (tag them "
        f"'{NEEDS_TORCH}' if they need it):\n"
        + "\n\n".join(f"cell {r['index']}: {r['error']}\n{sources[r['index']]}" for r in failed)
        + f"\n\noutput:\n{out['stdout'][-2000:]}"
    )
    torch_names = set().union(*(_defined(c["source"]) for c in need))
    untrue = [n for n in out["needs"] if not _for_want_of_torch(n, torch_names)]
    assert not untrue, (
        f"{path.name}: cells tagged '{NEEDS_TORCH}' that the browser edition could run "
        "(remove the tag):\n"
        + "\n\n".join(
            f"cell {n['index']}: {n['error'] or 'ran'} {n['text']}\n{sources[n['index']]}"
            for n in untrue
        )
    )


if __name__ == "__main__":  # the chapters' process (see browser_python)
    _serve()
