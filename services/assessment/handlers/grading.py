"""Grading by people: the queue, one question across all students, one attempt in full.

For the course's instructor, its graders and administrators (everyone else: 404 for a
course they may not see, 403 otherwise):

- ``GET /courses/<slug>/grading``: the queue page (``?attempts=all``: older attempts too);
  ``GET /api/courses/<slug>/grading/queue`` the same as JSON
- ``GET /courses/<slug>/grading/assignments/<id>/questions/<grade id>``: every student's
  answer to one grade cell, to grade side by side; JSON at
  ``GET /api/courses/<slug>/assignments/<id>/questions/<grade id>/answers``
- ``PUT …/assignments/<id>/submissions/<sid>/cells/<grade id>``: an answer's ``score``
  (null: follow the rubric), ``rubric_item_ids`` and ``comment``
- ``GET /courses/<slug>/grading/assignments/<id>/submissions/<sid>``: one attempt with its
  cells, override, flags, audit trail and archived grades; JSON at
  ``GET …/submissions/<sid>/grading``
- ``PUT``/``DELETE …/submissions/<sid>/override``: a score for the whole attempt, with
  ``reason`` (required both ways)
- ``POST …/submissions/<sid>/flags-reviewed``: the attempt's flags were looked at
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.assessment import (
    assignments,
    grading_queue,
    manual_grading,
    question_answers,
    rubrics,
    submissions,
)
from coursehub.services.assessment.assignments import AssignmentError
from coursehub.services.courses.enrollment import (
    check_visible,
    course_by_slug,
)
from coursehub.services.courses.membership import membership
from coursehub.services.models import Account, Assignment, Course
from coursehub.services.variants import records as variant_records
from coursehub.services.web.base import BaseHandler
from coursehub.services.web.teach_base import row_id

GRADERS_ONLY = (
    "Only the course's instructor, its graders and administrators can grade it. Ask the "
    "instructor to add you as a grader if you should."
)
# Grading pages show students' work: no script may run but the page's own.
GRADING_PAGE_CSP = "frame-ancestors 'self'; script-src 'self'; object-src 'none'; base-uri 'self'"


class GradingHandler(BaseHandler):
    """The course, checked for a person who may grade it, and its assignments."""

    manages = False  # the course's instructor or an administrator, not only a grader

    async def grading_course(self, session: AsyncSession, slug: str) -> tuple[Account, Course]:
        account = await self.account(session)
        course = await course_by_slug(session, slug)
        place = await membership(session, account, course) if course is not None else None
        if course is None or place is None or not place.grades:
            check_visible(account, course)
            raise AssignmentError(GRADERS_ONLY, 403)
        self.manages = place.manages
        return account, course

    async def grading_assignment(
        self, session: AsyncSession, slug: str, assignment_id: str
    ) -> tuple[Account, Course, Assignment]:
        account, course = await self.grading_course(session, slug)
        assignment = await assignments.assignment_in_course(
            session, course, row_id(assignment_id), staff=True
        )
        return account, course, assignment

    def page_context(self) -> dict[str, Any]:
        context = super().page_context()
        token = self.xsrf_token
        context["xsrf_token"] = token.decode() if isinstance(token, bytes) else token
        return context

    def set_default_headers(self) -> None:
        super().set_default_headers()
        if not self.is_api:
            self.set_header("Content-Security-Policy", GRADING_PAGE_CSP)

    def all_attempts(self) -> bool:
        return self.get_argument("attempts", "latest") == "all"


async def _queue(handler: GradingHandler, slug: str) -> tuple[Course, dict[str, Any]]:
    async with handler.db(read_only=True) as session:
        _, course = await handler.grading_course(session, slug)
        entries, counts = await grading_queue.course_queue(
            session, course, all_attempts=handler.all_attempts()
        )
        found = await assignments.course_assignments(session, course, staff=True)
    empty = dict.fromkeys((*grading_queue.REASONS, "older"), 0)
    return course, {
        "assignments": [
            {
                "id": a.id,
                "title": a.title,
                "max_score": a.max_score,
                "grade_cells": a.grade_cells,
                "counts": counts.get(a.id, empty),
            }
            for a in found
        ],
        "queue": [entry.to_json() for entry in entries],
    }


class QueueAPI(GradingHandler):
    async def get(self, slug: str) -> None:
        _, body = await _queue(self, slug)
        self.write_json(body)


class QueuePage(GradingHandler):
    async def get(self, slug: str) -> None:
        course, body = await _queue(self, slug)
        titles = {a["id"]: a["title"] for a in body["assignments"]}
        self.render_page(
            "grading_queue.html",
            course=course,
            titles=titles,
            manages=self.manages,
            all_attempts=self.all_attempts(),
            **body,
        )


class QuestionAPI(GradingHandler):
    async def get(self, slug: str, assignment_id: str, grade_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, _, assignment = await self.grading_assignment(session, slug, assignment_id)
            body = await question_answers.question_answers(
                session, assignment, grade_id, all_attempts=self.all_attempts()
            )
        self.write_json(body)


class QuestionPage(GradingHandler):
    async def get(self, slug: str, assignment_id: str, grade_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, course, assignment = await self.grading_assignment(session, slug, assignment_id)
            body = await question_answers.question_answers(
                session, assignment, grade_id, all_attempts=self.all_attempts()
            )
            bank = await rubrics.comment_bank(session, course)
        self.render_page(
            "grading_question.html",
            course=course,
            assignment=assignment,
            question=body,
            bank=bank,
            all_attempts=self.all_attempts(),
        )


class AnswerAPI(GradingHandler):
    """One answer's score, rubric items and comment."""

    async def put(self, slug: str, assignment_id: str, submission_id: str, grade_id: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            account, _, assignment = await self.grading_assignment(session, slug, assignment_id)
            answer = await manual_grading.save_answer(
                session, assignment, row_id(submission_id), grade_id, fields, account
            )
            body = await _attempt(session, assignment, answer.submission_id)
            await session.commit()
        self.write_json(body)


async def _attempt(
    session: AsyncSession, assignment: Assignment, submission_id: int
) -> dict[str, Any]:
    """One attempt as staff see it: grade, cells, override, audit trail, archived grades."""
    submission, grade = await submissions.submission_with_grade(session, assignment, submission_id)
    student = await session.get_one(Account, submission.account_id)
    return {
        "submission": submissions.submission_json(submission, grade),
        "student": {
            "account_id": student.id,
            "username": student.username,
            "name": student.name,
        },
        "cells": await manual_grading.cells_of_attempt(session, assignment, submission.id, grade),
        "override": await manual_grading.override_json(session, submission.id),
        "audit": await manual_grading.audit_trail(session, submission.id),
        "archived_grades": await manual_grading.archived_grades(session, submission.id),
        # The student's variant (values injected into their copy and into grading), or None.
        "variant": await variant_records.recorded_values(session, assignment.id, student.id),
    }


class AttemptAPI(GradingHandler):
    async def get(self, slug: str, assignment_id: str, submission_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, _, assignment = await self.grading_assignment(session, slug, assignment_id)
            body = await _attempt(session, assignment, row_id(submission_id))
        self.write_json(body)


class AttemptPage(GradingHandler):
    async def get(self, slug: str, assignment_id: str, submission_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, course, assignment = await self.grading_assignment(session, slug, assignment_id)
            body = await _attempt(session, assignment, row_id(submission_id))
        self.render_page("grading_attempt.html", course=course, assignment=assignment, **body)


class OverrideAPI(GradingHandler):
    async def put(self, slug: str, assignment_id: str, submission_id: str) -> None:
        await self.change(slug, assignment_id, submission_id, manual_grading.set_override)

    async def delete(self, slug: str, assignment_id: str, submission_id: str) -> None:
        await self.change(slug, assignment_id, submission_id, manual_grading.remove_override)

    async def change(self, slug: str, assignment_id: str, submission_id: str, how: Any) -> None:
        fields = self.json_body()
        async with self.db() as session:
            account, _, assignment = await self.grading_assignment(session, slug, assignment_id)
            await how(session, assignment, row_id(submission_id), fields, account)
            body = await _attempt(session, assignment, row_id(submission_id))
            await session.commit()
        self.write_json(body)


class FlagsReviewedAPI(GradingHandler):
    async def post(self, slug: str, assignment_id: str, submission_id: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            account, _, assignment = await self.grading_assignment(session, slug, assignment_id)
            await manual_grading.review_flags(
                session, assignment, row_id(submission_id), fields.get("note"), account
            )
            body = await _attempt(session, assignment, row_id(submission_id))
            await session.commit()
        self.write_json(body)


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    page = rf"{prefix}/courses/([^/]+)/grading"
    api = rf"{prefix}/api/courses/([^/]+)"
    one = rf"{api}/assignments/(\d+)"
    attempt = rf"{one}/submissions/(\d+)"
    return [
        (page, QueuePage),
        (rf"{page}/assignments/(\d+)/questions/([^/]+)", QuestionPage),
        (rf"{page}/assignments/(\d+)/submissions/(\d+)", AttemptPage),
        (rf"{api}/grading/queue", QueueAPI),
        (rf"{one}/questions/([^/]+)/answers", QuestionAPI),
        (rf"{attempt}/cells/([^/]+)", AnswerAPI),
        (rf"{attempt}/grading", AttemptAPI),
        (rf"{attempt}/override", OverrideAPI),
        (rf"{attempt}/flags-reviewed", FlagsReviewedAPI),
    ]
