"""Build glue: the plotly mime renderer and the keyed execution cache."""

from __future__ import annotations

import json
from types import SimpleNamespace

from lnbook import sphinxext


def _render(content, mime=sphinxext.PLOTLY_MIME, inline=False):
    data = SimpleNamespace(mime_type=mime, content=content)
    return sphinxext.PlotlyMimeRenderer.handle_mime(None, data, inline)


def test_plotly_output_becomes_a_div_and_its_json():
    spec = {
        "data": [{"type": "scatter", "y": [1, 2]}],
        "layout": {"title": {"text": "A & B"}},
        "frames": [{"name": "f0", "data": []}],
    }
    (node,) = _render(spec)
    html = node.astext()
    # role=figure (not img): an img role would hide the figure's controls from screen readers.
    assert html.startswith('<div class="lnbook-plotly" role="figure" aria-label="A &amp; B">')
    payload = html.split('class="lnbook-plotly-spec">', 1)[1].rsplit("</script>", 1)[0]
    assert json.loads(payload) == spec  # frames included: the sliders need them


def test_plotly_json_cannot_close_its_script_element():
    (node,) = _render({"data": [], "layout": {"title": {"text": "</script><b>x"}}})
    html = node.astext()
    assert html.count("</script>") == 1
    payload = html.split('class="lnbook-plotly-spec">', 1)[1].rsplit("</script>", 1)[0]
    assert json.loads(payload)["layout"]["title"]["text"] == "</script><b>x"


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
    assert sphinxext.execution_cache_dir(tmp_path) != second
