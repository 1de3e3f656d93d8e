"""An assignment's pages for the course's instructor and administrators (HTML; the page's
script changes things through the JSON API in ``handlers.assignments``):

- ``/courses/<slug>/assignments/<id>/edit``: the settings form (title, release now or
  scheduled, due date, cut-off, attempts, late policy), who submitted already and what a
  change means for them (with a regrade), a corrected source, the per-student extensions
  (students picked from the roster by name), and what the student version leaves out
- ``/courses/<slug>/assignments/<id>/student-version.html``: the student version rendered
  without a kernel, shown in a sandboxed frame of the edit page
"""

from __future__ import annotations

from typing import Any

from tornado import web

from coursehub.services.assessment import assignment_authoring, assignment_files, assignments
from coursehub.services.assessment.handlers.assignments import STAFF_ONLY, AssignmentsHandler
from coursehub.services.content import notebook_preview
from coursehub.services.notebook_runs import source_check_records

DONE = {
    "settings": "The settings are saved.",
    "extension": "The extension is saved: that student sees their own dates.",
    "removed": "The extension is removed: that student has the course's dates again.",
    "source": "The corrected source passed nbgrader's checks and is saved.",
}


class AssignmentEditPage(AssignmentsHandler):
    async def get(self, slug: str, assignment_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, course, assignment = await self.assignment(
                session, slug, assignment_id, staff_only=True
            )
            roster = await assignment_authoring.roster(session, course)
            extensions = await assignment_authoring.extensions(session, assignment)
            submitted = await assignment_authoring.submitted_so_far(session, assignment)
            files = await assignment_files.file_list(session, assignment.id, staff=True)
            checked = await source_check_records.latest_check(session, assignment)
        self.render_page(
            "assignment_edit.html",
            course=course,
            assignment=assignment,
            released=assignments.is_released(assignment),
            roster=roster,
            extensions=extensions,
            submitted=submitted,
            files=files,
            stripped=assignment_authoring.stripped_cells(
                assignment.source_notebook, assignment.student_notebook
            ),
            source_check=source_check_records.check_json(checked, assignment.source_notebook),
            created=self.get_argument("created", "") == "1",
            done=self.done_sentence(submitted.graded),
            xsrf_token=self.xsrf_token.decode(),
        )

    def done_sentence(self, graded: int) -> str:
        done = DONE.get(self.get_argument("done", ""), "")
        if done and graded and self.get_argument("done") in ("settings", "source"):
            done += (
                f" {graded} graded attempt{'s' if graded != 1 else ''} keep"
                f"{'' if graded != 1 else 's'} {'their' if graded != 1 else 'its'} score until "
                "you regrade (above)."
            )
        return done


class StudentVersionPage(AssignmentsHandler):
    """The student version as static, script-free HTML (course staff and graders)."""

    async def get(self, slug: str, assignment_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, _, assignment = await self.assignment(session, slug, assignment_id)
        if not self.grader:
            raise web.HTTPError(403, STAFF_ONLY)
        html = await notebook_preview.render_html_off_loop(assignment.student_notebook)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", notebook_preview.CONTENT_SECURITY_POLICY)
        self.finish(html)


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    one = rf"{prefix}/courses/([^/]+)/assignments/(\d+)"
    return [
        (rf"{one}/edit", AssignmentEditPage),
        (rf"{one}/student-version.html", StudentVersionPage),
    ]
