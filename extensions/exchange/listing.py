"""``nbgrader list`` and the Assignment List: released assignments (fetched or not) and the
student's submissions with their feedback, from the course service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbgrader.exchange.abc import ExchangeList

from coursehub.extensions.exchange.base import CourseHubExchange, notebook_name


def dates_of(assignment: dict[str, Any]) -> dict[str, Any]:
    """CourseHub's own fields of a list entry, for people who read ``nbgrader list`` output:
    the title and the dates that apply to this student (their extension included)."""
    return {
        "title": assignment.get("title"),
        "due_at": assignment.get("due_at"),
        "cutoff_at": assignment.get("cutoff_at"),
    }


class CourseHubList(ExchangeList, CourseHubExchange):
    def list_files(self) -> list[dict[str, Any]]:
        if self.inbound:
            self.fail("Instructors see submissions on the course's assignment pages in CourseHub.")
        entries: list[dict[str, Any]] = []
        for slug in self.course_slugs():
            for assignment in self.assignments_of(slug):
                if self.cached:
                    submitted = self.submitted_entry(slug, assignment)
                    if submitted["submissions"]:
                        entries.append(submitted)
                else:
                    entries.append(self.released_entry(slug, assignment))
        for entry in entries:
            self.log.info("%s %s (%s)", entry["course_id"], entry["assignment_id"], entry["status"])
        return entries

    def remove_files(self) -> None:
        self.fail("Released assignments are kept by CourseHub and cannot be removed from here.")

    def released_entry(self, slug: str, assignment: dict[str, Any]) -> dict[str, Any]:
        folder = self.folder(slug, assignment)
        fetched = folder.is_dir()
        notebooks = sorted(folder.glob("*.ipynb")) if fetched else []
        return {
            "course_id": slug,
            "assignment_id": assignment["nbgrader_id"],
            "status": "fetched" if fetched else "released",
            "path": str(folder.resolve()) if fetched else self.api_path(slug, assignment),
            "notebooks": [{"notebook_id": nb.stem, "path": str(nb.resolve())} for nb in notebooks],
            # CourseHub's own, for people who read ``nbgrader list`` output:
            **dates_of(assignment),
        }

    def submitted_entry(self, slug: str, assignment: dict[str, Any]) -> dict[str, Any]:
        attempts = self.calls.json("GET", self.api_path(slug, assignment, "submissions"))
        submissions = [
            self.submission(slug, assignment, attempt)
            for attempt in sorted(attempts["submissions"], key=lambda a: a["attempt"])
        ]
        return {
            "course_id": slug,
            "student_id": self.student_id,
            "assignment_id": assignment["nbgrader_id"],
            "status": "submitted",
            "submissions": submissions,
            **dates_of(assignment),
        }

    def submission(
        self, slug: str, assignment: dict[str, Any], attempt: dict[str, Any]
    ) -> dict[str, Any]:
        timestamp = self.nbgrader_time(attempt["received_at"])
        feedback_folder = self.folder(slug, assignment) / "feedback" / timestamp
        notebook_id = Path(notebook_name(assignment["title"])).stem
        local = sorted(feedback_folder.glob("*.html"))
        graded = bool(attempt["grade"])
        notebook = {
            "notebook_id": local[0].stem if local else notebook_id,
            "path": self.api_path(slug, assignment, f"submissions/{int(attempt['id'])}"),
            "has_local_feedback": bool(local),
            "has_exchange_feedback": graded,
            "local_feedback_path": str(local[0]) if local else None,
            "feedback_updated": False,
        }
        return {
            "course_id": slug,
            "student_id": self.student_id,
            "assignment_id": assignment["nbgrader_id"],
            "timestamp": timestamp,
            "status": "submitted",
            "path": notebook["path"],
            "notebooks": [notebook],
            "has_local_feedback": bool(local),
            "has_exchange_feedback": graded,
            "feedback_updated": False,
            "local_feedback_path": str(feedback_folder.resolve()) if local else None,
            # CourseHub's own: where grading stands.
            "attempt": attempt["attempt"],
            "grading_status": attempt["status"],
            "score": (attempt["grade"] or {}).get("final_score"),
            "max_score": assignment["max_score"],
        }
