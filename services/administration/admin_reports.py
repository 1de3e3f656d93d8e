"""Platform reports for administrators: enrolments, completions, grades per course, revenue,
active users and the grading queue's history, for a date range, as tables and as CSV.

Each report is one SQL query over the range. Small ones are answered at once; a report with
more than ``INLINE_ROWS`` rows is built by the job queue (``build_export``) into an
``admin_report_exports`` row whose CSV the admin downloads from the link on the page.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Numeric, Select, TextClause, cast, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.analytics.rollups import ANALYTICS_QUEUE
from coursehub.services.errors import Refusal
from coursehub.services.jobs.queue import defer
from coursehub.services.models import (
    Account,
    AdminReportExport,
    Assignment,
    Course,
    Enrollment,
    Grade,
    SignIn,
    Submission,
    utcnow,
)

INLINE_ROWS = 2000
EXPORT_TASK = "admin_report_export"
MAX_DAYS = 3660


@dataclass(frozen=True)
class Range:
    start: date
    end: date  # inclusive

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, UTC)

    def as_params(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def parse_range(raw_from: str, raw_to: str, today: date | None = None) -> Range:
    """The range ``from`` to ``to`` (YYYY-MM-DD, both included); the last 30 days by default."""
    today = today or utcnow().date()
    try:
        end = date.fromisoformat(raw_to) if raw_to else today
        start = date.fromisoformat(raw_from) if raw_from else end - timedelta(days=29)
    except ValueError:
        raise Refusal("Give dates as YYYY-MM-DD.", 400, field="from") from None
    if start > end:
        raise Refusal("The range starts after it ends; swap the dates.", 400, field="from")
    if (end - start).days > MAX_DAYS:
        raise Refusal("Choose a range of at most ten years.", 400, field="from")
    return Range(start, end)


Query = Callable[[Range, int | None], "Select[Any] | TextClause"]


def _enrolments(span: Range, course_id: int | None) -> Select[Any]:
    query = (
        select(
            Enrollment.enrolled_at,
            Course.slug,
            Account.username,
            Account.email,
            func.round(cast(Enrollment.progress * 100, Numeric), 1),
            Enrollment.completed_at,
        )
        .join(Course, Course.id == Enrollment.course_id)
        .join(Account, Account.id == Enrollment.account_id)
        .where(Enrollment.enrolled_at >= span.since, Enrollment.enrolled_at < span.until)
        .order_by(Enrollment.enrolled_at, Enrollment.id)
    )
    return query.where(Enrollment.course_id == course_id) if course_id else query


def _completions(span: Range, course_id: int | None) -> Select[Any]:
    query = (
        select(
            Enrollment.completed_at,
            Course.slug,
            Account.username,
            Account.email,
            Enrollment.enrolled_at,
        )
        .join(Course, Course.id == Enrollment.course_id)
        .join(Account, Account.id == Enrollment.account_id)
        .where(Enrollment.completed_at >= span.since, Enrollment.completed_at < span.until)
        .order_by(Enrollment.completed_at, Enrollment.id)
    )
    return query.where(Enrollment.course_id == course_id) if course_id else query


def _grades(span: Range, course_id: int | None) -> Select[Any]:
    query = (
        select(
            Grade.graded_at,
            Course.slug,
            Assignment.title,
            Account.username,
            Submission.attempt,
            Grade.score,
            Grade.late_penalty_percent,
            Grade.final_score,
            Grade.max_score,
        )
        .join(Submission, Submission.id == Grade.submission_id)
        .join(Assignment, Assignment.id == Submission.assignment_id)
        .join(Course, Course.id == Assignment.course_id)
        .join(Account, Account.id == Submission.account_id)
        .where(Grade.graded_at >= span.since, Grade.graded_at < span.until)
        .order_by(Course.slug, Assignment.title, Account.username, Submission.attempt)
    )
    return query.where(Course.id == course_id) if course_id else query


def _active_users(span: Range, course_id: int | None) -> Select[Any]:
    day = func.date_trunc("day", SignIn.at).label("day")
    return (
        select(day, func.count(func.distinct(SignIn.account_id)), func.count(SignIn.id))
        .where(SignIn.at >= span.since, SignIn.at < span.until)
        .group_by(day)
        .order_by(day)
    )


def _grading_queue(span: Range, course_id: int | None) -> Select[Any]:
    day = func.date_trunc("day", Submission.received_at).label("day")
    wait = func.extract("epoch", Grade.graded_at - Submission.received_at)
    query = (
        select(
            day,
            func.count(Submission.id),
            func.count(Grade.id),
            func.count(Submission.id).filter(Submission.status == "FAILED"),
            func.count(Submission.id).filter(Submission.status.in_(("QUEUED", "GRADING"))),
            func.round(func.avg(wait)),
            func.round(func.max(wait)),
        )
        .outerjoin(Grade, Grade.submission_id == Submission.id)
        .where(Submission.received_at >= span.since, Submission.received_at < span.until)
        .group_by(day)
        .order_by(day)
    )
    if course_id:
        query = query.join(Assignment, Assignment.id == Submission.assignment_id).where(
            Assignment.course_id == course_id
        )
    return query


def _revenue(span: Range, course_id: int | None) -> TextClause:
    # Raw SQL on the payments table (migration 0022), so reports need nothing of the
    # payments package beyond its table.
    return text(
        """
        SELECT date_trunc('day', paid_at) AS day, currency, count(*) AS payments,
               count(*) FILTER (WHERE status = 'REFUNDED') AS refunded,
               sum(amount_cents) FILTER (WHERE status = 'PAID') / 100.0 AS net
        FROM payments
        WHERE paid_at >= :since AND paid_at < :until
          AND (CAST(:course AS integer) IS NULL OR course_id = CAST(:course AS integer))
        GROUP BY 1, 2 ORDER BY 1, 2
        """
    )


@dataclass(frozen=True)
class Report:
    kind: str
    title: str
    columns: Sequence[str]
    query: Query
    per_course: bool = True


REPORTS: dict[str, Report] = {
    report.kind: report
    for report in (
        Report(
            "enrolments",
            "Enrolments",
            ("enrolled_at", "course", "username", "email", "progress_percent", "completed_at"),
            _enrolments,
        ),
        Report(
            "completions",
            "Completions",
            ("completed_at", "course", "username", "email", "enrolled_at"),
            _completions,
        ),
        Report(
            "grades",
            "Grades per course",
            (
                "graded_at",
                "course",
                "assignment",
                "username",
                "attempt",
                "score",
                "late_penalty_percent",
                "final_score",
                "max_score",
            ),
            _grades,
        ),
        Report("revenue", "Revenue", ("day", "currency", "payments", "refunded", "net"), _revenue),
        Report(
            "active-users",
            "Active users",
            ("day", "people_signed_in", "sign_ins"),
            _active_users,
            per_course=False,
        ),
        Report(
            "grading-queue",
            "Grading queue history",
            (
                "day",
                "received",
                "graded",
                "failed",
                "waiting",
                "mean_wait_seconds",
                "max_wait_seconds",
            ),
            _grading_queue,
        ),
    )
}


def report_named(kind: str) -> Report:
    report = REPORTS.get(kind)
    if report is None:
        raise Refusal(f"There is no report called {kind!r}.", 404)
    return report


def _bind(report: Report, span: Range, course_id: int | None) -> tuple[Any, dict[str, Any]]:
    statement = report.query(span, course_id if report.per_course else None)
    if isinstance(statement, TextClause):
        return statement, {"since": span.since, "until": span.until, "course": course_id}
    return statement, {}


async def count(session: AsyncSession, report: Report, span: Range, course_id: int | None) -> int:
    statement, params = _bind(report, span, course_id)
    if isinstance(statement, TextClause):
        wrapped = text(f"SELECT count(*) FROM ({statement.text}) AS report")
        return int(await session.scalar(wrapped, params) or 0)
    return int(await session.scalar(select(func.count()).select_from(statement.subquery())) or 0)


async def rows(
    session: AsyncSession,
    report: Report,
    span: Range,
    course_id: int | None,
    limit: int | None = None,
) -> list[tuple[Any, ...]]:
    statement, params = _bind(report, span, course_id)
    if limit is not None:
        statement = (
            text(f"{statement.text} LIMIT {int(limit)}")
            if isinstance(statement, TextClause)
            else statement.limit(limit)
        )
    result = await session.execute(statement, params)
    return [tuple(row) for row in result]


def _value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    text_value = str(value)
    return (
        "'" + text_value
        if text_value[:1] in ("=", "+", "-", "@") and not _number(text_value)
        else text_value
    )


def _number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def to_csv(report: Report, table: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(report.columns)
    writer.writerows([_value(v) for v in row] for row in table)
    return out.getvalue()


async def queue_export(
    session: AsyncSession, actor: Account, report: Report, span: Range, course_id: int | None
) -> AdminReportExport:
    """An export the job queue builds; the caller commits."""
    from_jobs = AdminReportExport(
        kind=report.kind,
        params={**span.as_params(), "course": course_id},
        requested_by_id=actor.id,
    )
    session.add(from_jobs)
    await session.flush()
    await defer(session, EXPORT_TASK, ANALYTICS_QUEUE, export_id=from_jobs.id)
    return from_jobs


async def build_export(session: AsyncSession, export_id: int) -> None:
    """The job: run the export's report and keep its CSV (or why it failed)."""
    export = await session.get(AdminReportExport, export_id, with_for_update=True)
    if export is None or export.state != "queued":
        return
    report = report_named(export.kind)
    span = parse_range(export.params["from"], export.params["to"])
    table = await rows(session, report, span, export.params.get("course"))
    export.csv = to_csv(report, table)
    export.rows = len(table)
    export.state = "done"
    export.finished_at = utcnow()
