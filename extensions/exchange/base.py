"""What every CourseHub exchange step shares: the service, the student's courses and
assignments, and where an assignment lives in the student's home."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from nbgrader.exchange.abc.exchange import Exchange
from traitlets import Bool

from coursehub.extensions.exchange.service_calls import ServiceCalls

TRAILING_ID = re.compile(r"-(\d{1,12})$")
NOT_A_NAME = re.compile(r"[^a-z0-9]+")


def name_of(title: str, assignment_id: int) -> str:
    """nbgrader's assignment id for a CourseHub assignment: its title as a file name, then
    its number (``Squares & sums`` #12 → ``squares-sums-12``)."""
    stem = NOT_A_NAME.sub("-", title.lower()).strip("-")[:60] or "assignment"
    return f"{stem}-{assignment_id}"


def notebook_name(title: str) -> str:
    return (NOT_A_NAME.sub("-", title.lower()).strip("-")[:60] or "assignment") + ".ipynb"


class CourseHubExchange(Exchange):
    path_includes_course = Bool(
        True,
        help="Keep each course's assignments under <course slug>/ (several courses at once).",
    ).tag(config=True)

    def init_src(self) -> None:
        pass

    def init_dest(self) -> None:
        pass

    def copy_files(self) -> None:
        pass

    @property
    def calls(self) -> ServiceCalls:
        return ServiceCalls.from_env()

    @property
    def student_id(self) -> str:
        return os.environ.get("JUPYTERHUB_USER", "")

    def course_slugs(self) -> list[str]:
        if self.coursedir and self.coursedir.course_id:
            return [self.coursedir.course_id]
        return [course["slug"] for course in self.calls.json("GET", "api/me/courses")["courses"]]

    def assignments_of(self, slug: str) -> list[dict[str, Any]]:
        answer = self.calls.json("GET", f"api/courses/{ServiceCalls.quote(slug)}/assignments")
        wanted = self.coursedir.assignment_id if self.coursedir else ""
        found = []
        for assignment in answer["assignments"]:
            assignment["nbgrader_id"] = name_of(assignment["title"], assignment["id"])
            if not wanted or wanted == assignment["nbgrader_id"]:
                found.append(assignment)
        return found

    def the_assignment(self) -> tuple[str, dict[str, Any]]:
        """The course slug and assignment named by ``--course`` and the assignment id."""
        slug, wanted = self.coursedir.course_id, self.coursedir.assignment_id
        if not slug or not wanted:
            self.fail("Name the course and the assignment (as the Assignment List shows them).")
        if not TRAILING_ID.search(wanted):
            self.fail(f"“{wanted}” is not a CourseHub assignment name (they end in its number).")
        found = self.assignments_of(slug)
        if not found:
            self.fail(f"There is no released assignment “{wanted}” in the course “{slug}”.")
        return slug, found[0]

    def folder(self, slug: str, assignment: dict[str, Any]) -> Path:
        base = Path(self.assignment_dir)
        if self.path_includes_course:
            base = base / slug
        return base / assignment["nbgrader_id"]

    def api_path(self, slug: str, assignment: dict[str, Any], rest: str = "") -> str:
        path = f"api/courses/{ServiceCalls.quote(slug)}/assignments/{int(assignment['id'])}"
        return f"{path}/{rest}" if rest else path

    def nbgrader_time(self, iso: str) -> str:
        """A service timestamp (ISO 8601, UTC) as nbgrader writes its own."""
        return datetime.fromisoformat(iso).strftime(self.timestamp_format)
