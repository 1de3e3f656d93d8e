"""The analytics pages, their CSV exports and the course figures' JSON.

- ``/progress``: my progress in each course I am enrolled in (students).
- ``/teach/courses/<id>/analytics``: a course's analytics for its instructor, graders and
  administrators (``?from=&to=`` YYYY-MM-DD, ``?module=<id>``, ``?group=<name>``); POST
  ``action=refresh`` asks for fresh figures, ``action=median`` with ``show=1|0`` shows or
  hides the class median on students' progress pages, ``action=inactive_days`` with
  ``inactive_days=N`` sets the days without activity that put a student at risk. Days are
  the viewer's (their profile's time zone). ``.../analytics/<table>.csv``: any of its
  tables, with the same filters.
- ``/admin/analytics`` (and ``/admin/analytics/<table>.csv``): the platform's figures.
- ``/api/teach/courses/<id>/analytics``: the course's tables as JSON.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web

from coursehub.hub.constants import Role
from coursehub.services.analytics import charts, course_analytics, platform_analytics
from coursehub.services.analytics.course_analytics import CourseAnalytics
from coursehub.services.analytics.filters import Period, group_from, module_from, period_from
from coursehub.services.analytics.rollups import (
    ANALYTICS_QUEUE,
    REFRESH_TASK,
    STALE_AFTER,
    request_refresh,
)
from coursehub.services.analytics.student_progress import my_progress
from coursehub.services.analytics.tables import Table, as_csv
from coursehub.services.courses.groups import course_groups
from coursehub.services.errors import Refusal
from coursehub.services.jobs.queue import defer
from coursehub.services.lessons.user_servers import HubClient
from coursehub.services.models import Profile, utcnow
from coursehub.services.web.base import BaseHandler
from coursehub.services.web.teach_base import row_id


class AnalyticsBase(BaseHandler):
    today: date | None = None  # the viewer's today once their time zone is known

    def period(self) -> Period:
        return period_from(
            self.get_query_argument("from", None),
            self.get_query_argument("to", None),
            self.today or utcnow().date(),
        )

    def send_csv(self, table: Table, filename: str) -> None:
        self.set_header("Content-Type", "text/csv; charset=UTF-8")
        self.set_header("Content-Disposition", f'attachment; filename="{filename}.csv"')
        self.finish(as_csv(table))


class CourseAnalyticsBase(AnalyticsBase):
    min_role = None  # graders may be students by role: the course decides (membership)

    async def figures(self, session: AsyncSession, course_id: str) -> CourseAnalytics:
        account = await self.account(session)
        course = await course_analytics.course_for_analytics(session, account, row_id(course_id))
        profile = await session.get(Profile, account.id)
        zone = profile.time_zone if profile else "UTC"
        try:
            self.today = datetime.now(ZoneInfo(zone)).date()
        except (ZoneInfoNotFoundError, ValueError):
            zone = "UTC"
        period = self.period()
        module_ids = {m for m in await course_analytics.module_ids(session, course.id)}
        module = module_from(self.get_query_argument("module", None), module_ids)
        groups = await course_groups(session, course.id)
        group = group_from(self.get_query_argument("group", None), groups)
        return await course_analytics.course_analytics(
            session, course, period, module, zone, group, groups
        )

    async def ask_if_stale(self, found: CourseAnalytics) -> bool:
        """Ask the job queue for fresh figures when they are missing or old."""
        refreshed = found.refreshed_at
        fresh = refreshed is not None and utcnow() - refreshed < STALE_AFTER
        # Pending: the viewer's zone, or the videos' coverage, is not counted yet.
        if fresh and not found.days_pending and not found.videos_pending:
            return False
        async with self.db() as session:
            asked = await request_refresh(session, found.course.id)
            await session.commit()
        return asked


class CourseAnalyticsPage(CourseAnalyticsBase):
    async def get(self, course_id: str) -> None:
        async with self.db(read_only=True) as session:
            found = await self.figures(session, course_id)
        await self.ask_if_stale(found)
        period = self.period()
        self.render_page(
            "analytics_course.html",
            found=found,
            course=found.course,
            period=period,
            charts=course_charts(found),
            query=urlencode(
                {**period.as_query(), "module": found.module_id or "", "group": found.group or ""}
            ),
            done=self.get_query_argument("done", ""),
            xsrf_token=_text(self.xsrf_token),
        )

    async def post(self, course_id: str) -> None:
        async with self.db() as session:
            account = await self.account(session)
            course = await course_analytics.course_for_analytics(
                session, account, row_id(course_id)
            )
            action = self.get_body_argument("action", "")
            if action == "refresh":
                await request_refresh(session, course.id)
                done = "refresh"
            elif action == "inactive_days":
                await course_analytics.set_inactive_days(
                    session, course, self.get_body_argument("inactive_days", "")
                )
                # The at-risk list follows at once, not at the next scheduled refresh.
                await defer(session, REFRESH_TASK, ANALYTICS_QUEUE, course_id=course.id)
                done = "inactive-days"
            elif action == "median":
                show = self.get_body_argument("show", "0") == "1"
                await course_analytics.set_show_class_median(session, course, show)
                done = "median-shown" if show else "median-hidden"
            else:
                raise Refusal(
                    "Choose what to do: refresh the figures, set the days without activity "
                    "that put a student at risk, or show the median.",
                    400,
                )
            await session.commit()
        prefix = self.settings_obj.service_prefix
        self.redirect(f"{prefix}/teach/courses/{course.id}/analytics?done={done}")


class CourseAnalyticsCSV(CourseAnalyticsBase):
    async def get(self, course_id: str, name: str) -> None:
        async with self.db(read_only=True) as session:
            found = await self.figures(session, course_id)
        table = found.tables.get(name)
        if table is None:
            raise Refusal(
                f"There is no table {name!r}; the tables are {', '.join(found.tables)}.", 404
            )
        self.send_csv(table, f"{found.course.slug}-{name}")


class CourseAnalyticsAPI(CourseAnalyticsBase):
    async def get(self, course_id: str) -> None:
        async with self.db(read_only=True) as session:
            found = await self.figures(session, course_id)
        await self.ask_if_stale(found)
        self.write_json(
            {
                "course_id": found.course.id,
                "refreshed_at": found.refreshed_at,
                "time_zone": found.time_zone,
                "inactive_days": found.inactive_days,
                "group": found.group,
                "groups": found.groups,
                "summary": _summary_json(found),
                "tables": {name: table.as_json() for name, table in found.tables.items()},
            }
        )


def _text(token: bytes | str) -> str:
    return token.decode() if isinstance(token, bytes) else token


def _summary_json(found: CourseAnalytics) -> dict[str, Any] | None:
    s = found.summary
    if s is None or found.refreshed_at is None:
        return None
    return {
        "students": s.students,
        "completed": s.completed,
        "active_7_days": s.active_7_days,
        "median_progress": s.median_progress,
        "at_risk": s.at_risk,
    }


def course_charts(found: CourseAnalytics) -> dict[str, Any]:
    days = found.tables["days"]
    day_labels = [d.strftime("%d %b") for d in days.column(0)]
    funnel = found.tables["funnel"]
    grades = found.tables["grades"]
    cells = found.tables["test_cells"]
    made: dict[str, Any] = {
        "days": charts.line_chart(
            "Enrolments and active students per day",
            day_labels,
            [("enrolments", days.column(1)), ("active students", days.column(2))],
        ),
        "funnel": charts.bar_chart(
            "Students who started and completed each lesson",
            [str(x) for x in funnel.column(1)],
            [("started", funnel.column(3)), ("completed", funnel.column(4))],
        ),
        "time": charts.bar_chart(
            "Median minutes spent per lesson",
            [str(x) for x in funnel.column(1)],
            [("median minutes", funnel.column(6))],
        ),
        "test_cells": charts.bar_chart(
            "Share of graded attempts that pass each test cell (%)",
            [f"{row[0]}: {row[1]}" for row in cells.rows],
            [("pass %", cells.column(3))],
        ),
        "videos": video_charts(found),
        "grades": [
            charts.bar_chart(
                f"{row[0].title()} {row[1]}: students per score band",
                [f"{n * 10}%" for n in range(10)],
                [("students", row[5:15])],
            )
            for row in grades.rows
        ],
    }
    return made


def video_charts(found: CourseAnalytics) -> list[Any]:
    """A chart per played video, from its two rows of the videos table."""
    videos = found.tables["videos"]
    parts = [header.split("-")[0] + "%" for header in videos.headers[3:]]
    among = f" (group {found.group})" if found.group is not None else ""
    return [
        charts.bar_chart(
            f"Video {plays[1]}: plays and students re-watching each twentieth{among}",
            parts,
            [("plays", plays[3:]), ("students re-watching", again[3:])],
        )
        for plays, again in zip(videos.rows[::2], videos.rows[1::2], strict=True)
    ]


class ProgressPage(AnalyticsBase):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            courses = await my_progress(session, account, utcnow())
        progress_charts = {
            entry.course.id: charts.line_chart(
                f"Lessons of {entry.course.title} completed over time",
                [d.strftime("%d %b") for d in entry.over_time.column(0)],
                [("lessons completed in all", entry.over_time.column(2))],
            )
            for entry in courses
            if entry.over_time.rows
        }
        grade_charts = {
            entry.course.id: charts.bar_chart(
                f"Your grades in {entry.course.title}",
                [str(t) for t in entry.grades.column(0)],
                [("you", entry.grades.column(2))]
                + ([("class median", entry.grades.column(3))] if entry.show_class_median else []),
            )
            for entry in courses
            if entry.grades.rows
        }
        self.render_page(
            "analytics_progress.html",
            courses=courses,
            progress_charts=progress_charts,
            grade_charts=grade_charts,
        )


class AdminAnalyticsBase(AnalyticsBase):
    min_role = Role.ADMIN

    async def tables(self) -> dict[str, Table]:
        period = self.period()
        async with self.db(read_only=True) as session:
            await self.account(session)
            days = await platform_analytics.platform_days(session, period)
            queue = await platform_analytics.grading_queue(session, utcnow())
        hub = HubClient(self.settings_obj)
        try:
            running = await platform_analytics.running_now(self.application.settings["redis"], hub)
        finally:
            hub.close()
        return {t.name: t for t in (days, queue, running)}


class AdminAnalyticsPage(AdminAnalyticsBase):
    async def get(self) -> None:
        tables = await self.tables()
        days = tables["platform_days"]
        labels = [d.strftime("%d %b") for d in days.column(0)]
        period = self.period()
        self.render_page(
            "analytics_admin.html",
            tables=tables,
            period=period,
            query=urlencode(period.as_query()),
            charts={
                "growth": charts.line_chart(
                    "Accounts over time", labels, [("accounts", days.column(1))]
                ),
                "active": charts.line_chart(
                    "Active people (as counted each day)",
                    labels,
                    [
                        ("that day", days.column(3)),
                        ("that week", days.column(4)),
                        ("that month", days.column(5)),
                    ],
                ),
                "enrolments": charts.bar_chart(
                    "Enrolments and completions per day",
                    labels,
                    [("enrolments", days.column(6)), ("completions", days.column(7))],
                ),
            },
        )


class AdminAnalyticsCSV(AdminAnalyticsBase):
    async def get(self, name: str) -> None:
        tables = await self.tables()
        if name not in tables:
            raise Refusal(f"There is no table {name!r}; the tables are {', '.join(tables)}.", 404)
        self.send_csv(tables[name], f"coursehub-{name}")


def default_handlers(prefix: str) -> list[tuple[str, type[web.RequestHandler]]]:
    return [
        (f"{prefix}/progress", ProgressPage),
        (rf"{prefix}/teach/courses/(\d+)/analytics", CourseAnalyticsPage),
        (rf"{prefix}/teach/courses/(\d+)/analytics/(\w+)\.csv", CourseAnalyticsCSV),
        (rf"{prefix}/api/teach/courses/(\d+)/analytics", CourseAnalyticsAPI),
        (f"{prefix}/admin/analytics", AdminAnalyticsPage),
        (rf"{prefix}/admin/analytics/(\w+)\.csv", AdminAnalyticsCSV),
    ]
