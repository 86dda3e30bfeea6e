"""nbgrader's own commands accept the nbgrader edition and grade it.

The course folder is laid out as ``make nbgrader`` writes it (one assignment per chapter), and
the commands are those book/teaching.md gives teachers for every chapter at once: to nbgrader
an assignment id is a glob (``CourseDirectory.assignment_id``, matched against the folders), so
``nbgrader autograde '*' --create`` grades each chapter's submissions as
``nbgrader autograde <chapter> --create`` would, in one process instead of one a chapter. The
two commands' start-ups (nbgrader's imports, the gradebook's database) cost each chapter more
than grading its submission did.
The course is generated and graded once, in a module-scoped fixture (``tests/conftest.py``
runs this module whole on one worker); each chapter's test reads its own results.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import nbformat
import pytest

from lnbook.book import editions, myst

CHAPTERS = myst.chapters()
IDS = [p.stem for p in CHAPTERS]

SCORED = {"right": None, "partial": 1, "empty": 0}  # how many answers each one types in
# Every chapter's solutions are graded right; the partial and the empty submission test
# the grading itself, which is the same for every chapter, so they run on the first one
# only (that a stub fails its check is tested for every chapter by the student edition).
FULLY_SCORED = CHAPTERS[0]


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    # nbgrader runs its helpers (alembic) from PATH: the project environment's bin first.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [str(Path(sys.executable).with_name("nbgrader")), *args],
        cwd=course,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


# nbgrader logs one assignment (generate) or submission (autograde) after another, each
# starting with one of these lines, and names each that failed at the end.
_PART = re.compile(r"\n(?=.*(?:Updating/creating assignment|Creating/updating student with ID) ')")


def _log(done: subprocess.CompletedProcess, name: str = "") -> str:
    """A command's output: with ``name``, the parts about that chapter, else its end."""
    text = done.stdout + done.stderr
    mine = [part[-4000:] for part in _PART.split(text) if name and name in part]
    return "\n...\n".join(mine)[-12000:] if mine else text[-6000:]


def _failed(done: subprocess.CompletedProcess, name: str) -> list[str]:
    """nbgrader's closing error lines that name chapter ``name``."""
    return [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if "There was an error processing assignment" in line and f"'{name}'" in line
    ]


class Score(NamedTuple):
    score: float
    max_score: float


@dataclass(repr=False)
class Course:
    """One course folder, generated and autograded for every chapter at once."""

    root: Path
    generate: subprocess.CompletedProcess
    autograde: subprocess.CompletedProcess | None = None
    autograde_s: float = 0.0
    submissions: dict[str, dict[str, int | None]] = field(default_factory=dict)
    # (chapter, student): the gradebook's score of each submission nbgrader graded
    scores: dict[tuple[str, str], Score] = field(default_factory=dict)

    def __repr__(self) -> str:  # what a failing test shows of the fixture
        return f"Course({self.root})"


def _submit(course: Path, name: str, scored: dict[str, int | None]) -> None:
    """Hand in the release of chapter ``name`` with the solutions typed in (all, the first
    ``typed`` only, none: the stubs handed back), one submission per student of ``scored``."""
    release = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / name / f"{name}.ipynb", as_version=4)
    solved = {
        c.metadata.nbgrader["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    for student, typed in scored.items():
        nb, done = nbformat.from_dict(release), 0
        for c in nb.cells:
            grade_id = c.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in solved and (typed is None or done < typed):
                c.source, done = solved[grade_id], done + 1
        editions.typed_in(nb)
        folder = course / "submitted" / student / name
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{name}.ipynb")


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    """Every chapter an assignment: generated, handed in and autograded (nothing asserted
    here, so that a chapter that breaks fails its own test, by name)."""
    from nbgrader.api import Gradebook, MissingEntry

    root = tmp_path_factory.mktemp("nbgrader") / "course"
    root.mkdir()
    (root / "nbgrader_config.py").write_text(editions.NBGRADER_CONFIG)
    for path in CHAPTERS:
        (root / "source" / path.stem).mkdir(parents=True)
        target = root / "source" / path.stem / f"{path.stem}.ipynb"
        nbformat.write(editions.nbgrader_notebook(path), target)
    result = Course(root, _nbgrader(root, "generate_assignment", "*", "--force"))

    for path in CHAPTERS:
        if (root / "release" / path.stem / f"{path.stem}.ipynb").exists():
            scored = SCORED if path == FULLY_SCORED else {"right": None}
            _submit(root, path.stem, scored)
            result.submissions[path.stem] = scored
    if not result.submissions:
        return result
    start = time.time()
    result.autograde = _nbgrader(root, "autograde", "*", "--create")
    result.autograde_s = time.time() - start

    graded = {
        (name, student): root / "autograded" / student / name / f"{name}.ipynb"
        for name, scored in result.submissions.items()
        for student in scored
    }
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for name, student in (key for key, p in graded.items() if p.exists()):
            try:
                submission = gb.find_submission(name, student)
            except MissingEntry:
                continue
            result.scores[name, student] = Score(submission.score, submission.max_score)
    return result


@pytest.mark.chapter
@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_nbgrader_autogrades_each_chapter(path, course):
    name = path.stem
    released = course.root / "release" / name / f"{name}.ipynb"
    assert released.exists() and not _failed(course.generate, name), (
        f"nbgrader generate_assignment failed on {name}:\n{_log(course.generate, name)}"
    )
    release = nbformat.read(released, as_version=4)
    answers = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert answers and all("raise NotImplementedError()" in c.source for c in answers)
    assert all("### BEGIN SOLUTION" not in c.source for c in release.cells)

    scored = course.submissions[name]
    missing = [s for s in scored if (name, s) not in course.scores]
    assert not missing and not _failed(course.autograde, name), (
        f"nbgrader autograde failed on {name} (submissions by {missing or list(scored)}):\n"
        f"{_log(course.autograde, name)}"
    )
    scores = {s: course.scores[name, s] for s in scored}
    assert scores["right"].max_score == len(answers) >= 3, f"{name}: {scores}"
    assert scores["right"].score == len(answers), f"{name}: the solutions scored {scores}"
    if path == FULLY_SCORED:
        assert scores["partial"].score == 1, f"{name}: one answer typed in scored {scores}"
        assert scores["empty"].score == 0, f"{name}: the stubs handed back scored {scores}"


@pytest.mark.chapter
def test_nbgrader_commands_grade_every_chapter_without_an_error(course, record_property):
    # Each chapter's test names a chapter that failed; this one any error besides.
    assert course.generate.returncode == 0, _log(course.generate)
    assert course.autograde is not None, "no chapter was released, none handed in"
    assert course.autograde.returncode == 0, _log(course.autograde)
    n = len(course.scores)
    assert n == sum(len(s) for s in course.submissions.values()) == len(CHAPTERS) + len(SCORED) - 1
    # Measured and reported (the summary's "measured" section), never asserted.
    record_property(
        "measured",
        f"nbgrader autograde of {n} submissions ({len(CHAPTERS)} chapters), one command: "
        f"{course.autograde_s:.0f} s, {course.autograde_s / n:.1f} s a submission, "
        "start-up included",
    )
