"""Where a chapter can run: the links of the "Run this chapter" panel, and the panel.

Pure functions: settings in, links and HTML out. The build glue (``sphinxext``) reads the
settings from ``_config.yml`` and puts the panel at the top of every chapter page.

Every external link derives from one setting, the repository (``repository: url`` in
``_config.yml``, or ``LNBOOK_REPOSITORY_URL``). Without it the panel still offers what needs
no repository: the in-browser edition (``lite/``, part of the site), the executed notebook
as a download, and the local commands.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import quote

PANEL_ID = "run-this-chapter"
# Where binder/postBuild writes the reader edition (`python -m lnbook.book.editions reader`), one
# executed notebook per chapter, relative to the repository's root (the Binder home folder).
READER_DIR = "_build/reader"
# The in-browser edition's folder in the site (lnbook.book.lite builds it there).
LITE_DIR = "lite"
_UI_PREFIXES = {"classic": "tree", "jupyterlab": "lab/tree"}  # as sphinx-book-theme's
_REPOSITORY = re.compile(
    r"(?:https://|git@|ssh://git@)(github\.com|gitlab\.com)[:/]([\w.-]+)/([\w.-]+?)(?:\.git)?/?"
)


@dataclass(frozen=True)
class Settings:
    """The launch settings of one build.

    Attributes
    ----------
    repository : ``https://github.com/ORG/REPO`` or ``https://gitlab.com/ORG/REPO``; "" if none
    branch : the branch Binder builds and nbgitpuller pulls
    binderhub : a BinderHub's address ("" leaves Binder out)
    jupyterhub : a JupyterHub with nbgitpuller ("" leaves it out)
    interface : "jupyterlab" or "classic"
    pages_branch : the branch the built site is published on (``ghp-import``'s gh-pages),
        where Colab finds the executed notebooks
    """

    repository: str = ""
    branch: str = "main"
    binderhub: str = ""
    jupyterhub: str = ""
    interface: str = "jupyterlab"
    pages_branch: str = "gh-pages"

    def __post_init__(self):
        if self.interface not in _UI_PREFIXES:
            raise ValueError(
                f"interface must be one of {sorted(_UI_PREFIXES)}, got {self.interface!r}"
            )


@dataclass(frozen=True)
class Link:
    """One way to run the chapter: ``key`` names it for tests and styles."""

    key: str
    label: str
    href: str
    note: str


def repository_url(url: str) -> str:
    """A GitHub or GitLab repository's address as ``https://HOST/ORG/REPO``; "" for "".

    ``git@github.com:org/repo.git``, ``ssh://git@gitlab.com/org/repo`` and
    ``https://github.com/org/repo.git`` all count. Anything else raises ``ValueError``:
    Binder, Colab and nbgitpuller need one of these hosts.
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, got {type(url).__name__}")
    url = url.strip()
    if not url:
        return ""
    match = _REPOSITORY.fullmatch(url)
    if not match:
        raise ValueError(
            f"repository url {url!r} is not a GitHub or GitLab repository "
            "(https://github.com/ORG/REPO, git@gitlab.com:ORG/REPO.git, ...)"
        )
    return f"https://{match[1]}/{match[2]}/{match[3]}"


def lite_url(stem: str) -> str:
    """The chapter ``book/<stem>.md`` in the in-browser edition, relative to the site root.

    JupyterLite's lab app opens the notebook named in ``path`` from its contents, where
    each chapter lies at the top as ``<stem>.ipynb``.
    """
    return f"{LITE_DIR}/lab/index.html?path={stem}.ipynb"


def binder_url(binderhub: str, repository: str, branch: str, path: str, ui: str = "lab/tree"):
    """The Binder link that builds ``repository`` at ``branch`` and opens ``path`` in it.

    The form sphinx-book-theme 1.3 writes (``header_buttons/launch.py``)::

        https://mybinder.org/v2/gh/ORG/REPO/BRANCH?urlpath=lab/tree/PATH
        https://mybinder.org/v2/gl/ORG%2FREPO/BRANCH?urlpath=lab/tree/PATH
    """
    host, org, repo = repository.removeprefix("https://").split("/")[:3]
    spec = f"gh/{org}/{repo}" if host == "github.com" else f"gl/{org}%2F{repo}"
    return f"{binderhub.rstrip('/')}/v2/{spec}/{branch}?urlpath={ui}/{path}"


def colab_url(repository: str, branch: str, path: str) -> str:
    """Colab's link to a notebook in a GitHub repository (Colab opens GitHub only)::

    https://colab.research.google.com/github/ORG/REPO/blob/BRANCH/PATH
    """
    org_repo = repository.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{org_repo}/blob/{branch}/{path}"


def nbgitpuller_url(jupyterhub: str, repository: str, branch: str, path: str, ui: str) -> str:
    """A JupyterHub link that pulls ``repository`` with nbgitpuller and opens ``path``.

    The form sphinx-book-theme 1.3 writes: the clone lands in a folder named after the
    repository, so ``path`` is relative to the repository's root.
    """
    repo = repository.rstrip("/").rsplit("/", 1)[-1]
    return (
        f"{jupyterhub.rstrip('/')}/hub/user-redirect/git-pull?repo={quote(repository)}"
        f"&urlpath={ui}/{repo}/{path}&branch={branch}"
    )


def chapter_links(source: str, settings: Settings, lite: str, download: str) -> list[Link]:
    """The ways to run one chapter, in the order the panel lists them.

    Parameters
    ----------
    source : the chapter's source relative to the repository root (``book/01_x.md``)
    settings : this build's :class:`Settings`
    lite : link to the chapter in the in-browser edition, relative to the page
    download : link to the executed notebook, relative to the page
    """
    stem = source.rsplit("/", 1)[-1].removesuffix(".md")
    ui = _UI_PREFIXES[settings.interface]
    repo = settings.repository
    links = [
        Link(
            "lite",
            "In your browser",
            lite,
            "JupyterLite: nothing to install, nothing fetched from elsewhere. NumPy runs "
            "where the site was built with Pyodide's packages; PyTorch cells show their "
            "saved results.",
        )
    ]
    if repo and settings.binderhub:
        links.append(
            Link(
                "binder",
                "On Binder",
                binder_url(
                    settings.binderhub, repo, settings.branch, f"{READER_DIR}/{stem}.ipynb", ui
                ),
                "JupyterLab with everything, PyTorch included; starting takes a minute or more.",
            )
        )
    if repo.startswith("https://github.com/"):
        links.append(
            Link(
                "colab",
                "On Colab",
                colab_url(repo, settings.pages_branch, f"_sources/{source[:-3]}.ipynb"),
                f"Google Colab shows the executed notebook of the published site (its "
                f"{settings.pages_branch} branch). Colab has no lnbook: to run the cells, "
                f"first run %pip install git+{repo}.git@{settings.branch}",
            )
        )
    if repo and settings.jupyterhub:
        links.append(
            Link(
                "jupyterhub",
                "On your JupyterHub",
                nbgitpuller_url(settings.jupyterhub, repo, settings.branch, source, ui),
                "nbgitpuller copies the book into your hub account and opens the chapter.",
            )
        )
    links.append(
        Link(
            "download",
            "Download the notebook",
            download,
            "The chapter with its outputs (.ipynb), for any Jupyter.",
        )
    )
    return links


def local_commands(settings: Settings) -> list[str]:
    """The two commands that run the book on one's own computer (Python 3.11, make, npm)."""
    repo = settings.repository
    if repo:
        name = repo.rsplit("/", 1)[-1]
        return [f"git clone {repo}.git && cd {name}", "make lab"]
    return ["cd lnbook   # your copy of the book's repository", "make lab"]


def panel_html(links: list[Link], settings: Settings) -> str:
    """The "Run this chapter" panel: a folded ``<details>`` listing ``links``.

    Opened by a link to ``#run-this-chapter`` (``lnbook-page.js``) or by its summary, which
    a keyboard reaches like any button.
    """
    items = "".join(
        f'<li class="lnbook-launch-{link.key}"><a href="{html.escape(link.href)}">'
        f"{html.escape(link.label)}</a> <span>{html.escape(link.note)}</span></li>"
        for link in links
    )
    commands = html.escape("\n".join(local_commands(settings)))
    missing = (
        ""
        if settings.repository
        else (
            '<p class="lnbook-launch-missing">This build names no repository, so Binder, '
            "Colab and JupyterHub links are left out (set <code>repository: url</code> in "
            "<code>_config.yml</code> or <code>LNBOOK_REPOSITORY_URL</code>).</p>"
        )
    )
    return (
        f'<details class="lnbook-launch" id="{PANEL_ID}">'
        "<summary>Run this chapter</summary>"
        f"<ul>{items}</ul>"
        "<p>On your computer (it sets everything up, then opens this book in JupyterLab):</p>"
        f'<pre class="lnbook-launch-local"><code>{commands}</code></pre>'
        f"{missing}</details>"
    )
