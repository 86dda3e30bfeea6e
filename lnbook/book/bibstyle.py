"""The bibliography's formatting style: author-year labels, titles as written, links.

A pybtex formatting style for sphinxcontrib-bibtex, registered as ``lnbook`` and chosen with
``bibtex_default_style: lnbook`` in ``_config.yml``. It fixes what the stock ``alpha`` style
gets wrong for this book:

- labels: ``alpha`` makes ``[STIMkadry18]`` out of four authors and a LaTeX accent, while the
  text cites author-year (``bibtex_reference_style: author_year``). Here the label is the
  in-text citation, ``Santurkar et al., 2018``, so a reader finds the entry they were sent to;
- titles: ``unsrt`` lower-cases them ("Layer normalization", "Attention is all you need"); here
  they keep the case written in ``references.bib``;
- links: a ``url`` is a link whose text is short (``github.com/…/normalization.py``), not an
  80-character unbreakable word that overflows a phone's column; ``doi`` and ``eprint``
  (arXiv) are links as in ``unsrt``.

Entries are sorted by their authors' last names, as an author-year list is read.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

import pybtex.plugin
from pybtex.backends.plaintext import Backend as PlainText
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle
from pybtex.style.template import field, href, sentence

STYLE_NAME = "lnbook"  # the name ``bibtex_default_style`` selects
LINK_TEXT_MAX = 40  # characters; a longer URL is shown as host/…/last-part
# One plain-text backend: ``render_as("text")`` looks it up among every installed package's
# entry points on each call (30 ms here), and labels and sorting render each name.
_PLAIN = PlainText()


def _last_names(person) -> str:
    """A person's last name as plain text: LaTeX decoded, braces gone (``{\\L}`` -> Ł)."""
    parts = (*person.rich_prelast_names, *person.rich_last_names)
    return " ".join(part.render(_PLAIN) for part in parts)


def _persons(entry) -> list:
    # As sphinxcontrib-bibtex's author_year citations: the authors, else the editors.
    return entry.persons.get("author") or entry.persons.get("editor") or []


def author_year(entry) -> str:
    """The in-text citation of ``entry`` as plain text: ``Ba et al., 2016``.

    Parameters
    ----------
    entry : pybtex.database.Entry

    Returns
    -------
    str
        One author's last name, two joined by "and", or the first one and "et al." for three
        or more (``and others`` in the .bib counts as a person, as in sphinxcontrib-bibtex),
        then a comma and the year ("n.d." without one).
    """
    persons = _persons(entry)
    names = [_last_names(p) for p in persons]
    if not names:  # no author or editor: sphinxcontrib-bibtex cites the title
        who = Text.from_latex(entry.fields.get("title", "")).render(_PLAIN)
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels that read as the in-text citation, ``Zhang and Sennrich, 2019``."""

    def format_labels(self, sorted_entries):
        labels = [author_year(entry) for entry in sorted_entries]
        # Two entries with the same authors and year would share a label, which
        # sphinxcontrib-bibtex reports as a warning (an error under -W): number them a, b...
        repeated = {label for label, n in Counter(labels).items() if n > 1}
        seen: Counter = Counter()
        for label in labels:
            if label not in repeated:
                yield label
                continue
            seen[label] += 1
            yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]  # 2024a, 2024b


class AuthorYearSortingStyle(BaseSortingStyle):
    """Sort by the authors' last names as printed, then year and title, ignoring case.

    So the list reads in the order of its labels, and ``{PyTorch contributors}`` files under P.
    """

    def sorting_key(self, entry):
        # pybtex's author_year_title sorts the raw .bib text, where "{" comes after "z".
        names = " ".join(_last_names(p) for p in _persons(entry)).casefold()
        return (names, entry.fields.get("year", ""), entry.fields.get("title", "").casefold())


def short_url(url: str) -> str:
    """Link text for ``url``: without the scheme, and ``host/…/last-part`` if it is long.

    Parameters
    ----------
    url : str
        For example ``https://github.com/google/flax/blob/main/flax/linen/normalization.py``.

    Returns
    -------
    str
        ``github.com/…/normalization.py``; ``github.com/google-research/bert`` stays whole.
    """
    parts = urlsplit(url)
    host = parts.netloc.removeprefix("www.")
    path = parts.path.rstrip("/")
    text = host + path
    if len(text) <= LINK_TEXT_MAX:
        return text
    # The host says whose it is and the last part what it is; the href keeps the rest.
    return f"{host}/…/{path.rsplit('/', 1)[-1]}"


class Style(UnsrtStyle):
    """``unsrt`` with author-year labels and order, titles as written, short URL links."""

    default_label_style = AuthorYearLabelStyle
    default_sorting_style = AuthorYearSortingStyle

    def format_title(self, e, which_field, as_sentence=True):
        # unsrt applies text.capitalize() (sentence case); the .bib's case is the author's.
        title = field(which_field)
        return sentence[title] if as_sentence else title

    def format_url(self, e):
        # unsrt writes "URL: " and the whole URL as the link text.
        return href(field("url", raw=True))[field("url", raw=True, apply_func=short_url)]


def setup(app):
    """Sphinx extension: make ``bibtex_default_style: lnbook`` find :class:`Style`.

    Returns
    -------
    dict
        Extension metadata: the registration is process-wide and holds no per-document
        state, so parallel reading and writing are safe.
    """
    # force: a second Sphinx run in the same process (tests) re-registers the same class.
    pybtex.plugin.register_plugin("pybtex.style.formatting", STYLE_NAME, Style, force=True)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
