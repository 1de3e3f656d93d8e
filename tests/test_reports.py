"""Report notebooks, as a course's staff use them: the starter report attached and run in the
sandbox on the course's snapshot, its figures checked against values worked out by hand from
the rows the course holds; students only as pseudonyms unless the instructor asks; a report
past its time limit stopped with its output so far kept and staff told; and in Chromium, the
instructor attaching the starter report, running it and reading it on the page."""

from __future__ import annotations

import asyncio
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import nbformat
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.jobs.context import WorkerContext
from coursehub.services.models import (
    Account,
    Assignment,
    Grade,
    LessonProgress,
    Notification,
    Quiz,
    QuizAttempt,
    ReportNotebook,
    ReportRun,
    Submission,
)
from coursehub.services.reports import report_jobs
from coursehub.services.settings import sqlalchemy_url
from tests.course_builder import BuiltCourse, LessonPlan, enroll, make_course, unique_word
from tests.player_data import sign_in
from tests.teaching_client import Session, open_session

SLOW = 600  # a sandboxed kernel starts slowly on a loaded test machine
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _add_story(db, course: BuiltCourse, students: list[Account]) -> None:  # type: ignore[no-untyped-def]
    """Three students: all opened lesson 1, two completed it; one opened lesson 2. A quiz of
    10 points: scores 10 and 5 (first student, best counts), 4 (second); the third none. An
    assignment of two 3-point test cells: the first student failed t1 then passed both, the
    second passed t1 and failed t2."""
    first, second = course.lesson_ids[0], course.lesson_ids[1]
    with db() as session:
        for index, student in enumerate(students):
            session.add(
                LessonProgress(
                    account_id=student.id,
                    lesson_id=first,
                    first_opened_at=START,
                    last_opened_at=START,
                    completed_at=START + timedelta(hours=1) if index < 2 else None,
                    time_spent_seconds=600,
                )
            )
        session.add(
            LessonProgress(
                account_id=students[0].id,
                lesson_id=second,
                first_opened_at=START,
                last_opened_at=START,
                time_spent_seconds=60,
            )
        )
        quiz = Quiz(course_id=course.id, title="Week 1 check", published=True, max_score=10)
        session.add(quiz)
        session.flush()
        for student, attempt, score in (
            (students[0], 1, 5),
            (students[0], 2, 10),
            (students[1], 1, 4),
        ):
            session.add(
                QuizAttempt(
                    quiz_id=quiz.id,
                    account_id=student.id,
                    attempt=attempt,
                    started_at=START,
                    submitted_at=START,
                    score=score,
                    max_score=10,
                )
            )
        homework = Assignment(
            course_id=course.id,
            title="Loops homework",
            source_notebook={},
            student_notebook={},
            source_sha256="0" * 64,
            max_score=6,
        )
        session.add(homework)
        session.flush()
        # (student, attempt, t1 score, t2 score), each test cell worth 3 points.
        for student, attempt, t1, t2 in (
            (students[0], 1, 0, 3),
            (students[0], 2, 3, 3),
            (students[1], 1, 3, 0),
        ):
            submission = Submission(
                assignment_id=homework.id,
                account_id=student.id,
                attempt=attempt,
                sha256=f"{student.id:032d}{attempt:032d}",
                notebook=b"{}",
                size=2,
            )
            session.add(submission)
            session.flush()
            cells = [
                {"grade_id": "t1", "kind": "autograder_tests", "score": t1, "max_points": 3},
                {"grade_id": "t2", "kind": "autograder_tests", "score": t2, "max_points": 3},
            ]
            session.add(
                Grade(
                    submission_id=submission.id,
                    outcome="graded",
                    cells=cells,
                    score=t1 + t2,
                    max_score=6,
                    final_score=t1 + t2,
                )
            )
        session.commit()


@pytest.fixture
def reported(platform, signed_in, make_account, db, database_url):  # type: ignore[no-untyped-def]
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(
        database_url,
        instructor,
        title=f"Reported {unique_word()}",
        modules={"Week 1": [LessonPlan("Getting started"), LessonPlan("Loops")]},
    )
    students = [make_account(Role.STUDENT) for _ in range(3)]
    for student in students:
        enroll(db, student, course)
    _add_story(db, course, students)
    return course, instructor, students, open_session(platform, signed_in, instructor)


def finished_run(teacher: Session, slug: str, report_id: int, run_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + SLOW
    path = f"/api/courses/{slug}/reports/{report_id}/runs/{run_id}"
    while time.monotonic() < deadline:
        run = teacher.get(path).json()
        if run["state"] not in ("queued", "running"):
            return run
        time.sleep(2)
    raise AssertionError(f"the report run did not finish: {run}")


def run_report(teacher: Session, slug: str, report_id: int) -> tuple[dict[str, Any], dict]:
    queued = teacher.call("POST", f"/api/courses/{slug}/reports/{report_id}/runs")
    assert queued.status_code == 202, queued.text
    run = finished_run(teacher, slug, report_id, queued.json()["id"])
    download = teacher.get(f"/courses/{slug}/reports/{report_id}/runs/{run['id']}/notebook.ipynb")
    assert download.status_code == 200, download.text[:300]
    assert "attachment" in download.headers["Content-Disposition"]
    # Through nbformat's reader, which joins the stored JSON's line lists.
    return run, nbformat.reads(download.text, as_version=4)


def figures_of(notebook: dict[str, Any]) -> dict[str, Any]:
    cell = next(c for c in notebook["cells"] if "figures" in c["metadata"].get("tags", []))
    text = "".join(o["text"] for o in cell["outputs"] if o.get("name") == "stdout")
    return json.loads(text.strip().splitlines()[-1])


def test_the_starter_report_runs_on_the_course_snapshot_and_its_figures_are_right(reported):
    course, _, students, teacher = reported
    attached = teacher.call("POST", f"/api/courses/{course.slug}/reports", json={})
    assert attached.status_code == 201, attached.text
    report = attached.json()
    run, notebook = run_report(teacher, course.slug, report["id"])
    assert run["state"] == "done", run

    figures = figures_of(notebook)
    assert figures["enrolled"] == 3 and figures["completed_course"] == 0
    assert figures["funnel"] == [["Getting started", 3, 2], ["Loops", 1, 0]]
    # Best share per student: quiz 10/10 and 4/10 (the third has no score); homework 6/6 and
    # 3/6. Pass rates on each student's latest attempt: t1 2 of 2, t2 1 of 2.
    assert figures["grades"] == {
        "assignment: Loops homework": {"students": 2, "mean": 0.75},
        "quiz: Week 1 check": {"students": 2, "mean": 0.7},
    }
    assert figures["pass_rates"] == {"Loops homework / t1": 1.0, "Loops homework / t2": 0.5}

    # Pseudonyms only: nobody's user name, name or email is in what the report saw.
    text = json.dumps(notebook)
    for student in students:
        for word in (student.username, student.email or "", student.name):
            assert not word or word not in text

    # The page shows the run, sanitised, in a sandboxed frame; and keeps it in the history.
    page = teacher.get(f"/courses/{course.slug}/reports/{report['id']}/runs/{run['id']}")
    assert page.status_code == 200 and 'id="run_notebook"' in page.text
    html = teacher.get(
        f"/courses/{course.slug}/reports/{report['id']}/runs/{run['id']}/notebook.html"
    )
    assert "Enrolled students: 3" in html.text and "<script" not in html.text.lower()
    assert "sandbox" in html.headers["Content-Security-Policy"]
    history = teacher.get(f"/courses/{course.slug}/reports/{report['id']}")
    assert f"/runs/{run['id']}" in history.text


def test_names_only_when_the_instructor_asks_and_a_slow_report_is_stopped_with_its_output(
    reported, db
):
    course, instructor, students, teacher = reported
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "cells": [
            {
                "cell_type": "code",
                "id": "names",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": "import csv\n"
                "print(sorted(r['name'] for r in csv.DictReader(open('students.csv'))))",
            },
            {
                "cell_type": "code",
                "id": "slow",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": "import time\ntime.sleep(600)",
            },
        ],
    }
    attached = teacher.call(
        "POST",
        f"/api/courses/{course.slug}/reports",
        json={
            "title": "Who and slow",
            "notebook": notebook,
            "with_names": True,
            "time_limit_seconds": 20,
        },
    )
    assert attached.status_code == 201, attached.text
    run, executed = run_report(teacher, course.slug, attached.json()["id"])
    assert run["state"] == "timed_out", run
    assert "time limit" in run["problem"] and "kept" in run["problem"]
    printed = "".join(o.get("text", "") for c in executed["cells"] for o in c.get("outputs", []))
    assert all((s.name or s.username) in printed for s in students)

    # Staff are told (the instructor, who asked for the run), with the run's page.
    with db() as session:
        told = session.scalars(
            select(Notification).where(
                Notification.account_id == instructor.id, Notification.kind == "report_failed"
            )
        ).all()
    assert len(told) == 1, told
    assert "time limit" in told[0].payload["title"]
    assert (
        told[0]
        .payload["url"]
        .endswith(f"/courses/{course.slug}/reports/{attached.json()['id']}/runs/{run['id']}")
    )


def test_in_chromium_the_instructor_runs_the_starter_report_and_reads_it(reported, page, platform):  # type: ignore[no-untyped-def]
    course, instructor, _, _ = reported
    sign_in(page, platform, instructor.email)
    page.goto(f"{platform.service_url}/courses/{course.slug}/reports")
    expect(page.locator("#no_reports")).to_be_visible()
    page.locator("#attach_report").click()
    expect(page.locator("#report_title")).to_have_text("Course overview (starter)")
    page.locator("#run_report").click()
    expect(page.locator("#run_status")).to_contain_text("ran in", timeout=SLOW * 1000)
    frame = page.frame_locator("#run_notebook")
    expect(frame.locator("body")).to_contain_text("Enrolled students: 3")
    expect(frame.locator("body")).to_contain_text("Getting started")
    download = page.locator("#download_run")
    assert re.search(r"/notebook\.ipynb$", download.get_attribute("href") or "")


def test_a_daily_report_is_run_by_the_job_queue_when_due_and_its_history_kept(
    reported, db, database_url
):
    course, _, _, teacher = reported
    counting = nbformat.v4.new_notebook()
    counting.cells = [
        nbformat.v4.new_code_cell("print('rows', len(open('students.csv').readlines()) - 1)")
    ]
    attached = teacher.call(
        "POST",
        f"/api/courses/{course.slug}/reports",
        json={"title": "Daily count", "notebook": counting, "schedule": "daily"},
    )
    assert attached.status_code == 201, attached.text
    report = attached.json()
    assert report["schedule"] == "daily" and report["next_run_at"]
    # A day later (as the clock would have it): the periodic job finds it due.
    due_at = datetime.now(UTC) - timedelta(minutes=1)
    with db() as session:
        session.get(ReportNotebook, report["id"]).next_run_at = due_at
        session.commit()

    # in a thread of its own: this module's Chromium (Playwright's sync API) keeps a loop running
    with ThreadPoolExecutor(1) as thread:
        queued = thread.submit(asyncio.run, queue_due(database_url)).result()
    with db() as session:
        runs = session.scalars(select(ReportRun).where(ReportRun.report_id == report["id"])).all()
        next_at = session.get(ReportNotebook, report["id"]).next_run_at
    assert [run.trigger for run in runs] == ["schedule"] and runs[0].id in queued
    assert next_at is not None and next_at > datetime.now(UTC) + timedelta(hours=23)

    run = finished_run(teacher, course.slug, report["id"], runs[0].id)
    assert run["state"] == "done" and run["trigger"] == "schedule", run
    history = teacher.get(f"/courses/{course.slug}/reports/{report['id']}")
    assert f"/runs/{run['id']}" in history.text


async def queue_due(database_url: str) -> list[int]:
    """What the ``run_scheduled_reports`` periodic task does, now."""
    engine = make_engine(sqlalchemy_url(database_url), pool_size=1)
    try:
        return await report_jobs.queue_due_reports(WorkerContext(make_sessionmaker(engine), None))  # type: ignore[arg-type]
    finally:
        await engine.dispose()
