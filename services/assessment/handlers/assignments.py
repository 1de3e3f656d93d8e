"""Notebook assignments: the JSON API under ``/api/courses/<slug>/assignments`` and a page.

Staff of the course (its instructor, administrators):
- ``POST /api/courses/<slug>/assignments?title=…&lesson_id=…``: a new assignment from the
  nbgrader source notebook (the raw ``.ipynb`` body, or a multipart field ``notebook``)
- ``PATCH …/assignments/<id>``: title, lesson, ``due_at``, ``cutoff_at``, ``max_attempts``,
  ``late_penalty_percent``, ``late_penalty_unit`` (HOUR or DAY), ``release`` (true/false)
- ``PUT …/assignments/<id>/source``: a corrected source notebook
- with a new or corrected source, multipart fields ``files`` (repeated; each part's filename
  is its path beside the notebook, ``data/weather.csv``) are the assignment's data files,
  ``autotests.yml`` among them for AUTOTEST directives; a source without them keeps the
  stored files. ``PUT``/``DELETE …/assignments/<id>/files/<path>``: one of them
- ``PUT``/``DELETE …/assignments/<id>/extensions/<account id>``: one student's own dates
- ``GET …/assignments/<id>/submissions``: everyone's attempts with their grades
- ``POST …/submissions/<sid>/regrade``: queue an attempt whose grading failed again

Students enrolled in the course (staff too):
- ``GET …/assignments`` and ``…/assignments/<id>``: released assignments, with the dates that
  apply to them (their extension included)
- ``GET …/assignments/<id>/notebook``: the student version (staff: ``?version=source``)
- ``GET …/assignments/<id>/files`` and ``…/files/<path>``: its data files
- ``POST …/assignments/<id>/submissions``: submit (raw ``.ipynb`` body or multipart
  ``notebook``; an ``Idempotency-Key`` header makes retries safe)
- ``GET …/assignments/<id>/submissions``, ``…/submissions/<sid>``,
  ``…/submissions/<sid>/notebook`` and ``…/submissions/<sid>/feedback``: their own attempts,
  grades, the notebooks as submitted and the feedback notebooks

Graders of the course (``course_staff``) read like staff: every assignment (released or
not) and its source, everyone's attempts, notebooks and feedback, and they may queue a failed
attempt again; they change neither the course nor its assignments.

Until staff release an assignment's feedback, its students see autograder results only;
afterwards people's scores and comments too (``released_feedback``).

Everyone else is refused: 404 for courses they may not see, 403 for courses they are not in.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web

from coursehub.services.assessment import (
    assignment_files,
    assignments,
    nbgrader_export_jobs,
    released_feedback,
    submissions,
)
from coursehub.services.courses.enrollment import (
    check_visible,
    course_by_slug,
    is_enrolled,
)
from coursehub.services.courses.membership import membership
from coursehub.services.models import (
    Account,
    Assignment,
    AssignmentExtension,
    Course,
    Grade,
    Submission,
    utcnow,
)
from coursehub.services.notebook_runs import source_check_records, source_checks
from coursehub.services.variants import records as variant_records
from coursehub.services.web.base import BaseHandler
from coursehub.services.web.teach_base import row_id

STAFF_ONLY = "Only the course's instructor and administrators can do this."
GRADERS_ONLY = "Only the course's instructor, its graders and administrators can do this."


class AssignmentsHandler(BaseHandler):
    """Finding the course, the person's place in it, and the assignment."""

    staff = False  # manages the course: its instructor or an administrator
    grader = False  # may grade it: staff, or a grader assigned to the course

    async def course(self, session: AsyncSession, slug: str) -> tuple[Account, Course]:
        account = await self.account(session)
        found = await course_by_slug(session, slug)
        place = await membership(session, account, found) if found is not None else None
        if place is not None and place.grades:
            self.staff, self.grader = place.manages, True
            return account, found
        course = check_visible(account, found)
        self.staff = self.grader = await assignments.check_student_access(session, account, course)
        return account, course

    async def assignment(
        self, session: AsyncSession, slug: str, assignment_id: str, *, staff_only: bool = False
    ) -> tuple[Account, Course, Assignment]:
        account, course = await self.course(session, slug)
        if staff_only and not self.staff:
            raise web.HTTPError(403, STAFF_ONLY)
        assignment = await assignments.assignment_in_course(
            session, course, row_id(assignment_id), staff=self.grader
        )
        return account, course, assignment

    def notebook_upload(self, *, with_files: bool = False) -> bytes:
        """The uploaded notebook: a multipart field (``notebook`` or the first file that is
        not a data file) or the raw body."""
        limit = self.settings_obj.max_notebook_bytes
        allowed = limit + (assignment_files.MAX_TOTAL_BYTES if with_files else 0)
        if len(self.request.body) > allowed + 1_000_000:
            raise web.HTTPError(
                413,
                f"The upload is larger than the {limit / 1e6:.0f} MB notebook limit"
                + (
                    f" and the {assignment_files.MAX_TOTAL_BYTES / 1e6:.0f} MB of data files."
                    if with_files
                    else "."
                ),
            )
        files = {name: parts for name, parts in self.request.files.items() if name != "files"}
        if files:
            chosen = files.get("notebook") or next(iter(files.values()))
            return chosen[0]["body"]
        if self.request.files:
            raise web.HTTPError(
                400, "The upload has data files but no notebook: send it as the field notebook."
            )
        return self.request.body

    def data_files_upload(self) -> dict[str, bytes] | None:
        """The multipart field ``files`` (repeated), each part's filename its path relative to
        the notebook; None when the upload has none."""
        parts = self.request.files.get("files")
        if not parts:
            return None
        files: dict[str, bytes] = {}
        for part in parts:
            name = assignment_files.check_path(part["filename"])
            if name in files:
                raise web.HTTPError(400, f"The data file {name!r} came twice; send it once.")
            files[name] = part["body"]
        return files

    @property
    def hidden_paths(self) -> tuple[str, ...]:
        """What a sandbox the service starts must not see: the platform's data."""
        return (str(self.settings_obj.data_dir),)

    async def own_submission(
        self, slug: str, assignment_id: str, submission_id: str
    ) -> tuple[Assignment, Submission, Grade | None]:
        """One attempt with its grade, for its student and the course's staff only."""
        async with self.db(read_only=True) as session:
            account, _, assignment = await self.assignment(session, slug, assignment_id)
            submission, grade = await submissions.submission_with_grade(
                session, assignment, row_id(submission_id)
            )
        if not self.grader and submission.account_id != account.id:
            raise web.HTTPError(404, "There is no such submission of this assignment.")
        return assignment, submission, grade

    def write_notebook(self, notebook: dict[str, Any], filename: str) -> None:
        self.set_header("Content-Type", "application/x-ipynb+json")
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.finish(json.dumps(notebook, indent=1))


class AssignmentListAPI(AssignmentsHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            account, course = await self.course(session, slug)
            found = await assignments.course_assignments(session, course, staff=self.grader)
            items = []
            for assignment in found:
                extension = await assignments.extension_for(session, assignment, account.id)
                due = assignments.deadline(assignment, extension)
                items.append(assignments.assignment_json(assignment, due, staff=self.grader))
        self.write_json({"assignments": items})

    async def post(self, slug: str) -> None:
        async with self.db() as session:
            account, course = await self.course(session, slug)
            if not self.staff:
                raise web.HTTPError(403, STAFF_ONLY)
            assignment = await assignments.create_assignment(
                session,
                course,
                account,
                self.notebook_upload(with_files=True),
                title=self.get_argument("title", ""),
                lesson_id=self.get_argument("lesson_id", None),
                max_bytes=self.settings_obj.max_notebook_bytes,
                files=self.data_files_upload(),
                hidden=self.hidden_paths,
            )
            checked = await check_unless_asked_now(self, session, assignment)
            await session.commit()
        answer = assignments.assignment_json(assignment, staff=True)
        self.write_json({**answer, **await source_check_answer(self, assignment, checked)}, 201)


def check_now(handler: AssignmentsHandler) -> bool:
    return handler.get_query_argument("check_source", "") in ("1", "true", "yes")


async def check_unless_asked_now(
    handler: AssignmentsHandler, session: AsyncSession, assignment: Any
) -> Any:
    """Every upload's source is checked (notebook_runs): in the background, or with
    ``check_source=1`` within the request (then the answer carries it)."""
    if check_now(handler):
        return None
    return await source_check_records.queue_check(session, assignment)


async def source_check_answer(
    handler: AssignmentsHandler, assignment: Any, queued: Any
) -> dict[str, Any]:
    if not check_now(handler):
        return {"source_check": {"id": queued.id, "state": queued.state}}
    return {"source_check": await run_source_check(handler, assignment)}


async def run_source_check(handler: AssignmentsHandler, assignment: Any) -> dict[str, Any]:
    """The solution and the released version of ``assignment`` run in the sandbox with its
    data files (``notebook_runs.source_checks``): which test cells do not behave; kept with
    the source's version."""
    async with handler.db(read_only=True) as session:
        files = assignment_files.for_notebook(
            await assignment_files.stored_files(session, assignment.id)
        )
    check = await source_checks.check_assignment_source(
        assignment.source_notebook, assignment.student_notebook, files
    )
    async with handler.db() as session:
        await source_check_records.keep_result(session, assignment, files, check)
        await session.commit()
    return check.summary()


class SourceCheckAPI(AssignmentsHandler):
    """POST: check the stored source (staff): every test cell passes with the solution and
    the autograded ones fail in the released version; the cells that do not are named.
    GET: the check kept with the current source (queued at its upload)."""

    async def get(self, slug: str, assignment_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, _, assignment = await self.assignment(session, slug, assignment_id, staff_only=True)
            row = await source_check_records.latest_check(session, assignment)
        self.write_json(source_check_records.check_json(row, assignment.source_notebook))

    async def post(self, slug: str, assignment_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, _, assignment = await self.assignment(session, slug, assignment_id, staff_only=True)
        self.write_json(await run_source_check(self, assignment))


class AssignmentAPI(AssignmentsHandler):
    async def get(self, slug: str, assignment_id: str) -> None:
        async with self.db(read_only=True) as session:
            account, _, assignment = await self.assignment(session, slug, assignment_id)
            extension = await assignments.extension_for(session, assignment, account.id)
        due = assignments.deadline(assignment, extension)
        self.write_json(assignments.assignment_json(assignment, due, staff=self.grader))

    async def patch(self, slug: str, assignment_id: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            _, _, assignment = await self.assignment(session, slug, assignment_id, staff_only=True)
            await assignments.update_settings(session, assignment, fields)
            await session.commit()
        self.write_json(assignments.assignment_json(assignment, staff=True))


class SourceAPI(AssignmentsHandler):
    async def put(self, slug: str, assignment_id: str) -> None:
        async with self.db() as session:
            _, _, assignment = await self.assignment(session, slug, assignment_id, staff_only=True)
            await assignments.replace_source(
                session,
                assignment,
                self.notebook_upload(with_files=True),
                max_bytes=self.settings_obj.max_notebook_bytes,
                files=self.data_files_upload(),
                hidden=self.hidden_paths,
            )
            checked = await check_unless_asked_now(self, session, assignment)
            await session.commit()
        answer = assignments.assignment_json(assignment, staff=True)
        self.write_json({**answer, **await source_check_answer(self, assignment, checked)})


class NotebookAPI(AssignmentsHandler):
    async def get(self, slug: str, assignment_id: str) -> None:
        async with self.db() as session:
            account, _, assignment = await self.assignment(session, slug, assignment_id)
            # A student's copy carries their variant's values (recorded at first fetch).
            notebook = (
                assignment.student_notebook
                if self.grader
                else await variant_records.student_copy(session, assignment, account)
            )
            await session.commit()
        if self.get_argument("version", "student") == "source":
            if not self.grader:
                raise web.HTTPError(403, GRADERS_ONLY)
            self.write_notebook(
                assignment.source_notebook, f"assignment-{assignment.id}-source.ipynb"
            )
            return
        self.write_notebook(notebook, f"assignment-{assignment.id}.ipynb")


class FilesAPI(AssignmentsHandler):
    """The assignment's data files: their list (students of a released assignment see all
    but autotests.yml)."""

    async def get(self, slug: str, assignment_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, _, assignment = await self.assignment(session, slug, assignment_id)
            files = await assignment_files.file_list(session, assignment.id, staff=self.grader)
        self.write_json({"files": files})


class FileAPI(AssignmentsHandler):
    """One data file: download it (its students too), add or replace it with the raw body,
    delete it (the course's instructor and administrators)."""

    async def get(self, slug: str, assignment_id: str, path: str) -> None:
        async with self.db(read_only=True) as session:
            _, _, assignment = await self.assignment(session, slug, assignment_id)
            found = await assignment_files.one_file(session, assignment.id, path, staff=self.grader)
        name = found.path.rsplit("/", 1)[-1].replace('"', "")
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.set_header("X-Content-Type-Options", "nosniff")
        self.finish(found.content)

    async def put(self, slug: str, assignment_id: str, path: str) -> None:
        async with self.db() as session:
            _, _, assignment = await self.assignment(session, slug, assignment_id, staff_only=True)
            found, created = await assignment_files.put_file(
                session, assignment, path, self.request.body
            )
            await session.commit()
        self.write_json(assignment_files.file_json(found), 201 if created else 200)

    async def delete(self, slug: str, assignment_id: str, path: str) -> None:
        async with self.db() as session:
            _, _, assignment = await self.assignment(session, slug, assignment_id, staff_only=True)
            await assignment_files.delete_file(session, assignment, path)
            await session.commit()
        self.set_status(204)
        self.finish()


class ExtensionAPI(AssignmentsHandler):
    async def put(self, slug: str, assignment_id: str, account_id: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            account, course, assignment = await self.assignment(
                session, slug, assignment_id, staff_only=True
            )
            student = await session.get(Account, row_id(account_id))
            if student is None or not await is_enrolled(session, student, course):
                raise web.HTTPError(
                    404, "That account is not a student of this course; check the account id."
                )
            extension = await assignments.grant_extension(
                session, assignment, student, account, fields
            )
            await session.commit()
        due = assignments.deadline(assignment, extension)
        self.write_json(
            {
                "account_id": student.id,
                "due_at": due.due_at,
                "cutoff_at": due.cutoff_at,
                "reason": extension.reason,
            }
        )

    async def delete(self, slug: str, assignment_id: str, account_id: str) -> None:
        async with self.db() as session:
            _, _, assignment = await self.assignment(session, slug, assignment_id, staff_only=True)
            await session.execute(
                delete(AssignmentExtension).where(
                    AssignmentExtension.assignment_id == assignment.id,
                    AssignmentExtension.account_id == row_id(account_id),
                )
            )
            await session.commit()
        self.set_status(204)
        self.finish()


class SubmissionsAPI(AssignmentsHandler):
    async def get(self, slug: str, assignment_id: str) -> None:
        async with self.db(read_only=True) as session:
            account, _, assignment = await self.assignment(session, slug, assignment_id)
            only = None if self.grader else account.id
            if self.grader and self.get_argument("student", ""):
                only = row_id(self.get_argument("student"))
            rows = await submissions.student_submissions(session, assignment, only)
            if self.grader:
                items = [submissions.submission_json(s, g) for s, g in rows]
            else:
                items = await released_feedback.students_submissions_json(session, assignment, rows)
        self.write_json({"submissions": items})

    async def post(self, slug: str, assignment_id: str) -> None:
        data = self.notebook_upload()
        async with self.db() as session:
            account, _, assignment = await self.assignment(session, slug, assignment_id)
            submission, created = await submissions.submit(
                session,
                assignment,
                account,
                data,
                max_bytes=self.settings_obj.max_notebook_bytes,
                idempotency_key=self.request.headers.get("Idempotency-Key"),
            )
            await session.commit()
        body = submissions.submission_json(submission, None)
        body["created"] = created
        self.write_json(body, 201 if created else 200)


class SubmissionAPI(AssignmentsHandler):
    async def get(self, slug: str, assignment_id: str, submission_id: str) -> None:
        assignment, submission, grade = await self.own_submission(
            slug, assignment_id, submission_id
        )
        if self.grader:
            self.write_json(submissions.submission_json(submission, grade))
            return
        async with self.db(read_only=True) as session:
            [body] = await released_feedback.students_submissions_json(
                session, assignment, [(submission, grade)]
            )
        self.write_json(body)


class SubmittedNotebookAPI(AssignmentsHandler):
    """The notebook exactly as it was submitted (its student and course staff)."""

    async def get(self, slug: str, assignment_id: str, submission_id: str) -> None:
        assignment, submission, _ = await self.own_submission(slug, assignment_id, submission_id)
        self.set_header("Content-Type", "application/x-ipynb+json")
        self.set_header(
            "Content-Disposition",
            f'attachment; filename="assignment-{assignment.id}-attempt-{submission.attempt}.ipynb"',
        )
        self.finish(submission.notebook)


class RegradeAPI(AssignmentsHandler):
    """Staff and graders: queue an attempt whose grading failed on the platform's side again,
    or, with a ``reason``, a graded one (its old grade is archived)."""

    async def post(self, slug: str, assignment_id: str, submission_id: str) -> None:
        reason = str(self.json_body().get("reason") or "")
        async with self.db() as session:
            account, _, assignment = await self.assignment(session, slug, assignment_id)
            if not self.grader:
                raise web.HTTPError(403, GRADERS_ONLY)
            submission, grade = await submissions.submission_with_grade(
                session, assignment, row_id(submission_id)
            )
            await submissions.regrade(session, submission, grade, by=account, reason=reason)
            await session.commit()
        self.write_json(submissions.submission_json(submission, None))


class FeedbackAPI(AssignmentsHandler):
    """The engine's feedback notebook: the student's notebook with scores and the output of
    visible tests (hidden tests never reach it)."""

    async def get(self, slug: str, assignment_id: str, submission_id: str) -> None:
        assignment, submission, grade = await self.own_submission(
            slug, assignment_id, submission_id
        )
        if grade is None or not grade.feedback_notebook:
            raise web.HTTPError(404, "This attempt has no feedback yet; look again once graded.")
        notebook = grade.feedback_notebook
        async with self.db(read_only=True) as session:
            released = await released_feedback.released_at(session, assignment.id)
            if released is not None or self.grader:
                answers, _ = await released_feedback.grading_by_people(session, [submission.id])
                points = {c["grade_id"]: c["max_points"] for c in assignment.grade_cells}
                notebook = released_feedback.annotated_feedback(
                    notebook, answers.get(submission.id, {}), points
                )
        self.write_notebook(
            notebook, f"assignment-{assignment.id}-attempt-{submission.attempt}-feedback.ipynb"
        )


class AssignmentsPage(AssignmentsHandler):
    """The course's assignments with dates, and the person's attempts."""

    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            account, course = await self.course(session, slug)
            found = await assignments.course_assignments(session, course, staff=self.grader)
            items = []
            for assignment in found:
                extension = await assignments.extension_for(session, assignment, account.id)
                rows = await submissions.student_submissions(session, assignment, account.id)
                items.append(
                    {
                        **assignments.assignment_json(
                            assignment, assignments.deadline(assignment, extension)
                        ),
                        "attempts": await released_feedback.students_submissions_json(
                            session, assignment, rows
                        ),
                    }
                )
        self.render_page(
            "assignments.html",
            course=course,
            assignments=items,
            staff=self.staff,
            grader=self.grader,
            now=utcnow(),
            xsrf_token=self.xsrf_token.decode(),
            # staff: the course's newest nbgrader export (handlers.nbgrader_export)
            nbgrader_export=nbgrader_export_jobs.latest(self.settings_obj.data_dir, course.id)
            if self.staff
            else None,
            nbgrader_export_queued=self.get_argument("nbgrader_export", "") == "queued",
        )


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    course = rf"{prefix}/api/courses/([^/]+)/assignments"
    one = rf"{course}/(\d+)"
    return [
        (rf"{prefix}/courses/([^/]+)/assignments", AssignmentsPage),
        (course, AssignmentListAPI),
        (one, AssignmentAPI),
        (rf"{one}/source", SourceAPI),
        (rf"{one}/source/check", SourceCheckAPI),
        (rf"{one}/notebook", NotebookAPI),
        (rf"{one}/files", FilesAPI),
        (rf"{one}/files/(.+)", FileAPI),
        (rf"{one}/extensions/(\d+)", ExtensionAPI),
        (rf"{one}/submissions", SubmissionsAPI),
        (rf"{one}/submissions/(\d+)", SubmissionAPI),
        (rf"{one}/submissions/(\d+)/feedback", FeedbackAPI),
        (rf"{one}/submissions/(\d+)/regrade", RegradeAPI),
        (rf"{one}/submissions/(\d+)/notebook", SubmittedNotebookAPI),
    ]
