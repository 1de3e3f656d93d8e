"""Quiz pages under ``/courses/<slug>/quizzes``: the list, a quiz (start or resume it, past
attempts), taking an attempt and its results, and for staff the quiz builder, the grading
page and the analytics page. The pages' scripts use the JSON API
(``coursehub.services.quizzes.handlers.quizzes``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.courses import authoring
from coursehub.services.models import Course, LessonKind, QuestionKind
from coursehub.services.quizzes import (
    quiz_analytics,
    quiz_attempts,
    quiz_grading,
    quiz_notebooks,
    quiz_questions,
    quizzes,
)
from coursehub.services.quizzes.handlers.quizzes import QuizHandler, staff_view, student_view
from coursehub.services.quizzes.quiz_questions import QuizError
from coursehub.services.web.teach_base import row_id

KIND_LABELS = {
    QuestionKind.SINGLE_CHOICE.value: "Multiple choice (one answer)",
    QuestionKind.MULTIPLE_CHOICE.value: "Multiple answers",
    QuestionKind.TRUE_FALSE.value: "True or false",
    QuestionKind.FILL_IN.value: "Fill in the blank",
    QuestionKind.ESSAY.value: "Essay",
    QuestionKind.CODE.value: "Code",
}


def plain(value: Any) -> Any:
    """``value`` as plain JSON types (times in ISO 8601), for a page's script."""
    return json.loads(
        json.dumps(value, default=lambda o: o.isoformat() if isinstance(o, datetime) else str(o))
    )


class QuizPageHandler(QuizHandler):
    def page(self, template: str, **context: Any) -> None:
        self.set_header("Cache-Control", "no-store")
        self.render_page(
            template,
            xsrf_token=self.xsrf_token.decode(),
            kind_labels=KIND_LABELS,
            **context,
        )

    async def show_problem(self, session: AsyncSession, error: QuizError, *page: str) -> None:
        """After a form's change failed: undo it and show the form's page again (``get`` with
        ``page``'s arguments) with the error's status and message."""
        await session.rollback()
        self.set_status(error.status)
        await self.get(*page, problem=error.message)


class QuizListPage(QuizPageHandler):
    async def get(self, slug: str, problem: str = "") -> None:
        async with self.db() as session:
            course, items = await self.listed_quizzes(session, slug)
            pending = await quizzes.essays_awaiting_grading(session, course.id) if self.staff else 0
        self.page(
            "quiz_list.html",
            course=course,
            quizzes=items,
            staff=self.staff,
            pending=pending,
            problem=problem,
        )

    async def post(self, slug: str) -> None:
        """Staff: a new quiz (``title``) or one imported from a notebook file (``notebook``),
        then on to its builder."""
        async with self.db() as session:
            account, course = await self.course(session, slug, staff_only=True)
            title = self.get_body_argument("title", "").strip()
            try:
                if self.request.files.get("notebook"):
                    data = self.request.files["notebook"][0]["body"]
                    quiz = await quiz_notebooks.import_quiz(
                        session, course, account, data, title=title
                    )
                else:
                    quiz = await quizzes.create_quiz(session, course, account, {"title": title})
            except QuizError as error:
                await self.show_problem(session, error, slug)
                return
            await session.commit()
        prefix = self.settings_obj.service_prefix
        self.redirect(f"{prefix}/courses/{course.slug}/quizzes/{quiz.id}/edit")


class QuizPage(QuizPageHandler):
    """A student's view of one quiz: settings, start or resume, past attempts. Staff go to
    the builder."""

    async def get(self, slug: str, quiz_id: str, problem: str = "") -> None:
        async with self.db() as session:
            account, course, quiz = await self.quiz(session, slug, quiz_id)
            if self.staff:
                self.redirect(
                    f"{self.settings_obj.service_prefix}/courses/{slug}/quizzes/{quiz.id}/edit"
                )
                return
            view = await student_view(session, quiz, account)
            await session.commit()
        self.page("quiz_page.html", course=course, quiz=view, problem=problem)

    async def post(self, slug: str, quiz_id: str) -> None:
        """Start (or resume) an attempt and go to it."""
        async with self.db() as session:
            account, course, quiz = await self.quiz_to_take(session, slug, quiz_id)
            try:
                attempt, _ = await quiz_attempts.start_attempt(session, quiz, account)
            except QuizError as error:
                await self.show_problem(session, error, slug, quiz_id)
                return
            await session.commit()
        prefix = self.settings_obj.service_prefix
        self.redirect(f"{prefix}/courses/{course.slug}/quizzes/{quiz.id}/attempts/{attempt.id}")


class AttemptPage(QuizPageHandler):
    """Taking an attempt (countdown, answers saved as they change, submit), or its results
    once submitted."""

    async def get(self, slug: str, quiz_id: str, attempt_id: str) -> None:
        async with self.db() as session:
            account, quiz, attempt, answers = await self.attempt_to_show(
                session, slug, quiz_id, attempt_id
            )
            course = await session.get_one(Course, quiz.course_id)
            body = await self.attempt_body(session, quiz, attempt, answers)
        prefix = self.settings_obj.service_prefix
        self.page(
            "quiz_attempt.html",
            course=course,
            quiz=quizzes.quiz_json(quiz),
            attempt=body,
            mine=attempt.account_id == account.id,
            api=f"{prefix}/api/courses/{course.slug}/quizzes/{quiz.id}/attempts/{attempt.id}",
        )


class BuilderPage(QuizPageHandler):
    async def get(self, slug: str, quiz_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, course, quiz = await self.quiz(session, slug, quiz_id, staff_only=True)
            view = await staff_view(session, quiz)
            bank = [
                quiz_questions.question_json(q) for q in await quiz_questions.bank(session, course)
            ]
            # The picker of the quiz's lesson: the course's quiz lessons, never a typed id.
            quiz_lessons = await authoring.lessons_of_kind(session, course.id, LessonKind.QUIZ)
        prefix = self.settings_obj.service_prefix
        self.page(
            "quiz_builder.html",
            course=course,
            quiz=view,
            quiz_lessons=quiz_lessons,
            builder=plain(
                {
                    "quiz": view,
                    "bank": bank,
                    "kinds": KIND_LABELS,
                    "kind_order": list(KIND_LABELS),
                    "api": f"{prefix}/api/courses/{course.slug}",
                }
            ),
        )


class GradingPage(QuizPageHandler):
    async def get(self, slug: str, quiz_id: str) -> None:
        async with self.db() as session:
            course, quiz = await self.quiz_to_review(session, slug, quiz_id, grading=True)
            rows = await quiz_grading.answers_to_grade(session, quiz)
        items = [
            {
                "answer": quiz_attempts.answer_json(answer, reveal=True),
                "attempt": attempt,
                "student": student,
                "guidance": answer.question["spec"].get("guidance", ""),
            }
            for answer, attempt, student in rows
        ]
        prefix = self.settings_obj.service_prefix
        self.page(
            "quiz_grading.html",
            course=course,
            quiz=quizzes.quiz_json(quiz),
            items=items,
            api=f"{prefix}/api/courses/{course.slug}/quizzes/{quiz.id}",
        )


class AnalyticsPage(QuizPageHandler):
    async def get(self, slug: str, quiz_id: str) -> None:
        async with self.db() as session:
            course, quiz = await self.quiz_to_review(session, slug, quiz_id)
            figures = await quiz_analytics.quiz_analytics(session, quiz)
        tallest = max([bin_["count"] for bin_ in figures["histogram"]] + [1])
        self.page(
            "quiz_analytics.html",
            course=course,
            quiz=quizzes.quiz_json(quiz),
            figures=figures,
            tallest=tallest,
        )


class LessonQuizPage(QuizPageHandler):
    """Where a QUIZ lesson of the course player leads: its quiz, or the course's quizzes."""

    async def get(self, slug: str, lesson_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, course = await self.course(session, slug)
            quiz = await quizzes.quiz_for_lesson(session, course, row_id(lesson_id))
        prefix = f"{self.settings_obj.service_prefix}/courses/{course.slug}/quizzes"
        if quiz is not None and (self.staff or quiz.published):
            self.redirect(f"{prefix}/{quiz.id}")
        else:
            self.redirect(prefix)


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    base = rf"{prefix}/courses/([^/]+)/quizzes"
    return [
        (base, QuizListPage),
        (rf"{base}/lesson/(\d+)", LessonQuizPage),
        (rf"{base}/(\d+)", QuizPage),
        (rf"{base}/(\d+)/attempts/(\d+)", AttemptPage),
        (rf"{base}/(\d+)/edit", BuilderPage),
        (rf"{base}/(\d+)/grading", GradingPage),
        (rf"{base}/(\d+)/analytics", AnalyticsPage),
    ]
