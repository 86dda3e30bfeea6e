"""Build glue: the plotly mime renderer and the keyed execution cache."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from lnbook import sphinxext


def _render(content, mime=sphinxext.PLOTLY_MIME, inline=False):
    data = SimpleNamespace(mime_type=mime, content=content)
    return sphinxext.PlotlyMimeRenderer.handle_mime(None, data, inline)


def _payload(html: str) -> dict:
    return json.loads(html.split('class="lnbook-plotly-spec">', 1)[1].rsplit("</script>", 1)[0])


def test_plotly_output_becomes_a_captioned_figure_and_its_json():
    spec = {
        "data": [{"type": "scatter", "y": [1, 2]}],
        "layout": {"title": {"text": "A & B<br>on <b>two</b> lines <script>"}},
        "frames": [{"name": "f0", "data": []}],
    }
    (node,) = _render(spec)
    html = node.astext()
    # The figure is named by its caption; the plot carries no role that would hide the
    # controls beside it.
    assert html.startswith('<figure class="lnbook-figure"><figcaption class="lnbook-figure-title">')
    caption = html.split("<figcaption", 1)[1].split("</figcaption>", 1)[0]
    # plotly's line break and bold survive, anything else is text.
    assert "A &amp; B<br>on <b>two</b> lines &lt;script&gt;" in caption
    assert '<div class="lnbook-plotly"></div>' in html
    assert _payload(html) == spec  # frames included: the sliders need them


def test_a_figure_without_a_title_has_no_caption():
    (node,) = _render({"data": [], "layout": {}})
    assert "<figcaption" not in node.astext()
    assert '<figure class="lnbook-figure" aria-label="Interactive figure">' in node.astext()


def test_float64_data_travels_as_float32_and_the_shared_template_by_name():
    import plotly.graph_objects as go

    x = np.linspace(0, 1, 7) ** 3
    fig = go.Figure(go.Scatter(x=x, y=-x), layout={"template": "plotly_white"})
    spec = json.loads(fig.to_json())
    (node,) = _render(spec)
    sent = _payload(node.astext())
    assert sent["layout"]["template"] == "plotly_white"
    ys = sent["data"][0]["y"]
    assert ys["dtype"] == "f4"
    decoded = np.frombuffer(base64.b64decode(ys["bdata"]), dtype="<f4")
    np.testing.assert_array_equal(decoded, (-x).astype(np.float32))
    # A figure with a template of its own keeps it whole.
    own = json.loads(go.Figure(layout={"template": "plotly_dark"}).to_json())
    assert isinstance(_payload(_render(own)[0].astext())["layout"]["template"], dict)


def test_plotly_json_cannot_close_its_script_element():
    (node,) = _render({"data": [], "layout": {"title": {"text": "</script><b>x"}}})
    html = node.astext()
    assert html.count("</script>") == 1
    assert _payload(html)["layout"]["title"]["text"] == "</script><b>x"


def test_other_mime_types_and_inline_outputs_are_left_to_myst_nb():
    assert _render({"data": []}, mime="text/html") is None
    assert _render({"data": []}, inline=True) is None


def test_execution_cache_follows_the_package_source(tmp_path, monkeypatch):
    pkg = tmp_path / "lnbook"
    pkg.mkdir()
    (pkg / "a.py").write_text("x = 1\n")
    (tmp_path / "requirements.txt").write_text("numpy==1\n")
    monkeypatch.setattr(sphinxext, "_HERE", pkg)

    first = sphinxext.execution_cache_dir(tmp_path)
    assert first.parent == tmp_path / "_build" / ".jupyter_cache"
    assert sphinxext.execution_cache_dir(tmp_path) == first  # deterministic
    (pkg / "a.py").write_text("x = 2\n")
    second = sphinxext.execution_cache_dir(tmp_path)
    assert second != first
    (tmp_path / "requirements.txt").write_text("numpy==2\n")
    third = sphinxext.execution_cache_dir(tmp_path)
    assert third != second
    # Build glue runs no chapter: changing it keeps the executions.
    (pkg / "sphinxext.py").write_text("y = 1\n")
    (pkg / "editions.py").write_text("z = 1\n")
    assert sphinxext.execution_cache_dir(tmp_path) == third


def _launch_config(tmp_path, monkeypatch, url: str, hub: str = ""):
    monkeypatch.setenv("LNBOOK_REPOSITORY_URL", url)
    monkeypatch.setenv("LNBOOK_JUPYTERHUB_URL", hub)
    monkeypatch.delenv("LNBOOK_REPOSITORY_BRANCH", raising=False)
    # What Jupyter Book passes on: its default repository is its own.
    config = SimpleNamespace(
        html_theme_options={
            "repository_url": "https://github.com/executablebooks/jupyter-book",
            "repository_branch": "main",
            "launch_buttons": {"binderhub_url": "https://mybinder.org", "thebe": False},
        }
    )
    sphinxext._configure_launch(SimpleNamespace(srcdir=str(tmp_path)), config)
    return config.html_theme_options


def test_launch_buttons_point_at_the_books_repository(tmp_path, monkeypatch):
    opts = _launch_config(
        tmp_path, monkeypatch, "git@github.com:someone/lnbook.git", hub="https://hub.example"
    )
    assert opts["repository_url"] == "https://github.com/someone/lnbook"
    assert opts["repository_branch"] == "main"
    assert opts["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert opts["launch_buttons"]["jupyterhub_url"] == "https://hub.example"


def test_without_a_repository_there_are_no_launch_buttons(tmp_path, monkeypatch):
    # tmp_path is no git repository and the variable is empty: nothing to launch from,
    # and Jupyter Book's own repository must not stand in for the book's.
    opts = _launch_config(tmp_path, monkeypatch, "", hub="https://hub.example")
    assert "repository_url" not in opts
    assert opts["launch_buttons"] == {"thebe": False}


def test_repository_url_accepts_github_and_gitlab_only(monkeypatch):
    for given, expected in [
        ("https://github.com/a/b.git", "https://github.com/a/b"),
        ("ssh://git@gitlab.com/a/b", "https://gitlab.com/a/b"),
        ("https://example.com/a/b", ""),
        ("/srv/git/lnbook", ""),
    ]:
        monkeypatch.setenv("LNBOOK_REPOSITORY_URL", given)
        assert sphinxext.repository_url("/nonexistent") == expected


class _Config(SimpleNamespace):
    def __getitem__(self, key):  # sphinx-book-theme reads app.config["html_theme_options"]
        return getattr(self, key)


def _launch_links(tmp_path, monkeypatch, url, pagename="book/01_a", hub="", branch=""):
    """A notebook page's launch links, as sphinx-book-theme writes them and the book mends.

    Runs the theme's own code (1.3.0: ``header_buttons/launch.py``) on the launch settings
    of ``_config.yml``, then :func:`sphinxext._launch_reader_edition`; returns
    ``{button text: URL}``.
    """
    import yaml
    from sphinx_book_theme.header_buttons import update_context_with_repository_info
    from sphinx_book_theme.header_buttons.launch import add_launch_buttons

    monkeypatch.setenv("LNBOOK_REPOSITORY_URL", url)
    monkeypatch.setenv("LNBOOK_JUPYTERHUB_URL", hub)
    monkeypatch.setenv("LNBOOK_REPOSITORY_BRANCH", branch)
    root = Path(__file__).resolve().parents[1]
    book = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    (tmp_path / "book").mkdir(exist_ok=True)
    for name in ("01_a", "intro"):  # a chapter, and a notebook page that is none
        (tmp_path / "book" / f"{name}.md").write_text("---\nkernelspec: {}\n---\n# A\n")
    config = _Config(
        html_theme_options={"launch_buttons": dict(book["launch_buttons"])}, html_context={}
    )
    app = SimpleNamespace(
        config=config,
        builder=None,
        srcdir=str(tmp_path),
        outdir=str(tmp_path / "_build" / "html"),
        env=SimpleNamespace(
            doc2path=lambda name: str(tmp_path / f"{name}.md"),
            metadata={pagename: {"kernelspec": {"name": "python3"}}},
        ),
    )
    sphinxext._configure_launch(app, config)
    update_context_with_repository_info(app)
    # sourcename "": the theme's copy of an executed notebook into _sources is not tested here
    context = {**config.html_context, "pagename": pagename, "sourcename": "", "header_buttons": []}
    add_launch_buttons(app, pagename, "page.html", context, None)
    sphinxext._launch_reader_edition(app, pagename, "page.html", context, None)
    (group,) = [g for g in context["header_buttons"] if g.get("label") == "launch-buttons"]
    return {b["text"]: b["url"] for b in group["buttons"]}


@pytest.mark.parametrize(
    ("repository", "branch", "expected"),
    [
        (
            "git@github.com:someone/lnbook.git",
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
def test_binder_opens_the_chapters_reader_notebook(
    tmp_path, monkeypatch, repository, branch, expected
):
    links = _launch_links(tmp_path, monkeypatch, repository, branch=branch)
    # binder/postBuild writes the reader edition there (tests/test_binder.py checks it does).
    assert links == {"Binder": f"{expected}?urlpath=lab/tree/_build/reader/01_a.ipynb"}


def test_jupyterhub_opens_the_chapters_source_through_nbgitpuller(tmp_path, monkeypatch):
    # A git pull brings no reader edition (a build output), so the hub opens the MyST source.
    links = _launch_links(
        tmp_path, monkeypatch, "https://github.com/someone/lnbook", hub="https://hub.example/"
    )
    assert links["JupyterHub"] == (
        "https://hub.example/hub/user-redirect/git-pull?repo=https%3A//github.com/someone/lnbook"
        "&urlpath=lab/tree/lnbook/book/01_a.md&branch=main"
    )
    assert links["Binder"].endswith("?urlpath=lab/tree/_build/reader/01_a.ipynb")


def test_a_notebook_page_that_is_no_chapter_keeps_the_themes_link(tmp_path, monkeypatch):
    # The reader edition holds the chapters only: another page has no notebook there.
    links = _launch_links(
        tmp_path, monkeypatch, "https://github.com/someone/lnbook", pagename="book/intro"
    )
    assert links == {
        "Binder": "https://mybinder.org/v2/gh/someone/lnbook/main?urlpath=lab/tree/book/intro.md"
    }


def test_binder_url_forms():
    path = "_build/reader/03_x.ipynb"
    assert sphinxext.binder_url(
        "https://mybinder.org/", "https://github.com/a/b", "main", path
    ) == ("https://mybinder.org/v2/gh/a/b/main?urlpath=lab/tree/_build/reader/03_x.ipynb")
    assert sphinxext.binder_url(
        "https://binder.example", "https://gitlab.com/a/b", "v1", path, ui="tree"
    ) == ("https://binder.example/v2/gl/a%2Fb/v1?urlpath=tree/_build/reader/03_x.ipynb")


def test_every_notebook_page_offers_its_executed_notebook(tmp_path):
    import jupytext
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    book = tmp_path / "book"
    book.mkdir()
    chapter = book / "01_a.md"
    chapter.write_text(
        "---\njupytext:\n  text_representation:\n    format_name: myst\n"
        "kernelspec:\n  name: python3\n  display_name: Python 3\n---\n\n# A\n\n"
        "```{code-cell} ipython3\nprint(1)\n```\n"
    )
    (book / "intro.md").write_text("# Intro\n")
    # The cache holds the executed chapter, as the chapter tests leave it.
    executed = jupytext.read(chapter, fmt="md:myst")
    executed.cells[-1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    cache_path = tmp_path / "cache"
    get_cache(str(cache_path)).cache_notebook_bundle(
        CacheBundleIn(executed, str(chapter)), check_validity=False
    )
    out = tmp_path / "_build" / "html"
    app = SimpleNamespace(
        outdir=str(out),
        env=SimpleNamespace(doc2path=lambda name: str(tmp_path / f"{name}.md")),
        config=SimpleNamespace(nb_execution_cache_path=str(cache_path)),
    )
    context = {}
    sphinxext._offer_notebook(app, "book/01_a", "page.html", context, None)
    assert context["ipynb_source"] == "book/01_a.ipynb"
    for path in (out / "_sources" / "book", tmp_path / "_build" / "jupyter_execute" / "book"):
        nb = nbformat.read(path / "01_a.ipynb", as_version=4)
        assert nb.cells[-1].outputs[0].text == "1\n"  # with its outputs
    context = {}
    sphinxext._offer_notebook(app, "book/intro", "page.html", context, None)  # not a notebook
    assert "ipynb_source" not in context
