"""Build glue: the plotly mime renderer, the keyed execution cache, launch settings and
the notebook download."""

from __future__ import annotations

import base64
import dataclasses
import json
from types import SimpleNamespace

import numpy as np
import pytest

from lnbook.book import execution, sphinxext


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


@pytest.mark.parametrize("extreme", [7.2e46, 1e-45, -3e39])
def test_data_float32_cannot_hold_stays_float64(extreme):
    # An exploding hidden state (chapter 11) or a vanishing gradient: as float32 those
    # values would be infinity or 0, and a log axis drops them from the plot.
    import plotly.graph_objects as go

    y = np.array([1.0, 5.0, extreme, 0.0, np.nan])
    (node,) = _render(json.loads(go.Figure(go.Scatter(y=y)).to_json()))
    sent = _payload(node.astext())["data"][0]["y"]
    assert sent["dtype"] == "f8"
    decoded = np.frombuffer(base64.b64decode(sent["bdata"]), dtype="<f8")
    np.testing.assert_array_equal(decoded, y)


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
    (pkg / "book").mkdir()
    monkeypatch.setattr(execution, "_PACKAGE", pkg)
    monkeypatch.setattr(execution, "_HERE", pkg / "book")

    first = execution.execution_cache_dir(tmp_path)
    assert first.parent == tmp_path / "_build" / ".jupyter_cache"
    assert execution.execution_cache_dir(tmp_path) == first  # deterministic
    (pkg / "a.py").write_text("x = 2\n")
    second = execution.execution_cache_dir(tmp_path)
    assert second != first
    (tmp_path / "requirements.txt").write_text("numpy==2\n")
    third = execution.execution_cache_dir(tmp_path)
    assert third != second
    # Build glue and the widgets' latency run no chapter: changing them keeps the executions.
    (pkg / "book" / "sphinxext.py").write_text("y = 1\n")
    (pkg / "book" / "editions.py").write_text("z = 1\n")
    (pkg / "latency.py").write_text("b = 1\n")
    assert execution.execution_cache_dir(tmp_path) == third
    # Chapters 7 and 8 run the benchmark's functions: a change there re-executes.
    (pkg / "bench.py").write_text("b = 1\n")
    fourth = execution.execution_cache_dir(tmp_path)
    assert fourth != third
    # A topic is package code: a change there re-executes.
    (pkg / "topics").mkdir()
    (pkg / "topics" / "t.py").write_text("t = 1\n")
    assert execution.execution_cache_dir(tmp_path) != fourth


def _launch_settings(monkeypatch, url=None, env="", hub="", branch=""):
    """The launch settings of a build of ``_config.yml`` (its ``repository: url`` replaced
    by ``url`` unless None), passed through Jupyter Book's own translation to Sphinx."""
    from sitekit import book_config

    monkeypatch.setenv("LNBOOK_REPOSITORY_URL", env)
    monkeypatch.setenv("LNBOOK_JUPYTERHUB_URL", hub)
    monkeypatch.setenv("LNBOOK_REPOSITORY_BRANCH", branch)
    config = book_config(url)
    settings = sphinxext.launch_settings(config)
    sphinxext._configure_launch(SimpleNamespace(), config)
    # The theme's launch menu is off: the panel lists every way, once.
    assert config.html_theme_options["launch_buttons"] == {}
    assert config.html_theme_options["repository_url"] == settings.repository
    # Every setting is a config value, so changing one (an environment variable too)
    # changes Sphinx's build hash and rewrites every page's panel.
    assert config.lnbook_launch == dataclasses.asdict(settings)
    return settings


def test_the_books_config_names_no_repository_and_jupyter_books_does_not_stand_in(monkeypatch):
    settings = _launch_settings(monkeypatch)
    assert settings.repository == ""
    assert settings.binderhub == "https://mybinder.org"
    assert settings.interface == "jupyterlab"


def test_the_repository_comes_from_config_and_the_environment_overrides_it(monkeypatch):
    settings = _launch_settings(monkeypatch, url="https://github.com/someone/lnbook")
    assert (settings.repository, settings.branch) == ("https://github.com/someone/lnbook", "main")
    settings = _launch_settings(
        monkeypatch,
        url="https://github.com/someone/lnbook",
        env="git@gitlab.com:other/ln-book.git",
        hub="https://hub.example",
        branch="dev",
    )
    assert settings.repository == "https://gitlab.com/other/ln-book"
    assert (settings.branch, settings.jupyterhub) == ("dev", "https://hub.example")


def test_a_repository_binder_cannot_build_stops_the_build_with_its_address(monkeypatch):
    from sphinx.errors import ConfigError

    with pytest.raises(ConfigError, match="example.com/a/b"):
        _launch_settings(monkeypatch, url="https://example.com/a/b")


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
    nb = nbformat.read(out / "_sources" / "book" / "01_a.ipynb", as_version=4)
    assert nb.cells[-1].outputs[0].text == "1\n"  # with its outputs
    context = {}
    sphinxext._offer_notebook(app, "book/intro", "page.html", context, None)  # not a notebook
    assert "ipynb_source" not in context


def test_katex_renders_over_a_unix_socket_started_patiently(monkeypatch, tmp_path):
    # The build's math renderer: Node.js on a Unix socket (a TCP socket costs every equation
    # a delayed ACK), connected once it listens. The renderer process is the real one.
    import socket

    from sphinxcontrib import katex

    # Undone after the test: the library's own start.
    original = katex.KaTeXServer.__dict__["start_server_process"]
    monkeypatch.setattr(katex.KaTeXServer, "start_server_process", original)
    sphinxext._patient_katex()
    assert katex.KaTeXServer.start_server_process.__func__ is sphinxext._start_katex_patiently
    server = katex.KaTeXServer(tmp_path, *katex.KaTeXServer.start_server_process(tmp_path, 10))
    try:
        assert server.sock.family == socket.AF_UNIX
        request = {"latex": r"\hat x = (x - \mu)\,\mathrm{rstd}", "katex_options": {}}
        html = server.render(request, 10)["html"]
        assert 'class="katex"' in html and "μ" in html
    finally:
        server.terminate()


# A stand-in for the Node.js renderer with the race the build met: the socket file exists
# (bind) a while before the server listens. It ends by itself within seconds.
_LATE_LISTENER = """
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
time.sleep(0.5)
s.listen()
s.settimeout(5)
conn, _ = s.accept()
conn.sendall(b"ok")
time.sleep(1)
"""


class _LateServer:
    @classmethod
    def build_command(cls, socket=None, port=None):
        import sys

        return [sys.executable, "-c", _LATE_LISTENER, str(socket)]

    @classmethod
    def timeout_error(cls, timeout):
        return TimeoutError(f"no server after {timeout} s")


def test_katex_start_waits_until_the_renderer_listens(tmp_path):
    from sphinxcontrib import katex

    own, ours = tmp_path / "own", tmp_path / "ours"
    own.mkdir()
    ours.mkdir()
    # The library's own start connects once, as soon as the file exists: refused.
    with pytest.raises(ConnectionRefusedError):
        katex.KaTeXServer.__dict__["start_server_process"].__func__(_LateServer, own, 10)
    # Ours retries until the server listens.
    process, sock = sphinxext._start_katex_patiently(_LateServer, ours, 10)
    try:
        assert sock.recv(2) == b"ok"
    finally:
        sock.close()
        process.kill()
        process.wait()


def test_bibtex_plugins_are_looked_up_once_each(monkeypatch):
    from pybtex import plugin

    # pybtex's own lookup (a build in this process may have wrapped it already)
    original = getattr(plugin._load_entry_point, "__wrapped__", plugin._load_entry_point)
    monkeypatch.setattr(plugin, "_load_entry_point", original)  # restored after the test
    sphinxext._bibtex_plugins_found_once()
    found = plugin.find_plugin("pybtex.style.formatting", "plain")
    assert found is original("pybtex.style.formatting", "plain", use_aliases=True)
    assert plugin.find_plugin("pybtex.style.formatting", "plain") is found
    assert plugin._load_entry_point.cache_info().hits == 1  # the second, from the cache
    sphinxext._bibtex_plugins_found_once()  # a second build in the process: still one cache
    assert plugin._load_entry_point.__wrapped__ is original
