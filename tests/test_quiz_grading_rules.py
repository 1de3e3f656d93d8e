"""``quizzes.quiz_grading``: staff grade the quiz answers that need a person (essays, code
answers). Only in a submitted attempt, never one the grading worker has in hand; a score from
0 to the answer's points; the attempt's score follows once every answer has one; the student
is told with a ``quiz_graded`` notification whose title and link its kind makes; the answers
waiting for a person come first."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import (
    Account,
    Notification,
    QuestionKind,
    Quiz,
    QuizAttempt,
)
from coursehub.services.notifications.kinds import display
from coursehub.services.quizzes import quiz_grading
from coursehub.services.quizzes.quiz_questions import QuizError
from tests.service_data import attempt_of, course_with, quiz_in


async def test_staff_grade_an_essay_and_the_student_is_told(db, make_account, sessions):
    teacher, student = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    course = course_with(db, teacher, students=[student])
    quiz = quiz_in(db, course)
    attempt = attempt_of(db, quiz, student)
    async with sessions() as session:
        quiz = await session.get_one(Quiz, quiz.id)
        attempt = await session.get_one(QuizAttempt, attempt.id)
        me = await session.get_one(Account, teacher.id)
        for fields, says in [
            ({"score": 5}, "from 0 to 4"),
            ({"score": "3"}, "must be a number"),
            ({"score": 3, "comment": 7}, "comment must be text"),
        ]:
            with pytest.raises(QuizError, match=says):
                await quiz_grading.grade_answer(session, quiz, attempt, 1, me, fields)
        with pytest.raises(QuizError, match="no question 9") as error:
            await quiz_grading.grade_answer(session, quiz, attempt, 8, me, {"score": 1})
        assert error.value.status == 404
        with pytest.raises(QuizError, match="grading worker has this") as error:
            await quiz_grading.grade_answer(session, quiz, attempt, 2, me, {"score": 1})
        assert error.value.status == 409

        essay = await quiz_grading.grade_answer(
            session, quiz, attempt, 1, me, {"score": 3, "comment": "  Good reasoning. "}
        )
        assert (essay.score, essay.comment, essay.state) == (3.0, "Good reasoning.", "SCORED")
        assert essay.correct is None and essay.graded_by_id == teacher.id
        assert attempt.score is None  # the code answer has no score yet

        [told] = await session.scalars(
            select(Notification).where(
                Notification.account_id == student.id, Notification.kind == "quiz_graded"
            )
        )
        title, url = display(told)
        assert told.account_id == student.id and told.payload["answer_score"] == 3.0
        assert title == "An answer of yours in Cells quiz is graded."
        assert url.endswith(f"/courses/{course.slug}/quizzes/{quiz.id}/attempts/{attempt.id}")
        await session.rollback()


async def test_a_quiz_in_progress_is_not_graded_and_waiting_answers_come_first(
    db, make_account, sessions
):
    teacher = make_account(Role.INSTRUCTOR)
    early, late, busy = (make_account(Role.STUDENT) for _ in range(3))
    course = course_with(db, teacher, students=[early, late, busy])
    quiz = quiz_in(db, course)
    first = attempt_of(db, quiz, early, ago=30)
    second = attempt_of(db, quiz, late, ago=10)
    open_one = attempt_of(db, quiz, busy, submitted=False)
    async with sessions() as session:
        me = await session.get_one(Account, teacher.id)
        quiz = await session.get_one(Quiz, quiz.id)
        with pytest.raises(QuizError, match="still in progress") as error:
            await quiz_grading.grade_answer(
                session, quiz, await session.get_one(QuizAttempt, open_one.id), 1, me, {"score": 1}
            )
        assert error.value.status == 409
        listed = await quiz_grading.answers_to_grade(session, quiz)
        # Essays and code answers of submitted attempts; the essays waiting for staff first,
        # oldest submission first; the code answers the worker has come after.
        assert [(a.kind, t.id) for a, t, _ in listed] == [
            (QuestionKind.ESSAY, first.id),
            (QuestionKind.ESSAY, second.id),
            (QuestionKind.CODE, first.id),
            (QuestionKind.CODE, second.id),
        ]
        pending = await quiz_grading.answers_to_grade(session, quiz, pending_only=True)
        assert [(a.kind, s.id) for a, _, s in pending] == [
            (QuestionKind.ESSAY, early.id),
            (QuestionKind.ESSAY, late.id),
        ]
