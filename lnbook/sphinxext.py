"""Build glue for the static site: plotly figures and the execution cache.

Three jobs, nothing else:

1. **Plotly on static pages.** In a kernel, plotly emits only its JSON mime type
   (``application/vnd.plotly.v1+json``), which myst-nb would drop with a warning.
   :class:`PlotlyMimeRenderer` (a myst-nb mime renderer plugin, registered as an entry point
   in ``pyproject.toml``) writes it into the page as a ``<div>`` plus the figure's JSON, and
   :func:`setup` adds ``plotly.min.js`` (copied from the installed plotly package into
   ``_static/lnbook/``, never from a CDN) to exactly the pages that have a figure, once.
   The files are copied by hand rather than through ``html_static_path``, because Jupyter
   Book injects every ``.js`` and ``.css`` found in a static path into every page.

2. **One execution per run.** The execution cache is keyed by the code cells only, so a
   change in ``lnbook/`` would not re-execute the chapters. :func:`execution_cache_dir` puts
   the cache in a folder named after a digest of the package modules the chapters run (not
   this build glue, nor the classroom editions) and the pins; the chapter tests execute
   each chapter once and store it there, and the build reuses it.

3. **No dead scripts.** Jupyter Book always loads sphinx-thebe, which puts a CDN address
   (unpkg) in every page and, in 0.3.1, declares its config twice, a JavaScript error on
   every page. And myst-nb embeds the state of every ipywidget a chapter created (for a
   plotly ``FigureWidget`` that includes a copy of plotly.js, 5 MB a page), although the
   static site renders no widget. The book uses neither, so :func:`_drop_unused_scripts`
   removes both from each page.

4. **Launch and download.** Every chapter page offers its executed notebook as ``.ipynb``
   (:func:`_offer_notebook`). Its Binder button (and a JupyterHub button through
   nbgitpuller, if ``LNBOOK_JUPYTERHUB_URL`` is set) needs the public repository, which
   :func:`repository_url` finds in ``LNBOOK_REPOSITORY_URL`` or the git remote ``origin``.
   Where there is none, the launch buttons are left out: Jupyter Book's default would
   point them at its own repository.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
STATIC_SUBDIR = "lnbook"  # under the site's _static/
_HERE = Path(__file__).parent
_JS_FILES = ("plotly.min.js", "plotly-init.js")  # load order matters: plotly first
_NOT_EXECUTED = {"sphinxext.py", "editions.py", "bench.py"}  # no chapter imports these


def execution_cache_dir(root: str | Path) -> Path:
    """The jupyter-cache folder for the current package source and pins.

    Parameters
    ----------
    root : the repository root (holding ``_config.yml``)
    """
    root = Path(root)
    digest = hashlib.sha256()
    for path in sorted(_HERE.rglob("*.py")):
        # Build and classroom glue runs no chapter: a change there re-executes nothing.
        if path.name not in _NOT_EXECUTED and "__pycache__" not in path.parts:
            digest.update(path.relative_to(_HERE).as_posix().encode())
            digest.update(path.read_bytes())
    for name in ("requirements.txt", "pyproject.toml"):
        if (root / name).exists():
            digest.update((root / name).read_bytes())
    return root / "_build" / ".jupyter_cache" / digest.hexdigest()[:16]


class PlotlyMimeRenderer:
    """myst-nb mime renderer plugin for plotly figures on HTML pages."""

    # Prefer plotly's JSON over any fallback in the same output (lower is preferred).
    mime_priority_overrides = [("html", PLOTLY_MIME, 5)]

    @staticmethod
    def handle_mime(renderer, data, inline: bool):
        if inline or data.mime_type != PLOTLY_MIME:
            return None
        from docutils import nodes

        spec = data.content if isinstance(data.content, dict) else json.loads(data.content)
        # "</" inside the JSON would end the <script> element early; "<\/" is the same JSON.
        payload = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")
        label = html.escape(_figure_title(spec), quote=True)
        markup = (
            f'<div class="lnbook-plotly" role="figure" aria-label="{label}"></div>'
            f'<script type="application/json" class="lnbook-plotly-spec">{payload}</script>'
        )
        return [nodes.raw(text=markup, format="html", classes=["output", "plotly"])]


def _figure_title(spec: dict) -> str:
    title = spec.get("layout", {}).get("title", {})
    text = title.get("text", "") if isinstance(title, dict) else str(title)
    return text or "Interactive figure"


def _drop_unused_scripts(app, pagename, templatename, context, doctree) -> None:
    def unused(asset) -> bool:
        name = getattr(asset, "filename", None) or str(asset)
        attributes = getattr(asset, "attributes", {})
        return (
            "thebe" in name.lower()
            or "THEBE_JS_URL" in attributes.get("body", "")
            or attributes.get("type") == WIDGET_STATE_MIME
        )

    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [a for a in context[key] if not unused(a)]


def _add_plotly_js(app, pagename, templatename, context, doctree) -> None:
    # Only pages that draw a figure pay for plotly.js; add_js_file here is per page.
    if "lnbook-plotly" in context.get("body", ""):
        for i, name in enumerate(_JS_FILES):
            app.add_js_file(f"{STATIC_SUBDIR}/{name}", priority=900 + i)


def _copy_assets(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    import plotly

    dest = Path(app.outdir) / "_static" / STATIC_SUBDIR
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(
        Path(plotly.__file__).parent / "package_data" / "plotly.min.js", dest / _JS_FILES[0]
    )
    shutil.copyfile(_HERE / "static" / _JS_FILES[1], dest / _JS_FILES[1])


def _use_keyed_cache(app, config) -> None:
    cache = execution_cache_dir(app.srcdir)
    # Drop caches made for older package sources, so _build does not grow without end.
    if cache.parent.is_dir():
        for old in cache.parent.iterdir():
            if old.is_dir() and old != cache:
                shutil.rmtree(old, ignore_errors=True)
    config.nb_execution_cache_path = str(cache)


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def repository_url(root: str | Path) -> str:
    """The public repository of the book, as ``https://github.com/org/repo``; "" if unknown.

    ``LNBOOK_REPOSITORY_URL`` wins; otherwise the git remote ``origin``, if it is on GitHub
    or GitLab (``git@github.com:org/repo.git`` and ``https://...repo.git`` both count).
    """
    url = os.environ.get("LNBOOK_REPOSITORY_URL", "").strip() or _git(
        Path(root), "remote", "get-url", "origin"
    )
    match = re.fullmatch(
        r"(?:https://|git@|ssh://git@)(github\.com|gitlab\.com)[:/]([\w.-]+)/([\w.-]+?)(?:\.git)?/?",
        url,
    )
    return f"https://{match[1]}/{match[2]}/{match[3]}" if match else ""


def _configure_launch(app, config) -> None:
    opts = dict(config.html_theme_options)
    launch = dict(opts.get("launch_buttons", {}))
    hub = os.environ.get("LNBOOK_JUPYTERHUB_URL", "").strip()
    if hub:
        launch["jupyterhub_url"] = hub
    url = repository_url(app.srcdir)
    if url:
        opts["repository_url"] = url
        opts["repository_branch"] = (
            os.environ.get("LNBOOK_REPOSITORY_BRANCH", "").strip()
            or opts.get("repository_branch")
            or "main"
        )
    else:
        opts.pop("repository_url", None)
        for key in ("binderhub_url", "jupyterhub_url", "colab_url", "deepnote_url"):
            launch.pop(key, None)
    opts["launch_buttons"] = launch
    config.html_theme_options = opts


def executed_notebook(source: str | Path, cache_path: str | Path):
    """A chapter as a notebook with the outputs of its cached execution (none if uncached).

    Returns None for a page that is not a notebook (no jupytext header with a kernel).
    """
    import jupytext
    from jupyter_cache import get_cache

    source = Path(source)
    if source.suffix != ".md" or "kernelspec:" not in source.read_text(encoding="utf-8")[:600]:
        return None
    nb = jupytext.read(source, fmt="md:myst")
    try:
        _, nb = get_cache(str(cache_path)).merge_match_into_notebook(nb)
    except KeyError:  # not executed yet: offer the notebook without outputs
        pass
    return nb


def _offer_notebook(app, pagename, templatename, context, doctree) -> None:
    """Write the page's executed notebook beside its source, for the theme's download menu.

    Its Markdown is made plain (:func:`lnbook.editions.reader_notebook`).
    The theme copies ``_build/jupyter_execute/<page>.ipynb`` only when launch buttons are
    on, and for MyST notebooks that file holds no outputs; the reader's download should
    have them, whether or not the repository is known. So the executed notebook goes to
    both places (the theme's copy, if it runs, then copies this one).
    """
    import nbformat

    from .editions import reader_notebook

    source = app.env.doc2path(pagename)
    nb = executed_notebook(source, app.config.nb_execution_cache_path)
    if nb is None:
        return
    # Plain Markdown: Colab and Jupyter do not render MyST's roles and directives.
    nb = reader_notebook(nb, Path(source))
    out = Path(app.outdir)
    for folder in (out / "_sources", out.parent / "jupyter_execute"):
        target = folder / f"{pagename}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app):
    app.connect("config-inited", _use_keyed_cache)
    app.connect("config-inited", _configure_launch)
    # Before the theme's header buttons (priority 501) read ipynb_source.
    app.connect("html-page-context", _offer_notebook, priority=400)
    app.connect("html-page-context", _add_plotly_js)
    # Late priority, so the page's asset lists are complete when the unused are removed.
    app.connect("html-page-context", _drop_unused_scripts, priority=900)
    app.connect("build-finished", _copy_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
