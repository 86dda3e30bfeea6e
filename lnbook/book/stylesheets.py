"""The theme's stylesheets cut to the rules the site uses (build glue, no layer norm here).

pydata-sphinx-theme ships all of Bootstrap 5 (311 kB of CSS, every page loads it), and
myst-nb's stylesheet styles many outputs this book never makes: together a seventh of a
chapter page's weight. After the build, :func:`purge_unused_css` rewrites the built copies
with PurgeCSS (npm, installed at set-up), which keeps a rule only if the classes, ids and
elements its selector names occur in some page or in a script the pages load (classes
that scripts add, such as Bootstrap's ``show``, are named in the scripts). CSS variables,
``@font-face`` and ``@keyframes`` are kept whole.

Sphinx copies a theme's file again whenever the built copy differs from it, so every
build starts from the whole stylesheet and a rule that a new page needs comes back.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

# Left alone: KaTeX's stylesheet (the math it styles is rendered into the pages, but its
# rules combine size classes in ways worth keeping whole), the book's own, and Font
# Awesome's (lnbook.book.icons cuts that one together with its fonts).
_KEEP_WHOLE = ("katex", "lnbook", "vendor")
# Classes that scripts build from pieces, so no file names them whole: Bootstrap's tooltip
# placement, `bs-${name}-auto` (the search button's tooltip arrow).
_BUILT_BY_SCRIPTS = (
    "bs-tooltip-auto",
    "bs-tooltip-top",
    "bs-tooltip-bottom",
    "bs-tooltip-start",
    "bs-tooltip-end",
)


def stylesheets(outdir: Path) -> list[Path]:
    """The built site's stylesheets that :func:`purge_unused_css` rewrites."""
    static = Path(outdir) / "_static"
    return sorted(
        p for p in static.rglob("*.css") if p.relative_to(static).parts[0] not in _KEEP_WHOLE
    )


def purge_unused_css(outdir: Path, purgecss: Path) -> dict[str, tuple[int, int]]:
    """Rewrite the site's stylesheets without the rules no page can use.

    Parameters
    ----------
    outdir : the built HTML site (Sphinx's outdir)
    purgecss : the ``purgecss`` command (``node_modules/.bin/purgecss``)

    Returns
    -------
    stylesheet path (relative to ``outdir``) -> (bytes before, bytes after)
    """
    outdir = Path(outdir)
    css = stylesheets(outdir)
    names = [p.name for p in css]
    if len(set(names)) != len(names):  # PurgeCSS writes them side by side, by name
        raise ValueError(f"two stylesheets share a file name: {names}")
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                str(purgecss),
                "--css",
                *map(str, css),
                "--content",
                str(outdir / "**" / "*.html"),
                str(outdir / "_static" / "**" / "*.js"),
                "--safelist",
                *_BUILT_BY_SCRIPTS,
                "--output",
                tmp,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        for path in css:
            before = path.stat().st_size
            shutil.copyfile(Path(tmp) / path.name, path)
            sizes[path.relative_to(outdir).as_posix()] = (before, path.stat().st_size)
    return sizes
