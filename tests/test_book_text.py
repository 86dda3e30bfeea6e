"""The book's text as a reader sees it: exercise numbers, chapter numbers, the bibliography.

The site tests read the pages the strict build wrote (the ``site`` fixture) and compare them
with facts from the sources: the chapter's file number, the exercises in its Markdown, the
fields of ``book/references.bib``, the in-text citations sphinxcontrib-bibtex writes. The
unit tests of ``lnbook.book.bibstyle`` need no build.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pybtex.plugin
import pytest
import sitekit
from pybtex.database import parse_file, parse_string
from pybtex.richtext import Text

from lnbook.book import bibstyle

pytestmark = pytest.mark.site

BOOK = sitekit.ROOT / "book"
BIB = BOOK / "references.bib"

# A bare integer after "Exercise": a number typed in the prose, or the book-wide counter
# sphinx-exercise uses without chapter numbers ("Exercise 16" on chapter 5's page).
BARE_EXERCISE_NUMBER = re.compile(r"\bexercises? \d+\b(?!\.\d)", re.IGNORECASE)
EXERCISE_TITLE = re.compile(
    r'<div class="exercise admonition" id="([^"]+)">\s*'
    r'<p class="admonition-title"><span class="caption-number">([^<]*)</span>'
)
CITATION = re.compile(
    r'<div class="citation" id="([^"]+)" role="listitem">\s*'
    r'<span class="label"><span class="fn-bracket">\[</span>(.*?)'
    r'<span class="fn-bracket">\]</span></span>\s*<p>(.*?)</p>\s*</div>',
    re.S,
)
# A citation's link: <a href="bibliography.html#id3" ...>Ba <em>et al.</em>, 2016</a> for
# {cite:p}; a textual one ({cite:t}) links only the year ("2016") and is told apart by that.
CITE = re.compile(r'<a class="reference internal" href="bibliography\.html#([^"]+)"[^>]*>(.*?)</a>')


def text_of(fragment: str) -> str:
    """The text a reader sees in an HTML fragment: no tags, entities decoded, spaces joined."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


def chapter_pages(site: Path) -> dict[int, Path]:
    pages = {int(p.name[:2]): p for p in (site / "book").glob("[0-9][0-9]_*.html")}
    # Every chapter of the table of contents, and no other (the chapters are numbered 1..n).
    listed = re.findall(r"file: book/(\d\d)_", (sitekit.ROOT / "_toc.yml").read_text())
    assert sorted(pages) == sorted(int(n) for n in listed) == list(range(1, len(listed) + 1))
    return pages


def bib_title(raw: str) -> str:
    """A .bib title as it should read: braces (case protection) and the escape of _ removed."""
    return " ".join(raw.replace("{", "").replace("}", "").replace("\\_", "_").split())


def bibliography(site: Path) -> list[tuple[str, str, str]]:
    """(citation id, label text, entry HTML) of every entry on the bibliography page."""
    found = CITATION.findall((site / "book" / "bibliography.html").read_text(encoding="utf-8"))
    assert found, "no bibliography entries found: has the page's markup changed?"
    return found


# --------------------------------------------------------------- exercises and numbers ---


def test_exercises_are_numbered_per_chapter(site):
    for n, page in chapter_pages(site).items():
        titles = EXERCISE_TITLE.findall(page.read_text(encoding="utf-8"))
        source = next(BOOK.glob(f"{n:02d}_*.md")).read_text(encoding="utf-8")
        # As many exercises on the page as the chapter's source has, numbered N.1, N.2...
        assert len(titles) == source.count(":::{exercise}"), page.name
        expected = [f"Exercise {n}.{k}" for k in range(1, len(titles) + 1)]
        assert [t.strip() for _, t in titles] == expected, page.name


def test_no_page_refers_to_an_exercise_by_a_bare_number(site):
    for page in sitekit.pages(site):
        text = text_of(page.read_text(encoding="utf-8"))
        found = BARE_EXERCISE_NUMBER.findall(text)
        assert not found, f"{page.name}: {found} (refer to the exercise by its label)"


def test_chapter_sources_refer_to_exercises_by_label():
    # The typed form this replaced ("exercise 1 below"), checked in the prose itself too.
    for md in BOOK.glob("*.md"):
        found = BARE_EXERCISE_NUMBER.findall(md.read_text(encoding="utf-8"))
        assert not found, f"{md.name}: {found}"


def test_exercise_references_show_the_number_of_their_target(site):
    # Every link to an exercise (the prose's {numref}, the teaching page's table) shows the
    # number that exercise's own title has.
    titles = {
        label: title.strip()
        for page in chapter_pages(site).values()
        for label, title in EXERCISE_TITLE.findall(page.read_text(encoding="utf-8"))
    }
    ref = re.compile(
        r'<a class="reference internal" href="[^"#]*#(ch\d\d-ex-[^"]+)">'
        r'<span class="std std-numref">([^<]*)</span>'
    )
    seen = 0
    for page in [*chapter_pages(site).values(), site / "book" / "teaching.html"]:
        for label, shown in ref.findall(page.read_text(encoding="utf-8")):
            assert shown == titles[label], (page.name, label)
            seen += 1
    # The teaching page lists every exercise; ch02, ch05 and ch06 refer to one in the prose.
    assert seen >= len(titles) + 3


def headings(page: Path) -> dict[int, list[str]]:
    """The page's own headings by level (the prev/next links name other pages' numbers)."""
    text = page.read_text(encoding="utf-8")
    # The article only: the theme repeats the title, unnumbered, in a print-only header.
    text = text.split('<article class="bd-article">', 1)[1].split("</article>", 1)[0]
    return {n: re.findall(rf"<h{n}>(.*?)</h{n}>", text, re.S) for n in (1, 2, 3, 4)}


def test_only_chapters_are_numbered_and_only_their_titles(site):
    number = re.compile(r'<span class="section-number">([^<]*)</span>')
    for n, page in chapter_pages(site).items():
        found = headings(page)
        assert [number.findall(h) for h in found[1]] == [[f"{n}. "]], page.name
        # Numbered to depth 1: no "5.2." before the sections of a chapter.
        for level in (2, 3, 4):
            assert not any(number.search(h) for h in found[level]), (page.name, level)
    for name in ("intro.html", "teaching.html", "bibliography.html"):
        found = headings(site / "book" / name)
        assert found[1], name
        assert not any(number.search(h) for hs in found.values() for h in hs), name


def test_no_page_cites_a_glossary_readers_never_saw(site):
    for page in sitekit.pages(site):
        text = text_of(page.read_text(encoding="utf-8")).lower()
        assert "glossary this book grew from" not in text, page.name
        assert "glossary's" not in text, page.name
        assert "in preparation" not in text, page.name


# ------------------------------------------------------------------------ bibliography ---


def test_bibliography_labels_read_as_the_in_text_citations(site):
    labels = {cid: text_of(label) for cid, label, _ in bibliography(site)}
    compared = 0
    for page in chapter_pages(site).values():
        for cid, shown in CITE.findall(page.read_text(encoding="utf-8")):
            if cid not in labels or re.fullmatch(r"\d{4}[a-z]?", text_of(shown)):
                continue  # a link to the page itself, or {cite:t} (authors outside the link)
            assert text_of(shown) == labels[cid], page.name
            compared += 1
    assert compared >= 20
    # And a known entry by hand: four authors, one with a LaTeX accent (alpha: "STIMkadry18").
    assert "Santurkar et al., 2018" in labels.values()


def test_bibliography_lists_every_entry_once_by_first_author(site):
    entries = bibliography(site)
    assert len(entries) == len(parse_file(BIB).entries)
    labels = [text_of(label) for _, label, _ in entries]
    assert len(set(labels)) == len(labels)
    first = [re.split(r" and | et al\.|, ", label)[0].casefold() for label in labels]
    assert first == sorted(first)


def test_bibliography_titles_keep_the_case_of_the_bib_file(site):
    page_text = " ".join(text_of(entry) for _, _, entry in bibliography(site))
    titles = re.findall(r"^\s*title\s*=\s*\{(.*)\},?\s*$", BIB.read_text("utf-8"), re.M)
    assert len(titles) == len(parse_file(BIB).entries)
    for raw in titles:
        assert bib_title(raw) in page_text, raw
    # Capitals beyond the first word, which a sentence-case style would lower.
    assert "Layer Normalization." in page_text and "BERT: Pre-training" in page_text


def test_bibliography_dois_and_urls_are_links(site):
    bib = BIB.read_text(encoding="utf-8")
    targets = [f"https://doi.org/{d}" for d in re.findall(r"\bdoi\s*=\s*\{([^}]*)\}", bib)]
    targets += [u for u in re.findall(r"\burl\s*=\s*\{([^}]*)\}", bib)]
    targets += [
        f"https://arxiv.org/abs/{e}" for e in re.findall(r"\beprint\s*=\s*\{([^}]*)\}", bib)
    ]
    assert len(targets) >= 20
    entries = "".join(entry for _, _, entry in bibliography(site))
    hrefs = re.findall(r'<a class="reference external" href="([^"]+)">', entries)
    assert sorted(hrefs) == sorted(html.escape(t) for t in targets)
    # Nothing address-like is left as plain text, where it would not break on a phone.
    plain = text_of(re.sub(r"<a .*?</a>", "", entries, flags=re.S))
    assert not re.search(r"https?:|www\.|doi:|arXiv:\d", plain), plain
    # Link texts are short; the full address is in the href.
    for text in re.findall(r'<a class="reference external" href="[^"]+">(.*?)</a>', entries):
        assert len(text_of(text)) <= 45, text


# ------------------------------------------------------------------- lnbook.book.bibstyle ---

SMALL_BIB = r"""
@article{one,
  title   = {A {BERT} Study of {ImageNet} Case},
  author  = {M{\k{a}}dry, Aleksander},
  journal = {Journal},
  year    = {2020},
  doi     = {10.1000/xyz.123}
}
@misc{two,
  title  = {Two Authors, Source Code},
  author = {{Apache contributors} and van der Berg, Jan},
  year   = {2021},
  url    = {https://github.com/example-org/example-repository/blob/main/src/some/deep/file.py}
}
@inproceedings{many,
  title     = {Many Authors},
  author    = {Zhu, Jiachen and Chen, Xinlei and others},
  booktitle = {Proceedings},
  year      = {2025}
}
@inproceedings{many2,
  title     = {Many Authors Again},
  author    = {Zhu, Jiachen and Liu, Zhuang and He, Kaiming},
  booktitle = {Proceedings},
  year      = {2025}
}
"""


def in_text(entry) -> str:
    """The author-year citation text sphinxcontrib-bibtex writes for ``entry`` ({cite:p})."""
    from sphinxcontrib.bibtex.style.referencing import PersonStyle

    person = PersonStyle()  # the defaults that bibtex_reference_style: author_year uses

    class _Style:  # what sphinxcontrib's names node reads from the referencing style
        pass

    _Style.person = person
    who = person.author_or_editor_or_title(full=False).format_data(
        {"entry": entry, "style": _Style}
    )
    return f"{who.render_as('text')}, {entry.fields['year']}"


@pytest.fixture
def small():
    bib = parse_string(SMALL_BIB, "bibtex")
    style = bibstyle.Style()
    entries = list(style.sort(bib.entries.values()))
    labels = list(style.format_labels(entries))
    html_of = {
        e.key: style.format_entry(label, e).text.render_as("html")
        for label, e in zip(labels, entries, strict=True)
    }
    return bib, dict(zip((e.key for e in entries), labels, strict=True)), html_of


@pytest.mark.parametrize("key", ["one", "two", "many", "many2"])
def test_bibstyle_label_is_the_in_text_citation(small, key):
    bib, labels, _ = small
    assert labels[key].rstrip("ab") == in_text(bib.entries[key])


def test_bibstyle_labels_of_every_book_entry_match_the_in_text_form():
    bib = parse_file(BIB)
    style = bibstyle.Style()
    entries = list(style.sort(bib.entries.values()))
    for label, entry in zip(style.format_labels(entries), entries, strict=True):
        assert label == in_text(entry), entry.key


def test_bibstyle_disambiguates_equal_labels(small):
    # "many" and "many2": other co-authors, the same first author and year.
    _, labels, _ = small
    assert sorted([labels["many"], labels["many2"]]) == ["Zhu et al., 2025a", "Zhu et al., 2025b"]
    assert len(set(labels.values())) == len(labels)


def test_bibstyle_keeps_the_title_case_and_links_doi_and_url(small):
    bib, _, html_of = small
    for key in ("one", "two", "many"):
        title = bib_title(bib.entries[key].fields["title"])
        assert title in Text.from_latex(text_of(html_of[key])).render_as("text"), key
    assert '<a href="https://doi.org/10.1000/xyz.123">' in html_of["one"]
    url = bib.entries["two"].fields["url"]
    assert f'<a href="{url}">' in html_of["two"]
    link_text = re.search(r'<a href="[^"]+">(.*?)</a>', html_of["two"]).group(1)
    assert url not in link_text and len(link_text) < len(url) // 2
    assert link_text.startswith("github.com/") and link_text.endswith("file.py")


def test_bibstyle_sorts_by_label_ignoring_braces(small):
    _, labels, _ = small
    # {Apache contributors} files under A, not after Z where its raw "{" would put it.
    assert list(labels) == ["two", "one", "many", "many2"]
    assert labels["two"] == "Apache contributors and van der Berg, 2021"


def test_bibstyle_setup_registers_the_style():
    meta = bibstyle.setup(app=None)
    assert pybtex.plugin.find_plugin("pybtex.style.formatting", "lnbook") is bibstyle.Style
    assert meta["parallel_read_safe"] and meta["parallel_write_safe"]
