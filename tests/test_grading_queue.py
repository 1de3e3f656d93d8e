"""The grading queue without the web: migration 0004 (with procrastinate's schema), a
submission and its job committing together, and ``coursehub worker`` processes grading,
notifying over Redis, surviving kill -9 and a Redis that is down.

These tests use a database of their own (no platform, so no other worker takes their jobs).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from alembic import command
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from coursehub.hub.constants import Role
from coursehub.services.accounts.accounts import hash_password
from coursehub.services.assessment import assignments, submissions
from coursehub.services.assessment.grading_jobs import FAILED_MESSAGE, SubmissionGrader
from coursehub.services.db import make_sessionmaker
from coursehub.services.jobs.context import WorkerContext
from coursehub.services.migrate import alembic_config, upgrade
from coursehub.services.models import (
    Account,
    Assignment,
    Course,
    Enrollment,
    Grade,
    Notification,
    Submission,
    SubmissionStatus,
)
from coursehub.services.settings import sqlalchemy_url
from tests.assignment_data import answered, source_bytes
from tests.course_builder import LessonPlan, make_course, run_async, unique_word
from tests.platform import REPO, create_database, drop_database, free_port

MAX_BYTES = 20_000_000


@pytest.fixture(scope="module")
def queue_db() -> Iterator[str]:
    url = create_database("coursehub_queue")
    upgrade(sqlalchemy_url(url))
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def sync_db(queue_db: str) -> Iterator[Callable[[], Session]]:
    engine = create_engine(sqlalchemy_url(queue_db))
    yield lambda: Session(engine, expire_on_commit=False)
    engine.dispose()


@dataclass
class Homework:
    assignment_id: int
    student_id: int
    student_notebook: dict[str, Any]


@pytest.fixture
def homework(queue_db: str, sync_db: Callable[[], Session]) -> Homework:
    """A released assignment in a course with one enrolled student."""
    with sync_db() as session:
        people = []
        for role in (Role.INSTRUCTOR, Role.STUDENT):
            name = unique_word(role.value.lower())
            account = Account(
                username=name,
                email=f"{name}@coursehub.example",
                name=name,
                password_hash=hash_password("not used here"),
                role=role,
            )
            session.add(account)
            people.append(account)
        session.commit()
    instructor, student = people
    course = make_course(
        queue_db,
        instructor,
        title=f"Queue {unique_word()}",
        modules={"Week": [LessonPlan("Intro")]},
    )
    with sync_db() as session:
        session.add(Enrollment(account_id=student.id, course_id=course.id))
        session.commit()

    async def make() -> Assignment:
        async with with_session(queue_db) as session:
            from coursehub.services.models import Course

            row = await session.get_one(Course, course.id)
            made = await assignments.create_assignment(
                session, row, instructor, source_bytes(), title="Adding", max_bytes=MAX_BYTES
            )
            await assignments.update_settings(session, made, {"release": True})
            await session.commit()
            return made

    assignment = run_async(make())
    return Homework(assignment.id, student.id, assignment.student_notebook)


class with_session:
    """An AsyncSession on ``url`` with its own engine, disposed afterwards."""

    def __init__(self, url: str) -> None:
        self.engine = create_async_engine(sqlalchemy_url(url))

    async def __aenter__(self) -> AsyncSession:
        self.session = AsyncSession(self.engine, expire_on_commit=False)
        return self.session

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()
        await self.engine.dispose()


def submit(url: str, work: Homework, data: bytes, *, commit: bool = True) -> int:
    async def run() -> int:
        async with with_session(url) as session:
            assignment = await session.get_one(Assignment, work.assignment_id)
            student = await session.get_one(Account, work.student_id)
            submission, created = await submissions.submit(
                session, assignment, student, data, max_bytes=MAX_BYTES
            )
            assert created
            if commit:
                await session.commit()
            else:
                await session.rollback()
            return submission.id

    return run_async(run())


def jobs_for(sync_db: Callable[[], Session], submission_id: int) -> list[Any]:
    with sync_db() as session:
        return list(
            session.execute(
                text(
                    "SELECT id, status, attempts FROM procrastinate_jobs "
                    "WHERE args->>'submission_id' = :sid"
                ),
                {"sid": str(submission_id)},
            )
        )


def start_worker(url: str, redis_url: str, tmp_path, *extra: str) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEHUB_")}
    env.update(DATABASE_URL=url, REDIS_URL=redis_url, COURSEHUB_DATA_DIR=str(tmp_path))
    log = (tmp_path / f"worker-{time.monotonic_ns()}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "coursehub.services.cli", "worker", "--heartbeat", "1", *extra],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def worker_logs(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(p.read_text()[-3000:] for p in sorted(tmp_path.glob("worker-*.log")))


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def wait_for_status(
    sync_db: Callable[[], Session], submission_id: int, wanted: set[SubmissionStatus], timeout=240
) -> SubmissionStatus:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sync_db() as session:
            status = session.scalar(select(Submission.status).where(Submission.id == submission_id))
        if status in wanted:
            return status
        time.sleep(0.5)
    raise AssertionError(f"submission {submission_id} is still {status} after {timeout}s")


def grades_of(sync_db: Callable[[], Session], submission_id: int) -> list[Grade]:
    with sync_db() as session:
        return list(session.scalars(select(Grade).where(Grade.submission_id == submission_id)))


def graded_by_a_worker(queue_db, sync_db, redis_url, tmp_path, submission_id) -> None:  # type: ignore[no-untyped-def]
    """A worker runs until the submission is graded (or failed, which fails the test)."""
    worker = start_worker(queue_db, redis_url, tmp_path)
    try:
        status = wait_for_status(
            sync_db, submission_id, {SubmissionStatus.GRADED, SubmissionStatus.FAILED}
        )
    finally:
        stop(worker)
    assert status is SubmissionStatus.GRADED, worker_logs(tmp_path)


def test_migration_0004_is_complete_and_reversible():
    url = create_database("coursehub_migration")
    try:
        config = alembic_config(sqlalchemy_url(url))
        command.upgrade(config, "head")
        command.check(config)  # models and migrations agree (procrastinate's tables aside)
        command.downgrade(config, "0003")
        engine = create_engine(sqlalchemy_url(url))
        with engine.connect() as connection:
            left = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_class WHERE relname LIKE 'procrastinate%' "
                    "OR relname IN ('assignments', 'submissions', 'grades', 'notifications')"
                )
            )
            functions = connection.scalar(
                text("SELECT count(*) FROM pg_proc WHERE proname LIKE 'procrastinate%'")
            )
        engine.dispose()
        assert (left, functions) == (0, 0)
        command.upgrade(config, "head")
    finally:
        drop_database(url)


def test_the_kept_procrastinate_schema_is_the_pinned_release_s_own():
    from importlib.metadata import version

    from procrastinate.schema import SchemaManager

    from coursehub.services.jobs.schema import SCHEMA_3_10_0

    assert version("procrastinate") == "3.10.0", "new pin: add a migration for its schema"
    assert SCHEMA_3_10_0.read_text(encoding="utf-8") == SchemaManager.get_schema()


def test_a_submission_and_its_job_commit_together_or_not_at_all(queue_db, sync_db, homework):
    data = answered(homework.student_notebook)
    rolled_back = submit(queue_db, homework, data, commit=False)
    with sync_db() as session:
        assert session.get(Submission, rolled_back) is None
    assert jobs_for(sync_db, rolled_back) == []

    kept = submit(queue_db, homework, data)
    jobs = jobs_for(sync_db, kept)
    assert len(jobs) == 1 and jobs[0].status == "todo"
    with sync_db() as session:
        stored = session.get_one(Submission, kept)
        assert stored.job_id == jobs[0].id and stored.status is SubmissionStatus.QUEUED
        assert stored.attempt == 1


def test_a_platform_fault_on_the_last_run_fails_the_submission_with_a_reason(
    queue_db, sync_db, homework
):
    submission_id = submit(queue_db, homework, answered(homework.student_notebook))

    async def fault(attempts: int) -> None:
        engine = create_async_engine(sqlalchemy_url(queue_db))
        try:
            worker = SubmissionGrader(
                WorkerContext(make_sessionmaker(engine), redis.asyncio.Redis())
            )
            context: Any = SimpleNamespace(job=SimpleNamespace(attempts=attempts))
            await worker.platform_fault(context, submission_id, RuntimeError("disk full"))
        finally:
            await engine.dispose()

    run_async(fault(0))
    with sync_db() as session:
        assert session.get_one(Submission, submission_id).status is SubmissionStatus.QUEUED
    run_async(fault(2))
    with sync_db() as session:
        failed = session.get_one(Submission, submission_id)
    assert failed.status is SubmissionStatus.FAILED and failed.status_message == FAILED_MESSAGE

    # The failure stands: the student and the course's instructor are told, once.
    def told() -> list[tuple[int, str]]:
        with sync_db() as session:
            rows = session.execute(
                select(Notification.account_id, Notification.payload).where(
                    Notification.kind == "grading_failed",
                    Notification.payload["submission_id"].as_integer() == submission_id,
                )
            )
            return sorted((account_id, payload["title"]) for account_id, payload in rows)

    with sync_db() as session:
        instructor_id = session.scalar(
            select(Course.instructor_id)
            .join(Assignment, Assignment.course_id == Course.id)
            .where(Assignment.id == homework.assignment_id)
        )
    notes = dict(told())
    assert set(notes) == {homework.student_id, instructor_id}
    assert "not in your notebook" in notes[homework.student_id]
    assert "Autograde all" in notes[instructor_id]
    run_async(fault(2))  # the same failure again
    assert len(told()) == 2, "nobody is told twice"


def test_a_worker_grades_stores_one_grade_and_notifies_over_redis(
    queue_db, sync_db, homework, redis_url, tmp_path
):
    subscriber = redis.Redis.from_url(redis_url).pubsub()
    subscriber.subscribe(f"coursehub:notifications:{homework.student_id}")
    submission_id = submit(queue_db, homework, answered(homework.student_notebook))
    graded_by_a_worker(queue_db, sync_db, redis_url, tmp_path, submission_id)
    [grade] = grades_of(sync_db, submission_id)
    assert grade.outcome == "graded" and grade.score == grade.final_score == 2
    with sync_db() as session:
        [note] = session.scalars(
            select(Notification).where(
                Notification.account_id == homework.student_id,
                Notification.kind == "submission_graded",
            )
        )
    assert note.kind == "submission_graded" and note.payload["submission_id"] == submission_id
    deadline = time.monotonic() + 10
    event = None
    while event is None and time.monotonic() < deadline:
        message = subscriber.get_message(timeout=1)
        if message and message["type"] == "message":
            event = json.loads(message["data"])
    subscriber.close()
    assert event is not None and event["payload"]["submission_id"] == submission_id


def test_a_killed_worker_s_job_is_graded_once_after_a_restart(
    queue_db, sync_db, homework, redis_url, tmp_path
):
    slow = answered(homework.student_notebook, "    return a + b\n\nimport time\ntime.sleep(15)")
    submission_id = submit(queue_db, homework, slow)
    first = start_worker(queue_db, redis_url, tmp_path)
    try:
        wait_for_status(sync_db, submission_id, {SubmissionStatus.GRADING}, timeout=120)
        time.sleep(2)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the machine is gone: worker and grading alike
        first.wait()
    assert jobs_for(sync_db, submission_id)[0].status == "doing"
    second = start_worker(queue_db, redis_url, tmp_path)
    try:
        status = wait_for_status(
            sync_db, submission_id, {SubmissionStatus.GRADED, SubmissionStatus.FAILED}
        )
    finally:
        stop(second)
    assert status is SubmissionStatus.GRADED, worker_logs(tmp_path)
    assert len(grades_of(sync_db, submission_id)) == 1
    [job] = jobs_for(sync_db, submission_id)
    # Only the run that finished counts: the killed one was cut off, not failed, so it
    # spent none of the job's retries (issue 13, fault 15).
    assert (job.status, job.attempts) == ("succeeded", 1)


def test_an_attempt_cut_off_again_and_again_is_still_graded_in_the_end(
    queue_db, sync_db, homework, redis_url, tmp_path
):
    """Runs cut off by killed workers are not failed runs: three kills in a row, more than
    the three runs a job may fail, and the attempt is still graded (issue 13, fault 15)."""
    slow = answered(homework.student_notebook, "    return a + b\n\nimport time\ntime.sleep(10)")
    submission_id = submit(queue_db, homework, slow)
    for _ in range(3):
        worker = start_worker(queue_db, redis_url, tmp_path)
        try:
            wait_for_status(sync_db, submission_id, {SubmissionStatus.GRADING}, timeout=120)
            time.sleep(1)
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        with sync_db() as session:  # so that the next run's GRADING can be told apart
            session.execute(
                update(Submission)
                .where(Submission.id == submission_id)
                .values(status=SubmissionStatus.QUEUED)
            )
            session.commit()
    last = start_worker(queue_db, redis_url, tmp_path)
    try:
        status = wait_for_status(
            sync_db, submission_id, {SubmissionStatus.GRADED, SubmissionStatus.FAILED}
        )
    finally:
        stop(last)
    assert status is SubmissionStatus.GRADED, worker_logs(tmp_path)
    [job] = jobs_for(sync_db, submission_id)
    assert (job.status, job.attempts) == ("succeeded", 1)


def test_with_redis_down_the_grade_and_notification_are_still_stored(
    queue_db, sync_db, homework, tmp_path
):
    submission_id = submit(queue_db, homework, answered(homework.student_notebook))
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    graded_by_a_worker(queue_db, sync_db, nowhere, tmp_path, submission_id)
    assert len(grades_of(sync_db, submission_id)) == 1
    with sync_db() as session:
        count = session.scalar(
            select(func.count(Notification.id)).where(
                Notification.account_id == homework.student_id,
                Notification.kind == "submission_graded",
            )
        )
    assert count == 1


def test_the_worker_imports_neither_tornado_nor_the_hub():
    code = (
        "import sys, coursehub.services.worker, coursehub.services.cli; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('tornado', 'jupyterhub') "
        "or m.startswith('coursehub.hub.') and m not in ('coursehub.hub.constants', "
        "'coursehub.hub.sandbox')]; print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_students_own_fault_is_a_final_grade_with_its_message(
    queue_db, sync_db, homework, redis_url, tmp_path
):
    flood = answered(homework.student_notebook, "    return a + b\n\nprint('x' * 3_000_000)")
    submission_id = submit(queue_db, homework, flood)
    graded_by_a_worker(queue_db, sync_db, redis_url, tmp_path, submission_id)
    [grade] = grades_of(sync_db, submission_id)
    assert grade.outcome != "graded" and grade.message, (grade.outcome, grade.message)
    [job] = jobs_for(sync_db, submission_id)
    assert (job.status, job.attempts) == ("succeeded", 1)  # one run, no retry


def test_a_failed_hidden_test_costs_its_points_without_showing_the_hidden_test(
    queue_db, sync_db, homework, redis_url, tmp_path
):
    # Passes the visible test (add(1, 2)), fails the hidden one (add(20, 22)).
    sneaky = answered(homework.student_notebook, "    return a + b if a < 10 else 0")
    submission_id = submit(queue_db, homework, sneaky)
    graded_by_a_worker(queue_db, sync_db, redis_url, tmp_path, submission_id)
    [grade] = grades_of(sync_db, submission_id)
    assert grade.outcome == "graded" and grade.score == 0
    shown = json.dumps([grade.cells, grade.feedback_notebook, grade.message])
    assert "hidden-check-xyzzy" not in shown and "add(20, 22)" not in shown
