"""Shared test settings, the kernels that run the notebooks, and the fixtures of the site
tests (built once per session)."""

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

# Two workers on two cores: NumPy's BLAS and torch get one thread each, in the workers and in
# the chapter kernels they start (which inherit this environment). Set before NumPy loads.
# Four chapters on the two workers took 67 s so, 72 s with two threads a process.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import pytest  # noqa: E402
import sitekit  # noqa: E402
from hypothesis import settings  # noqa: E402

# Property tests compare with torch; their speed varies with the shapes drawn, so no deadline.
# derandomize: every run (and CI) draws the same examples, so a failure is reproducible.
settings.register_profile("lnbook", deadline=None, derandomize=True)
settings.load_profile("lnbook")


# ``make test`` runs two workers (pytest-xdist); the scheduler below hands them the tests one at
# a time, in the order ``pytest_collection_modifyitems`` sets, except that a module whose
# fixtures are expensive (a findings module's experiments, the printed PDF, the in-browser
# kernel, the graded nbgrader course, a browser visit of every page) goes whole to one
# worker, so its fixtures are computed once, not once per worker.
# What must happen once per run, in order, is coordinated through files in a folder both
# workers share: each chapter test leaves a mark when it ends, and the last one starts the
# strict build, once, in a thread of its worker, while both workers go on with other tests
# (the build renders those executions instead of executing the chapters again); the site
# tests wait for it. Work that mostly waits on the network starts with the run, in the
# background (``BACKGROUND``). A worker that crashes leaves what its waiters wait for as
# failed (``pytest_handlecrashitem``), so they fail at once instead of waiting an hour.

# Modules run whole on one worker (file names; fnmatch patterns).
ONE_WORKER_MODULES = (
    "test_findings_*.py",
    "test_pdf.py",
    "test_lite.py",
    "test_nbgrader.py",
    "test_site_pages.py",  # each page visited once for all its tests
)
# The chapters that take longest to run (10-45 s each, against 2-10 s), slowest first: the
# chapter runs end on short ones, so both workers finish them together; and the student
# notebooks, run next in the same order, find their chapter's results kept
# (``lnbook._results``), seldom waiting for the chapter's run to end. The others follow in
# file order.
SLOW_CHAPTERS = (
    "05_transformers",
    "06_covariate_shift",
    "12_placements",
    "07_rmsnorm_and_beyond",
    "08_performance",
    "02_gamma_and_beta",
    "04_layernorm_vs_batchnorm",
    "11_recurrent",
    "14_outliers_vision_conditioning",
)
# Modules run together on one worker: those that share a server each worker starts for
# itself (the ``lab`` fixture's JupyterLab: a start costs some 5 s).
SAME_WORKER_MODULES = {"test_lab.py": "jupyterlab", "test_live.py": "jupyterlab"}


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # optional: `-p no:xdist` still runs
def pytest_xdist_make_scheduler(config, log):
    """xdist's scheduler for ``-n``: every test its own unit of work, but the modules of
    ``ONE_WORKER_MODULES`` one unit each, and each group of ``SAME_WORKER_MODULES`` one
    (xdist's ``loadgroup`` would do it with a marker, but xdist 3.8 does not group under
    pytest 9: its mark renames the test's ``_nodeid``, which pytest 9 no longer reads)."""
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if group := _worker_group(nodeid):
                return group
            return nodeid.split("::", 1)[0] if _one_worker_module(nodeid) else nodeid

        def _reschedule(self, node) -> None:
            # One test ahead, no more (xdist's default queues three): the longest tests come
            # first, and a worker holding three of them at the end would keep the other idle.
            # (A worker runs a test only once it knows the next one, so one ahead is needed.)
            if (
                not node.shutting_down
                and self.workqueue
                and self._pending_of(self.assigned_work[node]) > 1
            ):
                return
            super()._reschedule(node)

    config.option.loadscopereorder = False  # keep the collection's order: longest first
    return Scheduling(config, log)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    """A folder shared by every worker of this test run (the run's own without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def chapter_done_mark(run_dir: Path, name: str) -> Path:
    return run_dir / "chapters" / f"{name}.done"


def chapters_of_run(session) -> list[str]:
    """The chapter tests (``test_chapters.py::test_chapter``) this run holds, by id."""
    return [
        item.callspec.id
        for item in session.items
        if item.path.name == "test_chapters.py" and item.originalname == "test_chapter"
    ]


def wait_for_chapters(session, run_dir: Path, names: list[str] | None = None) -> None:
    """Wait until the chapter tests ``names`` (ids; all by default) that this run holds
    have ended, on either worker; fail at once if one took its worker down."""
    held = chapters_of_run(session)
    names = held if names is None else [n for n in names if n in held]
    deadline = time.monotonic() + 3600
    while missing := [n for n in names if not chapter_done_mark(run_dir, n).exists()]:
        if time.monotonic() > deadline:
            pytest.fail(f"chapter tests still unfinished after an hour: {missing}")
        time.sleep(0.5)
    crashed = [n for n in names if chapter_done_mark(run_dir, n).read_text() == CRASHED]
    if crashed:
        pytest.fail(f"the chapter tests of {crashed} crashed their worker (see their reports)")


CRASHED = "crashed"  # a chapter's mark when its test took its worker down


def mark_crashed(run_dir: Path, nodeid: str, worker: str) -> None:
    """Test ``nodeid`` took ``worker`` down: leave, as failed, what the tests waiting on that
    worker wait for, or they would wait an hour for what will never come. That is the
    test's own mark, if it is a chapter's, and the result of any job the worker was doing
    in a thread (:func:`fail_jobs_of`)."""
    name = re.fullmatch(r"(?:.*/)?test_chapters\.py::test_chapter\[(.+)\]", nodeid)
    if name:
        _write_whole(chapter_done_mark(run_dir, name[1]), CRASHED)
    fail_jobs_of(run_dir, worker, f"its worker {worker} crashed (in {nodeid})")


def fail_jobs_of(run_dir: Path, worker: str, said: str) -> None:
    """Each job ``worker`` claimed (the site build, a background job) and left unfinished,
    left as failed, saying ``said``; a finished one, built or failed, stays as it is."""
    for started in run_dir.glob("*.started"):
        if started.read_text() != worker:
            continue
        job = started.name.removesuffix(".started")
        if job == "site":
            if not any((run_dir / f"site.{end}").exists() for end in ("built", "failed")):
                _write_whole(run_dir / "site.failed", f"the site build stopped: {said}")
        elif not (run_dir / f"{job}.json").exists():
            _write_whole(run_dir / f"{job}.json", json.dumps({"raised": said}))


def _write_whole(path: Path, text: str) -> None:
    """Write ``text`` whole or not at all, for the process that is waiting to read it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_text(text)
    part.replace(path)


def _run_dir_of(config) -> Path:
    # The controller's base temp folder is the run's shared one (``run_dir``; the workers'
    # are inside it); the tmp_path_factory fixture returns this same object.
    return config._tmp_path_factory.getbasetemp()


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's, in the controller
def pytest_handlecrashitem(crashitem, report, sched):
    """A worker died in test ``crashitem`` (report.node: that worker)."""
    mark_crashed(_run_dir_of(sched.config), crashitem, report.node.gateway.id)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's, in the controller
def pytest_testnodedown(node, error):
    """A worker went down; ``error`` says why if it died. One that dies after its last
    test (the site build's thread outlives it) has no test to crash in, so
    pytest_handlecrashitem is not called: its jobs are failed here."""
    if error:
        worker = node.gateway.id
        fail_jobs_of(_run_dir_of(node.config), worker, f"its worker {worker} died: {error}")


@pytest.fixture(scope="session")
def executed_chapters(request, run_dir) -> None:
    """Wait until every chapter test of this run has ended (on either worker)."""
    wait_for_chapters(request.session, run_dir)


def claim(run_dir: Path, job: str) -> bool:
    """True for the one caller, of either worker, that is to do ``job`` (the site build, a
    background job) in this run. Its ``.started`` file names the worker, so that the
    controller can fail the job if that worker crashes (:func:`mark_crashed`)."""
    from filelock import FileLock

    with FileLock(run_dir / f"{job}.lock"):
        started = run_dir / f"{job}.started"
        if started.exists():
            return False
        _write_whole(started, os.environ.get("PYTEST_XDIST_WORKER", "main"))
        return True


def build_site(run_dir: Path) -> None:
    """Build the book exactly as ``make book`` does (-W: warnings and failing cells fail it),
    then its in-browser edition; leave ``site.built`` or ``site.failed`` with the log's tail."""
    ok, log = False, ""
    try:  # in a thread nobody joins: whatever happens, the waiting site tests must hear of it
        jb = Path(sys.executable).with_name("jupyter-book")
        # The environment as a copy: without env=, the child reads the process's environ
        # while the worker's own tests set variables in it (monkeypatch.setenv), and once
        # the spawn failed with OSError(14, 'Bad address').
        proc = subprocess.run(
            [str(jb), "build", "-W", "-n", "--keep-going", str(sitekit.ROOT)],
            capture_output=True,
            text=True,
            cwd=sitekit.ROOT,
            env=dict(os.environ),
        )
        log = proc.stdout + proc.stderr
        if proc.returncode == 0:
            proc = subprocess.run(
                [sys.executable, "-m", "lnbook.book.lite", "build", str(sitekit.HTML / "lite")],
                capture_output=True,
                text=True,
                cwd=sitekit.ROOT,
                env=dict(os.environ),
            )
            log += proc.stdout + proc.stderr
        ok = proc.returncode == 0
    except Exception as e:  # noqa: BLE001 - reported to the site tests, not swallowed
        log += f"\nthe build itself raised {e!r}"
    finally:
        _write_whole(run_dir / ("site.built" if ok else "site.failed"), log[-8000:])


def start_site_build_when_chapters_are_done(session, run_dir: Path) -> None:
    """Called as each chapter test ends: after the run's last one, build the site in a
    thread while this worker goes on with other tests (the build renders the executions the
    chapter tests stored, and every chapter is in the cache by now). Otherwise one worker
    would build while the other waited for it, idle."""
    if not any("site" in item.fixturenames for item in session.items):
        return  # no test of this run needs the site (one chapter run alone, say)
    names = chapters_of_run(session)
    done = [chapter_done_mark(run_dir, n) for n in names]
    if all(m.exists() and m.read_text() != CRASHED for m in done) and claim(run_dir, "site"):
        # Not a daemon: the worker's process waits for the build before it exits.
        threading.Thread(target=build_site, args=(run_dir,), name="site-build").start()


@pytest.fixture(scope="session")
def site(executed_chapters, run_dir) -> Path:
    """The site, built once per run (by whichever worker claims it first), strictly: with -W
    every Sphinx warning (a dropped figure, a broken reference) is an error."""
    built, failed = run_dir / "site.built", run_dir / "site.failed"
    if claim(run_dir, "site"):  # no chapter test started it (a run of site tests alone)
        build_site(run_dir)
    deadline = time.monotonic() + 3600
    while not (built.exists() or failed.exists()):
        if time.monotonic() > deadline:
            pytest.fail("the site build has not finished after an hour")
        time.sleep(1)
    assert not failed.exists(), f"strict build failed:\n{failed.read_text()}"
    return sitekit.HTML


# ------------------------------------------------------ work that waits on the network ----
# Started when the run starts, in a thread of the first worker to get there, while both
# workers compute; a test then waits for its result (JSON, in the run's shared folder).
# {name: (the test that reads it, "module:function" that computes it from a folder)}
BACKGROUND = {
    # Binder's pins resolved by pip: 20-30 s of waiting on the registry, little computing.
    "binder-pins": (
        "test_binder.py::test_binder_pins_resolve_in_repo2docker_base_environment",
        "test_binder:resolve_pins",
    ),
}


@pytest.fixture(scope="session", autouse=True)
def _background_work(request, run_dir):
    """Start each job of ``BACKGROUND`` whose test this run holds, once per run."""
    import importlib

    for name, (test, target) in BACKGROUND.items():
        if not any(item.nodeid.endswith(test) for item in request.session.items):
            continue
        if not claim(run_dir, name):
            continue
        module, function = target.split(":")
        work = getattr(importlib.import_module(module), function)
        # Not a daemon: the worker's process waits for it before it exits.
        threading.Thread(target=run_in_background, args=(work, run_dir, name)).start()


def run_in_background(work, run_dir: Path, name: str) -> None:
    """``work(run_dir / name)``, its result (or what it raised) left as JSON for
    :func:`background_result`."""
    try:
        text = json.dumps(work(run_dir / name))
    except BaseException as e:  # noqa: BLE001 - reported to the test that waits for it
        text = json.dumps({"raised": repr(e)})
    _write_whole(run_dir / f"{name}.json", text)


def background_result(run_dir: Path, name: str, timeout: float = 1200) -> dict:
    """What background job ``name`` returned, once it has (``BACKGROUND``)."""
    done, deadline = run_dir / f"{name}.json", time.monotonic() + timeout
    while not done.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"the background job {name!r} has not finished after {timeout} s")
        time.sleep(0.5)
    result = json.loads(done.read_text())
    assert "raised" not in result, f"the background job {name!r} raised {result['raised']}"
    return result


@contextlib.contextmanager
def notebook_kernel(**env: str):
    """A python3 kernel (``env`` added to its environment) in which a worker runs notebook
    after notebook (:func:`run_in`), each from a fresh start (``execution.fresh_start``).

    A kernel of their own cost each notebook 2 to 5 s more (the start, torch, and
    torch._dynamo, which torch's optimizers import): six chapters took 49.6 s in kernels of
    their own, 30.7 s in one, one after the other (quiet machine).
    """
    from jupyter_client import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(sitekit.ROOT / "book"), env={**os.environ, **env})
    try:
        yield km
    finally:
        km.shutdown_kernel(now=True)


def run_in(km, nb, path: Path, **kwargs) -> None:
    """``execution.execute(nb, path, km=km)``; a kernel an earlier notebook killed is
    restarted first, and one left by a failing notebook after it."""
    from lnbook.book import execution

    if not km.is_alive():
        km.restart_kernel(now=True)
    try:
        execution.execute(nb, path, km=km, **kwargs)
    except Exception:
        # A cell that failed or timed out may still be running: the next notebook gets a
        # fresh kernel.
        km.restart_kernel(now=True)
        raise


# The process-wide settings a notebook could change for the next one in its kernel, as
# JSON. The modules are imported first: what importing them sets (scikit-learn sets
# KMP_INIT_AT_FORK), a fresh kernel sets too. Left out, as what a fresh kernel would also
# get on first use: the warning filters of the modules a chapter imports (plotly's, sympy's;
# test_chapters.py looks for filters a chapter sets), sys.path (setuptools adds its vendored
# packages when torch.compile first builds) and the variables torch.compile sets.
_SETTINGS = """import json as _json, os as _os
import numpy as _np, plotly.io as _pio, sklearn, torch as _torch
import lnbook.checking, lnbook.plotting
print(_json.dumps({
    "torch": [str(_torch.get_default_dtype()), _torch.get_num_threads(),
              _torch.is_grad_enabled(), _torch.are_deterministic_algorithms_enabled(),
              _torch.get_float32_matmul_precision(), repr(vars(_torch._tensor_str.PRINT_OPTS))],
    "numpy": [repr(_np.get_printoptions()), _np.geterr()],
    "plotly": [_pio.templates.default, _pio.renderers.default],
    "cwd": _os.getcwd(),
    "wrong_tries": len(lnbook.checking._wrong_tries),
    **{"environ " + k: v for k, v in _os.environ.items()
       if not k.lstrip("_").startswith("TORCHINDUCTOR")},
}, default=repr))"""


def kernel_settings(km, path: Path) -> dict:
    """The process-wide settings of ``km``'s kernel once a notebook at ``path`` has had its
    fresh start (``execution.fresh_start``); run outside the history (no execution count)."""
    from lnbook.book import execution

    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        printed: list[str] = []
        reply = kc.execute_interactive(
            execution.fresh_start(path.resolve().parent) + "\n" + _SETTINGS,
            store_history=False,
            timeout=120,
            output_hook=lambda msg: printed.append(msg["content"].get("text", "")),
        )
    finally:
        kc.stop_channels()
    assert reply["content"]["status"] == "ok", reply["content"]
    return json.loads("".join(printed))


@pytest.fixture(scope="session")
def server(site):
    with sitekit.serving(site) as base:
        yield base


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """A JupyterLab server started as ``make lab`` starts it (``labkit``), one per worker,
    shared by the live-widget and reader-edition tests; yields (base URL, token)."""
    import labkit

    with labkit.running_lab(tmp_path_factory.mktemp("jupyter-config")) as server:
        yield server


@pytest.fixture(scope="module")
def lab_page(lab, browser):
    """A JupyterLab tab 1400 px wide (a laptop), reused by a module's browser tests.

    The notebooks it writes go to a folder of their own under ``_build/`` (which the lab
    serves and git ignores; one per xdist worker), removed afterwards.
    """
    import shutil
    import uuid

    import labkit

    base, token = lab
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    folder = labkit.ROOT / "_build" / "lab-tests" / f"{worker}-{uuid.uuid4().hex[:8]}"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield labkit.LabPage(context.new_page(), base, token, folder)
    finally:
        context.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=sitekit.chromium(), args=sitekit.CHROMIUM_ARGS)
        yield b
        b.close()


def pytest_configure(config):
    # Here, not in pyproject.toml: that file is part of the execution cache's key.
    config.addinivalue_line(
        "markers",
        "network: asks the package registry (PyPI); fails, never skips, when it cannot",
    )


def _worker_group(nodeid: str) -> str | None:
    """The group of ``SAME_WORKER_MODULES`` the test's module belongs to, if any."""
    return SAME_WORKER_MODULES.get(nodeid.split("::", 1)[0].rsplit("/", 1)[-1])


def _one_worker_module(nodeid: str) -> bool:
    import fnmatch

    name = nodeid.split("::", 1)[0].rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(name, p) for p in ONE_WORKER_MODULES)


def pytest_collection_modifyitems(config, items):
    """The order the workers take the tests in: longest first, so that both are busy to
    the end, where what is left is short.

    0. the chapter runs (the book's, then the student notebooks', each in the order of
       ``SLOW_CHAPTERS``): the tests after them need them, the site build starts after the
       last;
    1. the units run whole (``ONE_WORKER_MODULES``, ``SAME_WORKER_MODULES``) that need no
       site: the findings' experiments, nbgrader, JupyterLab (by now the build is running);
    2. those that need the site (a browser visit of every page, the PDF, the in-browser
       edition), built by then;
    3. the other tests that wait for the site or for every chapter;
    4. the rest, mostly short unit tests, to fill the end.
    """

    def unit(item) -> str | None:  # a unit run whole: its module, or its group
        if group := _worker_group(item.nodeid):
            return group
        return item.nodeid.split("::", 1)[0] if _one_worker_module(item.nodeid) else None

    # A unit that needs the site anywhere in it waits for it as a whole.
    needs_site = {u for i in items if (u := unit(i)) and i.get_closest_marker("site")}

    def order(item) -> tuple[int, str, int]:
        if item.get_closest_marker("chapter"):  # by file, then slow chapters first
            name = getattr(getattr(item, "callspec", None), "id", "")
            slow = SLOW_CHAPTERS.index(name) if name in SLOW_CHAPTERS else len(SLOW_CHAPTERS)
            return 0, item.path.name, slow
        if whole := unit(item):
            return (2 if whole in needs_site else 1), "", 0
        waits = item.get_closest_marker("site") or "executed_chapters" in item.fixturenames
        return (3 if waits else 4), "", 0

    items.sort(key=order)  # stable: files and parameters otherwise keep their order


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread_per_worker():
    """Under xdist each worker gets one core: torch's default of one thread per core would
    make the two workers fight over both. (Chapter kernels are separate processes.)"""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


@pytest.fixture
def float64_digits(monkeypatch):
    """For comparing stacked runs with separate ones: ``use(*modules)`` makes the digits
    experiments of those modules run in float64, the images (each module's
    ``digits_split``) and the weights (torch's default dtype), restored after.

    In float32 the stacked and the separate matrix products round differently, and once a
    ReLU's input lies within that rounding of 0 it switches in one run and not the other:
    on an AMD machine (AVX2) two of eight rate runs jumped from 1e-9 to 1e-3 apart at steps
    8 and 12 (not on an Intel one). In float64 such a tie is some 1e9 times less likely,
    and the comparison tests the stacking alone, to 1e-9.
    """
    import torch

    from lnbook import training

    split = training.digits_split

    def split64(seed):
        X_train, Y_train, X_test, Y_test, rng = split(seed)
        return X_train.double(), Y_train, X_test.double(), Y_test, rng

    def use(*modules):
        for module in modules:
            monkeypatch.setattr(module, "digits_split", split64)

    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield use
    torch.set_default_dtype(default)


@pytest.fixture
def three_torch_threads():
    """For tests of code that limits torch to one thread and must restore the setting: a
    starting count other than 1 (under xdist the workers run on one), restored after."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield 3
    torch.set_num_threads(before)


def pytest_terminal_summary(terminalreporter):
    """Measurements tests report (``record_property("measured", ...)``), never assert: one
    line each, after the run (under xdist too: the properties travel with the reports)."""
    lines = [
        f"{report.nodeid}: {value}"
        for report in terminalreporter.stats.get("passed", [])
        for key, value in report.user_properties
        if key == "measured"
    ]
    if lines:
        terminalreporter.section("measured")
        for line in lines:
            terminalreporter.line(line)
