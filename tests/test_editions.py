"""The classroom editions: the student notebooks run as handed out, and the nbgrader export
has an answer and a check per exercise (tests/test_nbgrader.py grades it with nbgrader's own
commands)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from conftest import notebook_kernel, run_in, wait_for_chapters

from lnbook.book import editions, execution, myst
from lnbook.book.execution import executed_notebook, execution_cache_dir

ROOT = Path(__file__).resolve().parents[1]

CHAPTERS = myst.chapters()
IDS = [p.stem for p in CHAPTERS]


_outputs_text = editions._outputs_text  # a cell's printed text, verdicts included


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_student_edition_keeps_stubs_and_checks_and_drops_solutions(path):
    nb = editions.student_notebook(path)
    text = path.read_text(encoding="utf-8")
    n_exercises = text.count(":::{exercise}")
    assert n_exercises >= 3, f"{path.name}: every chapter ends with at least three exercises"
    sources = [c.source for c in nb.cells]
    assert not any("solution-start" in s or "solution-end" in s for s in sources)
    assert not any(".assert_correct()" in s for s in sources)
    stubs = [
        c for c in nb.cells if c.cell_type == "code" and "raise NotImplementedError" in c.source
    ]
    assert len(stubs) == n_exercises
    assert all("checks." in c.source for c in stubs), "each stub is followed by its check"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert "notebook for students" in nb.cells[0].source
    # Every exercise is still there, as plain Markdown.
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    numbers = myst.exercise_numbers()
    for label in editions.solutions(text):
        assert f"### Exercise {numbers[label]}: " in markdown, label
    assert markdown.count("### Exercise ") == n_exercises


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_student_edition_is_plain_markdown_with_the_executed_numbers(path, executed_chapters):
    # Jupyter renders CommonMark: no MyST role or directive may reach the student.
    nb = editions.student_notebook(path)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for raw in ("{glue", "{cite", "{ref}", "{numref}", ":::", "```{", ":label:", ":class:", ")=\n"):
        assert raw not in markdown, f"{path.name}: {raw!r} left in the Markdown"
    # The included package code is there, as code.
    kept = editions._SOLUTION.sub("", path.read_text(encoding="utf-8"))  # what students get
    included = kept.count("```{literalinclude}")
    assert markdown.count("```python") >= included
    # The glued numbers come from the chapter's executed run (tests/test_chapters.py
    # stores it in the cache first, in the same test run).
    executed = executed_notebook(path, execution_cache_dir(ROOT))
    if not any(c.get("outputs") for c in executed.cells if c.cell_type == "code"):
        pytest.skip(f"{path.name} was not executed in this run (run tests/test_chapters.py)")
    assert "(computed in the chapter)" not in markdown
    wanted = set(re.findall(r"\{glue(?::\w+)?\}`([^`:]+)", path.read_text(encoding="utf-8")))
    assert wanted <= set(myst.glue_values(executed))


def test_plain_markdown_renders_each_myst_construct(tmp_path):
    # Expected strings written out by hand from what the website shows.
    (tmp_path / "mod.py").write_text(
        "import os\n\n\nclass A:\n    def f(self):\n        return 1\n\n    def g(self):\n"
        "        return 2\n"
    )
    text = (
        "(sec-a)=\n## Title\n\n"
        "Value {glue:text}`v:.2f`, count {glue:text}`n`, list {glue:md}`rates`, "
        "missing {glue:text}`gone`.\n"
        "See {ref}`sec-a`, {ref}`that part <sec-a>`, {ref}`unknown` and {numref}`ex-1`.\n"
        "As {cite:t}`k1` showed {cite:p}`k1,k2`.\n\n"
        ":::{exercise} Do it\n:label: ex-1\n\nWrite `f`.\n:::\n\n"
        ":::{admonition} Working the exercises\n:class: note\nOn the website...\n:::\n\n"
        "::::{solution-start} ex-1\n:class: dropdown\n::::\n\n"
        "```{literalinclude} mod.py\n:pyobject: A.f\n:language: python\n```\n"
    )
    out = myst.plain_markdown(
        text,
        {"v": 0.123456, "n": 7, "rates": "0.1, 0.3"},
        {"sec-a": "Title"},
        {"k1": ("Ba et al.", "2016"), "k2": ("Ioffe and Szegedy", "2015")},
        tmp_path,
        {"ex-1": "3.2"},
    )
    assert "(sec-a)=" not in out and "## Title" in out
    assert "Value 0.12, count 7, list 0.1, 0.3, missing (computed in the chapter)." in out
    assert "See Title, that part, unknown and Exercise 3.2." in out
    assert "As Ba et al. (2016) showed (Ba et al., 2016; Ioffe and Szegedy, 2015)." in out
    assert "### Exercise 3.2: Do it\n\nWrite `f`." in out and ":label:" not in out
    assert "Working the exercises" not in out and "On the website" not in out
    assert "solution" not in out  # markers go: the editions fold or drop solutions
    assert "```python\ndef f(self):\n    return 1\n```" in out and "def g" not in out


@pytest.fixture(scope="session")
def student_kernel(run_dir):
    """One kernel for all the student notebooks a worker runs, each from a fresh start
    (``conftest.notebook_kernel``). The training runs are the chapter's own calls: where
    the chapter test (earlier in this run) kept their results, the student notebook gets
    them instead of training again."""
    with notebook_kernel(LNBOOK_RESULTS=f"reuse:{run_dir / 'results'}") as km:
        yield km


@pytest.mark.chapter
@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_student_edition_runs_in_order_and_every_check_is_not_attempted(
    path, student_kernel, request, run_dir
):
    # The chapter's own run, if this test run holds it, keeps the results this one reuses:
    # wait for its end rather than train again (the other worker may still be running it).
    wait_for_chapters(request.session, run_dir, [path.stem])
    nb = editions.student_notebook(path)
    run_in(student_kernel, nb, path)  # as handed out: every cell, in order
    stubs = [
        c for c in nb.cells if c.cell_type == "code" and "raise NotImplementedError" in c.source
    ]
    for cell in stubs:
        assert "Not attempted yet" in _outputs_text(cell), cell.source


def test_a_shared_kernel_gives_each_notebook_a_fresh_start(student_kernel, tmp_path):
    folder = tmp_path.resolve()
    first = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import torch\nfrom lnbook import checking\nleft = 1\n"
        "torch.set_default_dtype(torch.float64)\nchecking._wrong_tries['x'] = 2")])  # fmt: skip
    execution.execute(first, folder / "a.md", km=student_kernel)
    second = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in (
        "import os, torch\nfrom lnbook import checking\n"
        "print(torch.get_default_dtype(), os.getcwd(), len(checking._wrong_tries))",
        "left", "2 + 2")])  # fmt: skip
    execution.execute(second, folder / "b.md", km=student_kernel, allow_errors=True)
    assert len(second.cells) == 3  # the fresh start ran, and left the notebook as it was
    # counted as in a fresh kernel, the result too (the kernel's own count goes on)
    assert [c.execution_count for c in second.cells] == [1, 2, 3]
    assert second.cells[2].outputs[0].execution_count == 3
    assert _outputs_text(second.cells[0]).split() == ["torch.float32", str(folder), "0"]
    assert "NameError" in _outputs_text(second.cells[1])


def test_nbgrader_source_has_an_answer_and_a_check_per_exercise():
    for path in CHAPTERS:
        nb = editions.nbgrader_notebook(path)
        graded = [c for c in nb.cells if "nbgrader" in c.metadata]
        labels = list(editions.solutions(path.read_text(encoding="utf-8")))
        assert [c.metadata.nbgrader["grade_id"] for c in graded] == [
            f"{label}-{kind}" for label in labels for kind in ("answer", "check")
        ]
        for answer, check in zip(graded[::2], graded[1::2], strict=True):
            assert answer.metadata.nbgrader["solution"] and not answer.metadata.nbgrader["grade"]
            assert "### BEGIN SOLUTION" in answer.source and "### END SOLUTION" in answer.source
            meta = check.metadata.nbgrader
            assert meta["grade"] and meta["locked"] and meta["points"] == 1
            assert check.source.startswith("print(") and ".assert_correct())" in check.source


def test_answer_source_keeps_the_stubs_signature_and_wraps_the_rest():
    stub = "def f(x):\n    raise NotImplementedError\n\n\nchecks.f(f)"
    solution = (
        "y = 2\n\n\ndef helper(a):\n    return a\n\n\n"
        "def f(x):\n    return helper(x) * y\n\n\nchecks.f(f).assert_correct()"
    )
    answer, check = editions._answer_source(solution, stub)
    assert check == "print(checks.f(f).assert_correct())"
    lines = answer.splitlines()
    assert lines[0] == "### BEGIN SOLUTION" and "def helper(a):" in lines
    assert lines[lines.index("def f(x):") + 1] == "    ### BEGIN SOLUTION"
    assert lines[-1] == "    ### END SOLUTION"
    compile(answer, "<answer>", "exec")  # still Python
    with pytest.raises(ValueError, match="must end with its check"):
        editions._answer_source("def f(x):\n    return x", stub)


def test_exercise_notebooks_run_and_every_stub_is_not_attempted():
    # What grading and the stub guard run: the imports and the exercises, nothing else.
    editions.check_stubs()  # raises StubChanged naming any exercise that is not a stub


def _book_copy(tmp_path: Path, *names: str) -> Path:
    root = tmp_path / "repo"
    (root / "book").mkdir(parents=True)
    (root / "lnbook").symlink_to(ROOT / "lnbook")  # chapters include package code
    for name in names:
        (root / "book" / name).write_text((ROOT / "book" / name).read_text(encoding="utf-8"))
    return root


def test_the_stub_guard_runs_each_chapter_from_an_empty_namespace(tmp_path):
    # The guard runs every chapter's exercises in one kernel. A second chapter that lacks
    # the import of ``checks`` would find the first chapter's (the same module) without
    # the reset between chapters; with it, its checks fail with a NameError.
    root = _book_copy(tmp_path, "06_covariate_shift.md")
    text = (root / "book" / "06_covariate_shift.md").read_text(encoding="utf-8")
    wanted = "from lnbook.topics.covariate_shift import checks, experiments, figures, widgets"
    assert wanted in text
    again = text.replace(wanted, wanted.replace("checks, ", ""), 1).replace("ch06-ex", "again-ex")
    (root / "book" / "07_again.md").write_text(again, encoding="utf-8")
    with pytest.raises(editions.StubChanged) as e:
        editions.check_stubs(root)
    message = str(e.value)
    assert "Exercise 2.1 (again-ex-percentiles) in book/07_again.md" in message
    assert "NameError" in message and "book/06_covariate_shift.md" not in message


@pytest.mark.parametrize("edition", ["student", "nbgrader"])
def test_a_changed_stub_stops_the_classroom_editions_naming_the_exercise(edition, tmp_path):
    root = _book_copy(tmp_path, "06_covariate_shift.md")
    chapter = root / "book" / "06_covariate_shift.md"
    text = chapter.read_text(encoding="utf-8")
    stub = "def percentile_bands(h):\n    raise NotImplementedError\n"
    assert stub in text
    # A teacher's attempt, saved into the source by JupyterLab's autosave.
    chapter.write_text(text.replace(stub, "def percentile_bands(h):\n    return h\n", 1))
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "lnbook.book.editions", edition, str(out), "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    message = done.stderr
    assert "Exercise 1.1 (ch06-ex-percentiles) in book/06_covariate_shift.md" in message
    assert "Wrong" in message and "raise NotImplementedError" in message
    assert not out.exists(), "nothing is written when a stub is not a stub"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_reader_edition_is_the_executed_chapter_rendered_with_solutions_folded(
    path, executed_chapters
):
    text = path.read_text(encoding="utf-8")
    source = jupytext.read(path)
    nb = editions.reader_notebook(execution.executed_chapter(path), path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    # Plain Markdown with the executed numbers, as in the student edition.
    for raw in ("{glue", "{cite", "{ref}", "{numref}", ":::", "```{", ":label:", ")=\n"):
        assert raw not in markdown, f"{path.name}: {raw!r} left in the Markdown"
    assert "(computed in the chapter)" not in markdown
    # Build-only cells (glue, asserts) are gone; every other code cell is there, in order.
    wanted = [
        c.source
        for c in source.cells
        if c.cell_type == "code" and "remove-cell" not in c.metadata.get("tags", [])
    ]
    assert [c.source for c in code] == wanted
    assert not any("glue(" in c.source for c in code)
    # Outputs kept (figures and prints), widget views dropped (no kernel state to show).
    data = [o.get("data", {}) for c in code for o in c.outputs]
    assert any("application/vnd.plotly.v1+json" in d for d in data)
    assert not any("application/vnd.jupyter.widget-view+json" in d for d in data)
    # Setup folded as on the website.
    hidden = [c for c in code if "hide-input" in c.metadata.get("tags", [])]
    assert hidden and all(c.metadata["jupyter"]["source_hidden"] for c in hidden)
    # Each exercise: its numbered heading, the stub answering "not attempted yet", then a
    # collapsed heading "Solution to Exercise N.M" over solution cells whose source and
    # outputs are hidden; the next exercise's heading ends the fold.
    numbers = myst.exercise_numbers()
    labels = list(editions.solutions(text))
    for label in labels:
        n = numbers[label]
        (head,) = [c for c in nb.cells if c.source == f"#### Solution to Exercise {n}"]
        assert head.metadata["jp-MarkdownHeadingCollapsed"] is True
        i = nb.cells.index(head)
        stub = nb.cells[i - 1]
        assert stub.cell_type == "code" and "raise NotImplementedError" in stub.source
        assert "Not attempted yet" in _outputs_text(stub)
        assert f"### Exercise {n}: " in nb.cells[i - 2].source
        body = []
        for cell in nb.cells[i + 1 :]:
            if cell.cell_type == "markdown" and re.match(r"#{1,4} ", cell.source):
                break
            body.append(cell)
        solution_code = [c for c in body if c.cell_type == "code"]
        assert solution_code and ".assert_correct()" in solution_code[-1].source
        assert all("solution" in c.metadata["tags"] for c in body)
        for c in solution_code:
            assert c.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}
            assert "Correct" in _outputs_text(c)
    assert "notebook to read and run" in nb.cells[0].source and "Solution" in nb.cells[0].source


def test_reader_edition_writes_every_chapter_keeps_a_readers_edits_and_not_the_sources(
    tmp_path, executed_chapters, capsys
):
    before = {p: p.read_bytes() for p in (ROOT / "book").iterdir() if p.is_file()}
    written = editions.write_reader(tmp_path / "reader")
    assert [p.name for p in written] == [f"{p.stem}.ipynb" for p in CHAPTERS]
    for p in written:
        nbformat.validate(nbformat.read(p, as_version=4))
    assert {p: p.read_bytes() for p in (ROOT / "book").iterdir() if p.is_file()} == before
    # make lab again (--keep): a reader's saved work stays; only a missing notebook is
    # written. make reader (no keep) writes every one anew.
    edited, gone = written[0], written[1]
    edited.write_text(edited.read_text().replace("raise NotImplementedError", "return 42", 1))
    mine = edited.read_bytes()
    gone.unlink()
    editions.main(["reader", "--keep", str(tmp_path / "reader")])  # as make lab calls it
    assert capsys.readouterr().out.split() == [str(gone)]  # the one file written
    assert edited.read_bytes() == mine
    editions.write_reader(tmp_path / "reader")
    assert edited.read_bytes() != mine and "return 42" not in edited.read_text()


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_saving_a_chapter_in_jupyterlab_leaves_its_source_byte_identical(path, tmp_path):
    # JupyterLab opens a chapter through jupytext's contents manager and, once a kernel has
    # started, saves it with the kernelspec and language_info the kernel reports. The
    # repository's jupytext.toml and the headers' kernelspec make that save a no-op.
    import asyncio
    import concurrent.futures
    import shutil

    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
    from jupytext.async_contentsmanager import build_async_jupytext_contents_manager_class

    shutil.copytree(ROOT / "book", tmp_path / "book")
    shutil.copy(ROOT / "jupytext.toml", tmp_path)
    manager = build_async_jupytext_contents_manager_class(AsyncLargeFileManager)(
        root_dir=str(tmp_path)
    )
    name = f"book/{path.name}"

    async def open_and_save():
        model = await manager.get(name, type="notebook", content=True)
        nb = model["content"]
        spec = KernelSpecManager().get_kernel_spec("python3")  # the kernel Lab starts
        nb["metadata"]["kernelspec"] = {
            "display_name": spec.display_name,
            "language": spec.language,
            "name": "python3",
        }
        nb["metadata"]["language_info"] = {"name": "python", "version": sys.version.split()[0]}
        await manager.save({"type": "notebook", "format": "json", "content": nb}, name)

    # In a thread of its own: Playwright's sync API (the browser tests of this worker) may
    # hold an event loop in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, open_and_save()).result()
    assert (tmp_path / name).read_bytes() == path.read_bytes()


def test_cost_reports_the_kernels_peak_memory(tmp_path):
    # A kernel that touches 300 MB peaks above 300 MB, one that touches nothing far below.
    small = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    big = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("x = bytearray(300 * 2**20)\nx[::4096] = b'1' * 76800")]
    )
    (tmp_path / "a.md").write_text("")
    seconds, small_mb = execution.cost(small, tmp_path / "a.md")
    _, big_mb = execution.cost(big, tmp_path / "a.md")
    assert seconds > 0 and small_mb < 200 < 300 < big_mb
