"""Editions of the chapters as Jupyter notebooks, written from the MyST sources, never by hand.

Jupyter, Colab and VS Code render CommonMark, not MyST: in every edition, roles and
directives become what the website shows, glued numbers their executed values, included
package code the code itself, and exercises numbered headings ("Exercise 1.2: ...").

- **Reader edition** (``make lab``, Binder, the website's *.ipynb* download): the executed
  chapter with its outputs; build-only cells (``remove-cell``: glue, asserts) dropped;
  ``hide-input`` cells folded; each solution under a folded "Solution" heading, its cells'
  source and outputs hidden. Opening it never touches ``book/``.
- **Student edition** (``make student``): the chapter without solutions and outputs. Run in
  order, every cell executes and every check says "not attempted yet".
- **Exercise notebook** (the nbgrader assignment, ``make nbgrader``): the chapter's setup
  cell and its exercises only, so autograding runs the exercises, not the chapter's
  training runs. In nbgrader's source each exercise has an answer cell, the solution
  between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, and a locked, autograded test
  cell that prints the checker's verdict and fails when it is wrong (1 point).

Student and nbgrader editions refuse to be written while an exercise stub is not a stub
(its check must answer "not attempted yet"): a teacher's attempt saved into ``book/`` would
otherwise be handed out.

Usage: ``python -m lnbook.book.editions reader|student|nbgrader OUT_DIR`` (``reader --keep``
leaves the notebooks already there alone); ``... check`` runs the stub guard alone; ``... costs``
prints what running each chapter and grading its assignment take (seconds, peak memory).
"""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

import jupytext
import nbformat

from ..checking import NOT_ATTEMPTED as _NOT_ATTEMPTED
from . import execution
from .execution import cost, execute, executed_chapter, executed_notebook, execution_cache_dir
from .myst import (
    _EXERCISE,
    ROOT,
    chapters,
    citations,
    exercise_numbers,
    glue_values,
    labels,
    plain_markdown,
)

# A solution block of a chapter: from its start marker to the end marker's closing fence.
_SOLUTION = re.compile(
    r"^::::\{solution-start\} *(?P<label>\S+)\n.*?^::::\{solution-end\}\n::::\n", re.S | re.M
)
# One solution marker with its options and closing fence (markers hold no content).
_MARKER = re.compile(
    r"^::::\{solution-(?P<kind>start|end)\}[ \t]*(?P<label>\S*)\n"
    r"(?::[\w-]+:[^\n]*\n)*::::[ \t]*$\n?",
    re.M,
)
_STUB = "raise NotImplementedError"
# How a checker's verdict on a stub reads ("✎ Not attempted yet. ...").
NOT_ATTEMPTED = _NOT_ATTEMPTED.capitalize()

NOTES = {
    "reader": """\
**{title}**: a chapter of *Layer normalization, shown*, as a notebook to read and run
(written from `book/{name}.md`; the outputs and the numbers in the text are from the
book's executed run). Rerun any cell, change anything: this copy is yours, and the book's
sources are not touched.

Folded cells (**⋯**) hold setup code; click to show them. Cells that call `widgets.…` give
live controls once you run them (run the setup cells at the top first). Each exercise's solution
is folded under its *Solution* heading: click "cells hidden" below the heading to unfold it.
Running a solution cell replaces your answer's function with the book's.""",
    "student": """\
**{title}**: a chapter of *Layer normalization, shown*, as a notebook for students (written
from `book/{name}.md` by `make student`; the solutions are on the book's website).

It needs the `lnbook` package. In a clone of the repository: `make lab DIR=_build/student`
(it installs everything and opens these notebooks), or
`pip install -r requirements.txt -e .` and any Jupyter. Run the cells in order. The
exercises are at the end: replace each `raise NotImplementedError` with your answer and run
the cell; the check in the same cell says what is right or wrong.""",
    "nbgrader": """\
**Exercises of chapter {number}, {title}**: a graded assignment from *Layer normalization,
shown*. The chapter itself (text, figures, experiments) is in the book and in its reader
and student notebooks; this notebook holds its exercises only.

Run the code cells at the top (the imports), then work the exercises: write your answer where a
cell says `# YOUR CODE HERE` (replacing `raise NotImplementedError()`), run it, then run
the test cell after it: it prints "✔ Correct." or explains what is wrong. Each test cell is
worth one point. Keep the file's name when you hand it in. The notebook needs the `lnbook`
package (`pip install -r requirements.txt -e .` in a clone of the book's repository).""",
}


# ------------------------------------------------------------------------ sources ----


def _title(text: str) -> str:
    match = re.search(r"^# (.+)$", text, re.M)
    return match.group(1) if match else "Untitled"


def _note_cell(path: Path, text: str, edition: str) -> nbformat.NotebookNode:
    # The chapter's number (the nbgrader note names it); a notebook page that is not a
    # chapter has none.
    book = [p.resolve() for p in chapters(path.resolve().parents[1])]
    number = book.index(path.resolve()) + 1 if path.resolve() in book else ""
    note = NOTES[edition].format(title=_title(text), name=path.stem, number=number)
    return nbformat.v4.new_markdown_cell(note)


def _read(text: str) -> nbformat.NotebookNode:
    nb = jupytext.reads(text, fmt="md:myst")
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


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


def exercise_text(text: str) -> str:
    """A chapter's MyST source cut to what its exercises need: the jupytext header, the
    setup (the first code cell, the imports, with the code cells right after it: a chapter
    imports torch in a cell of its own, tagged ``needs-torch``, which the in-browser edition
    marks) and the "## Exercises" section.

    Every exercise and solution of the book uses only the names the setup imports
    (``tests/test_editions.py`` executes every exercise notebook), so grading runs none
    of the chapter's experiments.
    """
    header = re.match(r"---\n.*?\n---\n", text, re.S)
    cell = r"^```\{code-cell\}.*?^```[ \t]*$"
    setup = re.search(rf"{cell}(?:\s*{cell})*", text, re.S | re.M)
    start = re.search(r"^## Exercises[ \t]*$", text, re.M)
    if not (header and setup and start):
        raise ValueError("a chapter needs a jupytext header, a first code cell and '## Exercises'")
    end = re.search(r"^## ", text[start.end() :], re.M)
    section = text[start.start() : start.end() + end.start() if end else len(text)]
    return f"{header[0]}\n{setup[0]}\n\n{section.rstrip()}\n"


# ------------------------------------------------------------------------ editions ----


class _Context:
    """What rendering a chapter's Markdown needs: its glued values and the book's labels,
    citations and exercise numbers."""

    def __init__(self, path: Path, glued: dict):
        root = path.resolve().parents[1]
        self.path, self.glued = path, glued
        self.refs, self.numbers = labels(root), exercise_numbers(root)
        self.cites = citations(root / "book" / "references.bib")

    def markdown(self, source: str) -> str:
        return plain_markdown(
            source, self.glued, self.refs, self.cites, self.path.parent, self.numbers
        ).strip()


def _plain(nb: nbformat.NotebookNode, ctx: _Context) -> nbformat.NotebookNode:
    """Render every Markdown cell; drop the cells left empty and the build-only cells."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = ctx.markdown(cell.source)
    nb.cells = [
        c
        for c in nb.cells
        if not (c.cell_type == "markdown" and not c.source) and "remove-cell" not in _tags(c)
    ]
    return nb


def _split_at_markers(nb: nbformat.NotebookNode) -> list[tuple[str, object]]:
    """The cells as a stream of ("cell", cell) and ("start", label) / ("end", label)
    events: a Markdown cell holding solution markers is cut at each of them."""
    events: list[tuple[str, object]] = []
    for cell in nb.cells:
        if cell.cell_type != "markdown" or "{solution-" not in cell.source:
            events.append(("cell", cell))
            continue
        pos = 0
        for m in _MARKER.finditer(cell.source):
            if cell.source[pos : m.start()].strip():
                events.append(("cell", nbformat.v4.new_markdown_cell(cell.source[pos : m.start()])))
            events.append((m["kind"], m["label"]))
            pos = m.end()
        if cell.source[pos:].strip():
            events.append(("cell", nbformat.v4.new_markdown_cell(cell.source[pos:])))
    return events


def _fold_solutions(nb: nbformat.NotebookNode, numbers: dict[str, str]) -> None:
    """Put each solution under a collapsed "#### Solution to Exercise N.M" heading
    (JupyterLab folds everything up to the next exercise's "###" heading) and hide its
    code cells' source and outputs, for viewers that fold no headings."""
    cells, inside = [], False
    for kind, item in _split_at_markers(nb):
        if kind == "start":
            number = numbers.get(item, "")
            heading = nbformat.v4.new_markdown_cell(f"#### Solution to Exercise {number}".strip())
            heading.metadata.update({"jp-MarkdownHeadingCollapsed": True, "tags": ["solution"]})
            cells.append(heading)
            inside = True
        elif kind == "end":
            inside = False
        else:
            if inside:
                item.metadata.setdefault("tags", []).append("solution")
                if item.cell_type == "code":
                    item.metadata["jupyter"] = {"source_hidden": True, "outputs_hidden": True}
            cells.append(item)
    nb.cells = cells


_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _live_only(output) -> bool:
    """An output that only a live kernel can show: a widget's view (its state is not kept)."""
    return _WIDGET_VIEW in output.get("data", {})


def reader_notebook(executed: nbformat.NotebookNode, path: Path) -> nbformat.NotebookNode:
    """The reader edition of a chapter, from its executed notebook (see the module's doc).

    Parameters
    ----------
    executed : the chapter as executed (:func:`executed_chapter`), outputs included
    path : the chapter's MyST source, ``book/NN_name.md``
    """
    nb = copy.deepcopy(nbformat.from_dict(executed))
    # Widget state a build's execution saved (megabytes: plotly's FigureWidgets) shows
    # nothing without a live kernel, and every reader would download it.
    nb.metadata.pop("widgets", None)
    ctx = _Context(path, glue_values(nb))
    _fold_solutions(nb, ctx.numbers)
    _plain(nb, ctx)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = _tags(cell)
        hidden = cell.metadata.setdefault("jupyter", {})
        if "hide-input" in tags or "remove-input" in tags:
            hidden["source_hidden"] = True
        if not hidden:
            del cell.metadata["jupyter"]
        # The website leaves these outputs out (the live explorers); here the cell stays
        # runnable, and what it shows when run must not be folded away.
        keep = "remove-output" not in tags
        cell.outputs = [o for o in cell.get("outputs", []) if keep and not _live_only(o)]
    text = path.read_text(encoding="utf-8")
    nb.cells.insert(0, _note_cell(path, text, "reader"))
    return nb


def student_notebook(
    path: Path, executed: nbformat.NotebookNode | None = None
) -> nbformat.NotebookNode:
    """The student edition of one chapter: no solutions, no outputs, plain Markdown.

    ``executed``: the chapter's executed run, whose glued values are the numbers of the
    prose (default: what the execution cache holds, executing nothing); a number not found
    there reads "(computed in the chapter)".
    """
    if executed is None:
        executed = executed_notebook(path, execution_cache_dir(path.resolve().parents[1]))
    ctx = _Context(path, glue_values(executed))
    text = path.read_text(encoding="utf-8")
    nb = _plain(_read(_SOLUTION.sub("", text)), ctx)
    nb.cells.insert(0, _note_cell(path, text, "student"))
    return nb


def exercise_notebook(path: Path) -> nbformat.NotebookNode:
    """A chapter's exercises as handed out: the imports, each exercise with its stub and
    check, no solutions, plain Markdown (no glued numbers: the exercises quote none)."""
    text = path.read_text(encoding="utf-8")
    return _plain(_read(_SOLUTION.sub("", exercise_text(text))), _Context(path, {}))


def _stub_cells(nb: nbformat.NotebookNode, text: str) -> list[tuple[str, nbformat.NotebookNode]]:
    """(exercise label, its stub cell: the first code cell after the exercise), in order."""
    found = [m["label"] for m in _EXERCISE.finditer(text)]
    out, waiting = [], iter(found)
    numbered = re.compile(r"^### Exercise ", re.M)
    pending = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            pending += len(numbered.findall(cell.source))
        elif pending:
            out.append((next(waiting), cell))
            pending = 0
    if len(out) != len(found):
        raise ValueError(f"{len(found)} exercises but {len(out)} stub cells after them")
    return out


def costs(root: Path = ROOT) -> list[dict]:
    """Per chapter: the cost of running the whole chapter and of grading its assignment
    (the nbgrader source with the solutions typed in), as :func:`cost` measures them."""
    rows = []
    for path in chapters(root):
        graded = typed_in(nbgrader_notebook(path))
        chapter = cost(jupytext.read(path, fmt="md:myst"), path)
        grading = cost(graded, path)
        rows.append({"chapter": path.stem, "run": chapter, "grade": grading})
        print(
            f"{path.stem:28} chapter {chapter[0]:5.1f} s {chapter[1]:5.0f} MB   "
            f"assignment {grading[0]:4.1f} s {grading[1]:4.0f} MB",
            flush=True,
        )
    return rows


class StubChanged(ValueError):
    """An exercise's stub answers its check: the source holds someone's attempt."""


def check_stubs(root: Path = ROOT) -> None:
    """Refuse to hand out a chapter whose exercise stub is not a stub any more.

    Runs each chapter's exercise notebook (imports and exercises, not the chapter), all in
    one kernel (its start costs more than a chapter's exercises), each from a fresh start
    (:func:`execution.fresh_start`: one that misses an import still fails); every check must
    answer "not attempted yet", or :class:`StubChanged` names each that does not.
    """
    numbers, problems = exercise_numbers(root), []
    books = [(path, exercise_notebook(path)) for path in chapters(root)]
    together, new_cell = nbformat.v4.new_notebook(), nbformat.v4.new_code_cell
    for path, nb in books:  # the chapters' own cells: their outputs are read below
        together.cells += [new_cell(execution.fresh_start(path.resolve().parent)), *nb.cells]
    execute(together, books[0][0] if books else root / "book", allow_errors=True)
    for path, nb in books:
        for label, cell in _stub_cells(nb, path.read_text(encoding="utf-8")):
            shown = _outputs_text(cell)
            if NOT_ATTEMPTED not in shown:
                said = shown.strip().splitlines()[-1] if shown.strip() else "nothing"
                problems.append(
                    f"- Exercise {numbers[label]} ({label}) in book/{path.name}: its check "
                    f"answered {said[:200]!r}"
                )
    if problems:
        raise StubChanged(
            "These exercise stubs are not stubs any more, so the edition would hand out an "
            "attempt instead of the exercise:\n" + "\n".join(problems) + "\nRestore each "
            "stub's `raise NotImplementedError` (`git diff book/` shows what changed; "
            "`git checkout book/` restores the committed chapters), then run this again."
        )


def _outputs_text(cell) -> str:
    parts = []
    for o in cell.get("outputs", []):
        parts.append(o.get("text", ""))
        parts.append(str(o.get("data", {}).get("text/plain", "")))
        parts.extend(o.get("traceback", [])[-1:] if o.get("output_type") == "error" else [])
    return "\n".join(p for p in parts if p)


# ------------------------------------------------------------------------ nbgrader ----


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
    stubs = {
        n.name: n
        for n in ast.parse(stub).body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    stub_lines = stub.splitlines()
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
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in stubs:
            flush()
            if out:
                out.append("")
            body_start = node.body[0].lineno - 1
            indent = re.match(r"\s*", lines[body_start]).group(0)
            out.extend(lines[start:body_start])
            # The stub's hints (say, the dict of questions to answer) stay, as comments.
            given = stubs[node.name]
            hints = stub_lines[given.body[0].lineno - 1 : given.end_lineno]
            out.extend(f"{indent}# {h.strip()}" for h in hints if h.strip() and _STUB not in h)
            out.extend([f"{indent}### BEGIN SOLUTION", *lines[body_start : node.end_lineno]])
            out.append(f"{indent}### END SOLUTION")
        else:
            pending.extend(lines[start : node.end_lineno])
        cursor = node.end_lineno
    flush()
    # The verdict is printed, not returned: nbgrader would try to read a returned value as
    # a partial score.
    return "\n".join(out).strip() + "\n", f"print({check.strip()})"


def nbgrader_notebook(path: Path) -> nbformat.NotebookNode:
    """One chapter's exercises as nbgrader source: answer cells with solutions, locked
    autograded checks (the chapter's experiments are not part of it)."""
    text = path.read_text(encoding="utf-8")
    answers = solutions(text)
    nb = exercise_notebook(path)
    stubs = dict((id(cell), label) for label, cell in _stub_cells(nb, text))
    if set(stubs.values()) != set(answers):
        raise ValueError(
            f"{path.name}: exercises {sorted(stubs.values())} but solutions {sorted(answers)}; "
            "each exercise needs one stub cell and one solution"
        )
    cells = [_note_cell(path, text, "nbgrader")]
    for cell in nb.cells:
        label = stubs.get(id(cell))
        if label is None:
            cells.append(cell)
            continue
        answer, check = _answer_source(answers[label], cell.source)
        cells.append(_graded(nbformat.v4.new_code_cell(answer), f"{label}-answer", False))
        cells.append(_graded(nbformat.v4.new_code_cell(check), f"{label}-check", True))
    nb.cells = cells
    return nb


def typed_in(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """An nbgrader source notebook as a student who typed in every solution hands it in:
    its solution markers (``### BEGIN SOLUTION`` lines) gone, in place."""
    for cell in nb.cells:
        cell.source = "\n".join(x for x in cell.source.splitlines() if "### " not in x)
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
c.CourseDirectory.course_id = "lnbook"
# An assignment runs its imports and exercises only; a cell that takes a minute is stuck.
c.ExecutePreprocessor.timeout = 60
"""


# -------------------------------------------------------------------------- writers ----


def _source_digest(path: Path, root: Path) -> str:
    """What a reader notebook is written from: the chapter's text and the package source
    and pins its run used (the execution cache's key)."""
    import hashlib

    text = path.read_bytes() + execution_cache_dir(root).name.encode()
    return hashlib.sha256(text).hexdigest()[:16]


def write_reader(out: Path, root: Path = ROOT, keep: bool = False) -> list[Path]:
    """Write the reader edition of every chapter into ``out`` (executing the chapters the
    execution cache lacks); return the files written.

    ``keep``: leave a reader notebook that is already there alone (a reader's edits are
    theirs: ``make lab`` writes only the missing ones) and say which of them are older
    than their chapter (``make reader`` writes them anew).
    """
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in chapters(root):
        target, digest = out / f"{path.stem}.ipynb", _source_digest(path, root)
        if keep and target.exists():
            kept = nbformat.read(target, as_version=4).metadata.get("lnbook", {})
            if kept.get("source_digest") != digest:
                print(
                    f"{target}: kept, though book/{path.name} or the package changed since "
                    "it was written (`make reader` writes it anew; your changes to it go)."
                )
            continue
        nb = reader_notebook(executed_chapter(path, root), path)
        nb.metadata["lnbook"] = {"edition": "reader", "source_digest": digest}
        nbformat.write(nb, target)
        written.append(target)
    return written


def write_student(out: Path, root: Path = ROOT) -> list[Path]:
    """Write the student edition of every chapter into ``out``; return the files.

    The stubs are checked first (:func:`check_stubs`); the prose's numbers come from the
    chapters' executed runs (executed now where the execution cache lacks them).
    """
    check_stubs(root)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in chapters(root):
        target = out / f"{path.stem}.ipynb"
        nbformat.write(student_notebook(path, executed_chapter(path, root)), target)
        written.append(target)
    return written


def write_nbgrader(out: Path, root: Path = ROOT) -> list[Path]:
    """Write an nbgrader course folder into ``out``: one assignment per chapter."""
    check_stubs(root)
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


WRITERS = {"reader": write_reader, "student": write_student, "nbgrader": write_nbgrader}


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m lnbook.book.editions", description="Write an edition of the chapters."
    )
    parser.add_argument("edition", choices=[*WRITERS, "check", "costs"])
    parser.add_argument("out", type=Path, nargs="?", help="the folder to write the notebooks into")
    root_help = "the book's repository (default: this one)"
    parser.add_argument("--root", type=Path, default=ROOT, help=root_help)
    keep_help = "reader: leave the notebooks already in OUT alone (make lab)"
    parser.add_argument("--keep", action="store_true", help=keep_help)
    args = parser.parse_intermixed_args(argv)  # options before or after OUT
    root = args.root.resolve()
    if args.edition == "costs":  # seconds and kernel memory, chapter by chapter
        costs(root)
        return
    if args.edition != "check" and args.out is None:
        parser.error("OUT is needed to write an edition")
    try:
        if args.edition == "check":  # every stub a stub?
            check_stubs(root)
            print("Every exercise stub is a stub: its check answers 'not attempted yet'.")
            return
        extra = {"keep": True} if args.keep and args.edition == "reader" else {}
        written = WRITERS[args.edition](args.out, root, **extra)
    except StubChanged as e:
        raise SystemExit(f"lnbook.book.editions {args.edition}: {e}") from None
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
