"""The classroom editions: the student notebooks run as handed out, and nbgrader's own
commands accept the nbgrader export and grade it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from lnbook import editions
from lnbook.sphinxext import executed_notebook, execution_cache_dir

ROOT = Path(__file__).resolve().parents[1]

CHAPTERS = editions.chapters()
IDS = [p.stem for p in CHAPTERS]


def _outputs_text(cell) -> str:
    parts = []
    for o in cell.get("outputs", []):
        parts.append(o.get("text", ""))
        parts.extend(str(v) for v in o.get("data", {}).values())
    return "\n".join(parts)


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
    assert markdown.count("**Exercise: ") == n_exercises


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_student_edition_is_plain_markdown_with_the_executed_numbers(path, executed_chapters):
    # Jupyter renders CommonMark: no MyST role or directive may reach the student.
    nb = editions.student_notebook(path)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for raw in ("{glue", "{cite", "{ref}", ":::", "```{", ":label:", ":class:", ")=\n"):
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
    assert wanted <= set(editions.glue_values(executed))


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
        "See {ref}`sec-a`, {ref}`that part <sec-a>` and {ref}`unknown`.\n"
        "As {cite:t}`k1` showed {cite:p}`k1,k2`.\n\n"
        ":::{exercise} Do it\n:label: ex-1\n\nWrite `f`.\n:::\n\n"
        ":::{admonition} Working the exercises\n:class: note\nOn the website...\n:::\n\n"
        "::::{solution-start} ex-1\n:class: dropdown\n::::\n\n"
        "```{literalinclude} mod.py\n:pyobject: A.f\n:language: python\n```\n"
    )
    out = editions.plain_markdown(
        text,
        {"v": 0.123456, "n": 7, "rates": "0.1, 0.3"},
        {"sec-a": "Title"},
        {"k1": ("Ba et al.", "2016"), "k2": ("Ioffe and Szegedy", "2015")},
        tmp_path,
    )
    assert "(sec-a)=" not in out and "## Title" in out
    assert "Value 0.12, count 7, list 0.1, 0.3, missing (computed in the chapter)." in out
    assert "See Title, that part and unknown." in out
    assert "As Ba et al. (2016) showed (Ba et al., 2016; Ioffe and Szegedy, 2015)." in out
    assert "**Exercise: Do it**\n\nWrite `f`." in out and ":label:" not in out
    assert "Working the exercises" not in out and "On the website" not in out
    assert "**Solution**" in out
    assert "```python\ndef f(self):\n    return 1\n```" in out and "def g" not in out


@pytest.mark.chapter
@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_student_edition_runs_in_order_and_every_check_is_not_attempted(path, run_dir, monkeypatch):
    # The training runs are the chapter's own calls: where the chapter test (earlier in this
    # run) kept their results, the student notebook gets them instead of training again.
    monkeypatch.setenv("LNBOOK_RESULTS", f"reuse:{run_dir / 'results'}")
    nb = editions.student_notebook(path)
    NotebookClient(
        nb,
        timeout=600,  # a hang guard, not a speed test (a busy machine is slow)
        kernel_name="python3",
        store_widget_state=False,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    stubs = [
        c for c in nb.cells if c.cell_type == "code" and "raise NotImplementedError" in c.source
    ]
    for cell in stubs:
        assert "Not attempted yet" in _outputs_text(cell), cell.source


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


def _nbgrader(course: Path, *args: str) -> None:
    # nbgrader runs its helpers (alembic) from PATH: the project environment's bin first.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("nbgrader")), *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.chapter
def test_nbgrader_generates_and_autogrades_the_export(tmp_path):
    from nbgrader.api import Gradebook

    course = tmp_path / "course"
    editions.write_nbgrader(course)
    name = CHAPTERS[0].stem
    _nbgrader(course, "generate_assignment", name, "--force")
    release = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
    answers = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert answers and all("raise NotImplementedError()" in c.source for c in answers)
    assert all("### BEGIN SOLUTION" not in c.source for c in release.cells)

    # A correct submission: the solutions, typed in; a wrong one: the stubs handed back.
    source = nbformat.read(course / "source" / name / f"{name}.ipynb", as_version=4)
    solved = {
        c.metadata.nbgrader["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    correct = nbformat.from_dict(release)
    for c in correct.cells:
        grade_id = c.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solved:
            c.source = "\n".join(x for x in solved[grade_id].splitlines() if "### " not in x)
    for student, nb in (("right", correct), ("stub", release)):
        folder = course / "submitted" / student / name
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{name}.ipynb")
    _nbgrader(course, "autograde", name, "--create")

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        right = gb.find_submission(name, "right")
        stub = gb.find_submission(name, "stub")
        assert right.max_score == len(answers) == 3
        assert right.score == right.max_score
        assert stub.score == 0
