"""Decide each grade cell's score from what the runner saw, outside the sandbox.

Points always come from the source. A test cell gets its points only if it ran, its
execute_reply said ``ok`` *and* the grading kernel's executor printed this run's nonce with
``ok`` after the test's last statement; a reply of ``ok`` without that line means something
in the kernel swallowed the failure, which is flagged. A test may give partial credit the
nbgrader way (its last expression evaluates to a number up to its points). Manually graded
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
    """Flags the runner raised about cells that are not tests (forged proof lines)."""
    flags = []
    for index, record in sorted((report or {}).get("cells", {}).items(), key=lambda i: int(i[0])):
        if int(index) not in tests and record.get("flags"):
            flags.append(
                f"Cell {int(index) + 1} printed lines that imitate the grader's test proofs."
            )
    return flags


def test_verdict(
    spec: GradeCellSpec, record: dict | None, has_hidden: bool, stop_reason: str
) -> CellVerdict:
    def verdict(score: float, feedback: str, *flags: str) -> CellVerdict:
        return CellVerdict(spec.grade_id, spec.kind, score, spec.max_points, feedback, flags)

    if record is None or record.get("status") is None:
        return verdict(0, f"This test did not run: {stop_reason}")
    proof = record.get("proof") or {}
    flags = [_describe_flag(spec.grade_id, flag) for flag in proof.get("flags", [])]
    flags += [_describe_flag(spec.grade_id, flag) for flag in record.get("flags", [])]
    if record["status"] == "ok" and proof.get("status") == "ok":
        score, partial_flag = partial_score(proof.get("value"), spec.max_points)
        flags += [partial_flag] if partial_flag else []
        feedback = (
            "Passed."
            if score == spec.max_points
            else f"Partly passed: {score:g} of {spec.max_points:g} points."
        )
        return verdict(score, feedback, *flags)
    if record["status"] == "ok":
        flags.append(
            f"Test {spec.grade_id!r}: the kernel reported success but the test did not run "
            "to its end (something in the notebook swallowed it)."
        )
        return verdict(0, "The test did not run to its end, so it gets no points.", *flags)
    if proof.get("hidden") or (has_hidden and record.get("evalue") == HIDDEN_FAILURE):
        return verdict(0, HIDDEN_FAILURE, *flags)
    if not proof:
        return verdict(0, "The test failed before it could check anything.", *flags)
    return verdict(0, f"{record.get('ename')}: {record.get('evalue')}".strip(), *flags)


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


def _describe_flag(grade_id: str, flag: str) -> str:
    if flag.startswith("eq-override:"):
        return (
            f"Test {grade_id!r}: an answer of class {flag.split(':', 1)[1]} with a "
            "notebook-defined == was compared."
        )
    if flag.startswith("shadowed-exception:"):
        return (
            f"Test {grade_id!r}: the notebook redefined {flag.split(':', 1)[1]}; the test used "
            "the real one."
        )
    if flag == "guard-replaced":
        return f"Test {grade_id!r}: the grader's comparison check was replaced during the test."
    if flag == "forged-proof":
        return f"Test {grade_id!r}: its output imitates the grader's proof lines."
    return f"Test {grade_id!r}: {flag}"
