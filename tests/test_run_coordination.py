"""What the two workers of a run wait for (tests/conftest.py), when a worker crashes.

A chapter test leaves a mark when it ends, and the site's tests and its student notebook's
wait for it; the site build and the background jobs run in a thread of the worker that
claimed them, and their tests wait for their result. A worker that dies (a segfault, the
kernel's OOM killer) leaves none of these, so pytest-xdist's hooks, in the controller,
leave them as failed: the crash hook when the worker died in a test
(``conftest.mark_crashed``), the node-down hook when it died after its last one
(``conftest.fail_jobs_of``). The waiting tests fail at once, naming the crash, instead of
waiting an hour. (Checked end to end once, by hand, with
a test that calls ``os._exit`` under ``pytest -n 2``: the waiting test failed after 1 s;
before the hook it was still waiting when stopped after 40 s.)
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import (
    background_result,
    chapter_done_mark,
    claim,
    mark_crashed,
    pytest_handlecrashitem,
    pytest_testnodedown,
    wait_for_chapters,
)


def _session(*chapters: str) -> SimpleNamespace:
    """A session holding the chapter tests ``chapters`` (what wait_for_chapters reads)."""
    items = [
        SimpleNamespace(
            path=Path("tests/test_chapters.py"),
            originalname="test_chapter",
            callspec=SimpleNamespace(id=c),
        )
        for c in chapters
    ]
    return SimpleNamespace(items=items)


def test_a_chapter_that_crashed_its_worker_fails_the_tests_waiting_for_it_at_once(tmp_path):
    session = _session("01_first", "05_crashes")
    done = chapter_done_mark(tmp_path, "01_first")
    done.parent.mkdir()
    done.touch()  # as test_chapters.py's leaves_a_mark does
    wait_for_chapters(session, tmp_path, ["01_first"])  # ended: no wait, no failure

    mark_crashed(tmp_path, "tests/test_chapters.py::test_chapter[05_crashes]", "gw1")
    start = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match=r"\['05_crashes'\] crashed their worker"):
        wait_for_chapters(session, tmp_path)
    assert time.monotonic() - start < 2


def test_a_crashed_worker_fails_the_jobs_it_was_running_and_no_others(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    assert claim(tmp_path, "site") and claim(tmp_path, "binder-pins")
    assert not claim(tmp_path, "site")  # once a run
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert claim(tmp_path, "other-job")

    mark_crashed(tmp_path, "tests/test_lab.py::test_something", "gw0")
    assert not (tmp_path / "chapters").exists()  # not a chapter test: no chapter marked
    assert "its worker gw0 crashed (in tests/test_lab.py" in (tmp_path / "site.failed").read_text()
    with pytest.raises(AssertionError, match="'binder-pins' raised its worker gw0 crashed"):
        background_result(tmp_path, "binder-pins", timeout=1)
    assert not (tmp_path / "other-job.json").exists()  # gw1's job goes on


def test_a_finished_build_is_left_as_it_was_built_or_failed(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    assert claim(tmp_path, "site")
    (tmp_path / "site.failed").write_text("the build's own log")
    mark_crashed(tmp_path, "tests/test_pdf.py::test_pdf_draws_every_figure", "gw0")
    assert (tmp_path / "site.failed").read_text() == "the build's own log"  # its real cause
    (tmp_path / "site.failed").unlink()
    (tmp_path / "site.built").write_text("built")
    mark_crashed(tmp_path, "tests/test_pdf.py::test_pdf_draws_every_figure", "gw0")
    assert not (tmp_path / "site.failed").exists()


def _config(run_dir: Path) -> SimpleNamespace:
    return SimpleNamespace(_tmp_path_factory=SimpleNamespace(getbasetemp=lambda: run_dir))


def _worker(name: str) -> SimpleNamespace:
    return SimpleNamespace(gateway=SimpleNamespace(id=name), config=None)


def test_the_hooks_match_xdists_and_read_what_it_passes(tmp_path, pytestconfig):
    import inspect

    from xdist import newhooks

    for ours, spec in (
        (pytest_handlecrashitem, newhooks.pytest_handlecrashitem),
        (pytest_testnodedown, newhooks.pytest_testnodedown),
    ):  # pluggy calls a hook by these names: a renamed argument would never arrive
        assert set(inspect.signature(ours).parameters) <= set(inspect.signature(spec).parameters)
    # What they read of pytest's and xdist's objects exists there: the config's temp folder
    # (the tmp_path_factory fixture's), and the worker's id and config (dsession passes
    # report.node = the WorkerController, whose __init__ keeps gateway and config).
    assert pytestconfig._tmp_path_factory.getbasetemp().is_dir()
    from xdist.workermanage import WorkerController

    init = inspect.getsource(WorkerController.__init__)
    assert "self.gateway = gateway" in init and "self.config = config" in init

    report = SimpleNamespace(node=_worker("gw2"))
    pytest_handlecrashitem(
        "tests/test_chapters.py::test_chapter[07_x]",
        report,
        SimpleNamespace(config=_config(tmp_path)),
    )
    assert chapter_done_mark(tmp_path, "07_x").read_text() == "crashed"


def test_a_worker_that_dies_after_its_last_test_fails_its_jobs(tmp_path, monkeypatch):
    # No test to crash in (the site build's thread outlives the worker's tests): xdist
    # calls only pytest_testnodedown, with the error.
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    assert claim(tmp_path, "site")
    node = SimpleNamespace(gateway=SimpleNamespace(id="gw3"), config=_config(tmp_path))
    pytest_testnodedown(node, None)  # a worker that finished: nothing to fail
    assert not (tmp_path / "site.failed").exists()
    pytest_testnodedown(node, "Not properly terminated")
    assert "its worker gw3 died: Not properly terminated" in (tmp_path / "site.failed").read_text()
