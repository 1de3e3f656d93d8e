"""Quizzes: the JSON API under ``/api/courses/<slug>/quizzes`` and ``…/quiz-bank``.

Staff of the course (its instructor, administrators):
- ``GET``/``POST …/quiz-bank``, ``GET``/``PATCH``/``DELETE …/quiz-bank/<qid>``: the question
  bank (every kind; see ``coursehub.services.quizzes.quiz_questions`` for the fields)
- ``POST …/quizzes``: a new quiz from its settings; ``POST …/quizzes/import?title=…``: a new
  quiz and its questions from a notebook (``coursehub.services.quizzes.quiz_notebooks``)
- ``PATCH``/``DELETE …/quizzes/<id>``: settings (title, description, time_limit_minutes,
  max_attempts, opens_at, due_at, published, lesson_id, show_answers)
- ``POST …/quizzes/<id>/slots``: add a bank question (``question_id``), a new question
  (``question``: its fields) or a random draw (``tag``, ``count``, ``points``);
  ``PATCH``/``DELETE …/slots/<sid>``; ``PUT …/quizzes/<id>/slot-order``
- ``GET …/quizzes/<id>/grading``: essay and code answers to grade;
  ``PUT …/attempts/<aid>/answers/<n>/grade``: score and comment
- ``GET …/quizzes/<id>/analytics``: score distribution and item analysis

Students enrolled in the course:
- ``GET …/quizzes`` and ``…/quizzes/<id>``: published quizzes with their own attempts
- ``POST …/quizzes/<id>/attempts``: start (or resume) an attempt
- ``GET …/attempts/<aid>``: the attempt (questions without answers until submitted; then the
  scores, and the right answers and explanations when the quiz's ``show_answers`` allows:
  ``quiz_attempts.answers_shown``; never regular expressions or tolerances)
- ``PUT …/attempts/<aid>/answers/<n>``: save an answer (409 after the deadline)
- ``POST …/attempts/<aid>/submit``: submit (optionally with the last answers)

Everyone else is refused: 404 for courses they may not see, 403 for courses they are not in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web

from coursehub.services.models import Account, Course, Quiz, QuizAnswer, QuizAttempt
from coursehub.services.quizzes import (
    quiz_analytics,
    quiz_attempts,
    quiz_grading,
    quiz_notebooks,
    quiz_questions,
    quizzes,
)
from coursehub.services.web.base import BaseHandler
from coursehub.services.web.teach_base import row_id

STAFF_ONLY = "Only the course's instructor and administrators can do this."
GRADERS_ONLY = "Only the course's instructor, its graders and administrators can do this."
STUDENTS_ONLY = (
    "Quizzes are taken by the course's students; as its staff, open the quiz builder to see "
    "every question."
)
ANSWER_OWN_ONLY = "Only the student taking this attempt can answer in it."
SUBMIT_OWN_ONLY = "Only the student taking this attempt can submit it."


class QuizHandler(BaseHandler):
    """Finding the course, the person's place in it, the quiz and the attempt."""

    staff = False  # manages the course: its instructor or an administrator
    grades = False  # may grade answers by hand: staff, or one of the course's graders

    @asynccontextmanager
    async def late_refusals(self, session: AsyncSession) -> AsyncIterator[None]:
        """For answers and submits: one past the deadline closed the attempt, so that is
        committed before the refusal (a 409) is the answer."""
        try:
            yield
        except quiz_attempts.TimeIsUp:
            await session.commit()  # the attempt closed as of its deadline
            raise

    async def course(
        self, session: AsyncSession, slug: str, *, staff_only: bool = False, grading: bool = False
    ) -> tuple[Account, Course]:
        account = await self.account(session)
        course, place = await quizzes.course_for(session, account, slug, grading=grading)
        self.staff, self.grades = place.manages, place.grades
        if staff_only and not self.staff:
            raise web.HTTPError(403, STAFF_ONLY)
        if grading and not self.grades:
            raise web.HTTPError(403, GRADERS_ONLY)
        return account, course

    async def quiz(
        self,
        session: AsyncSession,
        slug: str,
        quiz_id: str,
        *,
        staff_only: bool = False,
        grading: bool = False,
    ) -> tuple[Account, Course, Quiz]:
        account, course = await self.course(session, slug, staff_only=staff_only, grading=grading)
        sees_all = self.staff or (grading and self.grades)
        quiz = await quizzes.quiz_in_course(session, course, row_id(quiz_id), staff=sees_all)
        return account, course, quiz

    async def quiz_to_take(
        self, session: AsyncSession, slug: str, quiz_id: str
    ) -> tuple[Account, Course, Quiz]:
        """A quiz a student of the course may take; its staff are refused (403)."""
        account, course, quiz = await self.quiz(session, slug, quiz_id)
        if self.staff:
            raise web.HTTPError(403, STUDENTS_ONLY)
        return account, course, quiz

    async def quiz_to_review(
        self, session: AsyncSession, slug: str, quiz_id: str, *, grading: bool = False
    ) -> tuple[Course, Quiz]:
        """A quiz for its course's staff (others: 403) to analyse, or with ``grading`` for
        its staff and graders to grade, with the attempts whose time ran out closed and
        committed first, so they count as submitted."""
        _, course, quiz = await self.quiz(
            session, slug, quiz_id, staff_only=not grading, grading=grading
        )
        await quiz_attempts.attempts_of(session, quiz)
        await session.commit()
        return course, quiz

    async def listed_quizzes(
        self, session: AsyncSession, slug: str
    ) -> tuple[Course, list[dict[str, Any]]]:
        """The course and its quizzes as this person sees them listed: every quiz for staff,
        the published ones with the student's own attempts for a student (those out of time
        closed and committed)."""
        account, course = await self.course(session, slug)
        found = await quizzes.course_quizzes(session, course, staff=self.staff)
        if self.staff:
            items = [quizzes.quiz_json(quiz) for quiz in found]
        else:
            items = [await student_view(session, quiz, account) for quiz in found]
        await session.commit()
        return course, items

    async def attempt(
        self,
        session: AsyncSession,
        slug: str,
        quiz_id: str,
        attempt_id: str,
        *,
        lock: bool = False,
        grading: bool = False,
    ) -> tuple[Account, Quiz, QuizAttempt]:
        """An attempt its student or the course's staff may see (others: 404); with
        ``grading``, the course's graders too."""
        account, _, quiz = await self.quiz(session, slug, quiz_id, grading=grading)
        attempt = await quiz_attempts.attempt_in_quiz(session, quiz, row_id(attempt_id), lock=lock)
        if not (self.staff or (grading and self.grades)) and attempt.account_id != account.id:
            raise web.HTTPError(404, "This quiz has no such attempt; check the address.")
        return account, quiz, attempt

    async def attempt_to_show(
        self, session: AsyncSession, slug: str, quiz_id: str, attempt_id: str
    ) -> tuple[Account, Quiz, QuizAttempt, list[QuizAnswer]]:
        """``attempt`` with its answers, closed and committed first if its time ran out."""
        account, quiz, attempt = await self.attempt(session, slug, quiz_id, attempt_id)
        await quiz_attempts.close_if_expired(session, attempt)
        await session.commit()
        return account, quiz, attempt, await quiz_attempts.answers_of(session, attempt)

    async def own_attempt(
        self, session: AsyncSession, slug: str, quiz_id: str, attempt_id: str, refusal: str
    ) -> QuizAttempt:
        """One's own attempt, locked until the transaction ends; anyone else's: 403 with
        ``refusal``."""
        account, _, attempt = await self.attempt(session, slug, quiz_id, attempt_id, lock=True)
        if attempt.account_id != account.id:
            raise web.HTTPError(403, refusal)
        return attempt

    async def attempt_body(
        self, session: AsyncSession, quiz: Quiz, attempt: QuizAttempt, answers: list[QuizAnswer]
    ) -> dict[str, Any]:
        """The attempt with its answers, the correct ones only where the quiz's policy lets
        its student see them now (its staff always see them)."""
        shown = self.staff or await quiz_attempts.answers_shown(session, quiz, attempt)
        return quiz_attempts.attempt_json(attempt, answers, quiz=quiz, show_answers=shown)

    def notebook_upload(self) -> bytes:
        limit = self.settings_obj.max_notebook_bytes
        if len(self.request.body) > limit:
            raise web.HTTPError(
                413, f"The notebook is larger than the {limit / 1e6:.0f} MB notebook limit."
            )
        files = self.request.files
        if files:
            chosen = files.get("notebook") or next(iter(files.values()))
            return chosen[0]["body"]
        return self.request.body


# -- the bank --------------------------------------------------------------------------------


class BankAPI(QuizHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            _, course = await self.course(session, slug, staff_only=True)
            found = await quiz_questions.bank(session, course, self.get_argument("tag", None))
            tags = await quiz_questions.tag_counts(session, course.id)
        self.write_json(
            {"questions": [quiz_questions.question_json(q) for q in found], "tags": tags}
        )

    async def post(self, slug: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            account, course = await self.course(session, slug, staff_only=True)
            question = await quiz_questions.create_question(session, course, account, fields)
            await session.commit()
        self.write_json(quiz_questions.question_json(question), 201)


class BankQuestionAPI(QuizHandler):
    async def get(self, slug: str, question_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, course = await self.course(session, slug, staff_only=True)
            question = await quiz_questions.question_in_course(session, course, row_id(question_id))
        self.write_json(quiz_questions.question_json(question))

    async def patch(self, slug: str, question_id: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            _, course = await self.course(session, slug, staff_only=True)
            question = await quiz_questions.question_in_course(session, course, row_id(question_id))
            await quiz_questions.update_question(session, question, fields)
            await quizzes.refresh_quizzes_using(session, question.id)
            await session.commit()
        self.write_json(quiz_questions.question_json(question))

    async def delete(self, slug: str, question_id: str) -> None:
        async with self.db() as session:
            _, course = await self.course(session, slug, staff_only=True)
            question = await quiz_questions.question_in_course(session, course, row_id(question_id))
            await quiz_questions.delete_question(session, question)
            await session.commit()
        self.set_status(204)
        self.finish()


# -- quizzes and their slots -----------------------------------------------------------------


async def staff_view(session: AsyncSession, quiz: Quiz) -> dict[str, Any]:
    """A quiz with its slots, for the builder."""
    counts = await quiz_questions.tag_counts(session, quiz.course_id)
    slots = await quizzes.slots_of(session, quiz)
    return {
        **quizzes.quiz_json(quiz),
        "slots": [quizzes.slot_json(slot, question, counts) for slot, question in slots],
        "tags": counts,
    }


async def student_view(session: AsyncSession, quiz: Quiz, account: Account) -> dict[str, Any]:
    """A quiz with the student's own attempts (and none of its questions)."""
    mine = await quiz_attempts.attempts_of(session, quiz, account.id)
    left = None if quiz.max_attempts is None else max(0, quiz.max_attempts - len(mine))
    return {
        **quizzes.quiz_json(quiz),
        "attempts": [quiz_attempts.attempt_json(attempt) for attempt in mine],
        "attempts_left": left,
    }


class QuizListAPI(QuizHandler):
    async def get(self, slug: str) -> None:
        async with self.db() as session:
            _, items = await self.listed_quizzes(session, slug)
        self.write_json({"quizzes": items})

    async def post(self, slug: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            account, course = await self.course(session, slug, staff_only=True)
            quiz = await quizzes.create_quiz(session, course, account, fields)
            await session.commit()
            body = await staff_view(session, quiz)
        self.write_json(body, 201)


class QuizImportAPI(QuizHandler):
    """A quiz and its questions from a notebook (the raw .ipynb or a multipart field)."""

    async def post(self, slug: str) -> None:
        async with self.db() as session:
            account, course = await self.course(session, slug, staff_only=True)
            quiz = await quiz_notebooks.import_quiz(
                session,
                course,
                account,
                self.notebook_upload(),
                title=self.get_argument("title", "").strip(),
            )
            await session.commit()
            body = await staff_view(session, quiz)
        self.write_json(body, 201)


class QuizAPI(QuizHandler):
    async def get(self, slug: str, quiz_id: str) -> None:
        async with self.db() as session:
            account, _, quiz = await self.quiz(session, slug, quiz_id)
            if self.staff:
                body = await staff_view(session, quiz)
            else:
                body = await student_view(session, quiz, account)
            await session.commit()
        self.write_json(body)

    async def patch(self, slug: str, quiz_id: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            _, _, quiz = await self.quiz(session, slug, quiz_id, staff_only=True)
            await quizzes.update_settings(session, quiz, fields)
            await session.commit()
            body = await staff_view(session, quiz)
        self.write_json(body)

    async def delete(self, slug: str, quiz_id: str) -> None:
        async with self.db() as session:
            _, _, quiz = await self.quiz(session, slug, quiz_id, staff_only=True)
            await quizzes.delete_quiz(session, quiz)
            await session.commit()
        self.set_status(204)
        self.finish()


class SlotsAPI(QuizHandler):
    async def post(self, slug: str, quiz_id: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            account, course, quiz = await self.quiz(session, slug, quiz_id, staff_only=True)
            if isinstance(fields.get("question"), dict):
                question = await quiz_questions.create_question(
                    session, course, account, fields["question"]
                )
                fields = {"question_id": question.id, "points": fields.get("points")}
            await quizzes.add_slot(session, quiz, fields)
            await session.commit()
            body = await staff_view(session, quiz)
        self.write_json(body, 201)


class SlotAPI(QuizHandler):
    async def patch(self, slug: str, quiz_id: str, slot_id: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            _, _, quiz = await self.quiz(session, slug, quiz_id, staff_only=True)
            slot = await quizzes.slot_in_quiz(session, quiz, row_id(slot_id))
            await quizzes.update_slot(session, quiz, slot, fields)
            await session.commit()
            body = await staff_view(session, quiz)
        self.write_json(body)

    async def delete(self, slug: str, quiz_id: str, slot_id: str) -> None:
        async with self.db() as session:
            _, _, quiz = await self.quiz(session, slug, quiz_id, staff_only=True)
            slot = await quizzes.slot_in_quiz(session, quiz, row_id(slot_id))
            await quizzes.remove_slot(session, quiz, slot)
            await session.commit()
            body = await staff_view(session, quiz)
        self.write_json(body)


class SlotOrderAPI(QuizHandler):
    async def put(self, slug: str, quiz_id: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            _, _, quiz = await self.quiz(session, slug, quiz_id, staff_only=True)
            await quizzes.reorder_slots(session, quiz, fields.get("slot_ids"))
            await session.commit()
            body = await staff_view(session, quiz)
        self.write_json(body)


# -- attempts ------------------------------------------------------------------------------------


def responses_from(body: dict[str, Any]) -> dict[int, Any]:
    """``{"answers": {"0": …, "1": …}}`` (positions as keys) as position → response."""
    raw = body.get("answers") or {}
    if not isinstance(raw, dict):
        raise web.HTTPError(400, "answers must be an object from question number to answer.")
    try:
        return {int(position): response for position, response in raw.items()}
    except ValueError:
        raise web.HTTPError(400, "answers must be keyed by question numbers, from 0.") from None


class AttemptsAPI(QuizHandler):
    async def get(self, slug: str, quiz_id: str) -> None:
        async with self.db() as session:
            account, _, quiz = await self.quiz(session, slug, quiz_id)
            only = None if self.staff else account.id
            if self.staff and self.get_argument("student", ""):
                only = row_id(self.get_argument("student"))
            found = await quiz_attempts.attempts_of(session, quiz, only)
            await session.commit()
        self.write_json({"attempts": [quiz_attempts.attempt_json(a) for a in found]})

    async def post(self, slug: str, quiz_id: str) -> None:
        async with self.db() as session:
            account, _, quiz = await self.quiz_to_take(session, slug, quiz_id)
            attempt, created = await quiz_attempts.start_attempt(session, quiz, account)
            await session.commit()
            answers = await quiz_attempts.answers_of(session, attempt)
        body = quiz_attempts.attempt_json(attempt, answers)
        body["created"] = created
        self.write_json(body, 201 if created else 200)


class AttemptAPI(QuizHandler):
    async def get(self, slug: str, quiz_id: str, attempt_id: str) -> None:
        async with self.db() as session:
            _, quiz, attempt, answers = await self.attempt_to_show(
                session, slug, quiz_id, attempt_id
            )
            body = await self.attempt_body(session, quiz, attempt, answers)
        self.write_json(body)


class AnswerAPI(QuizHandler):
    """Save one answer of one's own attempt in progress."""

    async def put(self, slug: str, quiz_id: str, attempt_id: str, position: str) -> None:
        body = self.json_body()
        if "response" not in body:
            raise web.HTTPError(400, 'Send the answer as {"response": …}.')
        async with self.db() as session:
            attempt = await self.own_attempt(session, slug, quiz_id, attempt_id, ANSWER_OWN_ONLY)
            async with self.late_refusals(session):
                answers = await quiz_attempts.save_answers(
                    session, attempt, {int(position): body["response"]}
                )
            await session.commit()
        saved = next(a for a in answers if a.position == int(position))
        self.write_json(
            {
                "position": saved.position,
                "response": saved.response,
                "saved_at": saved.saved_at,
                "deadline_at": attempt.deadline_at,
            }
        )


class SubmitAPI(QuizHandler):
    async def post(self, slug: str, quiz_id: str, attempt_id: str) -> None:
        responses = responses_from(self.json_body())
        async with self.db() as session:
            attempt = await self.own_attempt(session, slug, quiz_id, attempt_id, SUBMIT_OWN_ONLY)
            async with self.late_refusals(session):
                submitted = await quiz_attempts.submit(session, attempt, responses)
            await session.commit()
            answers = await quiz_attempts.answers_of(session, attempt)
            quiz = await session.get_one(Quiz, attempt.quiz_id)
            body = await self.attempt_body(session, quiz, attempt, answers)
        body["created"] = submitted
        self.write_json(body)


# -- grading and analytics -----------------------------------------------------------------------


class GradingAPI(QuizHandler):
    async def get(self, slug: str, quiz_id: str) -> None:
        async with self.db() as session:
            _, quiz = await self.quiz_to_review(session, slug, quiz_id, grading=True)
            rows = await quiz_grading.answers_to_grade(
                session, quiz, pending_only=self.get_argument("pending", "") == "1"
            )
        items = [
            {
                **quiz_attempts.answer_json(answer, reveal=True),
                "attempt_id": attempt.id,
                "attempt": attempt.attempt,
                "student": {"id": student.id, "name": student.name, "username": student.username},
                "guidance": answer.question["spec"].get("guidance", ""),
            }
            for answer, attempt, student in rows
        ]
        self.write_json({"answers": items})


class GradeAPI(QuizHandler):
    async def put(self, slug: str, quiz_id: str, attempt_id: str, position: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            account, quiz, attempt = await self.attempt(
                session, slug, quiz_id, attempt_id, lock=True, grading=True
            )
            answer = await quiz_grading.grade_answer(
                session, quiz, attempt, int(position), account, fields
            )
            # The block's end announces the student's notification (notifications.add).
            await session.commit()
        body = quiz_attempts.answer_json(answer, reveal=True)
        body["attempt_score"] = attempt.score
        self.write_json(body)


class AnalyticsAPI(QuizHandler):
    async def get(self, slug: str, quiz_id: str) -> None:
        async with self.db() as session:
            _, quiz = await self.quiz_to_review(session, slug, quiz_id)
            figures = await quiz_analytics.quiz_analytics(session, quiz)
        self.write_json(figures)


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    course = rf"{prefix}/api/courses/([^/]+)"
    one = rf"{course}/quizzes/(\d+)"
    attempt = rf"{one}/attempts/(\d+)"
    return [
        (rf"{course}/quiz-bank", BankAPI),
        (rf"{course}/quiz-bank/(\d+)", BankQuestionAPI),
        (rf"{course}/quizzes", QuizListAPI),
        (rf"{course}/quizzes/import", QuizImportAPI),
        (one, QuizAPI),
        (rf"{one}/slots", SlotsAPI),
        (rf"{one}/slots/(\d+)", SlotAPI),
        (rf"{one}/slot-order", SlotOrderAPI),
        (rf"{one}/attempts", AttemptsAPI),
        (attempt, AttemptAPI),
        (rf"{attempt}/answers/(\d+)", AnswerAPI),
        (rf"{attempt}/answers/(\d+)/grade", GradeAPI),
        (rf"{attempt}/submit", SubmitAPI),
        (rf"{one}/grading", GradingAPI),
        (rf"{one}/analytics", AnalyticsAPI),
    ]
