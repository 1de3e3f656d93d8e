"""The grading engine, told as what happens to students' submissions.

Every job runs for real: bubblewrap, the job's cgroup, a real kernel, as a uid of its own
(the job queue takes them from a pool the same way). The assignment is
``grading_files/squares-source.ipynb``, an nbgrader source notebook with visible and hidden
tests, a manually graded answer and a task."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import nbformat
import pytest

from coursehub.graders.assignment_notebooks import (
    InvalidNotebook,
    SourceAssignment,
    cell_kind,
    grade_id_of,
    read_source,
    read_submission,
    student_version,
)
from coursehub.graders.autograde import GradeResult, InfrastructureFault, grade
from coursehub.graders.limits import GradingLimits
from coursehub.graders.sandbox_job import processes_of as listed_processes

FILES = Path(__file__).parent / "grading_files"
_uids = itertools.count(310_000 + (os.getpid() % 1000) * 50)

RIGHT = {
    "squares": (
        "def squares(n):\n"
        "    if n < 1:\n"
        '        raise ValueError("n must be at least 1")\n'
        "    return [i ** 2 for i in range(1, n + 1)]"
    ),
    "mean": "def mean(values):\n    return sum(values) / len(values)",
}


def squares_assignment() -> SourceAssignment:
    return read_source((FILES / "squares-source.ipynb").read_bytes())


def answered(source: SourceAssignment, **answers: str) -> nbformat.NotebookNode:
    """The student version with the given cells (by grade id) filled in, the rest right."""
    notebook = student_version(source)
    wanted = {**RIGHT, **answers}
    for cell in notebook.cells:
        if grade_id_of(cell) in wanted:
            cell.source = wanted[grade_id_of(cell)]
    return notebook


def add_cell(notebook: nbformat.NotebookNode, code: str, at: int = 1) -> nbformat.NotebookNode:
    notebook.cells.insert(at, nbformat.v4.new_code_cell(code))
    return notebook


def next_uid() -> int:
    return next(_uids)


def run(
    source: SourceAssignment,
    notebook: nbformat.NotebookNode,
    jobs: Path,
    uid: int | None = None,
    **limits: float,
) -> GradeResult:
    uid = uid or next_uid()
    return grade(
        source,
        notebook,
        workdir=jobs / f"job-{uid}",
        uid=uid,
        limits=GradingLimits(**limits),  # type: ignore[arg-type]
        hidden_paths=(str(FILES),),
    )


def scores(result: GradeResult) -> dict[str, float | None]:
    return {cell.grade_id: cell.score for cell in result.cells}


def feedback_text(result: GradeResult) -> str:
    return nbformat.writes(nbformat.from_dict(result.feedback_notebook))


def processes_of(uid: int) -> list[int]:
    return listed_processes(uid)


# --- The stories ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def squares() -> SourceAssignment:
    return squares_assignment()


def test_a_correct_submission_gets_full_marks_per_cell_and_the_same_result_twice(squares, tmp_path):
    notebook = answered(squares, why_check="Bad input should fail loudly.")

    first = run(squares, notebook, tmp_path)
    again = run(squares, notebook, tmp_path)

    assert first.outcome == "graded", first.message
    assert scores(first) == {
        "correct_squares": 2,
        "squares_invalid_input": 1,
        "correct_mean": 2,
        "why_check": None,  # a person reads the sentence
        "plot_task": None,
    }
    assert first.score == 5 and first.max_score == 7
    assert first.needs_manual and first.flags == ()
    assert {c.feedback for c in first.cells if c.kind == "autograded_test"} == {"Passed."}
    assert first.to_json() == again.to_json()
    assert GradeResult.from_json(json.loads(json.dumps(first.to_json()))) == first


def test_wrong_answers_get_zero_on_their_tests_with_feedback(squares, tmp_path):
    notebook = answered(
        squares,
        squares="def squares(n):\n    return [i ** 2 for i in range(1, n + 1)]",  # no ValueError
        mean="def mean(values):\n    return sum(values)",
    )

    result = run(squares, notebook, tmp_path)

    assert result.outcome == "graded"
    assert scores(result)["correct_squares"] == 2
    assert scores(result)["squares_invalid_input"] == 0
    assert scores(result)["correct_mean"] == 0
    feedback = {c.grade_id: c.feedback for c in result.cells}
    assert feedback["squares_invalid_input"] == (
        "AssertionError: squares(0) did not raise ValueError"
    )
    assert feedback["correct_mean"].startswith("AssertionError")
    shown = feedback_text(result)
    assert "squares(0) did not raise ValueError" in shown
    assert "__coursehub" not in shown  # no trace of the grader's machinery


def test_hidden_tests_count_but_never_reach_the_student(squares, tmp_path):
    # Right for the visible checks (n = 1, 3), wrong for the hidden ones (n = 10, 12).
    notebook = answered(
        squares,
        squares="def squares(n):\n"
        "    if n < 1:\n        raise ValueError('no')\n"
        "    return [1, 4, 9][:n]",
    )

    result = run(squares, notebook, tmp_path)

    assert scores(result)["correct_squares"] == 0
    cell = next(c for c in result.cells if c.grade_id == "correct_squares")
    assert cell.feedback == "A hidden test failed."
    shown = feedback_text(result)
    assert "squares(3) == [1, 4, 9]" in shown  # the visible test is there
    assert "squares(12)" not in shown and "squares(10)" not in shown
    assert "HIDDEN TESTS" not in shown


def test_student_code_that_watches_every_cell_never_sees_a_hidden_test(squares, tmp_path):
    # Changed with the judge: hidden test code never reaches the kernel at all (it was sent
    # base64-encoded before). The notebook records every cell the kernel is asked to run,
    # raw and decoded, and answers `mean` wrongly if any of them held a hidden test.
    notebook = answered(
        squares,
        mean="import base64, binascii, re\n"
        "def _decoded(code):\n"
        "    found = [code]\n"
        "    for blob in re.findall(r'[A-Za-z0-9+/=]{24,}', code):\n"
        "        try:\n"
        "            found.append(base64.b64decode(blob).decode(errors='ignore'))\n"
        "        except (binascii.Error, ValueError):\n"
        "            pass\n"
        "    return found\n"
        "hidden = 'squares(' + '10)'  # not in this cell's own text, which the spy sees too\n"
        "leaked = any(hidden in text for code in seen for text in _decoded(code))\n"
        "print('SEEN', seen)\n"
        "def mean(values):\n"
        "    return -1 if leaked else sum(values) / len(values)",
    )
    add_cell(
        notebook,
        "seen = []\n"
        "def spy(lines):\n"
        "    seen.append(''.join(lines))\n"
        "    return lines\n"
        "get_ipython().input_transformers_cleanup.append(spy)\n"
        "get_ipython().events.register('pre_run_cell', lambda info: seen.append(info.raw_cell))",
    )

    result = run(squares, notebook, tmp_path)

    assert result.outcome == "graded"
    assert scores(result)["correct_mean"] == 2  # nothing of a hidden test was seen
    shown = feedback_text(result)
    assert "squares(10)" not in shown and "SEEN [" not in shown  # printed after a hidden test
    assert "so that hidden tests stay hidden" in shown


def test_manual_answers_wait_for_a_person_unless_left_empty(squares, tmp_path):
    result = run(squares, answered(squares), tmp_path)

    assert scores(result)["why_check"] == 0  # the text stub is still there
    assert scores(result)["plot_task"] is None
    assert result.needs_manual


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"points": 100}, id="points"),
        pytest.param({"grade_id": "free_points"}, id="grade-id"),
        pytest.param({"grade": False}, id="not-graded"),
    ],
)
def test_altered_test_metadata_is_ignored(squares, tmp_path, change):
    notebook = answered(squares, squares="def squares(n):\n    return []")
    test_cell = next(c for c in notebook.cells if grade_id_of(c) == "correct_squares")
    test_cell.metadata.nbgrader.update(change)
    test_cell.source = "pass"

    result = run(squares, notebook, tmp_path)

    assert scores(result)["correct_squares"] == 0
    assert result.max_score == 7
    assert set(scores(result)) == {c.grade_id for c in squares.cells if c.max_points}
    assert result.flags


def test_damaged_nbgrader_settings_do_not_stop_grading(squares, tmp_path):
    notebook = answered(squares)
    answer = next(c for c in notebook.cells if grade_id_of(c) == "mean")
    answer.metadata.nbgrader = {"grade": True, "solution": "yes"}  # no grade id, wrong types

    result = run(squares, notebook, tmp_path)

    assert result.outcome == "graded" and result.score == 5
    assert any("damaged" in flag for flag in result.flags)


def test_a_deleted_test_cell_is_put_back_and_counts(squares, tmp_path):
    notebook = answered(squares, mean="def mean(values):\n    return 0")
    notebook.cells = [c for c in notebook.cells if grade_id_of(c) != "correct_mean"]

    result = run(squares, notebook, tmp_path)

    assert scores(result)["correct_mean"] == 0
    assert any("'correct_mean' was deleted" in flag for flag in result.flags)


def test_an_edited_locked_cell_runs_as_the_instructor_wrote_it(squares, tmp_path):
    notebook = answered(squares)
    setup = next(c for c in notebook.cells if grade_id_of(c) == "setup")
    setup.source = "math = None"  # would break the hidden mean test

    result = run(squares, notebook, tmp_path)

    assert scores(result)["correct_mean"] == 2
    assert any("'setup' was edited" in flag for flag in result.flags)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        pytest.param(b"\x89PNG not json", "not a Jupyter notebook", id="binary"),
        pytest.param(b'{"hello": "world"}', "not a Jupyter notebook", id="json"),
        pytest.param(b'{"cells": [], "nbformat": 3, "metadata": {}}', "format 3", id="v3"),
        pytest.param(
            b'{"cells": [{"cell_type": "code"}], "nbformat": 4, "nbformat_minor": 5,'
            b' "metadata": {}}',
            "damaged",
            id="broken-cell",
        ),
    ],
)
def test_a_malformed_submission_is_refused_with_a_sentence(squares, data, says):
    with pytest.raises(InvalidNotebook, match=says):
        read_submission(data, squares)


def _source_with(edit) -> bytes:
    notebook = nbformat.read(FILES / "squares-source.ipynb", as_version=4)
    edit(notebook)
    return nbformat.writes(notebook).encode()


def _duplicate_id(notebook):
    notebook.cells[5].metadata.nbgrader["grade_id"] = "correct_squares"


def _points_on_plain_cell(notebook):
    notebook.cells[3].metadata.nbgrader["points"] = 5  # the answer cell


def _solution_outside_solution_cell(notebook):
    notebook.cells[1].source = "### BEGIN SOLUTION\nx = 1\n### END SOLUTION"
    del notebook.cells[1].metadata["nbgrader"]


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        pytest.param(_duplicate_id, "Duplicate grade id", id="duplicate-id"),
        pytest.param(_points_on_plain_cell, "has points but is not graded", id="points"),
        pytest.param(_solution_outside_solution_cell, "non-solution cell", id="solution"),
    ],
)
def test_a_broken_source_notebook_is_refused_with_a_sentence(edit, says):
    with pytest.raises(InvalidNotebook, match=says):
        read_source(_source_with(edit))


def test_the_student_version_has_no_solutions_and_no_hidden_tests(squares):
    released = nbformat.writes(student_version(squares))

    assert "BEGIN SOLUTION" not in released and "i ** 2" not in released
    assert "squares(12)" not in released and "mark scheme" not in released.lower()
    assert "raise NotImplementedError()" in released
    checksums = [c.metadata.nbgrader.get("checksum") for c in student_version(squares).cells
                 if cell_kind(c) not in (None, "task")]  # fmt: skip
    assert all(checksums)


def test_no_sandbox_is_a_platform_fault_the_queue_retries(squares, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # bwrap and setpriv cannot be found

    with pytest.raises(InfrastructureFault, match="bubblewrap"):
        run(squares, answered(squares), tmp_path)


def test_a_test_can_give_partial_credit_as_nbgrader_does(tmp_path):
    source = read_source((FILES / "partial-source.ipynb").read_bytes())
    half_right = student_version(source)
    half_right.cells[1].source = "def double(x):\n    return 2 if x == 1 else 0"

    result = run(source, half_right, tmp_path)

    assert scores(result) == {"double_checks": 1}
    assert result.cells[0].feedback == "Partly passed: 1 of 2 points."


def test_values_cross_from_the_kernel_as_data_of_exact_types_only():
    # Changed with the judge: instead of telling library == from notebook ==, values are
    # rebuilt in the judge as genuine objects of trusted types, or stay in the kernel.
    import collections
    import datetime
    import fractions
    from unittest import mock

    from coursehub.graders import judge_wire as wire

    def reference(value):
        return {"H": {"id": id(value)}}

    point = collections.namedtuple("Point", "x y")
    values = [
        None, True, 3, 2.5, float("nan"), "text", b"\x00", 1 + 2j, [1, (2, 3)], {"a": {1, 2}},
        frozenset({4}), collections.OrderedDict(a=1), collections.Counter("aab"),
        collections.defaultdict(list, {1: [2]}), collections.deque([1], maxlen=3), range(1, 9, 2),
        fractions.Fraction(1, 3), datetime.date(2026, 12, 7), point(1, 2),
    ]  # fmt: skip
    for value in values:
        back = wire.decode(wire.encode(value, reference), lambda tag, payload: payload)
        assert type(back).__name__ == type(value).__name__
        assert back == value or value != value  # nan

    class Anything(list):
        def __eq__(self, other):
            return True

    class Plain(list):
        pass

    assert "H" in wire.encode(Anything(), reference)  # its own ==: stays in the kernel
    assert "H" in wire.encode(mock.ANY, reference)
    assert wire.encode(Plain([1]), reference) == {"L": [1]}  # list's ==: travels as a list
    with pytest.raises(wire.WireError):
        wire.decode({"P": "pickle"}, lambda tag, payload: payload)
