"""Binder's configuration (``binder/``), checked without Binder.

repo2docker reads ``binder/`` (and then ignores the root's files): it starts from its own
base environment, which already runs JupyterLab (``tests/repo2docker-base-py3.11.txt``),
installs ``binder/requirements.txt`` into it with pip, then runs ``binder/postBuild`` from
the repository's root. A real Binder build needs Docker and the network; these tests check
what it would install and run: the pins are the book's, its runtime only, and they resolve
together with the base environment without moving the Jupyter server; postBuild is strict and
can run twice; the Python version is the one the pins are for.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import background_result, run_in_background
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
BASE = ROOT / "tests" / f"repo2docker-base-py{PY}.txt"
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"
# The book's toolchain, which Binder does not need (it builds no site), and the Jupyter
# server and front ends, which are the base environment's (a pin would move them).
NOT_ON_BINDER = re.compile(
    r"jupyter-book|sphinx-book-theme|pydata-sphinx-theme|sphinxcontrib-.*|sphinx-exercise"
    r"|fonttools|brotli|jupyterlab|notebook|jupyter-server|jupyterhub"
)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")
_UPGRADED = re.compile(r"^#upgraded: ([A-Za-z0-9._-]+)==(\S+)")


def _lines(path: Path) -> list[str]:
    """A requirements file's lines, less comments and blank lines."""
    lines = (line.split(" #", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _pins(path: Path) -> dict[str, str]:
    """``{canonical name: version}`` of a requirements file's ``name==version`` lines."""
    return {canonicalize_name(m[1]): m[2] for line in _lines(path) if (m := _PIN.match(line))}


def _upgraded() -> dict[str, str]:
    """The base packages marked as upgraded by binder/requirements.txt: {name: base version}."""
    marks = (_UPGRADED.match(line) for line in BASE.read_text().splitlines())
    return {canonicalize_name(m[1]): m[2] for m in marks if m}


# ------------------------------------------------------------------ the pins (static) ----


def test_binder_pins_are_the_books_pins_for_the_runtime_only():
    lines = _lines(BINDER / "requirements.txt")
    binder, book = _pins(BINDER / "requirements.txt"), _pins(ROOT / "requirements.txt")
    # Nothing but exact pins and torch's CPU index: no -r/-e/local path, so repo2docker
    # installs the file before copying the repository (a layer Binder can cache), and no
    # range that would resolve to something else on the day of a build.
    assert set(lines) - {CPU_INDEX} == {f"{m[1]}=={m[2]}" for m in map(_PIN.match, lines) if m}
    assert CPU_INDEX in lines  # PyPI's Linux torch pulls GB of CUDA libraries Binder can't use
    # One source of truth: every pin is the book's own.
    differ = {n: (v, book.get(n)) for n, v in binder.items() if book.get(n) != v}
    assert not differ, f"binder/requirements.txt vs requirements.txt: {differ}"
    toolchain = sorted(n for n in binder if NOT_ON_BINDER.fullmatch(n))
    assert not toolchain, f"not needed on Binder (or the base environment's): {toolchain}"
    # Sphinx and myst-parser are there only because myst-nb (`from myst_nb import glue`)
    # requires them: pinned as the book is built, not left to the day of the Binder build.
    myst_nb = {canonicalize_name(Requirement(r).name) for r in _requires("myst-nb")}
    extra = sorted(n for n in binder if n.startswith("sphinx") or n.startswith("myst-parser"))
    assert set(extra) <= myst_nb, extra


def _requires(dist: str) -> list[str]:
    """The requirements of an installed distribution, less those behind extras or markers
    that do not apply here."""
    out = []
    for text in importlib.metadata.requires(dist) or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            out.append(text)
    return out


def _installed_by(pins) -> set[str]:
    """Every distribution the pins install, following requirements through this venv."""
    seen, todo = set(), [canonicalize_name(n) for n in pins]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            todo += [canonicalize_name(Requirement(r).name) for r in _requires(name)]
        except importlib.metadata.PackageNotFoundError:
            pass  # an optional platform's requirement, not installed here
    return seen


def _imports(source: str) -> set[str]:
    """Top-level names of the modules a piece of code imports (absolute imports only)."""
    # Chapter cells may hold IPython magics, which are no Python.
    source = "\n".join(
        line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))
    )
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _runtime_imports() -> dict[str, set[str]]:
    """{file: modules} for what runs on Binder: the chapters (executed by postBuild and by
    the readers), and the package but its site-building glue."""
    import jupytext

    from lnbook.book.myst import chapters

    found = {}
    for path in chapters(ROOT):
        nb = jupytext.read(path, fmt="md:myst")
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        found[f"book/{path.name}"] = _imports(code)
    # Build glue that only the site and the PDF use (lite.py's one run-time function runs
    # in the browser edition, pdf.py needs the test tools): Binder runs the chapters and
    # writes the reader edition (editions, execution, myst), nothing else of lnbook/book.
    build_only = {"sphinxext.py", "bibstyle.py", "icons.py", "stylesheets.py", "lite.py", "pdf.py"}
    for path in sorted((ROOT / "lnbook").rglob("*.py")):
        if not (path.parent.name == "book" and path.name in build_only):
            found[str(path.relative_to(ROOT))] = _imports(path.read_text(encoding="utf-8"))
    return found


# Imported only where a CUDA GPU is (lnbook.triton_ln imports triton inside the functions
# that run the kernels, after checking for one): Binder's machines have no GPU, and the
# wheel is 200 MB, so Binder leaves it out (make test installs it: requirements-dev.txt).
GPU_ONLY = {"lnbook/triton_ln.py": {"triton"}}


def test_binder_installs_everything_the_chapters_and_lnbook_import():
    installed = _installed_by(_pins(BINDER / "requirements.txt"))
    providers = importlib.metadata.packages_distributions()
    missing = {}
    imports = _runtime_imports()
    assert "myst_nb" in imports["book/01_per_example_statistics.md"]  # the parse sees cells
    for where, modules in imports.items():
        for module in sorted(
            modules - set(sys.stdlib_module_names) - {"lnbook"} - GPU_ONLY.get(where, set())
        ):
            dists = {canonicalize_name(d) for d in providers.get(module, [module])}
            if not dists & installed:
                missing.setdefault(where, []).append(module)
    assert not missing, f"imported, but not installed by binder/requirements.txt: {missing}"


# ------------------------------------------------- the pins with repo2docker's (network) ----


def resolve_pins(folder: Path) -> dict:
    """Binder's pins as Binder's pip resolves them: two dry runs in ``folder``, (1) the pins
    alone, whose report gives the version each upgraded base package is upgraded to; (2)
    those versions, the pins and every other base package at its base version, all as
    requirements (so that the requirements of jupyterlab, notebook, jupyter_server...
    count): the environment Binder ends with.

    They mostly wait on the registry's answers (20-30 s here), so ``conftest`` starts them
    in the background when the run starts; the test reads what they returned.

    Returns
    -------
    dict with ``alone`` and ``together``, each the run's exit code and output (``together``
    None when the first run failed), ``chosen`` (the first run's report: name -> metadata)
    and ``seconds``
    """
    folder.mkdir(parents=True, exist_ok=True)
    reqs = (BINDER / "requirements.txt").read_text().splitlines()
    # download.pytorch.org cannot be reached from here: its line is dropped, and torch is
    # asked for as the CPU build it serves (torch==X+cpu), which pip's configuration on this
    # machine finds as a local wheel. (Asking for plain torch==X would let pip, once it
    # backtracks, fetch PyPI's 500 MB CUDA wheel to read its metadata.)
    torch = _pins(BINDER / "requirements.txt")["torch"]
    reqs = [line for line in reqs if line.strip() != CPU_INDEX]
    reqs = [f"torch=={torch}+cpu" if line == f"torch=={torch}" else line for line in reqs]
    binder = folder / "binder-requirements.txt"
    binder.write_text("\n".join(reqs) + "\n")

    start = time.monotonic()
    # Not --quiet: on a conflict, pip says what it is caused by only at its normal level.
    alone = _pip("--report", "alone.json", "-r", binder.name, cwd=folder)
    out = {"alone": (alone.returncode, alone.stdout + alone.stderr), "together": None}
    out["chosen"] = chosen = {}
    if alone.returncode == 0:
        report = json.loads((folder / "alone.json").read_text())["install"]
        # What the test reads of each package's metadata, not all of it (some 800 KB).
        chosen.update(
            {
                canonicalize_name(i["metadata"]["name"]): {
                    k: i["metadata"].get(k) for k in ("name", "version", "requires_dist")
                }
                for i in report
            }
        )
        versions = folder / "upgrades.txt"
        versions.write_text("".join(f"{n}=={chosen[n]['version']}\n" for n in _upgraded()))
        together = _pip("-r", binder.name, "-r", str(BASE), "-c", versions.name, cwd=folder)
        out["together"] = (together.returncode, together.stdout + together.stderr)
    out["seconds"] = time.monotonic() - start
    return out


def _pip(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_PROGRESS_BAR": "off"}
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


_PIP_NOISE = re.compile(
    r"\s*(Collecting|Downloading|Using cached|Processing|Looking in|Would install)\b"
    r"|.*is ignored: it is neither a file nor a directory"  # the local wheel folders here
)


def _pip_failure(done: tuple[int, str], what: str) -> str:
    returncode, output = done
    said = [line for line in output.splitlines() if line.strip() and not _PIP_NOISE.match(line)]
    return (
        f"{what}: pip exited {returncode}. This test needs the package registry (PyPI); "
        "a registry that cannot be reached fails it too (it is never skipped). pip said:\n"
        + "\n".join(said[-40:])
    )


@pytest.mark.network
def test_binder_pins_resolve_in_repo2docker_base_environment(run_dir):
    """What Binder's pip does to repo2docker's environment leaves it consistent
    (:func:`resolve_pins`)."""
    # The marks in the base file agree with the pins, before asking pip anything.
    assert CPU_INDEX in (BINDER / "requirements.txt").read_text().splitlines()
    pins, base, upgraded = _pins(BINDER / "requirements.txt"), _pins(BASE), _upgraded()
    assert not set(base) & set(upgraded), "a base package both pinned and marked #upgraded"
    unmarked = sorted(n for n in pins if n in base and Version(base[n]) != Version(pins[n]))
    assert not unmarked, (
        f"binder/requirements.txt moves {unmarked} of the base environment: mark them "
        f"'#upgraded:' in {BASE.name} if the Jupyter server accepts the new versions"
    )

    done = background_result(run_dir, "binder-pins")
    assert done["alone"][0] == 0, _pip_failure(
        done["alone"], "binder/requirements.txt does not resolve"
    )
    chosen = done["chosen"]
    # Each mark is needed: the package is pinned at another version, or something Binder
    # installs requires a version the base one is not.
    for name, old in upgraded.items():
        needs = [
            f"{meta['name']} needs {req}"
            for meta in chosen.values()
            for req in map(Requirement, meta["requires_dist"] or [])
            if canonicalize_name(req.name) == name
            and (req.marker is None or req.marker.evaluate({"extra": ""}))
            and not req.specifier.contains(old, prereleases=True)
        ]
        pinned = name in pins and Version(pins[name]) != Version(old)
        assert pinned or needs, f"{name}=={old} is marked #upgraded, but nothing needs that"
        assert name in chosen, name
    assert done["together"][0] == 0, _pip_failure(
        done["together"],
        f"binder/requirements.txt conflicts with repo2docker's base environment ({BASE.name}): "
        "a pin or what it pulls in moves a package that the Jupyter server needs as it is, "
        "or upgrades a base package not marked '#upgraded:' there",
    )
    print(f"pip's two dry runs took {done['seconds']:.1f} s")


def test_work_in_the_background_reports_what_it_returned_or_raised(tmp_path):
    # conftest's runner, as the Binder check's dry runs use it: a result reaches the test
    # that waits for it, and so does a failure, named (not a wait until the timeout).
    run_in_background(lambda folder: {"folder": folder.name}, tmp_path, "fine")
    assert background_result(tmp_path, "fine", timeout=5) == {"folder": "fine"}
    run_in_background(lambda folder: 1 / 0, tmp_path, "broken")
    with pytest.raises(AssertionError, match="'broken' raised ZeroDivisionError"):
        background_result(tmp_path, "broken", timeout=5)


# ---------------------------------------------------------------------- postBuild ----


_STUB = """#!/bin/bash
echo "{name} $*" >> "$POSTBUILD_LOG"
{body}
"""


def _sandbox(tmp_path: Path, pip_exit: int = 0) -> dict[str, str]:
    """A PATH on which ``pip`` and ``python`` are stubs that log their arguments.

    ``python -m lnbook.book.editions reader DIR`` writes a file into DIR (as the real one does,
    so the second run finds the first's output); any other ``python`` call fails.
    jupytext-config is the real one, writing into a Jupyter config folder of the sandbox.
    """
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    bodies = {
        "pip": f"exit {pip_exit}",
        "python": (
            'if [ "$1 $2 $3" = "-m lnbook.book.editions reader" ] && [ $# -eq 4 ]; then\n'
            '  mkdir -p "$4" && echo "{}" > "$4/01_a.ipynb"; exit 0\n'
            "fi\nexit 9"
        ),
    }
    for name, body in bodies.items():
        stub = stubs / name
        stub.write_text(_STUB.format(name=name, body=body))
        stub.chmod(0o755)
    (tmp_path / "repo").mkdir()
    return {
        "PATH": os.pathsep.join([str(stubs), str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": str(tmp_path),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter"),
        "POSTBUILD_LOG": str(tmp_path / "log"),
    }


def _post_build(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    # As repo2docker runs it: executed by its shebang, from the repository's root.
    return subprocess.run(
        [str(BINDER / "postBuild")],
        cwd=tmp_path / "repo",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_postbuild_is_strict_and_can_run_twice(tmp_path):
    from lnbook.book.launch import READER_DIR

    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK)
    script = post.read_text()
    assert script.startswith("#!/bin/bash\n")
    assert "\nset -euo pipefail\n" in script
    env = _sandbox(tmp_path)
    log, labconfig = Path(env["POSTBUILD_LOG"]), tmp_path / "jupyter" / "labconfig"
    runs = []
    for _ in range(2):
        log.write_text("")
        done = _post_build(tmp_path, env)
        assert done.returncode == 0, done.stdout + done.stderr
        settings = (labconfig / "default_setting_overrides.json").read_text()
        runs.append((log.read_text().splitlines(), settings))
    assert runs[0] == runs[1]  # the same steps, the same settings, and the second run succeeds
    commands, settings = runs[0]
    # The reader edition goes where the site's Binder links open it (lnbook/book/sphinxext.py).
    assert commands == [
        "pip install --no-deps -e .",
        f"python -m lnbook.book.editions reader {READER_DIR}",
    ]
    assert (tmp_path / "repo" / READER_DIR / "01_a.ipynb").is_file()
    # jupytext's viewer opens the MyST chapters as notebooks (as the lab fixture of
    # tests/test_live.py sets it).
    viewers = json.loads(settings)["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers["markdown"] == "Jupytext Notebook"


def test_postbuild_stops_at_the_first_failing_step(tmp_path):
    env = _sandbox(tmp_path, pip_exit=3)
    done = _post_build(tmp_path, env)
    assert done.returncode == 3
    assert Path(env["POSTBUILD_LOG"]).read_text().splitlines() == ["pip install --no-deps -e ."]


# ------------------------------------------------------------------------ runtime ----


def test_binder_python_is_the_one_the_pins_are_for():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    # repo2docker reads "python-X.Y" (buildpacks/python: a runtime.txt it must honour).
    assert runtime == f"python-{PY}", f"runtime.txt {runtime}, the pins are tested on {PY}"
    import tomllib

    from packaging.specifiers import SpecifierSet

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert Version(PY) in SpecifierSet(project["requires-python"])
    assert BASE.is_file(), f"no record of repo2docker's base environment for Python {PY}"
