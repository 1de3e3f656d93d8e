"""A course set up for grading tests the way people set it up: an instructor who uploads the
essay assignment (``tests/grading_data.py``) and releases it, students who submit through
the API, and the platform's own worker grading what they hand in."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.accounts.accounts import hash_password
from coursehub.services.models import Account, Grade, LessonKind, Submission, SubmissionStatus
from tests.conftest import PASSWORD
from tests.course_builder import BuiltCourse, LessonPlan, enroll, make_course, unique_word
from tests.grading_data import essay_answer, essay_bytes
from tests.platform import sign_in, xsrf_from
from tests.teaching_client import Session, open_session

IPYNB = {"Content-Type": "application/x-ipynb+json"}
GRADING_TIMEOUT = 240


@dataclass
class GradingRoom:
    course: BuiltCourse
    teacher: Session
    students: list[Session]
    make_session: Callable[[Account], Session]
    assignment_id: int = 0
    submission_ids: dict[str, int] = field(default_factory=dict)  # by username

    @property
    def api(self) -> str:
        return f"/api/courses/{self.course.slug}"

    @property
    def one(self) -> str:
        return f"{self.api}/assignments/{self.assignment_id}"

    def attempt(self, student: Session) -> str:
        return f"{self.one}/submissions/{self.submission_ids[student.account.username]}"

    def new_assignment(self, source: bytes | None = None) -> dict[str, Any]:
        made = self.teacher.call(
            "POST",
            f"{self.api}/assignments",
            params={"title": f"Essay {unique_word()}"},
            content=source or essay_bytes(),
            headers=IPYNB,
        )
        assert made.status_code == 201, made.text
        self.assignment_id = made.json()["id"]
        released = self.teacher.call("PATCH", self.one, json={"release": True})
        assert released.status_code == 200, released.text
        return released.json()

    def submit(self, student: Session, **answers: str) -> int:
        notebook = student.get(f"{self.one}/notebook").json()
        sent = student.call(
            "POST",
            f"{self.one}/submissions",
            content=essay_answer(notebook, **answers),
            headers=IPYNB,
        )
        assert sent.status_code == 201, sent.text
        self.submission_ids[student.account.username] = sent.json()["id"]
        return sent.json()["id"]


def make_room(platform, signed_in, make_account, db, database_url, students: int = 2):  # type: ignore[no-untyped-def]
    """A room for one test (the function-scoped fixtures of conftest)."""
    return build_room(
        make_account, lambda a: open_session(platform, signed_in, a), db, database_url, students
    )


def build_room(
    make_account: Callable[..., Account],
    open_as: Callable[[Account], Session],
    db: Any,
    database_url: str,
    students: int,
) -> GradingRoom:
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(
        database_url,
        instructor,
        title=f"Graded {unique_word()}",
        modules={"Week 1": [LessonPlan("Essay", kind=LessonKind.ASSIGNMENT)]},
    )
    learners = []
    for _ in range(students):
        student = make_account(Role.STUDENT)
        enroll(db, student, course)
        learners.append(open_as(student))
    return GradingRoom(course, open_as(instructor), learners, open_as)


class People:
    """Accounts and signed-in sessions for a whole test module (conftest's factories are
    per test), so that one room graded once serves several tests."""

    def __init__(self, platform, db, stem: str) -> None:  # type: ignore[no-untyped-def]
        self.platform, self.db, self.stem = platform, db, stem
        self.clients: list[httpx.Client] = []

    def account(self, role: Role = Role.STUDENT) -> Account:
        name = f"{self.stem}-{secrets.token_hex(3)}"
        account = Account(
            username=name,
            email=f"{name}@coursehub.example",
            name=name.title(),
            password_hash=hash_password(PASSWORD),
            role=role,
        )
        with self.db() as session:
            session.add(account)
            session.commit()
        return account

    def session(self, account: Account) -> Session:
        http = httpx.Client(follow_redirects=True, timeout=30)
        self.clients.append(http)
        response = sign_in(http, self.platform.url, account.email or "", PASSWORD)
        assert response.status_code == 200, response.text[:500]
        page = http.get(f"{self.platform.service_url}/register")
        return Session(account, http, self.platform.service_url, xsrf_from(page))

    def close(self) -> None:
        for http in self.clients:
            http.close()


def wait_until_graded(db, submission_ids: list[int], timeout: float = GRADING_TIMEOUT) -> None:  # type: ignore[no-untyped-def]
    """The platform's worker grades them (a FAILED one fails the test)."""
    deadline = time.monotonic() + timeout
    while True:
        with db() as session:
            rows = session.execute(
                select(Submission.id, Submission.status, Grade.id)
                .outerjoin(Grade, Grade.submission_id == Submission.id)
                .where(Submission.id.in_(submission_ids))
            ).all()
        failed = [sid for sid, status, _ in rows if status is SubmissionStatus.FAILED]
        assert not failed, f"grading failed for {failed}"
        if all(status is SubmissionStatus.GRADED and grade for _, status, grade in rows):
            return
        assert time.monotonic() < deadline, f"not graded in {timeout}s: {rows}"
        time.sleep(1)


def grade_of(db, submission_id: int) -> Grade:  # type: ignore[no-untyped-def]
    with db() as session:
        return session.scalars(select(Grade).where(Grade.submission_id == submission_id)).one()


def wait_for_run(session: Session, api: str, run_id: int, timeout: float = GRADING_TIMEOUT) -> dict:
    """Poll a grading run's progress, as the page's progress bar does, until it finishes."""
    deadline = time.monotonic() + timeout
    while True:
        progress = session.get(f"{api}/grading-runs/{run_id}")
        assert progress.status_code == 200, progress.text
        body = progress.json()
        if body["finished"]:
            return body
        assert time.monotonic() < deadline, f"run {run_id} did not finish: {body}"
        time.sleep(1)
