"""The rules of ``assessment.manual_grading`` on their own: how an attempt's score is made from
autograded cells, people's scores and an override, then the late penalty; which typed scores
and reasons are refused; and what an answer looks like to staff."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from coursehub.hub.constants import Role
from coursehub.services.assessment import manual_grading
from coursehub.services.assessment.assignments import AssignmentError
from coursehub.services.assessment.manual_grading import Totals, totals
from coursehub.services.models import (
    Account,
    Assignment,
    Grade,
    ManualScore,
    Submission,
    SubmissionStatus,
)
from tests.service_data import course_with

CELLS = [
    {"grade_id": "auto", "score": 2.5},
    {"grade_id": "essay", "score": None},
    {"grade_id": "proof", "score": 1},
]


def test_autograded_cells_add_up_and_a_cell_without_a_score_waits_for_a_person():
    assert totals(CELLS, {}, None, 0) == Totals(3.5, 3.5, True)


def test_a_persons_score_replaces_the_cells_and_settles_it():
    assert totals(CELLS, {"essay": 4, "proof": 0}, None, 0) == Totals(6.5, 6.5, False)


def test_an_override_replaces_the_whole_sum_and_nothing_waits_any_more():
    assert totals(CELLS, {"essay": 4}, 9, 0) == Totals(9, 9, False)
    assert totals(CELLS, {}, 0, 0) == Totals(0, 0, False)


def test_the_late_penalty_is_taken_from_the_score_after_people_and_overrides():
    assert totals(CELLS, {"essay": 4.5}, None, 20) == Totals(8.0, 6.4, False)
    assert totals(CELLS, {}, 10, 50) == Totals(10, 5.0, False)


def test_a_cell_without_a_grade_id_still_counts_its_score():
    assert totals([{"score": 2}], {"": 5}, None, 0).score == 5
    assert totals([{"score": 2}], {}, None, 0) == Totals(2, 2, False)


def test_no_cells_is_zero_and_nothing_waits():
    assert totals([], {}, None, 10) == Totals(0, 0, False)


def test_the_score_is_rounded_to_4_places():
    assert totals([{"grade_id": "a", "score": 1 / 3}], {}, None, 0).score == 0.3333


@pytest.mark.parametrize("value", [True, "3", None, [1]])
def test_a_typed_score_is_a_number(value):
    with pytest.raises(AssignmentError, match="must be a number"):
        manual_grading._typed_score(value, 5)


@pytest.mark.parametrize("value", [-0.01, 5.01])
def test_a_typed_score_is_within_0_and_the_cells_points(value):
    with pytest.raises(AssignmentError, match="from 0 to 5"):
        manual_grading._typed_score(value, 5)


def test_a_typed_score_at_the_bounds_is_kept_and_rounded():
    assert manual_grading._typed_score(0, 5) == 0.0
    assert manual_grading._typed_score(5, 5) == 5.0
    assert manual_grading._typed_score(1.234567, 5) == 1.2346


@pytest.mark.parametrize("value", [None, "", "   "])
def test_changing_a_whole_attempt_needs_a_reason(value):
    with pytest.raises(AssignmentError, match="Give a reason for the override"):
        manual_grading._reason(value, "the override")


def test_a_reason_is_trimmed_and_bounded():
    assert manual_grading._reason("  Regraded by hand ", "x") == "Regraded by hand"
    assert manual_grading._reason("r" * manual_grading.MAX_REASON, "x")
    with pytest.raises(AssignmentError, match="under 2000"):
        manual_grading._reason("r" * (manual_grading.MAX_REASON + 1), "x")


def override(fields: dict) -> None:
    assignment = Assignment(max_score=10)
    # Refused before the database is touched, so no session is needed.
    asyncio.run(manual_grading.set_override(None, assignment, 1, fields, Account(id=1)))


@pytest.mark.parametrize("score", [None, "7", True])
def test_an_override_needs_a_number(score):
    with pytest.raises(AssignmentError, match="needs a score, a number"):
        override({"score": score, "reason": "fair"})


@pytest.mark.parametrize("score", [-1, 10.5])
def test_an_override_is_within_the_assignments_points(score):
    with pytest.raises(AssignmentError, match="from 0 to 10, the assignment's points"):
        override({"score": score, "reason": "fair"})


def test_an_override_without_a_reason_is_refused_first():
    with pytest.raises(AssignmentError, match="reason for the override"):
        override({"score": 99})


def test_removing_an_override_needs_a_reason_too():
    with pytest.raises(AssignmentError, match="reason for removing the override"):
        asyncio.run(
            manual_grading.remove_override(None, Assignment(max_score=1), 1, {}, Account(id=1))
        )


def test_an_answer_shows_its_score_comment_and_ticked_rubric_items():
    when = datetime(2026, 1, 2, tzinfo=UTC)
    answer = ManualScore(score=3.5, typed=True, comment="Good", updated_at=when)
    assert manual_grading.answer_json(answer, [4, 9]) == {
        "score": 3.5,
        "typed": True,
        "comment": "Good",
        "rubric_item_ids": [4, 9],
        "updated_at": when,
    }
    assert manual_grading.answer_json(None, []) is None


# -- on the database -------------------------------------------------------------------------


def graded_attempt(db, make_account):
    """An attempt graded by the engine, 50 % late: the autograded cell got 2 of 2, the essay
    (8 points) waits for a person."""
    student, instructor = make_account(), make_account(Role.INSTRUCTOR)
    course = course_with(db, instructor, students=[student])
    with db() as session:
        assignment = Assignment(
            course_id=course.id,
            title="Essay",
            source_notebook={},
            student_notebook={},
            source_sha256="0" * 64,
            max_score=10,
        )
        session.add(assignment)
        session.flush()
        submission = Submission(
            assignment_id=assignment.id,
            account_id=student.id,
            attempt=1,
            sha256="0" * 64,
            notebook=b"{}",
            size=2,
            status=SubmissionStatus.GRADED,
        )
        session.add(submission)
        session.flush()
        session.add(
            Grade(
                submission_id=submission.id,
                outcome="graded",
                cells=[
                    {"grade_id": "auto", "score": 2, "max_points": 2},
                    {"grade_id": "essay", "score": None, "max_points": 8},
                ],
                score=2,
                final_score=1,
                late_penalty_percent=50,
                needs_manual=True,
            )
        )
        session.commit()
    return assignment, submission, instructor


async def test_an_override_settles_the_attempt_and_removing_it_restores_the_sum(
    db, make_account, sessions
):
    assignment, submission, instructor = graded_attempt(db, make_account)
    async with sessions() as session:
        await manual_grading.set_override(
            session, assignment, submission.id, {"score": 8, "reason": "Oral exam"}, instructor
        )
        await session.commit()
    async with sessions() as session:
        grade = await manual_grading.recompute_grade(session, submission.id)
        assert (grade.score, grade.final_score, grade.needs_manual) == (8, 4, False)
        await manual_grading.remove_override(
            session, assignment, submission.id, {"reason": "Exam voided"}, instructor
        )
        await session.commit()
    async with sessions() as session:
        grade = await manual_grading.recompute_grade(session, submission.id)
        assert (grade.score, grade.final_score, grade.needs_manual) == (2, 1, True)
        trail = await manual_grading.audit_trail(session, submission.id)
    assert [(c["action"], c["reason"], c["by"]) for c in trail] == [
        ("override", "Oral exam", instructor.username),
        ("override_removed", "Exam voided", instructor.username),
    ]
    assert trail[0]["before"] == {"score": None, "final_score": 1}
    assert trail[0]["after"] == {"score": 8, "final_score": 4}
    assert trail[1]["after"] == {"score": None, "final_score": 1}


async def test_removing_an_override_that_is_not_there_is_a_404(db, make_account, sessions):
    assignment, submission, instructor = graded_attempt(db, make_account)
    async with sessions() as session:
        with pytest.raises(AssignmentError) as refused:
            await manual_grading.remove_override(
                session, assignment, submission.id, {"reason": "x"}, instructor
            )
    assert refused.value.status == 404


async def test_an_attempt_of_another_assignment_is_not_found(db, make_account, sessions):
    assignment, _, _ = graded_attempt(db, make_account)
    _, elsewhere, _ = graded_attempt(db, make_account)
    async with sessions() as session:
        with pytest.raises(AssignmentError) as refused:
            await manual_grading.lock_attempt(session, assignment, elsewhere.id)
    assert refused.value.status == 404


async def test_an_attempt_without_flags_has_none_to_review(db, make_account, sessions):
    assignment, submission, instructor = graded_attempt(db, make_account)
    async with sessions() as session:
        with pytest.raises(AssignmentError, match="no flags to review") as refused:
            await manual_grading.review_flags(session, assignment, submission.id, "", instructor)
    assert refused.value.status == 409


async def test_an_attempt_without_a_grade_has_nothing_to_recompute(db, make_account, sessions):
    async with sessions() as session:
        assert await manual_grading.recompute_grade(session, 2**31 - 1) is None
