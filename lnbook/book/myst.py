"""The book's MyST sources, read: the chapters in order, their labels, exercise numbers and
citations, and MyST Markdown made plain CommonMark (what Jupyter, Colab and VS Code render).

Every edition (:mod:`lnbook.book.editions`) and the in-browser edition read the chapters
through these functions, so a role or directive renders the same way in all of them.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


_EXERCISE = re.compile(r"^:{3,}\{exercise\} *(?P<title>.+)\n:label: *(?P<label>\S+)", re.M)


_ROLE = re.compile(r"\{(glue:text|glue:md|glue|cite:p|cite:t|numref|ref)\}`([^`]*)`")


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
        for m in _EXERCISE.finditer(text):
            out[m["label"]] = f"the exercise “{m['title'].strip()}”"
    return out


def exercise_numbers(root: Path = ROOT) -> dict[str, str]:
    """Exercise label -> its number as the website shows it: "1.2" is chapter 1's second."""
    out = {}
    for chapter, path in enumerate(chapters(root), start=1):
        for i, m in enumerate(_EXERCISE.finditer(path.read_text(encoding="utf-8")), start=1):
            out[m["label"]] = f"{chapter}.{i}"
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


def plain_markdown(
    text: str,
    glued: dict,
    refs: dict,
    cites: dict,
    book: Path,
    numbers: dict[str, str] | None = None,
) -> str:
    """One Markdown cell of a chapter, with its MyST rendered as plain Markdown.

    ``numbers``: exercise label -> "1.2" (:func:`exercise_numbers`); an exercise becomes the
    heading "### Exercise 1.2: its title", one level under the chapter's "## Exercises".
    """
    numbers = numbers or {}

    def role(m: re.Match) -> str:
        kind, arg = m[1], m[2]
        if kind.startswith("glue"):
            name, _, spec = arg.partition(":")
            if name not in glued:
                return "(computed in the chapter)"
            value = glued[name]
            return format(value, spec) if spec and not isinstance(value, str) else str(value)
        if kind in ("ref", "numref"):
            shown = re.fullmatch(r"(.+?)\s*<([\w-]+)>", arg)
            if shown:
                return shown[1]
            if kind == "numref" and arg in numbers:  # as the website: "Exercise 2.4"
                return f"Exercise {numbers[arg]}"
            return refs.get(arg, arg)
        keys = [k.strip() for k in arg.split(",")]
        cited = [cites.get(k, (k, "")) for k in keys]
        if kind == "cite:t":
            return "; ".join(f"{who} ({year})" for who, year in cited)
        return "(" + "; ".join(f"{who}, {year}" for who, year in cited) + ")"

    def fence(m: re.Match) -> str:
        body = plain_markdown(m["body"], glued, refs, cites, book, numbers).strip()
        title = m["arg"].strip()
        if m["name"] == "admonition" and title == "Working the exercises":
            return ""  # the edition's first cell says how to work them here
        if m["name"] in ("solution-start", "solution-end"):
            return ""  # the editions fold (reader) or drop (student) the solutions
        if m["name"] == "exercise":
            number = numbers.get(_options(m["opts"]).get("label", ""))
            return f"### Exercise {number + ': ' if number else ''}{title}\n\n{body}\n"
        return f"**{title or m['name'].title()}**\n\n{body}\n"

    text = _INCLUDE.sub(lambda m: _include(m, book), text)
    text = _FENCE.sub(fence, text)
    text = re.sub(r"^\([\w-]+\)=[ \t]*\n", "", text, flags=re.M)  # label targets
    return _ROLE.sub(role, text)


def chapters(root: Path = ROOT) -> list[Path]:
    """The chapters' MyST sources, in reading order."""
    return sorted((root / "book").glob("[0-9][0-9]_*.md"))
