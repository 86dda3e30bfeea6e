"""Build glue for the static site: figures, the execution cache, light accessible pages.

Five jobs, nothing else (the issue that splits the package moves them into a build
subpackage of their own):

1. **Plotly on static pages.** In a kernel, plotly emits only its JSON mime type
   (``application/vnd.plotly.v1+json``), which myst-nb would drop with a warning.
   :class:`PlotlyMimeRenderer` (a myst-nb mime renderer plugin, registered as an entry point
   in ``pyproject.toml``) writes it into the page as a ``<figure>`` (its title as the
   caption, a ``<div>`` and the figure's JSON, made lighter: float32 data, the shared
   template sent once in the script), and :func:`setup` adds plotly.js, deferred, to exactly
   the pages that have a figure, once: a partial bundle (core, bar, heatmap) built from npm's
   ``plotly.js`` at set-up (``package.json``), never from a CDN. ``static/plotly-init.js``
   draws the figures, with HTML controls, phone layouts and the theme's dark mode.
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

4. **Light pages for every reader.** The theme's header navbar is left out
   (:func:`_configure_theme`: with it, two menu buttons share one class and the theme's
   script wires the hidden one); the site's stylesheet (``static/lnbook.css``) and KaTeX's
   (math is rendered to HTML at build time by ``sphinxcontrib.katex``, so no page runs a
   math script) are copied in; sphinx-design's files load only on pages that use it; the
   theme's icon font and its rules are cut to the icons the site shows (``icons.py``), its
   stylesheets to the rules the pages use (``stylesheets.py``); and
   :func:`_accessible_markup` mends two bits of other packages' markup for screen readers.

5. **Launch and download.** Every chapter page offers its executed notebook as ``.ipynb``
   (:func:`_offer_notebook`) and, under its title, a "Run this chapter" panel
   (:func:`_add_launch_panel`; the links and markup come from :mod:`lnbook.book.launch`): the
   in-browser edition, Binder, Colab and a JupyterHub where the repository
   (``repository: url`` in ``_config.yml``, or ``LNBOOK_REPOSITORY_URL``) allows them, the
   download, and the local commands. The theme's own launch menu is turned off.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import html
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np

from . import launch
from .execution import executed_notebook, execution_cache_dir

PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
STATIC_SUBDIR = "lnbook"  # under the site's _static/
_HERE = Path(__file__).parent
# Load order matters: plotly first, then the layouts plotly-init.js calls, then the drawing.
_JS_FILES = ("plotly.min.js", "plotly-layout.js", "plotly-init.js")
_CSS_FILE = "lnbook.css"
_PRINT_CSS = "lnbook-print.css"
_PAGE_JS = "lnbook-page.js"  # every page: wide equations and tables become tab stops
# Built at set-up by `npm ci && npm run build` (package.json); the Makefile does both.
_NODE_MODULES = _HERE.parents[1] / "node_modules"
_PLOTLY_BUNDLE = _NODE_MODULES / ".lnbook" / "plotly.min.js"
_KATEX_DIST = _NODE_MODULES / "katex" / "dist"
_PURGECSS = _NODE_MODULES / ".bin" / "purgecss"
_TEMPLATE = "plotly_white"  # every figure's template; the page sends it once


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
        spec = lighter_spec(spec)
        # "</" inside the JSON would end the <script> element early; "<\\/" is the same JSON.
        payload = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")
        title = _figure_title(spec)
        # The <figure> is named by its caption, the title; its controls (plotly-init.js)
        # sit beside the plot, so no role on the plot hides them from screen readers.
        if title:
            head = (
                '<figure class="lnbook-figure">'
                f'<figcaption class="lnbook-figure-title">{_caption(title)}</figcaption>'
            )
        else:
            head = '<figure class="lnbook-figure" aria-label="Interactive figure">'
        markup = (
            f"{head}"
            '<div class="lnbook-plotly"></div>'
            f'<script type="application/json" class="lnbook-plotly-spec">{payload}</script>'
            "</figure>"
        )
        return [nodes.raw(text=markup, format="html", classes=["output", "plotly"])]


def lighter_spec(spec: dict) -> dict:
    """The figure as the page sends it: float64 arrays as float32, the template by name.

    Plotly writes NumPy arrays as base64 (``{"dtype": "f8", "bdata": ...}``); float32 holds
    seven digits, more than a plot can show, in half the bytes, but only between about
    1e-38 and 3e38: an array with a value outside (an exploding hidden state, a vanishing
    gradient on a log axis) stays float64, or those points would turn into 0 or infinity
    and drop out of the plot. The plotly_white template
    (6.5 kB) is the same in every figure: ``plotly-init.js`` carries it once and puts it back
    where ``layout.template`` is the string ``"plotly_white"``.
    """

    def shrink(value):
        if isinstance(value, dict):
            if value.get("dtype") == "f8" and isinstance(value.get("bdata"), str):
                x = np.frombuffer(base64.b64decode(value["bdata"]), dtype="<f8")
                size = np.abs(x[np.isfinite(x) & (x != 0)])
                f4 = np.finfo(np.float32)
                if size.size and (size.max() > f4.max or size.min() < f4.tiny):
                    return value
                return {
                    **value,
                    "dtype": "f4",
                    "bdata": base64.b64encode(x.astype("<f4").tobytes()).decode(),
                }
            return {k: shrink(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shrink(v) for v in value]
        return value

    spec = shrink(spec)
    layout = spec.get("layout", {})
    if layout.get("template") == plotly_template():
        spec["layout"] = {**layout, "template": _TEMPLATE}
    return spec


def _figure_title(spec: dict) -> str:
    title = spec.get("layout", {}).get("title", {})
    return (title.get("text", "") if isinstance(title, dict) else str(title or "")) or ""


def _caption(text: str) -> str:
    """A plotly title as caption HTML: escaped, but for its <br>, <b>, <i>, <sub>, <sup>."""
    safe = html.escape(text, quote=False)
    return re.sub(r"&lt;(/?)(br|b|i|sub|sup)\s*/?&gt;", r"<\1\2>", safe)


def _drop_unused_scripts(app, pagename, templatename, context, doctree) -> None:
    # sphinx-design (loaded by Jupyter Book) styles its cards and tabs: 60 kB a page, only
    # worth sending where the page has one.
    uses_design = re.search(r'class="[^"]*\bsd-', context.get("body", "")) is not None

    def unused(asset) -> bool:
        name = getattr(asset, "filename", None) or str(asset)
        attributes = getattr(asset, "attributes", {})
        return (
            "thebe" in name.lower()
            or "THEBE_JS_URL" in attributes.get("body", "")
            or attributes.get("type") == WIDGET_STATE_MIME
            or (not uses_design and ("sphinx-design" in name or "design-tabs" in name))
        )

    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [a for a in context[key] if not unused(a)]


def _accessible_markup(app, pagename, templatename, context, doctree) -> None:
    """Two fixes of markup that other packages write, for screen readers (axe-core rules).

    myst-nb names every folded cell's <summary> "Toggle hidden content" while it shows
    "Show code cell source" (label-content-name-mismatch): its text names it better. And
    docutils gives each bibliography entry the DPUB role doc-biblioentry inside a
    role="list", whose children must be list items (aria-required-children).
    """
    body = context.get("body", "")
    body = body.replace('<summary aria-label="Toggle hidden content">', "<summary>")
    context["body"] = body.replace('role="doc-biblioentry"', 'role="listitem"')


def _add_page_assets(app, pagename, templatename, context, doctree) -> None:
    # Only pages that draw a figure pay for plotly.js; add_js_file here is per page.
    # Deferred: the text paints first, the figures are drawn once the page is parsed.
    if "lnbook-plotly" in context.get("body", ""):
        for i, name in enumerate(_JS_FILES):
            app.add_js_file(f"{STATIC_SUBDIR}/{name}", priority=900 + i, loading_method="defer")


@functools.cache
def plotly_template() -> dict:
    """The plotly_white template as plotly writes it into a figure's JSON."""
    import plotly.graph_objects as go
    import plotly.io as pio

    return json.loads(pio.to_json(go.Figure(layout={"template": _TEMPLATE})))["layout"]["template"]


def _copy_assets(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    dest = static / STATIC_SUBDIR
    dest.mkdir(parents=True, exist_ok=True)
    plotly, layouts, init_js = _JS_FILES
    shutil.copyfile(_PLOTLY_BUNDLE, dest / plotly)
    shutil.copyfile(_HERE / "static" / layouts, dest / layouts)
    # The figures' shared template travels once, in front of the script that draws them.
    init = (_HERE / "static" / init_js).read_text(encoding="utf-8")
    template = json.dumps({_TEMPLATE: plotly_template()}, separators=(",", ":"))
    (dest / init_js).write_text(f"var LNBOOK_TEMPLATES = {template};\n{init}", encoding="utf-8")
    for name in (_CSS_FILE, _PRINT_CSS, _PAGE_JS):
        shutil.copyfile(_HERE / "static" / name, dest / name)
    # KaTeX's stylesheet and the fonts it names (a page loads only the fonts it shows).
    katex = static / "katex"
    katex.mkdir(exist_ok=True)
    shutil.copyfile(_KATEX_DIST / "katex.min.css", katex / "katex.min.css")
    shutil.copytree(_KATEX_DIST / "fonts", katex / "fonts", dirs_exist_ok=True)
    # The theme's 2,000 icons cut to the few the pages show (lnbook/book/icons.py).
    from sphinx.util import logging

    from .icons import slim_icons

    sizes = slim_icons(app.outdir)
    logging.getLogger(__name__).info(
        f"lnbook: Font Awesome cut to {sizes['icons']} icons "
        f"(stylesheet {sizes['css'] // 1000} kB, solid font {sizes['fa-solid-900.woff2']} B)"
    )


def _purge_stylesheets(app, exception) -> None:
    # After every other build-finished step (myst-nb copies its stylesheet in one).
    if exception is not None or app.builder.format != "html":
        return
    from sphinx.util import logging

    from .stylesheets import purge_unused_css

    sizes = purge_unused_css(Path(app.outdir), _PURGECSS)
    before = sum(b for b, _ in sizes.values())
    after = sum(a for _, a in sizes.values())
    logging.getLogger(__name__).info(
        f"lnbook: {len(sizes)} stylesheets cut to the rules the site uses "
        f"({before // 1000} kB -> {after // 1000} kB)"
    )


def _check_assets(app, config) -> None:
    needed = (_PLOTLY_BUNDLE, _KATEX_DIST / "katex.min.css", _PURGECSS)
    missing = [p for p in needed if not p.is_file()]
    if missing:
        from sphinx.errors import ConfigError

        raise ConfigError(
            f"lnbook: {', '.join(map(str, missing))} missing: the front-end packages are "
            "installed at set-up. Run `make book` (or `npm ci && npm run build`)."
        )


def _configure_theme(app, config) -> None:
    """The theme's header navbar left out; the site's templates and stylesheet added.

    pydata-sphinx-theme 0.17 turns an unset ``navbar_persistent`` into its search field,
    which makes it draw its own header navbar inside sphinx-book-theme's page. That header
    holds a second "primary-toggle" button, hidden, first in the page, and both themes wire
    only the first one, so the visible menu buttons did nothing (pydata-sphinx-theme issue
    2451). sphinx-book-theme means the navbar to be empty (its theme.conf) and has its own
    search button, so say so where pydata-sphinx-theme looks.
    """
    opts = dict(config.html_theme_options)
    opts.setdefault("navbar_persistent", [])
    config.html_theme_options = opts
    templates = str(_HERE / "templates")
    if templates not in config.templates_path:
        config.templates_path = [templates, *config.templates_path]
    app.add_css_file(f"{STATIC_SUBDIR}/{_CSS_FILE}", priority=900)
    # Printing a page (and the PDF edition, lnbook/book/pdf.py): no sidebars, buttons, controls.
    app.add_css_file(f"{STATIC_SUBDIR}/{_PRINT_CSS}", priority=900, media="print")
    app.add_js_file(f"{STATIC_SUBDIR}/{_PAGE_JS}", priority=900, loading_method="defer")


def _use_keyed_cache(app, config) -> None:
    cache = execution_cache_dir(app.srcdir)
    # Drop caches made for older package sources, so _build does not grow without end.
    if cache.parent.is_dir():
        for old in cache.parent.iterdir():
            if old.is_dir() and old != cache:
                shutil.rmtree(old, ignore_errors=True)
    config.nb_execution_cache_path = str(cache)


def launch_settings(config) -> launch.Settings:
    """This build's launch settings, from ``_config.yml`` (as Jupyter Book passes it on).

    ``repository: url`` (the theme option ``repository_url``) names the book's repository;
    ``LNBOOK_REPOSITORY_URL`` overrides it, ``LNBOOK_REPOSITORY_BRANCH`` the branch, and
    ``LNBOOK_JUPYTERHUB_URL`` adds a JupyterHub. An address that is not on GitHub or GitLab
    stops the build with a message naming it.
    """
    from sphinx.errors import ConfigError

    opts = config.html_theme_options
    buttons = opts.get("launch_buttons", {})
    raw = os.environ.get("LNBOOK_REPOSITORY_URL", "").strip() or opts.get("repository_url", "")
    try:
        repository = launch.repository_url(raw or "")
    except ValueError as error:
        raise ConfigError(f"lnbook: {error}") from None
    try:
        return launch.Settings(
            repository=repository,
            branch=os.environ.get("LNBOOK_REPOSITORY_BRANCH", "").strip()
            or opts.get("repository_branch")
            or "main",
            # `binderhub_url:` left empty in YAML is None
            binderhub=(buttons.get("binderhub_url") or "").strip(),
            jupyterhub=os.environ.get("LNBOOK_JUPYTERHUB_URL", "").strip()
            or (buttons.get("jupyterhub_url") or "").strip(),
            interface=buttons.get("notebook_interface") or "jupyterlab",
            pages_branch=config.lnbook_pages_branch,
        )
    except ValueError as error:
        raise ConfigError(f"lnbook: launch_buttons: notebook_interface: {error}") from None


def _configure_launch(app, config) -> None:
    """The launch panel replaces the theme's launch menu (one place lists every way).

    The theme's buttons are turned off: with ``repository: url`` empty Jupyter Book would
    point them at its own repository, and they would repeat the panel. The settings are
    checked here, so a bad repository address fails the build at once.
    """
    settings = launch_settings(config)
    # A config value, so that a changed setting (an environment variable among them)
    # changes Sphinx's build hash and every page is written anew with its new panel.
    config.lnbook_launch = dataclasses.asdict(settings)
    opts = dict(config.html_theme_options)
    opts["launch_buttons"] = {}
    opts["repository_url"] = settings.repository
    config.html_theme_options = opts


def _chapter_source(app, docname: str) -> str | None:
    """``book/01_x.md`` for a chapter, relative to the repository root; None otherwise."""
    from .myst import chapters

    source = Path(app.env.doc2path(docname)).resolve()
    root = Path(app.srcdir).resolve()
    if source not in [p.resolve() for p in chapters(root)]:
        return None
    return source.relative_to(root).as_posix()


def _add_launch_panel(app, doctree, docname: str) -> None:
    """Put the "Run this chapter" panel under a chapter's title, and link each
    "Run it live" box to it (on the website only: a PDF has nothing to launch)."""
    from docutils import nodes

    if app.builder.name != "html":
        return
    source = _chapter_source(app, docname)
    if source is None:
        return
    up = "../" * docname.count("/")
    stem = Path(source).stem
    settings = launch.Settings(**app.config.lnbook_launch)
    links = launch.chapter_links(
        source,
        settings,
        lite=up + launch.lite_url(stem),
        download=f"{up}_sources/{docname}.ipynb",
    )
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None:
        return
    panel = nodes.raw("", launch.panel_html(links, settings), format="html")
    section.insert(1, panel)  # after the title
    for box in doctree.findall(nodes.admonition):
        title = next(iter(box.findall(nodes.title)), None)
        if title is not None and title.astext() == "Run it live":
            box += nodes.paragraph(
                "",
                "",
                nodes.Text("To run it: "),
                nodes.reference("", "Run this chapter", refuri=f"#{launch.PANEL_ID}"),
                nodes.Text(" (top of the page) lists the ways."),
                classes=["lnbook-launch-link"],  # print leaves it out, as it does the panel
            )


def _offer_notebook(app, pagename, templatename, context, doctree) -> None:
    """Write the page's executed notebook beside its source, for the theme's download menu
    and the launch panel (Colab opens it from the published site).

    Its Markdown is made plain (:func:`lnbook.book.editions.reader_notebook`). The theme's own
    copy (``_build/jupyter_execute/<page>.ipynb``, made only with its launch buttons, which
    are off) holds no outputs for MyST notebooks; this one has them.
    """
    import nbformat

    from .editions import reader_notebook

    source = app.env.doc2path(pagename)
    nb = executed_notebook(source, app.config.nb_execution_cache_path)
    if nb is None:
        return
    # Plain Markdown: Colab and Jupyter do not render MyST's roles and directives.
    nb = reader_notebook(nb, Path(source))
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


def _start_katex_patiently(cls, rundir: Path, timeout: float):
    """Start sphinxcontrib-katex's Node.js renderer on a Unix socket and connect once it
    listens (a replacement for ``KaTeXServer.start_server_process``).

    Its own version polls for the socket file and connects once: the file exists (bind) a
    moment before the server listens, and on a busy machine that connect is refused and the
    build fails. Its TCP path, written for Windows, retries, but every equation then waits
    for a delayed ACK (Nagle: the request goes as two small writes), about 70 ms each: 110
    of the build's 145 s, measured on the book's 1,400 equations. A Unix socket has no such
    delay; this retries the connect as the TCP path does.
    """
    import socket
    import subprocess
    import time

    path = rundir / "katex.sock"
    process = subprocess.Popen(
        cls.build_command(socket=path), stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=rundir
    )
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            return process, sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if process.poll() is not None:
                raise RuntimeError(
                    f"the KaTeX renderer (Node.js) exited with code {process.returncode}"
                ) from None
            if time.monotonic() > deadline:
                process.kill()
                raise cls.timeout_error(timeout) from None
            time.sleep(0.01)


def _patient_katex() -> None:
    from sphinxcontrib.katex import KaTeXServer

    KaTeXServer.start_server_process = classmethod(_start_katex_patiently)


def _bibtex_plugins_found_once() -> None:
    """pybtex (0.26) looks a plugin up among every installed package's entry points at each
    call, and sphinxcontrib-bibtex asks once a citation: 194 lookups, 4.3 s of a 37 s build
    (cProfile, 2026-12-06). The installed plugins do not change during a build, so each
    lookup is made once."""
    import functools

    from pybtex import plugin

    if not hasattr(plugin._load_entry_point, "cache_info"):
        plugin._load_entry_point = functools.cache(plugin._load_entry_point)


def setup(app):
    _patient_katex()
    _bibtex_plugins_found_once()
    # The branch the built site is published on (ghp-import's), where Colab finds notebooks.
    app.add_config_value("lnbook_pages_branch", "gh-pages", "html")
    app.add_config_value("lnbook_launch", {}, "html")  # set from the settings above
    app.connect("config-inited", _use_keyed_cache)
    app.connect("config-inited", _configure_launch)
    app.connect("config-inited", _configure_theme)
    app.connect("config-inited", _check_assets)
    # Before the theme's header buttons (priority 501) read ipynb_source.
    app.connect("html-page-context", _offer_notebook, priority=400)
    app.connect("doctree-resolved", _add_launch_panel)
    app.connect("html-page-context", _add_page_assets)
    app.connect("html-page-context", _accessible_markup)
    # Late priority, so the page's asset lists are complete when the unused are removed.
    app.connect("html-page-context", _drop_unused_scripts, priority=900)
    app.connect("build-finished", _copy_assets)
    app.connect("build-finished", _purge_stylesheets, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
