"""Quizzes of a course: who may see them, their settings, their slots (a fixed bank question
or a random draw from the bank by tag) and their maximum score. Plain async functions on an
``AsyncSession``; the caller commits. No HTTP here.

Attempts are ``coursehub.services.quizzes.quiz_attempts``; the bank is
``coursehub.services.quizzes.quiz_questions``; importing notebooks is
``coursehub.services.quizzes.quiz_notebooks``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.assessment import assignments
from coursehub.services.assessment.assignments import AssignmentError
from coursehub.services.content.markdown import to_safe_html
from coursehub.services.courses.enrollment import (
    EnrollmentError,
    check_visible,
    course_by_slug,
)
from coursehub.services.courses.membership import Membership, membership
from coursehub.services.models import (
    Account,
    AnswerPolicy,
    AnswerState,
    Course,
    Lesson,
    LessonKind,
    Module,
    QuestionKind,
    Quiz,
    QuizAnswer,
    QuizAttempt,
    QuizQuestion,
    QuizSlot,
    utcnow,
)
from coursehub.services.quizzes.quiz_questions import (
    QuizError,
    clean_tags,
    number_field,
    question_in_course,
    question_json,
    text_field,
)

__all__ = ["QuizError"]

MAX_TIME_LIMIT_MINUTES = 24 * 60
MAX_DRAW = 100


# -- who may do what ---------------------------------------------------------------------------


async def course_for(
    session: AsyncSession, account: Account, slug: str, *, grading: bool = False
) -> tuple[Course, Membership]:
    """The course and ``account``'s place in it. Courses they may not see are "not found"
    (404); courses they are not enrolled in are refused (403), except for its staff and,
    ``grading`` answers, its graders (``courses.membership``: graders grade quiz answers
    that need a person, and change nothing)."""
    try:
        course = check_visible(account, await course_by_slug(session, slug))
    except EnrollmentError as error:
        raise QuizError(error.message, error.status) from None
    place = await membership(session, account, course)
    if place.manages or place.enrolled or (grading and place.grades):
        return course, place
    raise QuizError(
        f"Quizzes of {course.title} are for its students: enroll in the course first.", 403
    )


def is_open(quiz: Quiz, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return quiz.published and (quiz.opens_at is None or quiz.opens_at <= now)


async def course_quizzes(session: AsyncSession, course: Course, *, staff: bool) -> list[Quiz]:
    query = select(Quiz).where(Quiz.course_id == course.id)
    if not staff:
        query = query.where(Quiz.published.is_(True))
    return list(await session.scalars(query.order_by(Quiz.due_at.nulls_last(), Quiz.id)))


async def quiz_in_course(
    session: AsyncSession, course: Course, quiz_id: int, *, staff: bool
) -> Quiz:
    quiz = await session.get(Quiz, quiz_id)
    if quiz is None or quiz.course_id != course.id or (not staff and not quiz.published):
        raise QuizError("This course has no such quiz; check the address or the quiz list.", 404)
    return quiz


async def quiz_for_lesson(session: AsyncSession, course: Course, lesson_id: int) -> Quiz | None:
    return await session.scalar(
        select(Quiz)
        .where(Quiz.course_id == course.id, Quiz.lesson_id == lesson_id)
        .order_by(Quiz.id)
        .limit(1)
    )


# -- settings ------------------------------------------------------------------------------------


def parse_time(value: Any, name: str) -> datetime | None:
    """An ISO 8601 time with a zone, or None; read as assignment dates are."""
    try:
        return assignments.parse_time(value, name)
    except AssignmentError as error:
        raise QuizError(error.message, error.status) from None


def _whole_or_none(value: Any, name: str, high: int) -> int | None:
    if value in (None, "", 0):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise QuizError(f"{name} must be a whole number from 1 to {high}, or empty for none.")
    return value


async def _check_lesson(session: AsyncSession, course_id: int, lesson_id: Any) -> int | None:
    if lesson_id in (None, ""):
        return None
    problem = QuizError(
        "That lesson is not a quiz lesson of this course; add a quiz lesson to the syllabus "
        "first, or leave lesson_id out."
    )
    try:
        number = int(lesson_id)
    except (TypeError, ValueError):
        raise problem from None
    lesson = await session.scalar(
        select(Lesson)
        .join(Module, Module.id == Lesson.module_id)
        .where(Lesson.id == number, Module.course_id == course_id)
    )
    if lesson is None or lesson.kind is not LessonKind.QUIZ:
        raise problem
    return lesson.id


def _answer_policy(value: Any) -> AnswerPolicy:
    try:
        return AnswerPolicy(value)
    except ValueError:
        choices = ", ".join(policy.value for policy in AnswerPolicy)
        raise QuizError(f"show_answers must be one of {choices}.") from None


async def update_settings(session: AsyncSession, quiz: Quiz, fields: dict[str, Any]) -> Quiz:
    """Title, description, time limit, attempt limit, opens/due dates, published, lesson,
    and when students see the correct answers."""
    if "title" in fields:
        title = text_field(fields, "title", limit=200)
        if not title:
            raise QuizError("Give the quiz a title of 1 to 200 characters.")
        quiz.title = title
    if "description" in fields:
        quiz.description = text_field(fields, "description")
    if "time_limit_minutes" in fields:
        quiz.time_limit_minutes = _whole_or_none(
            fields["time_limit_minutes"], "time_limit_minutes", MAX_TIME_LIMIT_MINUTES
        )
    if "max_attempts" in fields:
        quiz.max_attempts = _whole_or_none(fields["max_attempts"], "max_attempts", 100)
    for name in ("opens_at", "due_at"):
        if name in fields:
            setattr(quiz, name, parse_time(fields[name], name))
    if "published" in fields:
        if not isinstance(fields["published"], bool):
            raise QuizError("published must be true or false.")
        quiz.published = fields["published"]
    if "lesson_id" in fields:
        quiz.lesson_id = await _check_lesson(session, quiz.course_id, fields["lesson_id"])
    if "show_answers" in fields:
        quiz.show_answers = _answer_policy(fields["show_answers"])
    if quiz.opens_at and quiz.due_at and quiz.due_at <= quiz.opens_at:
        raise QuizError("The due date must be after the opening date; move one of them.")
    quiz.updated_at = utcnow()
    await session.flush()
    return quiz


async def create_quiz(
    session: AsyncSession, course: Course, author: Account, fields: dict[str, Any]
) -> Quiz:
    """A new, unpublished quiz without slots."""
    quiz = Quiz(course_id=course.id, title="", created_by_id=author.id, max_score=0)
    session.add(quiz)
    await update_settings(session, quiz, {"title": fields.get("title"), **fields})
    return quiz


async def delete_quiz(session: AsyncSession, quiz: Quiz) -> None:
    taken = await session.scalar(
        select(func.count(QuizAttempt.id)).where(QuizAttempt.quiz_id == quiz.id)
    )
    if taken:
        raise QuizError(
            "Students have attempts at this quiz, so it stays with their scores; unpublish it "
            "to hide it instead.",
            409,
        )
    await session.delete(quiz)
    await session.flush()


# -- slots ---------------------------------------------------------------------------------------


def check_draw(fields: dict[str, Any]) -> dict[str, Any]:
    """A draw slot's columns from ``{"tag", "count", "points"}``."""
    tags = clean_tags([fields.get("tag") or fields.get("draw_tag") or ""])
    if len(tags) != 1:
        raise QuizError("A random draw needs the tag of the bank questions to draw from.")
    count = fields.get("count", fields.get("draw_count", 1))
    return {
        "draw_tag": tags[0],
        "draw_count": int(number_field(count, "count", low=1, high=MAX_DRAW)),
        "points": number_field(fields.get("points", 1), "points", low=0.01, high=1000),
    }


async def slots_of(session: AsyncSession, quiz: Quiz) -> list[tuple[QuizSlot, QuizQuestion | None]]:
    rows = await session.execute(
        select(QuizSlot, QuizQuestion)
        .outerjoin(QuizQuestion, QuizQuestion.id == QuizSlot.question_id)
        .where(QuizSlot.quiz_id == quiz.id)
        .order_by(QuizSlot.position, QuizSlot.id)
    )
    return [(slot, question) for slot, question in rows]


def slot_points(slot: QuizSlot, question: QuizQuestion | None) -> float:
    """What the slot is worth in all."""
    if question is not None:
        return slot.points if slot.points is not None else question.points
    return (slot.points or 0) * slot.draw_count


async def refresh_max_score(session: AsyncSession, quiz: Quiz) -> float:
    quiz.max_score = round(sum(slot_points(s, q) for s, q in await slots_of(session, quiz)), 4)
    quiz.updated_at = utcnow()
    await session.flush()
    return quiz.max_score


async def refresh_quizzes_using(session: AsyncSession, question_id: int) -> None:
    """After a bank question's points changed: the maximum of every quiz holding it."""
    quizzes = await session.scalars(
        select(Quiz)
        .join(QuizSlot, QuizSlot.quiz_id == Quiz.id)
        .where(QuizSlot.question_id == question_id)
    )
    for quiz in quizzes.unique():
        await refresh_max_score(session, quiz)


async def add_slot(session: AsyncSession, quiz: Quiz, fields: dict[str, Any]) -> QuizSlot:
    """A fixed question (``question_id``, optional ``points``) or a draw (``tag``,
    ``count``, ``points`` each), placed last."""
    last = await session.scalar(
        select(func.max(QuizSlot.position)).where(QuizSlot.quiz_id == quiz.id)
    )
    slot = QuizSlot(quiz_id=quiz.id, position=(last if last is not None else -1) + 1)
    await _fill_slot(session, quiz, slot, fields)
    session.add(slot)
    await session.flush()
    await refresh_max_score(session, quiz)
    return slot


def _points_override(value: Any) -> float | None:
    """A fixed slot's own points, or None to use its question's."""
    if value in (None, ""):
        return None
    return number_field(value, "points", low=0.01, high=1000)


async def _fill_slot(
    session: AsyncSession, quiz: Quiz, slot: QuizSlot, fields: dict[str, Any]
) -> None:
    """Make ``slot`` what ``fields`` say: a bank question (``question_id``), a draw
    (``tag``), or, for a slot already holding a question, just new ``points``."""
    if fields.get("question_id") is not None:
        course = await session.get_one(Course, quiz.course_id)
        try:
            question_id = int(fields["question_id"])
        except (TypeError, ValueError):
            raise QuizError("question_id must be the id of a question in the bank.") from None
        question = await question_in_course(session, course, question_id)
        slot.question_id, slot.draw_tag, slot.draw_count = question.id, None, 1
        slot.points = _points_override(fields.get("points"))
        return
    if slot.question_id is not None and not ({"tag", "draw_tag"} & fields.keys()):
        if "points" in fields:
            slot.points = _points_override(fields["points"])
        return
    current = {"tag": slot.draw_tag, "count": slot.draw_count, "points": slot.points or 1}
    draw = check_draw({**current, **fields})
    slot.question_id = None
    slot.draw_tag, slot.draw_count = draw["draw_tag"], draw["draw_count"]
    slot.points = draw["points"]


async def slot_in_quiz(session: AsyncSession, quiz: Quiz, slot_id: int) -> QuizSlot:
    slot = await session.get(QuizSlot, slot_id)
    if slot is None or slot.quiz_id != quiz.id:
        raise QuizError("This quiz has no such slot; reload the quiz builder.", 404)
    return slot


async def update_slot(
    session: AsyncSession, quiz: Quiz, slot: QuizSlot, fields: dict[str, Any]
) -> QuizSlot:
    await _fill_slot(session, quiz, slot, fields)
    await session.flush()
    await refresh_max_score(session, quiz)
    return slot


async def remove_slot(session: AsyncSession, quiz: Quiz, slot: QuizSlot) -> None:
    await session.delete(slot)
    await session.flush()
    await refresh_max_score(session, quiz)


async def reorder_slots(session: AsyncSession, quiz: Quiz, slot_ids: Any) -> None:
    current = [slot for slot, _ in await slots_of(session, quiz)]
    if not isinstance(slot_ids, list) or sorted(map(str, slot_ids)) != sorted(
        str(slot.id) for slot in current
    ):
        raise QuizError("slot_ids must list every slot of this quiz once, in the new order.")
    by_id = {str(slot.id): slot for slot in current}
    for position, slot_id in enumerate(slot_ids):
        by_id[str(slot_id)].position = position
    await session.flush()


# -- showing -------------------------------------------------------------------------------------


def quiz_json(quiz: Quiz) -> dict[str, Any]:
    return {
        "id": quiz.id,
        "course_id": quiz.course_id,
        "lesson_id": quiz.lesson_id,
        "title": quiz.title,
        "description": quiz.description,
        "description_html": to_safe_html(quiz.description),
        "time_limit_minutes": quiz.time_limit_minutes,
        "max_attempts": quiz.max_attempts,
        "opens_at": quiz.opens_at,
        "due_at": quiz.due_at,
        "published": quiz.published,
        "max_score": quiz.max_score,
        "show_answers": quiz.show_answers.value,
        "is_open": is_open(quiz),
    }


def slot_json(
    slot: QuizSlot, question: QuizQuestion | None, tag_counts: dict[str, int]
) -> dict[str, Any]:
    """A slot for staff; a draw says how many bank questions carry its tag."""
    body: dict[str, Any] = {
        "id": slot.id,
        "position": slot.position,
        "points": slot_points(slot, question),
        "points_override": slot.points,
    }
    if question is not None:
        body["question"] = question_json(question)
        return body
    body["draw"] = {
        "tag": slot.draw_tag,
        "count": slot.draw_count,
        "points_each": slot.points,
        "available": tag_counts.get(slot.draw_tag or "", 0),
    }
    return body


async def essays_awaiting_grading(session: AsyncSession, course_id: int) -> int:
    """Essay answers of the course's quizzes that staff have yet to grade: those of
    submitted attempts, and those of attempts whose time ran out (closed on their next read)."""
    now = utcnow()
    return (
        await session.scalar(
            select(func.count(QuizAnswer.id))
            .join(QuizAttempt, QuizAttempt.id == QuizAnswer.attempt_id)
            .join(Quiz, Quiz.id == QuizAttempt.quiz_id)
            .where(
                Quiz.course_id == course_id,
                QuizAnswer.kind == QuestionKind.ESSAY,
                or_(
                    QuizAnswer.state == AnswerState.AWAITING_STAFF,
                    and_(
                        QuizAnswer.state == AnswerState.OPEN,
                        QuizAttempt.submitted_at.is_(None),
                        QuizAttempt.deadline_at < now,
                    ),
                ),
            )
        )
        or 0
    )
