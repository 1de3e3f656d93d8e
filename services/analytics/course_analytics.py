"""What a course's staff see of it: the figures of its rollups as tables, filtered by a
period and a module, with days in the viewer's time zone and the instructor's at-risk
threshold. Every query here reads rollup rows (a few per lesson, assignment, quiz,
test cell and day, and at most ``AT_RISK_SHOWN`` students), so a course of 10,000 students
answers as fast as one of 100.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.analytics.filters import Period
from coursehub.services.analytics.tables import Table
from coursehub.services.courses.groups import course_groups
from coursehub.services.courses.membership import membership
from coursehub.services.errors import Refusal
from coursehub.services.models import (
    Account,
    Assignment,
    Course,
    Enrollment,
    Lesson,
    LessonKind,
    Module,
)
from coursehub.services.models.analytics import (
    AnalyticsSetting,
    AutogradedCellRollup,
    CourseDay,
    CourseRollup,
    GroupDay,
    GroupItemRollup,
    GroupLessonRollup,
    GroupTestCellRollup,
    ItemRollup,
    LessonRollup,
    StudentRollup,
)

AT_RISK_SHOWN = 50
# The columns of the videos table: the twentieths of a video (as lesson_progress.video_views).
VIDEO_PARTS = [f"{n * 5}-{n * 5 + 5}%" for n in range(20)]
INACTIVE_DAYS_RANGE = (1, 365)
REASONS = {
    "inactive": "No activity for {days} days",
    "behind": "Progress well below the class",
    "slowing": "Completing fewer lessons than the week before",
    "failing": "Mean grade under 50 %",
}


@dataclass
class CourseAnalytics:
    course: Course
    summary: CourseRollup | None
    modules: list[Module]
    module_id: int | None
    show_class_median: bool
    group: str | None = None  # the group (section) the figures are counted in; None: all
    groups: list[str] = field(default_factory=list)  # the course's groups, for the filter
    inactive_days: int = 14
    time_zone: str = "UTC"  # the zone the days are counted in
    days_pending: bool = False  # the viewer's zone has no days yet: shown in UTC till refreshed
    video_lessons: int = 0  # video lessons among the lessons shown (the module filter's)
    # A video's rollup row has no coverage yet (written before migration 0035 counted videos
    # per group): shown as pending, not as "nobody watched", until the next refresh.
    videos_pending: bool = False
    tables: dict[str, Table] = field(default_factory=dict)
    at_risk: list[dict[str, object]] = field(default_factory=list)

    @property
    def refreshed_at(self) -> datetime | None:
        if self.summary is None or self.summary.refreshed_at.year < 2000:
            return None
        return self.summary.refreshed_at


async def course_for_analytics(session: AsyncSession, account: Account, course_id: int) -> Course:
    """The course, when ``account`` teaches it, grades it or administers the platform."""
    course = await session.get(Course, course_id)
    if course is None:
        raise Refusal("There is no such course.", 404)
    if not (await membership(session, account, course)).grades:
        raise Refusal(
            "Only the course's instructor, its graders and administrators see its analytics.",
            403,
        )
    return course


async def module_ids(session: AsyncSession, course_id: int) -> list[int]:
    return list(await session.scalars(select(Module.id).where(Module.course_id == course_id)))


async def course_analytics(
    session: AsyncSession,
    course: Course,
    period: Period,
    module_id: int | None,
    time_zone: str = "UTC",
    group: str | None = None,
    groups: list[str] | None = None,
) -> CourseAnalytics:
    """The course's figures; days in ``time_zone`` (the viewer's) when the last refresh
    counted them there, else in UTC with ``days_pending`` set. With ``group``, every figure
    is counted among that group's students only; ``groups``: the course's groups when the
    caller has them already. The period chooses the days shown; the funnel, the videos, the
    grades and the test cells count everything since the course began."""
    modules = list(
        await session.scalars(
            select(Module).where(Module.course_id == course.id).order_by(Module.position, Module.id)
        )
    )
    setting = await session.get(AnalyticsSetting, course.id)
    found = CourseAnalytics(
        course=course,
        summary=await session.get(CourseRollup, course.id),
        modules=modules,
        module_id=module_id,
        group=group,
        groups=groups if groups is not None else await course_groups(session, course.id),
        show_class_median=bool(setting and setting.show_class_median),
        inactive_days=setting.inactive_days if setting else 14,
    )
    if time_zone != "UTC":
        counted = await session.scalar(
            select(CourseDay.day)
            .where(CourseDay.course_id == course.id, CourseDay.time_zone == time_zone)
            .limit(1)
        )
        if counted is None:
            found.days_pending = True
        else:
            found.time_zone = time_zone
    if group is not None:
        found.summary = await _group_summary(session, found.summary, group)
    lessons = await _lesson_rows(session, course.id, module_id, group)
    videos = [lesson for lesson in lessons if lesson.kind == LessonKind.VIDEO]
    found.video_lessons = len(videos)
    found.videos_pending = any(v.row is not None and v.row.video_buckets is None for v in videos)
    for table in (
        await _days(session, course.id, period, found.time_zone, group),
        _funnel(lessons, group),
        _videos(lessons, group),
        await _items(session, course.id, group),
        await _test_cells(session, course.id, group),
    ):
        found.tables[table.name] = table
    found.tables["at_risk"], found.at_risk = await _at_risk(
        session, course.id, found.inactive_days, group
    )
    return found


async def _days(
    session: AsyncSession, course_id: int, period: Period, time_zone: str, group: str | None
) -> Table:
    rollup: type[CourseDay] | type[GroupDay] = CourseDay if group is None else GroupDay
    statement = select(rollup).where(
        rollup.course_id == course_id,
        rollup.time_zone == time_zone,
        rollup.day >= period.since,
        rollup.day <= period.until,
    )
    if group is not None:
        statement = statement.where(GroupDay.group_name == group)
    rows = {row.day: row for row in await session.scalars(statement)}
    table = Table(
        "days",
        f"Enrolments, active students and completions per day ({time_zone} days)" + _among(group),
        [
            "day",
            "enrolments",
            "active students",
            "lessons completed",
            "course completions",
            "attempts submitted",
        ],
    )
    for day in period.days:
        row = rows.get(day)
        table.rows.append(
            [
                day,
                *(
                    (
                        row.enrolments,
                        row.active_students,
                        row.lesson_completions,
                        row.course_completions,
                        row.submissions,
                    )
                    if row
                    else (0, 0, 0, 0, 0)
                ),
            ]
        )
    return table


@dataclass
class _LessonFigures:
    """A lesson of the funnel with its rollup row (the course's or the group's; None before
    the first refresh counted it)."""

    module: str
    lesson: str
    kind: LessonKind
    row: LessonRollup | GroupLessonRollup | None


async def _lesson_rows(
    session: AsyncSession, course_id: int, module_id: int | None, group: str | None
) -> list[_LessonFigures]:
    """The course's lessons in syllabus order (``module_id``'s only, when given), each with
    its figures counted among every student or among ``group``'s."""
    rollup: type[LessonRollup] | type[GroupLessonRollup] = LessonRollup
    joined = LessonRollup.lesson_id == Lesson.id
    if group is not None:
        rollup = GroupLessonRollup
        joined = (
            (GroupLessonRollup.lesson_id == Lesson.id)
            & (GroupLessonRollup.course_id == course_id)
            & (GroupLessonRollup.group_name == group)
        )
    statement = (
        select(Module.title, Lesson.title, Lesson.kind, rollup)
        .join(Lesson, Lesson.module_id == Module.id)
        .outerjoin(rollup, joined)
        .where(Module.course_id == course_id)
        .order_by(Module.position, Module.id, Lesson.position, Lesson.id)
    )
    if module_id is not None:
        statement = statement.where(Module.id == module_id)
    return [
        _LessonFigures(module, lesson, kind, row)
        for module, lesson, kind, row in await session.execute(statement)
    ]


def _numbers(values: list[int] | None) -> str:
    return " ".join(str(n) for n in values) if values else ""


def _funnel(lessons: list[_LessonFigures], group: str | None) -> Table:
    table = Table(
        "funnel",
        "Completion funnel and time spent per lesson, in syllabus order" + _among(group),
        [
            "module",
            "lesson",
            "kind",
            "started",
            "completed",
            "completion %",
            "median minutes",
            "total hours",
            "video watched (students per tenth)",
            "video plays per twentieth",
            "students re-watching per twentieth",
        ],
    )
    for lesson in lessons:
        row = lesson.row
        started = row.started if row else 0
        completed = row.completed if row else 0
        table.rows.append(
            [
                lesson.module,
                lesson.lesson,
                lesson.kind.value.lower(),
                started,
                completed,
                round(100 * completed / started, 1) if started else None,
                round(row.median_seconds / 60, 1) if row and row.median_seconds else None,
                round(row.seconds_total / 3600, 2) if row else 0,
                _numbers(row.video_buckets if row else None),
                _numbers(row.video_views if row else None),
                _numbers(row.video_rewatched if row else None),
            ]
        )
    return table


def _videos(lessons: list[_LessonFigures], group: str | None) -> Table:
    """Each played video's watch coverage in two rows, a column per twentieth of it: the
    plays of that part summed over the students, and the students who played it more than
    once."""
    table = Table(
        "videos",
        "Video watch coverage: plays of each twentieth of each video, and students who played "
        "it more than once, since the course began" + _among(group),
        ["module", "lesson", "figure", *VIDEO_PARTS],
    )
    for lesson in lessons:
        row = lesson.row
        if lesson.kind != LessonKind.VIDEO or row is None or not row.video_views:
            continue
        table.rows.append([lesson.module, lesson.lesson, "plays", *row.video_views])
        again = row.video_rewatched or [0] * len(row.video_views)
        table.rows.append([lesson.module, lesson.lesson, "students re-watching", *again])
    return table


async def _items(session: AsyncSession, course_id: int, group: str | None) -> Table:
    table = Table(
        "grades",
        "Grade distribution per assignment and quiz (each student's best attempt, in %)"
        + _among(group),
        [
            "kind",
            "title",
            "students graded",
            "median %",
            "mean %",
            *[f"{n * 10}-{n * 10 + 10}%" for n in range(10)],
        ],
    )
    rollup: type[ItemRollup] | type[GroupItemRollup] = ItemRollup
    statement = select(rollup)
    if group is not None:
        rollup = GroupItemRollup
        statement = select(rollup).where(GroupItemRollup.group_name == group)
    rows = await session.scalars(
        statement.where(rollup.course_id == course_id).order_by(rollup.kind, rollup.item_id)
    )
    for item in rows:
        table.rows.append(
            [
                item.kind,
                item.title,
                item.students,
                _round(item.median_percent),
                _round(item.mean_percent),
                *(item.histogram or [0] * 10),
            ]
        )
    return table


async def _test_cells(session: AsyncSession, course_id: int, group: str | None) -> Table:
    table = Table(
        "test_cells",
        "Autograded test cells: share of graded attempts that pass, commonest failures "
        "(as students were told them; hidden tests are never shown), attempts until a "
        "student's first pass and hours from release to it" + _among(group),
        [
            "assignment",
            "test cell",
            "attempts",
            "pass %",
            "students",
            "students passed",
            "mean attempts to first pass",
            "median hours to first pass",
            "commonest failures",
        ],
    )
    rollup: type[AutogradedCellRollup] | type[GroupTestCellRollup] = AutogradedCellRollup
    statement = select(Assignment.title, rollup)
    if group is not None:
        rollup = GroupTestCellRollup
        statement = select(Assignment.title, rollup).where(GroupTestCellRollup.group_name == group)
    rows = await session.execute(
        statement.join(Assignment, Assignment.id == rollup.assignment_id)
        .where(rollup.course_id == course_id)
        .order_by(Assignment.id, rollup.position, rollup.grade_id)
    )
    for title, cell in rows:
        table.rows.append(
            [
                title,
                cell.grade_id,
                cell.attempts,
                round(100 * cell.passed / cell.attempts, 1) if cell.attempts else None,
                cell.students,
                cell.students_passed,
                _round(cell.mean_attempts_to_pass, 2),
                _round(cell.median_hours_to_pass, 1),
                failures_text(cell.failures),
            ]
        )
    return table


async def _at_risk(
    session: AsyncSession, course_id: int, inactive_days: int, group: str | None = None
) -> tuple[Table, list[dict[str, object]]]:
    statement = (
        select(Account.username, Account.name, StudentRollup)
        .join(Account, Account.id == StudentRollup.account_id)
        .where(StudentRollup.course_id == course_id, StudentRollup.at_risk)
        .order_by(StudentRollup.last_active_at.asc().nulls_first(), Account.username)
        .limit(AT_RISK_SHOWN)
    )
    if group is not None:
        statement = statement.join(
            Enrollment,
            (Enrollment.account_id == StudentRollup.account_id)
            & (Enrollment.course_id == course_id),
        ).where(Enrollment.group_name == group)
    rows = await session.execute(statement)
    table = Table(
        "at_risk",
        "Students at risk (longest inactive first)",
        [
            "student",
            "name",
            "progress %",
            "lessons completed",
            "last active",
            "mean grade %",
            "why",
        ],
    )
    people: list[dict[str, object]] = []
    for username, name, student in rows:
        why = ", ".join(REASONS.get(r, r).format(days=inactive_days) for r in student.reasons)
        table.rows.append(
            [
                username,
                name,
                round(100 * student.progress),
                student.lessons_completed,
                student.last_active_at,
                _round(student.mean_grade_percent),
                why,
            ]
        )
        people.append(
            {"username": username, "name": name or username, "student": student, "why": why}
        )
    return table, people


def _among(group: str | None) -> str:
    return f" (group {group})" if group is not None else ""


async def _group_summary(
    session: AsyncSession, summary: CourseRollup | None, group: str
) -> CourseRollup | None:
    """The course's summary counted among one group's students, from their rollup rows
    (one per student: the group is joined at read time). Not added to the session."""
    if summary is None:
        return None
    grouped = (
        select(StudentRollup)
        .join(
            Enrollment,
            (Enrollment.account_id == StudentRollup.account_id)
            & (Enrollment.course_id == StudentRollup.course_id),
        )
        .where(StudentRollup.course_id == summary.course_id, Enrollment.group_name == group)
        .subquery()
    )
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(grouped.c.progress >= 1),
                func.count().filter(
                    grouped.c.last_active_at >= summary.refreshed_at - timedelta(days=7)
                ),
                func.coalesce(func.percentile_cont(0.5).within_group(grouped.c.progress.asc()), 0),
                func.count().filter(grouped.c.at_risk),
            ).select_from(grouped)
        )
    ).one()
    return CourseRollup(
        course_id=summary.course_id,
        refreshed_at=summary.refreshed_at,
        requested_at=summary.requested_at,
        students=row[0],
        completed=row[1],
        active_7_days=row[2],
        median_progress=float(row[3]),
        at_risk=row[4],
    )


def failures_text(failures: list[dict[str, object]]) -> str:
    return "; ".join(f"{f['message'] or f['type']} ({f['count']} times)" for f in failures)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


async def set_inactive_days(session: AsyncSession, course: Course, raw: str) -> int:
    """The instructor's at-risk threshold: days without activity (1 to 365)."""
    low, high = INACTIVE_DAYS_RANGE
    if not raw.strip().isdigit() or not low <= int(raw) <= high:
        raise Refusal(
            f"Give the days without activity as a whole number from {low} to {high}.",
            400,
            field="inactive_days",
        )
    days = int(raw)
    setting = await session.get(AnalyticsSetting, course.id)
    if setting is None:
        session.add(
            AnalyticsSetting(course_id=course.id, show_class_median=False, inactive_days=days)
        )
    else:
        setting.inactive_days = days
    return days


async def set_show_class_median(session: AsyncSession, course: Course, show: bool) -> None:
    setting = await session.get(AnalyticsSetting, course.id)
    if setting is None:
        session.add(AnalyticsSetting(course_id=course.id, show_class_median=show))
    else:
        setting.show_class_median = show
