"""A course's report notebooks: attaching them (the starter one or the staff's own), running
them on the course's snapshot, their schedules and the history of their runs.

Who may do what (``courses.membership``): the course's staff who grade (its instructor,
administrators and its graders) see, attach and run reports; names in the snapshot only for
those who manage the course (its instructor or an administrator), and only when the report
asks for them. "Run report" queues a run (``run_report`` job); the worker takes a snapshot
(``course_snapshot``, CSV files), runs the notebook with papermill in the sandbox
(``notebook_runs.papermill_runs.run_notebook``) with the files read-only beside it, and keeps
the executed notebook whatever happened: a cell that raised or a run past its time limit
keeps its output up to there, and the run says so to staff. Scheduled reports (daily or
weekly) are run by the ``run_scheduled_reports`` periodic job. The caller commits.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import nbformat
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.courses.membership import Membership
from coursehub.services.errors import Refusal
from coursehub.services.jobs.queue import defer
from coursehub.services.models import (
    Account,
    Course,
    ReportNotebook,
    ReportRun,
    ReportRunState,
    ReportSchedule,
    utcnow,
)
from coursehub.services.notebook_runs.papermill_runs import run_notebook
from coursehub.services.notebook_runs.run_queue import NOTEBOOK_RUNS_QUEUE
from coursehub.services.notifications import notifications
from coursehub.services.reports import course_snapshot

log = logging.getLogger("coursehub.reports")

RUN_REPORT_TASK = "run_report"
SCHEDULED_TASK = "run_scheduled_reports"
STARTER_TITLE = "Course overview (starter)"
MAX_NOTEBOOK_BYTES = 5_000_000
MIN_LIMIT, MAX_LIMIT = 10, 1800
DEFAULT_LIMIT = 300
PERIODS = {
    ReportSchedule.DAILY.value: timedelta(days=1),
    ReportSchedule.WEEKLY.value: timedelta(weeks=1),
}


class ReportError(Refusal):
    """A request about reports that cannot be done; the message says what to do."""


def starter_notebook() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("starter_report.ipynb").read_text()
    return json.loads(text)


def check_notebook(data: bytes | dict[str, Any]) -> dict[str, Any]:
    try:
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        if len(raw) > MAX_NOTEBOOK_BYTES:
            raise ReportError("The report notebook is larger than 5 MB; make it smaller.", 413)
        node = nbformat.reads(raw.decode(), as_version=4)
        nbformat.validate(node)
    except ReportError:
        raise
    except Exception as error:
        raise ReportError(f"This is not a notebook CourseHub can read ({error}).") from None
    for cell in node.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return json.loads(nbformat.writes(node))


def _settings(report: ReportNotebook, fields: dict[str, Any], place: Membership) -> None:
    if "title" in fields:
        title = str(fields["title"] or "").strip()
        if not title or len(title) > 200:
            raise ReportError("Give the report a title of 1 to 200 characters.")
        report.title = title
    if "schedule" in fields:
        schedule = str(fields["schedule"] or "none")
        if schedule not in {s.value for s in ReportSchedule}:
            raise ReportError("schedule must be none, daily or weekly.")
        report.schedule = schedule
        report.next_run_at = utcnow() + PERIODS[schedule] if schedule in PERIODS else None
    if "with_names" in fields:
        wanted = fields["with_names"] in (True, "true", "on", "1")
        if wanted and not place.manages:
            raise ReportError(
                "Only the course's instructor can ask for students' names in a report.", 403
            )
        report.with_names = wanted
    if "time_limit_seconds" in fields:
        try:
            limit = int(fields["time_limit_seconds"])
        except (TypeError, ValueError):
            limit = -1
        if not MIN_LIMIT <= limit <= MAX_LIMIT:
            raise ReportError(f"The time limit must be {MIN_LIMIT} to {MAX_LIMIT} seconds.")
        report.time_limit_seconds = limit


def _may_see(place: Membership) -> None:
    if not place.grades:
        raise ReportError("Reports are for the course's staff.", 403)


async def attach(
    session: AsyncSession,
    course: Course,
    author: Account,
    place: Membership,
    notebook: dict[str, Any] | bytes | None,
    fields: dict[str, Any],
) -> ReportNotebook:
    """A new report notebook of the course (the starter one when ``notebook`` is None)."""
    _may_see(place)
    report = ReportNotebook(
        course_id=course.id,
        title=STARTER_TITLE,
        notebook=check_notebook(notebook if notebook is not None else starter_notebook()),
        schedule=ReportSchedule.NONE.value,
        with_names=False,
        time_limit_seconds=DEFAULT_LIMIT,
        pseudonym_key=secrets.token_hex(32),
        created_by_id=author.id,
    )
    title = fields.get("title") or (STARTER_TITLE if notebook is None else "Course report")
    _settings(report, {**fields, "title": title}, place)
    session.add(report)
    await session.flush()
    return report


async def change(
    session: AsyncSession, report: ReportNotebook, place: Membership, fields: dict[str, Any]
) -> ReportNotebook:
    _may_see(place)
    _settings(report, fields, place)
    await session.flush()
    return report


async def reports_of(session: AsyncSession, course: Course) -> list[ReportNotebook]:
    return list(
        await session.scalars(
            select(ReportNotebook)
            .where(ReportNotebook.course_id == course.id)
            .order_by(ReportNotebook.id)
        )
    )


async def report_in(session: AsyncSession, course: Course, report_id: int) -> ReportNotebook:
    report = await session.get(ReportNotebook, report_id)
    if report is None or report.course_id != course.id:
        raise ReportError("This course has no such report; check the address.", 404)
    return report


async def run_in(session: AsyncSession, report: ReportNotebook, run_id: int) -> ReportRun:
    run = await session.get(ReportRun, run_id)
    if run is None or run.report_id != report.id:
        raise ReportError("This report has no such run; check the address.", 404)
    return run


async def history(
    session: AsyncSession, report: ReportNotebook, limit: int = 50
) -> list[ReportRun]:
    return list(
        await session.scalars(
            select(ReportRun)
            .where(ReportRun.report_id == report.id)
            .order_by(ReportRun.id.desc())
            .limit(limit)
        )
    )


async def request_run(
    session: AsyncSession,
    report: ReportNotebook,
    place: Membership | None,
    requester: Account | None,
    *,
    trigger: str = "staff",
) -> ReportRun:
    """A queued run of the report (names only if the report asks and the requester may)."""
    if place is not None:
        _may_see(place)
    with_names = report.with_names and (place is None or place.manages)
    run = ReportRun(
        report_id=report.id,
        state=ReportRunState.QUEUED.value,
        trigger=trigger,
        with_names=with_names,
        requested_by_id=requester.id if requester else None,
    )
    session.add(run)
    await session.flush()
    await defer(session, RUN_REPORT_TASK, NOTEBOOK_RUNS_QUEUE, run_id=run.id)
    return run


def _state_of(ok: bool, timed_out: bool) -> str:
    if ok:
        return ReportRunState.DONE.value
    return ReportRunState.TIMED_OUT.value if timed_out else ReportRunState.FAILED.value


async def execute(session: AsyncSession, run_id: int) -> ReportRun | None:
    """Run a queued report run (the ``run_report`` job); commits its state as it goes."""
    run = await session.get(ReportRun, run_id, with_for_update=True)
    if run is None or run.state not in (ReportRunState.QUEUED.value, ReportRunState.RUNNING.value):
        return run
    report = await session.get_one(ReportNotebook, run.report_id)
    course = await session.get_one(Course, report.course_id)
    run.state = ReportRunState.RUNNING.value
    files = await course_snapshot.snapshot(
        session, course, secret=report.pseudonym_key.encode(), with_names=run.with_names
    )
    await session.commit()
    started = time.monotonic()
    try:
        outcome = await run_notebook(
            # Through nbformat's reader, which joins the stored JSON's line lists.
            nbformat.reads(json.dumps(report.notebook), as_version=4),
            files=files,
            timeout_seconds=report.time_limit_seconds,
            cell_timeout_seconds=report.time_limit_seconds,
            background=True,
        )
    except Exception as error:
        log.warning("Report run %s could not run: %s", run_id, error)
        run = await session.get_one(ReportRun, run_id)
        run.state = ReportRunState.ERROR.value
        run.problem = (
            "CourseHub could not run the report just now (a fault on CourseHub's side, "
            "not the notebook's); run it again in a few minutes."
        )
        run.finished_at = utcnow()
        run.seconds = round(time.monotonic() - started, 3)
        _tell_staff(session, course, report, run)
        await session.commit()
        return run
    run = await session.get_one(ReportRun, run_id)
    run.state = _state_of(outcome.ok, outcome.timed_out)
    run.notebook = json.loads(nbformat.writes(outcome.notebook))
    run.seconds = round(outcome.seconds, 3)
    run.finished_at = utcnow()
    if outcome.timed_out:
        run.problem = (
            f"The report ran past its time limit of {report.time_limit_seconds} s and was "
            f"stopped; the output up to there is kept. {outcome.problem or ''}"
        ).strip()
    elif not outcome.ok:
        run.problem = outcome.problem or "A cell of the report raised an error."
    if run.state != ReportRunState.DONE.value:
        _tell_staff(session, course, report, run)
    await session.commit()
    return run


def _tell_staff(
    session: AsyncSession, course: Course, report: ReportNotebook, run: ReportRun
) -> None:
    """A run that did not finish (a cell raised, its time limit, a fault of CourseHub's) is
    told to whoever asked for it and to the course's instructor (a scheduled run has only
    the instructor), with the run's page, where the partial output is."""
    for account_id in dict.fromkeys((run.requested_by_id, course.instructor_id)):
        if account_id is None:
            continue
        notifications.add(
            session,
            account_id,
            "report_failed",
            {
                "course": course.slug,
                "report_id": report.id,
                "run_id": run.id,
                "report_title": report.title,
                "problem": run.problem,
            },
        )


async def due_reports(session: AsyncSession, now: datetime | None = None) -> list[int]:
    """Queue a run of every scheduled report that is due, and move its next time on."""
    now = now or utcnow()
    due = list(
        await session.scalars(
            select(ReportNotebook)
            .where(
                ReportNotebook.schedule.in_(list(PERIODS)),
                ReportNotebook.next_run_at.is_not(None),
                ReportNotebook.next_run_at <= now,
            )
            .with_for_update(skip_locked=True)
        )
    )
    queued = []
    for report in due:
        run = await request_run(session, report, None, None, trigger="schedule")
        next_at = report.next_run_at or now
        while next_at <= now:
            next_at += PERIODS[report.schedule]
        report.next_run_at = next_at
        queued.append(run.id)
    return queued


def run_json(run: ReportRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "report_id": run.report_id,
        "state": run.state,
        "trigger": run.trigger,
        "with_names": run.with_names,
        "problem": run.problem,
        "seconds": run.seconds,
        "created_at": run.created_at,
        "finished_at": run.finished_at,
    }


def report_json(report: ReportNotebook) -> dict[str, Any]:
    return {
        "id": report.id,
        "title": report.title,
        "schedule": report.schedule,
        "with_names": report.with_names,
        "time_limit_seconds": report.time_limit_seconds,
        "next_run_at": report.next_run_at,
    }
