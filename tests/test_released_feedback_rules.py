"""The rules of ``assessment.released_feedback`` on their own: before release a student sees
the autograder's result only; after release people's scores, comments and the override; never
the engine's flags; and the feedback notebook carries each grader's score and comment beside
the cell."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.assessment import released_feedback
from coursehub.services.assessment.released_feedback import annotated_feedback, student_grade_json
from coursehub.services.models import Assignment, FeedbackRelease, Grade, ManualScore, Submission
from tests.service_data import course_with

CELLS = [
    {"grade_id": "auto", "score": 2.0, "max_points": 2},
    {"grade_id": "essay", "score": None, "max_points": 5},
]


def grade() -> Grade:
    """As the gradebook has it: a person gave the essay 4 and an override made it 9."""
    return Grade(
        outcome="graded",
        message="",
        score=9.0,
        max_score=7.0,
        late_penalty_percent=50.0,
        final_score=4.5,
        cells=[dict(cell) for cell in CELLS],
        flags=["output_tampered"],
        needs_manual=False,
        graded_at=datetime(2026, 3, 1, tzinfo=UTC),
    )


ANSWERS = {"essay": ManualScore(grade_id="essay", score=4.0, comment="Clear argument")}


def test_no_grade_shows_nothing():
    assert student_grade_json(None, {}, False, True) is None


def test_a_student_never_sees_the_engines_flags():
    assert "flags" not in student_grade_json(grade(), ANSWERS, True, False)
    assert "flags" not in student_grade_json(grade(), ANSWERS, True, True)


def test_before_release_a_student_sees_the_autograders_result_only():
    shown = student_grade_json(grade(), ANSWERS, True, False)
    assert shown["score"] == 2.0
    assert shown["final_score"] == 1.0  # the late penalty still applies
    assert shown["needs_manual"] is True  # the essay still waits, as far as they know
    assert shown["feedback_released"] is False
    assert "overridden" not in shown
    assert all("comment" not in cell for cell in shown["cells"])


def test_after_release_a_student_sees_the_grade_with_peoples_scores_and_comments():
    shown = student_grade_json(grade(), ANSWERS, True, True)
    assert (shown["score"], shown["final_score"], shown["needs_manual"]) == (9.0, 4.5, False)
    assert shown["overridden"] is True and shown["feedback_released"] is True
    auto, essay = shown["cells"]
    assert auto == {**CELLS[0], "comment": ""}
    assert essay["score"] == 4.0 and essay["graded_by_person"] is True
    assert essay["comment"] == "Clear argument"


def test_a_comment_without_a_score_keeps_the_cells_score():
    answers = {"auto": ManualScore(grade_id="auto", score=None, comment="Nice")}
    auto = student_grade_json(grade(), answers, False, True)["cells"][0]
    assert auto["score"] == 2.0 and auto["comment"] == "Nice" and "graded_by_person" not in auto


def cell(grade_id: str | None, source: str) -> dict:
    metadata = {"nbgrader": {"grade_id": grade_id}} if grade_id else {}
    return {"cell_type": "markdown", "source": source, "metadata": metadata}


NOTEBOOK = {"cells": [cell(None, "Intro"), cell("essay", "My essay"), cell("auto", "x = 1")]}


def test_the_feedback_notebook_has_the_graders_score_and_comment_after_the_cell():
    shown = annotated_feedback(NOTEBOOK, ANSWERS, {"essay": 5})
    sources = [c["source"] for c in shown["cells"]]
    assert sources == [
        "Intro",
        "My essay",
        "**Grader's score:** 4 / 5\n\nClear argument",
        "x = 1",
    ]
    note = shown["cells"][2]
    assert note["metadata"] == {"coursehub": {"grader_comment": "essay"}}
    assert note["id"] == "coursehub-grader-2"


def test_only_a_comment_or_only_a_score_is_shown_alone():
    answers = {
        "essay": ManualScore(grade_id="essay", score=None, comment="See me"),
        "auto": ManualScore(grade_id="auto", score=1.5, comment=""),
    }
    sources = [c["source"] for c in annotated_feedback(NOTEBOOK, answers, {})["cells"]]
    assert sources == ["Intro", "My essay", "See me", "x = 1", "**Grader's score:** 1.5 / 0"]


def test_an_answer_with_neither_score_nor_comment_adds_nothing_and_the_notebook_is_untouched():
    answers = {"essay": ManualScore(grade_id="essay", score=None, comment="")}
    assert annotated_feedback(NOTEBOOK, answers, {}) == NOTEBOOK
    annotated_feedback(NOTEBOOK, ANSWERS, {"essay": 5})
    assert len(NOTEBOOK["cells"]) == 3


# -- on the database -------------------------------------------------------------------------


def graded_course(db, make_account):
    graded, queued = make_account(), make_account()
    instructor = make_account(Role.INSTRUCTOR)
    course = course_with(db, instructor, students=[graded, queued])
    with db() as session:
        assignment = Assignment(
            course_id=course.id,
            title="Enzymes",
            source_notebook={},
            student_notebook={},
            source_sha256="0" * 64,
            max_score=7,
        )
        session.add(assignment)
        session.flush()
        for student, attempts in ((graded, 2), (queued, 1)):
            for number in range(1, attempts + 1):
                submission = Submission(
                    assignment_id=assignment.id,
                    account_id=student.id,
                    attempt=number,
                    sha256="0" * 64,
                    notebook=b"{}",
                    size=2,
                )
                session.add(submission)
                session.flush()
                if student is graded:
                    session.add(Grade(submission_id=submission.id, outcome="graded", cells=[]))
        session.commit()
    return course, assignment, instructor, graded


async def test_releasing_notifies_each_student_with_a_graded_attempt_once(
    db, make_account, sessions
):
    course, assignment, instructor, graded = graded_course(db, make_account)
    async with sessions() as session:
        assert await released_feedback.released_at(session, assignment.id) is None
        when, notes = await released_feedback.release(session, assignment, course.slug, instructor)
        await session.commit()
    assert [(n.account_id, n.kind) for n in notes] == [(graded.id, "feedback_released")]
    payload = notes[0].payload
    assert payload["assignment_id"] == assignment.id and payload["course"] == course.slug
    assert payload["title"] == "Feedback on Enzymes is released."
    assert payload["url"] == f"/services/coursehub/courses/{course.slug}/assignments"
    async with sessions() as session:
        assert await released_feedback.released_at(session, assignment.id) == when


async def test_releasing_again_moves_the_release_time_on(db, make_account, sessions):
    course, assignment, instructor, _ = graded_course(db, make_account)
    async with sessions() as session:
        first, _ = await released_feedback.release(session, assignment, course.slug, instructor)
        again, notes = await released_feedback.release(session, assignment, course.slug, instructor)
        await session.commit()
        assert again > first and len(notes) == 1
        assert await released_feedback.released_at(session, assignment.id) == again
        rows = await session.scalars(
            select(FeedbackRelease).where(FeedbackRelease.assignment_id == assignment.id)
        )
        assert len(list(rows)) == 1
