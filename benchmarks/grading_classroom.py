"""A course with one nbgrader assignment and students' submissions in a CourseHub database,
and grading workers (``coursehub worker``) started on it: what the assessment benchmarks
share."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, update

from benchmarks.classroom import hub_sign_in_form, signed_in_or_fail
from benchmarks.nbgrader_course import ASSIGNMENT, EXERCISES, answered, source_notebook
from coursehub.hub.constants import SERVICE_PREFIX, Role
from coursehub.services.accounts.accounts import hash_password
from coursehub.services.assessment.assignments import create_assignment
from coursehub.services.assessment.submissions import defer_grading
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.models import (
    Account,
    Course,
    CourseStatus,
    Enrollment,
    Grade,
    Submission,
    SubmissionStatus,
)
from coursehub.services.settings import sqlalchemy_url

DONE = (SubmissionStatus.GRADED, SubmissionStatus.FAILED)
WORKER_STARTED = "Starting worker on queues"


@dataclass
class Learner:
    """A student signed in through the hub's form, holding their answered notebook and the
    XSRF token their assignments page gives its scripts."""

    http: httpx.AsyncClient
    xsrf: str
    notebook: bytes
    course: str
    assignment: int

    @property
    def submissions_url(self) -> str:
        return (
            f"{SERVICE_PREFIX}/api/courses/{self.course}/assignments/{self.assignment}/submissions"
        )

    async def submit(self) -> httpx.Response:
        """Send the notebook, as the page's upload does (one click, one idempotency key)."""
        return await self.http.post(
            self.submissions_url,
            content=self.notebook,
            headers={
                "Content-Type": "application/x-ipynb+json",
                "X-XSRFToken": self.xsrf,
                "Idempotency-Key": secrets.token_hex(8),
            },
        )


async def signed_in_learner(
    base: str, email: str, password: str, course: str, assignment: int, variant: int = 1
) -> Learner:
    """``email`` signed in, with the released notebook answered (``variant`` picks which
    answers are wrong, see ``nbgrader_course.answered``)."""
    http = httpx.AsyncClient(base_url=base, follow_redirects=True, timeout=300)
    form = hub_sign_in_form(await http.get("/hub/login"))
    answer = await http.post(
        "/hub/login", data={"username": email, "password": password, "_xsrf": form}
    )
    signed_in_or_fail(answer, email, landing=SERVICE_PREFIX)
    page = await http.get(f"{SERVICE_PREFIX}/courses/{course}/assignments")
    xsrf = page.text.split('name="_xsrf" value="', 1)[1].split('"', 1)[0]
    released = await http.get(
        f"{SERVICE_PREFIX}/api/courses/{course}/assignments/{assignment}/notebook"
    )
    released.raise_for_status()
    notebook = json.dumps(answered(released.json(), number=variant)).encode()
    return Learner(http, xsrf, notebook, course, assignment)


@dataclass(frozen=True)
class GradingClass:
    assignment_id: int
    submissions: dict[int, str]  # submission id -> the student's name in the nbgrader course


async def add_grading_class(database_url: str, notebooks: dict[str, bytes]) -> GradingClass:
    """A published course, its released assignment (the benchmark's source notebook) and one
    received, not yet queued, submission per student in ``notebooks``."""
    suffix = secrets.token_hex(3)
    engine = make_engine(sqlalchemy_url(database_url))
    try:
        async with make_sessionmaker(engine)() as session:
            teacher = Account(
                username=f"grading-teacher-{suffix}",
                email=f"grading-teacher-{suffix}@coursehub.example",
                name="Grading Teacher",
                password_hash=hash_password(secrets.token_urlsafe(16)),
                role=Role.INSTRUCTOR,
            )
            session.add(teacher)
            await session.flush()
            course = Course(
                slug=f"batch-grading-{suffix}",
                title=f"Batch grading {suffix}",
                instructor_id=teacher.id,
                status=CourseStatus.PUBLISHED,
            )
            session.add(course)
            await session.flush()
            source = json.dumps(source_notebook()).encode()
            assignment = await create_assignment(
                session, course, teacher, source, title=ASSIGNMENT, max_bytes=1 << 24
            )
            assignment.released_at = datetime.now(UTC)
            submissions = {}
            for name, notebook in notebooks.items():
                student = Account(
                    username=f"{name}-{suffix}",
                    email=f"{name}-{suffix}@coursehub.example",
                    name=name,
                    password_hash="!",
                    role=Role.STUDENT,
                )
                session.add(student)
                await session.flush()
                session.add(Enrollment(account_id=student.id, course_id=course.id))
                submission = Submission(
                    assignment_id=assignment.id,
                    account_id=student.id,
                    attempt=1,
                    sha256=hashlib.sha256(notebook).hexdigest(),
                    notebook=notebook,
                    size=len(notebook),
                    status=SubmissionStatus.QUEUED,
                )
                session.add(submission)
                await session.flush()
                submissions[submission.id] = name
            await session.commit()
            return GradingClass(assignment.id, submissions)
    finally:
        await engine.dispose()


async def add_assignment(database_url: str, course_id: int) -> int:
    """The benchmark's 10-cell nbgrader assignment, released in course ``course_id``."""
    engine = make_engine(sqlalchemy_url(database_url))
    try:
        async with make_sessionmaker(engine)() as session:
            course = await session.get(Course, course_id)
            assert course is not None, f"no course {course_id}"
            teacher = await session.get(Account, course.instructor_id)
            assert teacher is not None
            source = json.dumps(source_notebook()).encode()
            assignment = await create_assignment(
                session, course, teacher, source, title=ASSIGNMENT, max_bytes=1 << 24
            )
            assignment.released_at = datetime.now(UTC)
            await session.commit()
            return assignment.id
    finally:
        await engine.dispose()


async def queue_grading(database_url: str, submission_ids: list[int]) -> None:
    """Queue every submission's grading job in one transaction ("Autograde all")."""
    engine = make_engine(sqlalchemy_url(database_url))
    try:
        async with make_sessionmaker(engine)() as session:
            for submission_id in submission_ids:
                job_id = await defer_grading(session, submission_id)
                await session.execute(
                    update(Submission).where(Submission.id == submission_id).values(job_id=job_id)
                )
            await session.commit()
    finally:
        await engine.dispose()


async def wait_until_done(
    database_url: str, submission_ids: list[int], timeout_s: float, poll_s: float = 0.05
) -> dict[str, Any]:
    """Wait until every submission is graded (or failed); seconds taken and counts."""
    engine = make_engine(sqlalchemy_url(database_url))
    started = time.monotonic()
    try:
        async with make_sessionmaker(engine)() as session:
            while True:
                done = await session.scalar(
                    select(func.count())
                    .select_from(Submission)
                    .where(Submission.id.in_(submission_ids), Submission.status.in_(DONE))
                )
                await session.rollback()
                if done == len(submission_ids) or time.monotonic() - started > timeout_s:
                    break
                await asyncio.sleep(poll_s)
            failed = await session.scalar(
                select(func.count())
                .select_from(Submission)
                .where(
                    Submission.id.in_(submission_ids),
                    Submission.status == SubmissionStatus.FAILED,
                )
            )
    finally:
        await engine.dispose()
    return {"seconds": time.monotonic() - started, "done": done, "failed": failed}


async def coursehub_scores(database_url: str, room: GradingClass) -> dict[tuple[str, str], float]:
    """Per student and test grade id, the score CourseHub's grade holds."""
    engine = make_engine(sqlalchemy_url(database_url))
    tests = {f"test_{exercise[0]}" for exercise in EXERCISES}
    scores = {}
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await session.execute(
                select(Grade.submission_id, Grade.cells).where(
                    Grade.submission_id.in_(list(room.submissions))
                )
            )
            for submission_id, cells in rows:
                for cell in cells:
                    if cell["grade_id"] in tests:
                        scores[(room.submissions[submission_id], cell["grade_id"])] = float(
                            cell["score"] or 0
                        )
    finally:
        await engine.dispose()
    return scores


@contextmanager
def running_workers(
    database_url: str, redis_url: str, workers: int, concurrency: int, log_path: Path
) -> Iterator[list[subprocess.Popen]]:
    """``workers`` grading workers (``coursehub worker``), each taking ``concurrency`` jobs
    at a time with as many sandboxes kept warm; stopped (SIGTERM) on exit."""
    command = str(Path(sys.executable).with_name("coursehub"))
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    processes = []
    with log_path.open("ab") as log:
        try:
            for _ in range(workers):
                processes.append(
                    subprocess.Popen(
                        [command, "worker", "--concurrency", str(concurrency)],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            _wait_for_log(log_path, WORKER_STARTED, workers, timeout_s=180)
            yield processes
        finally:
            for process in processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)


def _wait_for_log(path: Path, line: str, count: int, timeout_s: float) -> None:
    """Wait until ``line`` appears ``count`` times in the log at ``path``."""
    deadline = time.monotonic() + timeout_s
    while path.read_text(errors="replace").count(line) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the grading workers did not start; see {path}")
        time.sleep(0.2)
