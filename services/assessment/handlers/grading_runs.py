"""Grading runs and released feedback, for the people who may grade a course.

- ``POST /api/courses/<slug>/assignments/<id>/grading-runs``: ``kind`` AUTOGRADE (every
  attempt without a grade) or REGRADE (every attempt, or ``submission_ids``), optional
  ``reason``; answers 202 with the run's progress
- ``GET …/assignments/<id>/grading-runs``: the assignment's recent runs
- ``GET /api/courses/<slug>/grading-runs/<run id>``: one run's progress (done, failed,
  pending of total), polled by the page's progress bar
- ``GET``/``POST …/assignments/<id>/feedback-release``: whether, and to release, people's
  scores and comments to the students (each student with a graded attempt is notified)
"""

from __future__ import annotations

from typing import Any

from coursehub.services.assessment import grading_runs, released_feedback
from coursehub.services.assessment.handlers.grading import GradingHandler
from coursehub.services.web.teach_base import row_id


class RunsAPI(GradingHandler):
    async def get(self, slug: str, assignment_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, _, assignment = await self.grading_assignment(session, slug, assignment_id)
            runs = await grading_runs.recent_runs(session, assignment)
        self.write_json({"runs": runs})

    async def post(self, slug: str, assignment_id: str) -> None:
        fields = self.json_body()
        async with self.db() as session:
            account, _, assignment = await self.grading_assignment(session, slug, assignment_id)
            run = await grading_runs.start_run(
                session,
                assignment,
                account,
                grading_runs.run_kind(fields.get("kind")),
                submission_ids=fields.get("submission_ids"),
                reason=fields.get("reason"),
            )
            await session.commit()
            progress = await grading_runs.run_progress(session, run)
        self.write_json(progress, 202)


class RunAPI(GradingHandler):
    async def get(self, slug: str, run_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, course = await self.grading_course(session, slug)
            run = await grading_runs.run_in_course(session, course, row_id(run_id))
            progress = await grading_runs.run_progress(session, run)
        self.write_json(progress)


class ReleaseAPI(GradingHandler):
    async def get(self, slug: str, assignment_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, _, assignment = await self.grading_assignment(session, slug, assignment_id)
            released_at = await released_feedback.released_at(session, assignment.id)
        self.write_json({"assignment_id": assignment.id, "released_at": released_at})

    async def post(self, slug: str, assignment_id: str) -> None:
        async with self.db() as session:
            account, course, assignment = await self.grading_assignment(
                session, slug, assignment_id
            )
            released_at, notes = await released_feedback.release(
                session, assignment, course.slug, account
            )
            await session.commit()  # the request's session then tells open pages
        self.write_json(
            {"assignment_id": assignment.id, "released_at": released_at, "notified": len(notes)}
        )


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    api = rf"{prefix}/api/courses/([^/]+)"
    return [
        (rf"{api}/assignments/(\d+)/grading-runs", RunsAPI),
        (rf"{api}/grading-runs/(\d+)", RunAPI),
        (rf"{api}/assignments/(\d+)/feedback-release", ReleaseAPI),
    ]
