"""What the two workers of a run wait for (tests/conftest.py), when a worker crashes.

A chapter test leaves a mark when it ends, and the site's tests and its student notebook's
wait for it; the site build and the background jobs run in a thread of the worker that
claimed them, and their tests wait for their result. A worker that dies (a segfault, the
kernel's OOM killer) leaves none of these, so pytest-xdist's crash hook, in the
controller, leaves them as failed (``conftest.mark_crashed``): the waiting tests fail at
once, naming the crash, instead of waiting an hour. (Checked end to end once, by hand, with
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


def test_a_finished_build_is_left_as_it_was(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    assert claim(tmp_path, "site")
    (tmp_path / "site.built").write_text("built")
    mark_crashed(tmp_path, "tests/test_pdf.py::test_pdf_draws_every_figure", "gw0")
    assert not (tmp_path / "site.failed").exists()


def test_the_crash_hook_reads_the_run_folder_and_the_worker_as_xdist_passes_them(tmp_path):
    # pytest-xdist (dsession.handle_crashitem) calls the hook with the crashed test's node
    # id, a report whose .node is the worker's controller, and the scheduler.
    sched = SimpleNamespace(
        config=SimpleNamespace(_tmp_path_factory=SimpleNamespace(getbasetemp=lambda: tmp_path))
    )
    report = SimpleNamespace(node=SimpleNamespace(gateway=SimpleNamespace(id="gw2")))
    pytest_handlecrashitem("tests/test_chapters.py::test_chapter[07_x]", report, sched)
    assert chapter_done_mark(tmp_path, "07_x").read_text() == "crashed"
