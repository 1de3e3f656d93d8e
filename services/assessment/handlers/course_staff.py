"""A course's graders: the instructor (or an administrator) adds and removes them.

- ``GET /api/courses/<slug>/graders``: the graders (anyone who may grade the course)
- ``POST /api/courses/<slug>/graders`` with ``username``: add one (instructor, admin)
- ``DELETE /api/courses/<slug>/graders/<account id>``: remove one (instructor, admin)
- ``GET /courses/<slug>/staff``: the page, with a form to add and buttons to remove
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from tornado import web

from coursehub.services.accounts import profiles
from coursehub.services.assessment.assignments import AssignmentError
from coursehub.services.assessment.handlers.grading import GradingHandler
from coursehub.services.courses import course_staff
from coursehub.services.web.teach_base import row_id


class GradersAPI(GradingHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            _, course = await self.grading_course(session, slug)
            graders = await course_staff.course_graders(session, course)
        self.write_json(
            {
                "graders": [course_staff.grader_json(g) for g in graders],
                "manages": self.manages,
            }
        )

    async def post(self, slug: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            account, course = await self.grading_course(session, slug)
            grader, added = await course_staff.add_grader(
                session, course, str(fields.get("username") or ""), account
            )
            await session.commit()
        self.write_json(course_staff.grader_json(grader), 201 if added else 200)


class GraderAPI(GradingHandler):
    async def delete(self, slug: str, account_id: str) -> None:
        async with self.db() as session:
            account, course = await self.grading_course(session, slug)
            removed = await course_staff.remove_grader(session, course, row_id(account_id), account)
            await session.commit()
        if not removed:
            raise web.HTTPError(404, "That account is not a grader of this course.")
        self.set_status(204)
        self.finish()


class StaffPage(GradingHandler):
    async def get(self, slug: str) -> None:
        await self.show(slug, self.get_argument("done", ""), "")

    async def show(self, slug: str, done: str, problem: str) -> None:
        async with self.db(read_only=True) as session:
            _, course = await self.grading_course(session, slug)
            graders = await course_staff.course_graders(session, course)
            pronouns = await profiles.pronouns_of(
                session, [course.instructor_id, *(grader.id for grader in graders)]
            )
        self.render_page(
            "grading_staff.html",
            course=course,
            graders=graders,
            pronouns=pronouns,
            manages=self.manages,
            done=done,
            problem=problem,
        )

    async def post(self, slug: str) -> None:
        """The page's forms: ``action`` add (``username``) or remove (``account_id``)."""
        action = self.get_body_argument("action", "")
        try:
            async with self.db() as session:
                account, course = await self.grading_course(session, slug)
                if action == "add":
                    grader, _ = await course_staff.add_grader(
                        session, course, self.get_body_argument("username", ""), account
                    )
                    done = f"{grader.username} can now grade this course."
                elif action == "remove":
                    raw = self.get_body_argument("account_id", "")
                    if not raw.isdigit():
                        raise AssignmentError("Use the Remove button beside the grader.")
                    await course_staff.remove_grader(session, course, row_id(raw), account)
                    done = "The grader was removed; their grading so far is kept."
                else:
                    raise AssignmentError("Use the page's Add or Remove buttons.")
                await session.commit()
        except AssignmentError as error:
            self.set_status(error.status)
            await self.show(slug, "", error.message)
            return
        self.redirect(f"{self.request.path}?{urlencode({'done': done})}")


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    api = rf"{prefix}/api/courses/([^/]+)/graders"
    return [
        (rf"{prefix}/courses/([^/]+)/staff", StaffPage),
        (api, GradersAPI),
        (rf"{api}/(\d+)", GraderAPI),
    ]
