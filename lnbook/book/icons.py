"""The theme's icon font cut to the icons the site shows (build glue, no layer norm here).

pydata-sphinx-theme's stylesheet carries Font Awesome's rules for about 2,000 icons (90 kB
of CSS) and its solid font weighs 156 kB; the site shows about fifteen icons. After the
build, :func:`slim_icons` rewrites the built copies: the stylesheet keeps the rules of the
icons that some page or script names, and each Font Awesome font keeps their glyphs only
(fontTools' subsetter). The theme's own files are read, never changed, so every build starts
from the whole set and an icon used later is found again.
"""

from __future__ import annotations

import re
from pathlib import Path

# One icon's rule in the theme's minified CSS: `.fa-a:before,.fa-b:before{content:"\f138"}`.
_ICON_RULE = re.compile(r'((?:\.fa-[a-z0-9-]+:before,?)+)\{content:"((?:\\.|[^"\\])+)"\}')
_NAME = re.compile(r"\bfa-[a-z0-9-]+")
# The theme's icons drawn by its own rules (admonition titles, external links, ...), named
# by CSS variables: `--pst-icon-lightbulb:"\f0eb"` (minified, the character itself).
_ICON_VARIABLE = re.compile(r'--pst-icon-[a-z0-9-]+:"((?:\\.|[^"\\])+)"')
_CSS = Path("styles") / "pydata-sphinx-theme.css"
_FONTS = Path("vendor") / "fontawesome" / "webfonts"


def _theme_static() -> Path:
    import pydata_sphinx_theme

    return Path(pydata_sphinx_theme.__file__).parent / "theme" / "pydata_sphinx_theme" / "static"


def icon_char(content: str) -> str:
    """The character a CSS ``content`` value names: ``\\f138`` -> U+F138, ``\\@`` -> "@"."""
    escaped = re.fullmatch(r"\\([0-9a-fA-F]{1,6}) ?", content)
    if escaped:
        return chr(int(escaped[1], 16))
    return content[1:] if content.startswith("\\") else content


def used_icons(outdir: Path) -> set[str]:
    """Every ``fa-*`` class named by a built page or by a script the pages load."""
    names: set[str] = set()
    files = [*outdir.rglob("*.html"), *(outdir / "_static").rglob("*.js")]
    for path in files:
        if path.name != "plotly.min.js":  # a megabyte that names no icon
            names.update(_NAME.findall(path.read_text(encoding="utf-8", errors="replace")))
    return names


def slim_css(css: str, used: set[str]) -> tuple[str, set[str]]:
    """The stylesheet without the rules of unused icons, and the characters still drawn:
    those of the icons in use and those of the theme's icon variables (its admonitions'
    and links' icons, which no class names).

    Parameters
    ----------
    css : the theme's stylesheet
    used : icon classes in use (``{"fa-bars", ...}``)
    """
    chars: set[str] = set()

    def keep(match: re.Match) -> str:
        names = [n for n in re.findall(r"\.(fa-[a-z0-9-]+):before", match[1]) if n in used]
        if not names:
            return ""
        chars.add(icon_char(match[2]))
        return ",".join(f".{n}:before" for n in names) + '{content:"' + match[2] + '"}'

    css = _ICON_RULE.sub(keep, css)
    chars.update(icon_char(m) for m in _ICON_VARIABLE.findall(css))
    return css, chars


def subset_font(source: Path, target: Path, chars: set[str]) -> None:
    """Write ``source`` to ``target`` as WOFF2 holding only the glyphs of ``chars``."""
    from fontTools import subset

    options = subset.Options()
    options.flavor = "woff2"
    font = subset.load_font(str(source), options)
    cmap = font.getBestCmap()
    subsetter = subset.Subsetter(options)
    # A font without any of them keeps one glyph: fontTools refuses an empty subset.
    unicodes = [ord(c) for c in chars if ord(c) in cmap] or [next(iter(cmap))]
    subsetter.populate(unicodes=unicodes)
    subsetter.subset(font)
    subset.save_font(font, str(target), options)


def slim_icons(outdir: str | Path) -> dict[str, int]:
    """Cut the built site's Font Awesome to the icons it uses; returns sizes in bytes.

    Parameters
    ----------
    outdir : the HTML output folder (``_build/html``)
    """
    outdir = Path(outdir)
    theme, static = _theme_static(), outdir / "_static"
    css, chars = slim_css((theme / _CSS).read_text(encoding="utf-8"), used_icons(outdir))
    (static / _CSS).write_text(css, encoding="utf-8")
    sizes = {"css": len(css.encode()), "icons": len(chars)}
    for font in sorted((theme / _FONTS).glob("*.woff2")):
        subset_font(font, static / _FONTS / font.name, chars)
        sizes[font.name] = (static / _FONTS / font.name).stat().st_size
    return sizes
