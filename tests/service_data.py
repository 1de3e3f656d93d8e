"""Small courses made straight in the database, for unit tests of the course service's rules
(no platform started): a course with its instructor, graders and enrolled students, its
lessons, a quiz and attempts at it."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from datetime import timedelta

from sqlalchemy.orm import Session

from coursehub.services.models import (
    Account,
    AnswerState,
    Course,
    CourseGrader,
    CourseStatus,
    Enrollment,
    Lesson,
    LessonKind,
    Module,
    QuestionKind,
    Quiz,
    QuizAnswer,
    QuizAttempt,
    utcnow,
)


def course_with(
    db: Callable[[], Session],
    instructor: Account,
    *,
    graders: Iterable[Account] = (),
    students: Iterable[Account] = (),
    status: CourseStatus = CourseStatus.PUBLISHED,
    title: str = "Cell Biology",
    **fields: object,
) -> Course:
    """A course of ``instructor`` with ``graders`` assigned and ``students`` enrolled."""
    with db() as session:
        course = Course(
            slug=f"course-{secrets.token_hex(4)}",
            title=title,
            instructor_id=instructor.id,
            status=status,
            **fields,
        )
        session.add(course)
        session.flush()
        session.add_all(CourseGrader(course_id=course.id, account_id=g.id) for g in graders)
        session.add_all(Enrollment(course_id=course.id, account_id=s.id) for s in students)
        session.commit()
        session.expunge(course)
        return course


def lessons_in(
    db: Callable[[], Session], course: Course, *kinds: LessonKind, optional: Iterable[int] = ()
) -> list[Lesson]:
    """Lessons of ``kinds`` in one module of ``course``, in order; the positions in
    ``optional`` are not required for completing the course."""
    skipped = set(optional)
    with db() as session:
        module = Module(course_id=course.id, title="Week 1")
        session.add(module)
        session.flush()
        made = [
            Lesson(
                module_id=module.id,
                title=f"{kind.value.title()} lesson {position + 1}",
                kind=kind,
                position=position,
                is_required=position not in skipped,
            )
            for position, kind in enumerate(kinds)
        ]
        session.add_all(made)
        session.commit()
        for lesson in made:
            session.expunge(lesson)
        return made


def quiz_in(db: Callable[[], Session], course: Course) -> Quiz:
    with db() as session:
        quiz = Quiz(course_id=course.id, title="Cells quiz", published=True)
        session.add(quiz)
        session.commit()
        session.expunge(quiz)
        return quiz


def attempt_of(  # type: ignore[no-untyped-def]
    db, quiz, student, *, submitted: bool = True, ago: int = 0
) -> QuizAttempt:
    """An attempt at ``quiz`` with a scored choice (1 of 1), an essay (4 points) and a code
    answer the worker has in hand."""
    with db() as session:
        attempt = QuizAttempt(
            quiz_id=quiz.id,
            account_id=student.id,
            attempt=1,
            max_score=7,
            submitted_at=utcnow() - timedelta(minutes=ago) if submitted else None,
        )
        session.add(attempt)
        session.flush()
        for position, kind, points, state, score in [
            (0, QuestionKind.SINGLE_CHOICE, 1, AnswerState.SCORED, 1.0),
            (1, QuestionKind.ESSAY, 4, AnswerState.AWAITING_STAFF, None),
            (2, QuestionKind.CODE, 2, AnswerState.AWAITING_WORKER, None),
        ]:
            session.add(
                QuizAnswer(
                    attempt_id=attempt.id,
                    position=position,
                    kind=kind,
                    points=points,
                    question={"prompt": "…"},
                    state=state,
                    score=score,
                )
            )
        session.commit()
        session.expunge(attempt)
        return attempt
