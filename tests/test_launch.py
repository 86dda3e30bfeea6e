"""The "Run this chapter" links: their documented forms, with and without a repository."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from lnbook.book import launch

LITE = "../lite/lab/index.html?path=01_a.ipynb"
DOWNLOAD = "../_sources/book/01_a.ipynb"


def _links(**settings) -> dict[str, str]:
    links = launch.chapter_links("book/01_a.md", launch.Settings(**settings), LITE, DOWNLOAD)
    return {link.key: link.href for link in links}


def test_without_a_repository_the_panel_offers_what_needs_none():
    links = _links(binderhub="https://mybinder.org", jupyterhub="https://hub.example")
    assert links == {"lite": LITE, "download": DOWNLOAD}


@pytest.mark.parametrize(
    ("repository", "branch", "binder"),
    [
        (
            "https://github.com/someone/lnbook",
            "main",
            "https://mybinder.org/v2/gh/someone/lnbook/main",
        ),
        (
            "https://gitlab.com/some-one/ln.book",
            "dev",
            "https://mybinder.org/v2/gl/some-one%2Fln.book/dev",
        ),
    ],
    ids=["github", "gitlab-branch"],
)
def test_binder_builds_the_repository_and_opens_the_chapters_reader_notebook(
    repository, branch, binder
):
    links = _links(repository=repository, branch=branch, binderhub="https://mybinder.org/")
    # binder/postBuild writes the reader edition there (tests/test_binder.py checks it does).
    assert links["binder"] == f"{binder}?urlpath=lab/tree/_build/reader/01_a.ipynb"
    classic = _links(
        repository=repository, branch=branch, binderhub="https://b.example", interface="classic"
    )
    assert classic["binder"].endswith("?urlpath=tree/_build/reader/01_a.ipynb")


def test_colab_opens_the_published_executed_notebook_of_a_github_repository():
    links = _links(repository="https://github.com/someone/lnbook", pages_branch="gh-pages")
    # The site's download, as ghp-import publishes _build/html on the gh-pages branch.
    assert links["colab"] == (
        "https://colab.research.google.com/github/someone/lnbook/blob/gh-pages/"
        "_sources/book/01_a.ipynb"
    )
    assert "colab" not in _links(repository="https://gitlab.com/someone/lnbook")  # GitHub only


def test_jupyterhub_pulls_the_repository_and_opens_the_chapters_source():
    # A git pull runs no build, so the hub opens the MyST source (jupytext on the hub).
    links = _links(
        repository="https://github.com/someone/lnbook", jupyterhub="https://hub.example/"
    )
    assert links["jupyterhub"] == (
        "https://hub.example/hub/user-redirect/git-pull?repo=https%3A//github.com/someone/lnbook"
        "&urlpath=lab/tree/lnbook/book/01_a.md&branch=main"
    )
    assert list(links) == ["lite", "colab", "jupyterhub", "download"]  # no BinderHub given


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://github.com/a/b.git", "https://github.com/a/b"),
        ("git@github.com:a/b.git", "https://github.com/a/b"),
        ("ssh://git@gitlab.com/a/b", "https://gitlab.com/a/b"),
        ("  ", ""),
    ],
)
def test_repository_url_accepts_github_and_gitlab(given, expected):
    assert launch.repository_url(given) == expected


@pytest.mark.parametrize("given", ["https://example.com/a/b", "/srv/git/lnbook", "github.com/a"])
def test_repository_url_names_an_address_it_cannot_launch(given):
    with pytest.raises(ValueError, match="not a GitHub or GitLab repository"):
        launch.repository_url(given)


def test_bad_settings_are_named():
    with pytest.raises(TypeError, match="url must be a str"):
        launch.repository_url(None)
    with pytest.raises(ValueError, match="interface must be one of"):
        launch.Settings(interface="lab")


class _Panel(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs, self.text, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"])

    def handle_data(self, data):
        self.text.append(data)


def _panel(settings: launch.Settings) -> _Panel:
    links = launch.chapter_links("book/01_a.md", settings, LITE, DOWNLOAD)
    parser = _Panel()
    parser.feed(launch.panel_html(links, settings))
    return parser


def test_the_panel_lists_every_link_the_local_commands_and_what_is_missing():
    settings = launch.Settings(
        repository="https://github.com/someone/lnbook", binderhub="https://mybinder.org"
    )
    panel = _panel(settings)
    text = "".join(panel.text)
    assert panel.tags[0] == ("details", {"class": "lnbook-launch", "id": launch.PANEL_ID})
    # & in a URL is written &amp; in HTML, and read back as &.
    assert panel.hrefs == [
        link.href for link in launch.chapter_links("book/01_a.md", settings, LITE, DOWNLOAD)
    ]
    assert "git clone https://github.com/someone/lnbook.git && cd lnbook\nmake lab" in text
    assert "nothing fetched from elsewhere" in text
    assert "names no repository" not in text

    bare = _panel(launch.Settings(binderhub="https://mybinder.org"))
    assert bare.hrefs == [LITE, DOWNLOAD]
    assert "names no repository, so Binder, Colab and JupyterHub links are left out" in "".join(
        bare.text
    )
    assert "make lab" in "".join(bare.text)
