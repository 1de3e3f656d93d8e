"""Decide each grade cell's score from what the runner saw, outside the sandbox.

Points always come from the source. A test cell gets its points only if the judge
(``coursehub.graders.judge``, in the runner, outside the kernel) ran its code to the end;
what the kernel replied to the serve cell does not count. The judge's flags become
sentences for staff (never part of the student's feedback). A test may give partial credit
the nbgrader way (its last expression evaluates to a number up to its points). Manually graded
answers follow ``nbgrader.utils.determine_grade``: unchanged from the student version means
0, anything else waits for a person, as do tasks.
"""

from __future__ import annotations

from dataclasses import dataclass

import nbformat
from nbgrader import utils as nbgrader_utils

from coursehub.graders.assignment_notebooks import GradeCellSpec, SourceAssignment, grade_id_of
from coursehub.graders.rebuild import RebuiltSubmission

HIDDEN_FAILURE = "A hidden test failed."


@dataclass(frozen=True)
class CellVerdict:
    grade_id: str
    kind: str
    score: float | None
    max_points: float
    feedback: str
    flags: tuple[str, ...] = ()


def cell_verdicts(
    source: SourceAssignment,
    rebuilt: RebuiltSubmission,
    report: dict | None,
    stop_reason: str,
) -> list[CellVerdict]:
    """``report`` is the runner's (None if it left none); ``stop_reason`` says, for tests
    that never ran, why."""
    positions = {grade_id_of(c): i for i, c in enumerate(rebuilt.notebook.cells)}
    cells = (report or {}).get("cells", {})
    verdicts = []
    for spec in source.cells:
        index = positions[spec.grade_id]
        if spec.kind == "autograded_test":
            check = rebuilt.tests[index]
            record = cells.get(str(index))
            verdicts.append(test_verdict(spec, record, check.has_hidden, stop_reason))
        elif spec.kind == "manual":
            verdicts.append(manual_verdict(spec, rebuilt.notebook.cells[index], rebuilt.deleted))
        elif spec.kind == "task":
            verdicts.append(CellVerdict(spec.grade_id, spec.kind, None, spec.max_points,
                                        "A person will grade this task."))  # fmt: skip
    return verdicts


def runner_flags(report: dict | None, tests: dict) -> list[str]:
    """Flags about the run as a whole: outputs that show what a hidden test passed in."""
    return [
        f"Cell {index + 1} printed a value that a hidden test had passed to the notebook's "
        "code (argument spying?); its output was not shown to the student."
        for index in (report or {}).get("spying", [])
    ]


def test_verdict(
    spec: GradeCellSpec, record: dict | None, has_hidden: bool, stop_reason: str
) -> CellVerdict:
    def verdict(score: float, feedback: str, *flags: str) -> CellVerdict:
        return CellVerdict(spec.grade_id, spec.kind, score, spec.max_points, feedback, flags)

    judged = (record or {}).get("judge")
    if judged is None:
        return verdict(0, f"This test did not run: {stop_reason}")
    flags = [_describe_flag(spec.grade_id, flag) for flag in judged.get("flags", [])]
    status = judged.get("status")
    if status == "ok":
        score, partial_flag = partial_score(judged.get("value"), spec.max_points)
        flags += [partial_flag] if partial_flag else []
        feedback = (
            "Passed."
            if score == spec.max_points
            else f"Partly passed: {score:g} of {spec.max_points:g} points."
        )
        return verdict(score, feedback, *flags)
    if status == "fail":
        if judged.get("hidden"):
            return verdict(0, HIDDEN_FAILURE, *flags)
        text = f"{judged.get('ename')}: {judged.get('evalue')}".strip().rstrip(":")
        return verdict(0, text, *flags)
    if judged.get("flags") and "serve-loop-missing" in judged["flags"]:
        return verdict(0, "The test did not run to its end, so it gets no points.", *flags)
    return verdict(0, f"This test did not run to its end: {stop_reason}", *flags)


def partial_score(value: str | None, max_points: float) -> tuple[float, str | None]:
    """nbgrader's partial credit: a test whose last expression is a number gets that many."""
    if value is None:
        return max_points, None
    try:
        score = nbgrader_utils.get_partial_grade({"data": {"text/plain": value}}, max_points)
    except ValueError:
        return max_points, f"A test's partial credit {value} is more than its points."
    return float(score), None


def manual_verdict(
    spec: GradeCellSpec, cell: nbformat.NotebookNode, deleted: set[str]
) -> CellVerdict:
    if spec.grade_id in deleted:
        return CellVerdict(spec.grade_id, spec.kind, 0, spec.max_points,
                           "This answer cell was deleted, so it gets no points.")  # fmt: skip
    score, _ = nbgrader_utils.determine_grade(cell)
    if score == 0:
        return CellVerdict(spec.grade_id, spec.kind, 0, spec.max_points, "No answer was given.")
    return CellVerdict(spec.grade_id, spec.kind, None, spec.max_points,
                       "A person will grade this answer.")  # fmt: skip


FLAG_TEXT = {
    "eq-non-data": "an object of class {} (not plain data) was compared with a value; the "
    "comparison was False (an always-equal object?)",
    "ordering-non-data": "an object of class {} (not plain data) was ordered against a value",
    "eq-dataclass-other": "a dataclass instance of {} was compared with an object of another "
    "class; the comparison was False",
    "shadowed-exception": "the notebook defines its own {}; the test used the real one",
    "rebound-import": "the notebook rebound {}, which the instructor imported; the test used "
    "the real one",
    "protocol": "the kernel's answers to the judge were malformed ({}): the notebook may "
    "have replaced the grader's serve loop",
}


def _describe_flag(grade_id: str, flag: str) -> str:
    if flag == "serve-loop-missing":
        return (
            f"Test {grade_id!r}: the kernel never answered the judge (the notebook replaced or "
            "broke the grader's serve loop); the test failed."
        )
    kind, _, detail = flag.partition(":")
    if kind in FLAG_TEXT:
        return f"Test {grade_id!r}: " + FLAG_TEXT[kind].format(detail)
    return f"Test {grade_id!r}: {flag}"
