"""The judge, told as assignments that nbgrader grades and that the old in-kernel executor
got wrong: equality the instructor or the student legitimately wrote, exceptions of the
notebook, IPython syntax in test cells, nbgrader's environment variable, data files, and
faults of the platform that are not the student's.

Every job runs for real (bubblewrap, cgroups, a real kernel, the runner's judge)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from coursehub.graders import sandbox_job
from coursehub.graders.assignment_notebooks import (
    InvalidNotebook,
    SourceAssignment,
    grade_id_of,
    read_source,
    student_version,
)
from coursehub.graders.autograde import InfrastructureFault
from tests.test_grading_engine import run, scores

SETUP = """from dataclasses import dataclass
from collections import Counter

class InvalidAmount(ValueError):
    pass

@dataclass
class Point:
    x: int
    y: int"""

ANSWERS = {
    "point_answer": (
        "def make_point(x, y):\n    ### BEGIN SOLUTION\n    return Point(x, y)\n"
        "    ### END SOLUTION"
    ),
    "money_answer": (
        "class Money:\n"
        "    def __init__(self, cents):\n"
        "        self.cents = cents\n"
        "    ### BEGIN SOLUTION\n"
        "    def __eq__(self, other):\n"
        "        return isinstance(other, Money) and self.cents == other.cents\n"
        "    ### END SOLUTION\n"
        "def pay(cents):\n"
        "    ### BEGIN SOLUTION\n"
        "    if cents < 0:\n"
        "        raise InvalidAmount(cents)\n"
        "    return Money(cents)\n"
        "    ### END SOLUTION"
    ),
    "tally_answer": (
        "def tally(words):\n    ### BEGIN SOLUTION\n    return Counter(words)\n    ### END SOLUTION"
    ),
}
TESTS = {
    "point_test": "assert make_point(1, 2) == Point(1, 2)\nassert make_point(1, 2) != Point(2, 1)",
    "money_test": (
        "assert Money(5) == Money(5)\nassert not (Money(5) == Money(6))\n"
        "### BEGIN HIDDEN TESTS\nassert pay(7) == Money(7)\n### END HIDDEN TESTS"
    ),
    "raises_test": (
        "try:\n    pay(-1)\nexcept InvalidAmount:\n    pass\n"
        "else:\n    raise AssertionError('pay(-1) did not raise InvalidAmount')"
    ),
    "magic_test": "%time result = make_point(3, 4)\n!echo hello\nassert result.x == 3",
    "capture_test": "%%capture out\nprint(make_point(5, 6))\nassert make_point(5, 6).y == 6",
    "tally_test": (
        "assert tally(['a', 'b', 'a']) == Counter({'a': 2, 'b': 1})\n"
        "assert type(tally([])) == Counter\nassert tally(['x'])['x'] == 1"
    ),
    "helper_test": "import helpers\nassert helpers.total([1, 2, 3]) == 6",
    "environment_test": "import os\nassert os.environ['NBGRADER_EXECUTION'] == 'autograde'",
    "data_test": (
        "with open('data/numbers.csv') as f:\n    numbers = [int(x) for x in f.read().split(',')]\n"
        "assert sum(numbers) == 6"
    ),
}


DATA = {"data/numbers.csv": b"1,2,3", "helpers.py": b"def total(xs):\n    return sum(xs)\n"}


def _cell(grade_id: str, source: str, **meta: object) -> dict:
    return nbformat.v4.new_code_cell(
        source, metadata={"nbgrader": {"schema_version": 3, "grade_id": grade_id, **meta}}
    )


def judge_source() -> SourceAssignment:
    cells = [_cell("setup", SETUP, grade=False, solution=False, locked=True)]
    for grade_id, code in ANSWERS.items():
        cells.append(_cell(grade_id, code, grade=False, solution=True, locked=False))
    for grade_id, code in TESTS.items():
        cells.append(_cell(grade_id, code, grade=True, solution=False, locked=True, points=1))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                       "display_name": "Python 3"}  # fmt: skip
    source = read_source(nbformat.writes(notebook).encode(), DATA)
    return source


@pytest.fixture(scope="module")
def source() -> SourceAssignment:
    return judge_source()


def solved(code: str) -> str:
    return "\n".join(line for line in code.split("\n") if "### " not in line)


def answered(source: SourceAssignment, **answers: str) -> nbformat.NotebookNode:
    notebook = student_version(source)
    full = {gid: solved(code) for gid, code in ANSWERS.items()}
    full.update(answers)
    for cell in notebook.cells:
        if grade_id_of(cell) in full:
            cell.source = full[grade_id_of(cell)]
    return notebook


def test_legitimate_equality_exceptions_magics_and_data_files_get_full_marks(source, tmp_path):
    result = run(source, answered(source), tmp_path)

    assert result.outcome == "graded", result.message
    assert scores(result) == {grade_id: 1 for grade_id in TESTS}, [c.feedback for c in result.cells]
    assert not [flag for flag in result.flags if "compared" in flag]


def test_an_always_equal_point_and_money_fail_and_are_flagged(source, tmp_path):
    sneaky = (
        "class Sneaky:\n"
        "    x = 3\n"
        "    y = 6\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "    def __ne__(self, other):\n"
        "        return False\n"
    )
    notebook = answered(
        source,
        point_answer=sneaky + "def make_point(x, y):\n    return Sneaky()",
        money_answer=sneaky.replace("Sneaky", "Money") + "def pay(cents):\n    return Money()",
    )

    result = run(source, notebook, tmp_path)

    assert scores(result)["point_test"] == 0  # a dataclass is compared field by field
    # "implement __eq__" is the student's to write: Money's == is theirs, as in nbgrader.
    assert scores(result)["raises_test"] == 0
    assert any("dataclass" in flag for flag in result.flags)


def test_a_visible_failure_shows_its_line_and_traceback_but_a_hidden_one_does_not(source, tmp_path):
    notebook = answered(
        source,
        money_answer=solved(ANSWERS["money_answer"]).replace(
            "return Money(cents)", "return Money(cents if cents != 7 else 0)"
        ),
        point_answer="def make_point(x, y):\n    return Point(y, x)",
    )

    result = run(source, notebook, tmp_path)

    feedback = {cell.grade_id: cell.feedback for cell in result.cells}
    assert feedback["money_test"] == "A hidden test failed."
    assert feedback["point_test"].startswith("AssertionError")
    shown = nbformat.writes(nbformat.from_dict(result.feedback_notebook))
    assert "Test line 1: assert make_point(1, 2) == Point(1, 2)" in shown
    assert "pay(7)" not in shown


def test_an_unexpanded_autotest_directive_is_refused_with_a_sentence():
    notebook = nbformat.v4.new_notebook(
        cells=[_cell("t", "### AUTOTEST x", grade=True, solution=False, locked=True, points=1)]
    )
    with pytest.raises(InvalidNotebook, match="AUTOTEST directives"):
        read_source(nbformat.writes(notebook).encode())


def test_a_runner_that_cannot_start_is_the_platforms_fault_not_the_students(
    source, tmp_path, monkeypatch
):
    monkeypatch.setattr(sandbox_job, "RUNNER", ("-m", "coursehub.graders.no_such_runner"))

    with pytest.raises(InfrastructureFault, match="grader failed"):
        run(source, answered(source), tmp_path)


def test_the_grade_command_prints_scores_as_json(source, tmp_path, capsys):
    from coursehub.graders.command import main

    folder = tmp_path / "assignment"
    (folder / "data").mkdir(parents=True)
    for name, content in DATA.items():
        (folder / name).write_bytes(content)
    (folder / "source.ipynb").write_text(nbformat.writes(source.notebook))
    (tmp_path / "mine.ipynb").write_text(nbformat.writes(answered(source)))

    status = main([str(folder / "source.ipynb"), str(tmp_path / "mine.ipynb"), "--json"])

    printed = json.loads(capsys.readouterr().out)
    assert status == 0
    assert printed["outcome"] == "graded" and printed["score"] == printed["max_score"] == len(TESTS)
    assert {c["grade_id"] for c in printed["cells"]} == set(TESTS)
    assert set(printed) == {"score", "max_score", "cells", "flags", "outcome"}


def test_a_notebook_that_kills_the_runner_is_the_students_doing(source, tmp_path):
    # Only the job's own uid can signal the runner; a runner ended by a signal no limit
    # sent is the notebook's doing (a runner that fails without one is the platform's).
    notebook = answered(source)
    notebook.cells.insert(1, nbformat.v4.new_code_cell("import os\nos.kill(os.getppid(), 9)"))

    result = run(source, notebook, tmp_path)

    assert result.outcome == "crashed" and result.score == 0
    assert any("may have killed it" in flag for flag in result.flags)


def test_autotest_expansion_in_a_sandbox_matches_nbgraders_own(tmp_path):
    import nbgrader

    from coursehub.graders.autotests import expand_autotests, expand_autotests_sandboxed
    from tests.test_grading_engine import next_uid

    files = Path(nbgrader.__file__).parent / "tests" / "apps" / "files"
    data = (files / "autotest-hashed.ipynb").read_bytes()
    autotests = (files / "autotests.yml").read_bytes()
    uid = next_uid()

    sandboxed = expand_autotests_sandboxed(
        data, {}, autotests, workdir=tmp_path / f"job-{uid}", uid=uid
    )
    local = expand_autotests(data, None, autotests)

    assert json.loads(sandboxed)["cells"] == json.loads(local)["cells"]
    assert "AUTOTEST" not in sandboxed.decode() and "sha1(" in sandboxed.decode()
    read_source(sandboxed)  # accepted now
