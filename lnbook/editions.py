"""Classroom editions of the chapters, written from the MyST sources, never by hand.

- **Student edition** (``make student``): one ``.ipynb`` per chapter with every solution
  removed (from ``{solution-start}`` to ``{solution-end}``), the exercise stubs and their
  checks kept, and no outputs. Run in order, every cell executes and every check says
  "not attempted yet".
- **nbgrader source** (``make nbgrader``): an nbgrader course folder whose
  ``source/<chapter>/<chapter>.ipynb`` holds, for each exercise, an answer cell with the
  solution between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's
  ``generate_assignment`` replaces it with a stub) and a locked, autograded test cell that
  calls the exercise's checker with ``.assert_correct()`` (1 point).

Usage: ``python -m lnbook.editions student|nbgrader OUT_DIR``.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]

# A solution block of a chapter: from its start marker to the end marker's closing fence.
_SOLUTION = re.compile(
    r"^::::\{solution-start\} *(?P<label>\S+)\n.*?^::::\{solution-end\}\n::::\n", re.S | re.M
)
_STUB = "raise NotImplementedError"

NOTE = """\
*{title}*: the {edition} of a chapter of *Layer normalization, shown*, written from
`book/{name}.md` by `make {target}`. It needs the `lnbook` package: in a clone of the
repository run `make lab`, or `pip install -r requirements.txt -e .` and open it in Jupyter.
The exercises are at the end: replace each `raise NotImplementedError` with your answer and
run the cell; the check below it says what is right or wrong."""


def chapters(root: Path = ROOT) -> list[Path]:
    """The chapters' MyST sources, in reading order."""
    return sorted((root / "book").glob("[0-9][0-9]_*.md"))


def _title(text: str) -> str:
    match = re.search(r"^# (.+)$", text, re.M)
    return match.group(1) if match else "Untitled"


def _note_cell(path: Path, text: str, edition: str, target: str) -> nbformat.NotebookNode:
    note = NOTE.format(title=_title(text), edition=edition, name=path.stem, target=target)
    return nbformat.v4.new_markdown_cell(note)


def _read(text: str) -> nbformat.NotebookNode:
    nb = jupytext.reads(text, fmt="md:myst")
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def solutions(text: str) -> dict[str, str]:
    """Exercise label -> the code of its solution's last code cell (the one that checks)."""
    out = {}
    for match in _SOLUTION.finditer(text):
        code = [c.source for c in _read(match.group(0)).cells if c.cell_type == "code"]
        checked = [c for c in code if ".assert_correct()" in c]
        if not checked:
            raise ValueError(f"solution {match['label']} has no cell calling .assert_correct()")
        out[match["label"]] = checked[-1]
    return out


def student_notebook(path: Path) -> nbformat.NotebookNode:
    """The student edition of one chapter: no solutions, no outputs."""
    text = path.read_text(encoding="utf-8")
    nb = _read(_SOLUTION.sub("", text))
    nb.cells.insert(0, _note_cell(path, text, "student edition", "student"))
    return nb


def _answer_source(solution: str, stub: str) -> tuple[str, str]:
    """Split a solution cell into nbgrader's answer cell and test cell.

    The functions the stub defines keep their ``def`` line, their body goes between the
    solution markers; any other code of the solution is wrapped whole. The last line, the
    call to ``.assert_correct()``, becomes the test cell.
    """
    lines = solution.rstrip().splitlines()
    check = lines.pop()
    if ".assert_correct()" not in check:
        raise ValueError(f"a solution must end with its check, got {check!r}")
    stub_names = {
        n.name
        for n in ast.parse(stub).body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    out: list[str] = []
    pending: list[str] = []  # other code, wrapped as one solution region

    def flush() -> None:
        while pending and not pending[-1].strip():
            pending.pop()
        if pending:
            out.extend(["### BEGIN SOLUTION", *pending, "### END SOLUTION"])
            pending.clear()

    cursor = 0
    for node in ast.parse("\n".join(lines)).body:
        start = (
            node.decorator_list[0].lineno if getattr(node, "decorator_list", None) else node.lineno
        ) - 1
        pending.extend(lines[cursor:start])
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in stub_names:
            flush()
            if out:
                out.append("")
            body_start = node.body[0].lineno - 1
            indent = re.match(r"\s*", lines[body_start]).group(0)
            out.extend(lines[start:body_start])
            out.extend([f"{indent}### BEGIN SOLUTION", *lines[body_start : node.end_lineno]])
            out.append(f"{indent}### END SOLUTION")
        else:
            pending.extend(lines[start : node.end_lineno])
        cursor = node.end_lineno
    flush()
    return "\n".join(out).strip() + "\n", check.strip()


def nbgrader_notebook(path: Path) -> nbformat.NotebookNode:
    """One chapter as nbgrader source: answer cells with solutions, autograded checks."""
    text = path.read_text(encoding="utf-8")
    answers = solutions(text)
    nb = student_notebook(path)
    nb.cells[0] = _note_cell(path, text, "nbgrader source", "nbgrader")
    stubs = [c for c in nb.cells if c.cell_type == "code" and _STUB in c.source]
    if len(stubs) != len(answers):
        raise ValueError(
            f"{path.name}: {len(stubs)} exercise stubs but {len(answers)} solutions; each "
            "exercise needs one stub cell and one solution"
        )
    cells = []
    labels = iter(answers)
    for cell in nb.cells:
        if cell.cell_type == "code" and _STUB in cell.source:
            label = next(labels)
            answer, check = _answer_source(answers[label], cell.source)
            cells.append(_graded(nbformat.v4.new_code_cell(answer), f"{label}-answer", False))
            cells.append(_graded(nbformat.v4.new_code_cell(check), f"{label}-check", True))
        else:
            cells.append(cell)
    nb.cells = cells
    return nb


def _graded(cell: nbformat.NotebookNode, grade_id: str, test: bool) -> nbformat.NotebookNode:
    """nbgrader's metadata (schema 3): an answer cell, or a locked 1-point test cell."""
    cell.metadata["nbgrader"] = {
        "grade": test,
        "grade_id": grade_id,
        "locked": test,
        "schema_version": 3,
        "solution": not test,
        "task": False,
        **({"points": 1} if test else {}),
    }
    return cell


NBGRADER_CONFIG = """\
# nbgrader configuration of the lnbook course folder (written by `make nbgrader`).
c = get_config()  # noqa: F821
c.CourseDirectory.root = "."
c.CourseDirectory.course_id = "lnbook"
# The chapters train small models: give each cell time, on a modest machine.
c.ExecutePreprocessor.timeout = 300
"""


def write_student(out: Path, root: Path = ROOT) -> list[Path]:
    """Write the student edition of every chapter into ``out``; return the files."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in chapters(root):
        target = out / f"{path.stem}.ipynb"
        nbformat.write(student_notebook(path), target)
        written.append(target)
    return written


def write_nbgrader(out: Path, root: Path = ROOT) -> list[Path]:
    """Write an nbgrader course folder into ``out``: one assignment per chapter."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "nbgrader_config.py").write_text(NBGRADER_CONFIG, encoding="utf-8")
    written = []
    for path in chapters(root):
        folder = out / "source" / path.stem
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{path.stem}.ipynb"
        nbformat.write(nbgrader_notebook(path), target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("student", "nbgrader"):
        raise SystemExit("usage: python -m lnbook.editions student|nbgrader OUT_DIR")
    write = write_student if args[0] == "student" else write_nbgrader
    for path in write(Path(args[1])):
        print(path)


if __name__ == "__main__":
    main()
