"""The in-browser edition: a JupyterLite site with a Pyodide kernel, built into the website.

Every chapter is there as its reader notebook (:mod:`lnbook.book.editions`) with a setup cell, and
a note before each cell that needs PyTorch (which cannot run in a browser). A reader opens a
chapter from its page's "Run this chapter" panel (:func:`lnbook.book.launch.lite_url`): no
server, no install.

What the site serves itself: JupyterLite, Pyodide's core (npm's ``pyodide``, the version the
kernel expects), the pure-Python wheels the kernel needs to start (PyPI's, at the versions
of Pyodide's lock), those of lnbook's NumPy path (plotly, ipywidgets, anywidget...) and
lnbook itself, as a wheel built from this checkout. What it does not: Pyodide's compiled
packages (NumPy...), which no registry we can reach serves. The site loads nothing from
outside its own folder: without ``LNBOOK_PYODIDE_INDEX`` the lock names those packages
beside its own files, where they are not, and the setup cell says that NumPy is missing and
how to get it. ``LNBOOK_PYODIDE_INDEX`` names a folder holding Pyodide's packages (those
lnbook needs are then copied into the site, which runs NumPy offline), or, where a builder
chooses it, a URL the lock then points at.

Usage: ``python -m lnbook.book.lite build OUT`` (``make book``: ``OUT = _build/html/lite``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from .launch import LITE_DIR

if TYPE_CHECKING:  # nbformat is imported where used: the browser imports this module too
    import nbformat

ROOT = Path(__file__).resolve().parents[2]

PYODIDE_VERSION = "314.0.6"  # what jupyterlite-pyodide-kernel 0.8.6 expects (checked at build)
# Where Pyodide's compiled packages (NumPy among them) come from: a folder or an address a
# builder names (see pyodide_index); by default none, and the site asks nothing of any
# other host (tests/test_site.py, test_site_pages.py, test_lite.py).
INDEX_ENV = "LNBOOK_PYODIDE_INDEX"

# What the kernel installs when it starts (its worker's initKernel), and what that imports:
# the lock entries (with their dependencies) whose wheels the site serves.
KERNEL_START = ["micropip", "packaging", "ipython", "jedi"]
# Shipped at this environment's versions (requirements.txt), in the lock or not (narwhals is,
# older): comm for the kernel; the rest is what the topics' figures and widgets import.
# Name -> its dependencies.
EXTRA = {
    "comm": [],
    "narwhals": [],
    "plotly": ["narwhals", "packaging"],
    "ipywidgets": ["comm", "ipython", "traitlets"],
    "psygnal": [],
    "anywidget": ["ipywidgets", "psygnal", "typing-extensions"],
}
# lnbook's NumPy path in the browser: never torch or scikit-learn (lnbook.data reads its
# packaged digits when scikit-learn is absent).
LNBOOK_DEPENDS = ["numpy", "plotly", "ipywidgets", "anywidget"]
# Compiled packages copied into the site when the index is a local folder (with their
# dependencies in the lock).
COMPILED = ["numpy"]
# JupyterLab extensions the lite app loads: the kernel, widgets and plotly's renderer
# (plotly.js bundled in it, no CDN). Not nbgrader, jupytext or MyST: they need a server or
# serve the MyST sources, which the lite edition does not hold.
EXTENSIONS = [
    "@jupyterlite/pyodide-kernel-extension",
    "@jupyter-widgets/jupyterlab-manager",
    "anywidget",
    "jupyterlab-plotly",
]

SETUP = """\
# Runs in your browser (JupyterLite, Pyodide): loads lnbook and what it uses. lnbook,
# plotly and ipywidgets come with this site, and NumPy where the site was built with
# Pyodide's packages. Run this cell first.
%pip install lnbook
from lnbook.book.lite import ready

ready()"""

OFFLINE = (
    "NumPy could not be loaded: this copy of the browser edition was built without Pyodide's "
    "compiled packages ({url} is not in the site, which loads nothing from elsewhere). Run "
    "the book on Binder or locally (`make lab`), or build the site with LNBOOK_PYODIDE_INDEX "
    "naming a folder of Pyodide's packages."
)

NOTE = """\
**This notebook runs in your browser** (JupyterLite with a Pyodide kernel): nothing to
install. Run the cell below first. The NumPy code runs here; the cells that train
PyTorch models cannot (PyTorch does not run in a browser): each is marked, and its output
is the one from the book's full run. Changes are kept in this browser only; use
*File > Download* to keep a copy."""

TORCH_NOTE = """\
**This cell needs PyTorch, which cannot run in the browser.** The output below is from the
book's full edition. To run it, open the chapter on Binder or in a local copy of the book
(`make lab`)."""


def pyodide_index() -> str:
    """Where Pyodide's compiled packages come from: ``$LNBOOK_PYODIDE_INDEX``, or "" (none:
    the lock names them beside its own files, inside the site, where they are not)."""
    index = os.environ.get(INDEX_ENV, "")
    return index if not index or index.endswith("/") or not _is_url(index) else index + "/"


def ready() -> None:
    """In the browser: say that NumPy and lnbook are loaded, or why NumPy is not (offline).

    The setup cell's ``%pip install`` only logs a failed download to the browser's console;
    this turns it into an error the reader sees.
    """
    try:
        import numpy
    except ImportError:
        import pyodide_js  # only in Pyodide; the lock says where NumPy comes from

        url = pyodide_js.lockfile.packages.numpy.file_name
        raise ImportError(OFFLINE.format(url=url), name="numpy") from None
    print(f"Ready: NumPy {numpy.__version__} and lnbook loaded.")


def _is_url(index: str) -> bool:
    return re.match(r"^https?://", index) is not None


# --------------------------------------------------------------------- notebooks ----


def lite_notebook(reader: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The lite edition of a chapter from its reader notebook (outputs kept).

    After the reader's note (the first cell): a note on running in the browser and the setup
    cell; before every cell tagged ``needs-torch``, a note that it cannot run here (and the
    cell tagged ``raises-exception``, so that running all cells does not stop there).
    """
    import nbformat

    nb = copy.deepcopy(reader)
    cells = []
    for i, cell in enumerate(nb.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if "needs-torch" in tags:
            cells.append(nbformat.v4.new_markdown_cell(TORCH_NOTE))
            # JupyterLab's "Run All" goes on past a cell so tagged: the NumPy cells after
            # it still run.
            tags.append("raises-exception")
        if cell.cell_type == "code":
            # the build-only glue import: myst_nb is not in the browser (glue cells are gone)
            cell.source = re.sub(r"^from myst_nb import glue\n", "", cell.source, flags=re.M)
        cells.append(cell)
        if i == 0:
            cells += [nbformat.v4.new_markdown_cell(NOTE), nbformat.v4.new_code_cell(SETUP)]
    nb.cells = cells
    nb.metadata.setdefault("lnbook", {})["edition"] = "lite"
    return nb


# -------------------------------------------------------------------- the lock ----


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(lock: dict, names: list[str]) -> list[str]:
    """``names`` and everything they depend on in the lock (canonical names, sorted)."""
    packages = {_canonical(k): v for k, v in lock["packages"].items()}
    seen, todo = set(), [_canonical(n) for n in names]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [_canonical(d) for d in packages[name]["depends"]]
    return sorted(seen)


def rewrite_lock(lock: dict, local: dict[str, dict], index: str) -> dict:
    """Pyodide's lock with ``local`` served by the site and the rest loaded from ``index``.

    Parameters
    ----------
    lock : ``pyodide-lock.json`` as npm's ``pyodide`` ships it
    local : canonical name -> the lock entry fields of a wheel beside the lock (at least
        ``file_name`` and ``sha256``; a name not in the lock needs a whole entry)
    index : URL of the folder holding Pyodide's packages (ends with ``/``), or "": the
        rest keep their bare file names, beside the lock
    """
    out = copy.deepcopy(lock)
    for key, entry in out["packages"].items():
        if _canonical(key) not in local:
            entry["file_name"] = index + entry["file_name"]
    for name, fields in local.items():
        key = next((k for k in out["packages"] if _canonical(k) == name), name)
        out["packages"][key] = {**out["packages"].get(key, {}), **fields}
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _entry(wheel: Path, name: str, version: str, imports: list[str], depends: list[str]):
    return {
        "name": name,
        "version": version,
        "file_name": wheel.name,
        "install_dir": "site",
        "package_type": "package",
        "imports": imports,
        "depends": depends,
        "sha256": _sha256(wheel),
        "unvendored_tests": False,
    }


def _download(specs: list[str], cache: Path) -> None:
    """Pure-Python wheels from PyPI into ``cache`` (once: those already there are kept)."""
    missing = [s for s in specs if not list(cache.glob(_wheel_glob(s)))]
    if missing:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(cache)]
            + ["--only-binary=:all:", "--platform=any", "--python-version=3.14"]
            + ["--implementation=py", "--abi=none", *missing],
            check=True,
        )


def _wheel_glob(spec: str) -> str:
    name, version = spec.split("==")
    return f"{re.sub(r'[-_.]+', '_', name)}-{version}-*.whl"


def _find_wheel(cache: Path, spec: str) -> Path:
    # PyPI spells some names with another case (Pygments): match case-insensitively.
    pattern = re.compile(re.escape(_wheel_glob(spec)).replace(r"\*", ".*"), re.I)
    return next(p for p in sorted(cache.iterdir()) if pattern.fullmatch(p.name))


def lnbook_wheel(out: Path, root: Path = ROOT) -> Path:
    """lnbook as a pure-Python wheel, built from ``root``, with the digits packaged.

    The package's modules and the live figure's script (not the website's static files),
    and the digits data set (``lnbook.data.save_digits``), which the browser cannot get
    from scikit-learn.
    Metadata lists the NumPy path's dependencies only.
    """
    from importlib.metadata import version as installed

    from .. import __version__, data

    name = f"lnbook-{__version__}"
    package = root / "lnbook"
    # Every module, subpackages included (the topics; lnbook.book.lite holds the setup
    # cell's ready()), and the live figure's script, which lnbook.live reads at import.
    sources = [*sorted(package.rglob("*.py")), package / "live_figure.js"]
    files = {
        f"lnbook/{p.relative_to(package).as_posix()}": p.read_bytes()
        for p in sources
        if "__pycache__" not in p.parts
    }
    staged = data.save_digits(out / "digits-staging" / data.DIGITS_FILE)
    files[f"lnbook/{data.DIGITS_FILE}"] = staged.read_bytes()
    requires = "".join(f"Requires-Dist: {d}=={installed(d)}\n" for d in LNBOOK_DEPENDS)
    files[f"{name}.dist-info/METADATA"] = (
        f"Metadata-Version: 2.1\nName: lnbook\nVersion: {__version__}\n{requires}"
    ).encode()
    files[f"{name}.dist-info/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: lnbook.book.lite\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = "".join(f"{path},,\n" for path in [*files, f"{name}.dist-info/RECORD"])
    files[f"{name}.dist-info/RECORD"] = record.encode()
    wheel = out / f"{name}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, content in files.items():
            # a fixed date: the same source gives the same wheel (and sha256)
            zf.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), content)
    return wheel


def stage_pyodide(dest: Path, cache: Path, index: str, root: Path = ROOT) -> None:
    """Pyodide's core from npm, the wheels the site serves and the rewritten lock, in ``dest``.

    ``index``: a local folder of Pyodide's packages (the :data:`COMPILED` packages are then
    copied here and served by the site), a URL of one, or "" (none: not in the site).
    """
    from importlib.metadata import version as installed

    from .. import __version__

    npm = root / "node_modules" / "pyodide"
    npm_version = json.loads((npm / "package.json").read_text())["version"]
    from jupyterlite_pyodide_kernel.constants import PYODIDE_VERSION as kernel_version

    if not npm_version == kernel_version == PYODIDE_VERSION:
        raise RuntimeError(
            f"npm's pyodide {npm_version}, the kernel expects {kernel_version} "
            f"(lnbook.book.lite: {PYODIDE_VERSION}): pin the same version in package.json"
        )
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for name in ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip"]:
        shutil.copy2(npm / name, dest / name)
    lock = json.loads((npm / "pyodide-lock.json").read_text())

    # The lock's pure-Python packages the kernel starts with, and those the added packages
    # depend on, as PyPI has them.
    needed = [*KERNEL_START, *sum(EXTRA.values(), []), *LNBOOK_DEPENDS]
    start = {
        n: lock["packages"][n]["version"]
        for n in closure(lock, [d for d in needed if d in lock["packages"]])
        if lock["packages"][n]["file_name"].endswith("-none-any.whl") and n not in EXTRA
    }
    extra = {n: installed(n) for n in EXTRA}
    _download([f"{n}=={v}" for n, v in {**start, **extra}.items()], cache)
    local = {}
    for name, version in start.items():
        wheel = _find_wheel(cache, f"{name}=={version}")
        shutil.copy2(wheel, dest / wheel.name)
        local[name] = {"file_name": wheel.name, "sha256": _sha256(wheel)}
    for name, depends in EXTRA.items():
        wheel = _find_wheel(cache, f"{name}=={extra[name]}")
        shutil.copy2(wheel, dest / wheel.name)
        local[name] = _entry(wheel, name, extra[name], [name.replace("-", "_")], depends)
    wheel = lnbook_wheel(dest, root)
    local["lnbook"] = _entry(wheel, "lnbook", __version__, ["lnbook"], LNBOOK_DEPENDS)
    shutil.rmtree(dest / "digits-staging", ignore_errors=True)

    if index and not _is_url(index):  # a folder of Pyodide's packages: copy what lnbook needs
        for name in closure(lock, COMPILED):
            entry = lock["packages"][name]
            shutil.copy2(Path(index) / entry["file_name"], dest / entry["file_name"])
            local[name] = {"file_name": entry["file_name"]}
        index = ""  # the packages lnbook does not use: named in the site, not copied
    lock = rewrite_lock(lock, local, index)
    (dest / "pyodide-lock.json").write_text(json.dumps(lock, indent=1), encoding="utf-8")


# -------------------------------------------------------------------- the build ----


def _extension_dirs() -> list[str]:
    share = Path(sys.prefix) / "share" / "jupyter" / "labextensions"
    return [str(share / name) for name in EXTENSIONS]


def build(out: Path, root: Path = ROOT, index: str | None = None) -> None:
    """Build the lite site into ``out`` (the reader notebooks from the execution cache)."""
    import nbformat

    from .editions import reader_notebook
    from .execution import executed_chapter
    from .myst import chapters

    work = root / "_build" / "lite-src"  # staging, and jupyter lite's own records
    contents = work / "contents"
    shutil.rmtree(contents, ignore_errors=True)
    contents.mkdir(parents=True)
    for path in chapters(root):
        nb = lite_notebook(reader_notebook(executed_chapter(path, root), path))
        nbformat.validate(nb)
        # Plain JSON: nbformat.write splits text into lists of lines, which JupyterLite
        # serves as they are, and JupyterLab's table of contents fails on a list.
        text = json.dumps(nb, indent=1, ensure_ascii=False)
        (contents / f"{path.stem}.ipynb").write_text(text + "\n", encoding="utf-8")
    lite_build(work, out, root, pyodide_index() if index is None else index)


def lite_build(work: Path, out: Path, root: Path, index: str) -> None:
    """``jupyter lite build`` of the notebooks in ``work/contents`` into ``out``."""
    stage_pyodide(work / "static" / "pyodide", root / "_build" / "wheels", index, root)
    plugin = "@jupyterlite/pyodide-kernel-extension:kernel"
    lite_json = {
        "jupyter-lite-schema-version": 0,
        "jupyter-config-data": {
            "appName": "Layer normalization, shown (in the browser)",
            "exposeAppInBrowser": True,  # window.jupyterapp: what the tests drive
            # offline, fail at once instead of asking PyPI for what the site lacks
            "litePluginSettings": {plugin: {"disablePyPIFallback": True}},
        },
    }
    (work / "jupyter-lite.json").write_text(json.dumps(lite_json, indent=1), encoding="utf-8")
    config = {
        "LiteBuildConfig": {
            "apps": ["lab"],
            "contents": [str(work / "contents")],
            "no_sourcemaps": True,
            "no_unused_shared_packages": True,
            # only the extensions named above, not every one installed in this environment
            "ignore_sys_prefix": ["federated_extensions"],
            "federated_extensions": _extension_dirs(),
            "output_dir": str(out.resolve()),
        }
    }
    (work / "jupyter_lite_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    # A build from scratch: jupyter lite's task records would skip patching a config that
    # a new output folder lacks.
    shutil.rmtree(out, ignore_errors=True)
    for db in work.glob(".jupyterlite.doit.db*"):
        db.unlink()
    jupyter = Path(sys.executable).with_name("jupyter")
    cmd = [str(jupyter), "lite", "build", "--lite-dir", str(work)]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    if proc.returncode:  # its task list is long: shown only when it failed
        raise SystemExit(f"jupyter lite build failed:\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}")


def main(argv: list[str] | None = None) -> None:
    import argparse
    import time

    parser = argparse.ArgumentParser(
        prog="python -m lnbook.book.lite", description="Build the in-browser (JupyterLite) edition."
    )
    parser.add_argument("command", choices=["build"])
    parser.add_argument("out", type=Path, help=f"the site's folder (_build/html/{LITE_DIR})")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    build(args.out)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(
        f"Built the lite site in {args.out} ({size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - start:.0f} s; Pyodide's compiled packages: "
        f"{pyodide_index() or 'not in the site (LNBOOK_PYODIDE_INDEX is not set)'}"
    )


if __name__ == "__main__":
    main()
