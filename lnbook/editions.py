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
import textwrap
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]

# A solution block of a chapter: from its start marker to the end marker's closing fence.
_SOLUTION = re.compile(
    r"^::::\{solution-start\} *(?P<label>\S+)\n.*?^::::\{solution-end\}\n::::\n", re.S | re.M
)
_STUB = "raise NotImplementedError"

NOTES = {
    "student": """\
**{title}**: a chapter of *Layer normalization, shown*, as a notebook for students (written
from `book/{name}.md` by `make student`; the solutions are on the book's website).

It needs the `lnbook` package. In a clone of the repository: `make lab DIR=_build/student`
(it installs everything and opens these notebooks), or
`pip install -r requirements.txt -e .` and any Jupyter. Run the cells in order. The
exercises are at the end: replace each `raise NotImplementedError` with your answer and run
the cell; the check in the same cell says what is right or wrong.""",
    "nbgrader": """\
**{title}**: a chapter of *Layer normalization, shown*, as a graded assignment.

Run the cells in order. The exercises are at the end: write your answer where a cell says
`# YOUR CODE HERE` (replacing `raise NotImplementedError()`), run it, then run the test cell
after it: it prints "✔ Correct." or explains what is wrong. Each test cell is worth one
point. The notebook needs the `lnbook` package (`pip install -r requirements.txt -e .` in a
clone of the book's repository).""",
}


# ----------------------------------------------------------- MyST -> plain Markdown ----
# Jupyter, Colab and VS Code render CommonMark, not MyST: in the editions, roles and
# directives become what the website shows, and glued numbers their executed values.

_ROLE = re.compile(r"\{(glue:text|glue:md|glue|cite:p|cite:t|ref)\}`([^`]*)`")
_FENCE = re.compile(
    r"^(?P<colons>:{3,})\{(?P<name>[\w-]+)\}[ \t]*(?P<arg>[^\n]*)\n(?P<opts>(?::[\w-]+:[^\n]*\n)*)"
    r"(?P<body>.*?)^(?P=colons)[ \t]*$\n?",
    re.M | re.S,
)
_INCLUDE = re.compile(
    r"^```\{literalinclude\}[ \t]*(?P<path>\S+)\n(?P<opts>(?::[\w-]+:.*\n)*)```[ \t]*$",
    re.M,
)


def _options(block: str) -> dict[str, str]:
    return {k: v.strip() for k, v in re.findall(r"^:([\w-]+):(.*)$", block, re.M)}


def labels(root: Path = ROOT) -> dict[str, str]:
    """Every cross-reference label of the book -> the title it stands for."""
    out = {"bibliography": "the bibliography"}
    for path in sorted((root / "book").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for label, title in re.findall(r"^\(([\w-]+)\)=\n#+ (.+)$", text, re.M):
            out[label] = title
        for title, label in re.findall(r"^:{3,}\{exercise\} (.+)\n:label: (\S+)", text, re.M):
            out[label] = f"the exercise “{title}”"
    return out


def citations(bib: Path = ROOT / "book" / "references.bib") -> dict[str, tuple[str, str]]:
    """BibTeX key -> (authors as cited, year): "Ba et al.", "Ioffe and Szegedy"."""
    out: dict[str, tuple[str, str]] = {}
    if not bib.is_file():
        return out
    for key, body in re.findall(r"@\w+\{([\w-]+),(.*?)\n\}", bib.read_text(), re.S):
        fields = dict(re.findall(r"(\w+)\s*=\s*\{(.*?)\},?\s*$", body, re.M))
        names = [n.split(",")[0].strip(" {}") for n in fields.get("author", key).split(" and ")]
        who = (
            names[0]
            if len(names) == 1
            else (f"{names[0]} and {names[1]}" if len(names) == 2 else f"{names[0]} et al.")
        )
        out[key] = (who.replace("{", "").replace("}", ""), fields.get("year", ""))
    return out


def glue_values(nb) -> dict[str, object]:
    """The values a chapter glued (``myst_nb.glue``), from its executed notebook."""
    out = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            book = o.get("metadata", {}).get("scrapbook", {})
            name, prefix = book.get("name"), book.get("mime_prefix", "")
            if name is None:
                continue
            # glue(..., display=False) stores its mime types under a papermill prefix.
            data = {k.removeprefix(prefix): v for k, v in o.get("data", {}).items()}
            if "text/markdown" in data:
                out[name] = data["text/markdown"]
            else:
                try:
                    out[name] = ast.literal_eval(data.get("text/plain", ""))
                except (ValueError, SyntaxError):
                    out[name] = data.get("text/plain", "")
    return out


def _include(match: re.Match, book: Path) -> str:
    """A ``{literalinclude}`` of package code, as the code itself in a Python block."""
    opts = _options(match["opts"])
    lines = (book / match["path"]).read_text(encoding="utf-8").splitlines()
    if "pyobject" in opts:
        node: ast.AST = ast.parse("\n".join(lines))
        for part in opts["pyobject"].split("."):
            node = next(n for n in ast.iter_child_nodes(node) if getattr(n, "name", None) == part)
        start = (node.decorator_list[0] if node.decorator_list else node).lineno
        lines = lines[start - 1 : node.end_lineno]
    if "start-at" in opts:
        lines = lines[next(i for i, x in enumerate(lines) if opts["start-at"] in x) :]
    if "end-before" in opts:
        lines = lines[: next(i for i, x in enumerate(lines) if opts["end-before"] in x)]
    code = textwrap.dedent("\n".join(lines)).strip("\n")
    return f"```python\n{code}\n```"


def plain_markdown(text: str, glued: dict, refs: dict, cites: dict, book: Path) -> str:
    """One Markdown cell of a chapter, with its MyST rendered as plain Markdown."""

    def role(m: re.Match) -> str:
        kind, arg = m[1], m[2]
        if kind.startswith("glue"):
            name, _, spec = arg.partition(":")
            if name not in glued:
                return "(computed in the chapter)"
            value = glued[name]
            return format(value, spec) if spec and not isinstance(value, str) else str(value)
        if kind == "ref":
            shown = re.fullmatch(r"(.+?)\s*<([\w-]+)>", arg)
            return shown[1] if shown else refs.get(arg, arg)
        keys = [k.strip() for k in arg.split(",")]
        cited = [cites.get(k, (k, "")) for k in keys]
        if kind == "cite:t":
            return "; ".join(f"{who} ({year})" for who, year in cited)
        return "(" + "; ".join(f"{who}, {year}" for who, year in cited) + ")"

    def fence(m: re.Match) -> str:
        body = plain_markdown(m["body"], glued, refs, cites, book).strip()
        title = m["arg"].strip()
        if m["name"] == "admonition" and title == "Working the exercises":
            return ""  # the edition's first cell says how to work them here
        if m["name"] == "solution-start":  # the reader's notebook keeps the solutions
            return "**Solution**\n"
        if m["name"] == "solution-end":
            return ""
        head = f"Exercise: {title}" if m["name"] == "exercise" else title or m["name"].title()
        return f"**{head}**\n\n{body}\n"

    text = _INCLUDE.sub(lambda m: _include(m, book), text)
    text = _FENCE.sub(fence, text)
    text = re.sub(r"^\([\w-]+\)=[ \t]*\n", "", text, flags=re.M)  # label targets
    return _ROLE.sub(role, text)


def chapters(root: Path = ROOT) -> list[Path]:
    """The chapters' MyST sources, in reading order."""
    return sorted((root / "book").glob("[0-9][0-9]_*.md"))


def _title(text: str) -> str:
    match = re.search(r"^# (.+)$", text, re.M)
    return match.group(1) if match else "Untitled"


def _note_cell(path: Path, text: str, edition: str) -> nbformat.NotebookNode:
    note = NOTES[edition].format(title=_title(text), name=path.stem)
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


def reader_notebook(executed: nbformat.NotebookNode, path: Path) -> nbformat.NotebookNode:
    """The website's download of a chapter: the executed notebook, solutions and outputs
    included, with its Markdown made plain (numbers from its own glued outputs)."""
    root = path.resolve().parents[1]
    nb = nbformat.from_dict(executed)
    glued = glue_values(nb)
    refs, cites = labels(root), citations(root / "book" / "references.bib")
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = plain_markdown(cell.source, glued, refs, cites, path.parent).strip()
    nb.cells = [c for c in nb.cells if c.cell_type != "markdown" or c.source]
    return nb


def student_notebook(path: Path, cache_path: Path | None = None) -> nbformat.NotebookNode:
    """The student edition of one chapter: no solutions, no outputs, plain Markdown.

    ``cache_path``: the execution cache whose run of the chapter supplies the glued numbers
    of the prose (default: the build's, see :mod:`lnbook.sphinxext`); a number not found
    there reads "(computed in the chapter)".
    """
    from .sphinxext import executed_notebook, execution_cache_dir

    root = path.resolve().parents[1]
    cache = execution_cache_dir(root) if cache_path is None else cache_path
    executed = executed_notebook(path, cache)
    glued = glue_values(executed) if executed is not None else {}
    refs, cites = labels(root), citations(root / "book" / "references.bib")
    text = path.read_text(encoding="utf-8")
    nb = _read(_SOLUTION.sub("", text))
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = plain_markdown(cell.source, glued, refs, cites, path.parent).strip()
    nb.cells = [c for c in nb.cells if c.cell_type != "markdown" or c.source]
    nb.cells.insert(0, _note_cell(path, text, "student"))
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
    """One chapter as nbgrader source: answer cells with solutions, autograded checks."""
    text = path.read_text(encoding="utf-8")
    answers = solutions(text)
    nb = student_notebook(path)
    nb.cells[0] = _note_cell(path, text, "nbgrader")
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
