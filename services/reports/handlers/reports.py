"""Report notebooks of a course, for its staff (``coursehub.services.reports``).

Pages (forms, no script): ``GET``/``POST /courses/<slug>/reports`` lists the reports and
attaches one (the starter, or an uploaded ``.ipynb``); ``POST …/reports/<id>`` changes its
schedule, names and time limit; ``POST …/reports/<id>/runs`` runs it; ``GET …/reports/<id>``
shows its history; ``GET …/reports/<id>/runs/<run>`` a run (reloading while it runs), its
executed notebook as sanitised HTML in a sandboxed frame (``…/notebook.html``) and as a
download (``…/notebook.ipynb``). JSON API: ``GET``/``POST /api/courses/<slug>/reports``,
``POST /api/courses/<slug>/reports/<id>/runs``, ``GET …/runs/<run>``.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web

from coursehub.services.content import notebook_preview
from coursehub.services.courses.enrollment import EnrollmentError, check_visible, course_by_slug
from coursehub.services.courses.membership import Membership, membership
from coursehub.services.models import Account, Course, ReportNotebook, ReportRunState
from coursehub.services.reports import report_notebooks
from coursehub.services.reports.report_notebooks import ReportError
from coursehub.services.web.base import BaseHandler
from coursehub.services.web.teach_base import row_id

FINISHED = {
    ReportRunState.DONE.value,
    ReportRunState.FAILED.value,
    ReportRunState.TIMED_OUT.value,
    ReportRunState.ERROR.value,
}


class ReportHandler(BaseHandler):
    async def course(self, session: AsyncSession, slug: str) -> tuple[Account, Course, Membership]:
        account = await self.account(session)
        try:
            course = check_visible(account, await course_by_slug(session, slug))
        except EnrollmentError as error:
            raise ReportError(error.message, error.status) from None
        place = await membership(session, account, course)
        if not place.grades:
            raise ReportError("Reports are for the course's staff.", 403)
        return account, course, place

    async def report(
        self, session: AsyncSession, slug: str, report_id: str
    ) -> tuple[Account, Course, Membership, ReportNotebook]:
        account, course, place = await self.course(session, slug)
        report = await report_notebooks.report_in(session, course, row_id(report_id))
        return account, course, place, report

    def uploaded(self) -> bytes | None:
        files = self.request.files.get("notebook")
        if files and files[0]["body"]:
            return bytes(files[0]["body"])
        return None

    def page(self, template: str, **context: Any) -> None:
        self.set_header("Cache-Control", "no-store")
        self.render_page(template, **context)


class ReportsPage(ReportHandler):
    async def get(self, slug: str, problem: str = "") -> None:
        async with self.db() as session:
            _, course, place = await self.course(session, slug)
            reports = await report_notebooks.reports_of(session, course)
            latest = {r.id: (await report_notebooks.history(session, r, 1)) for r in reports}
        self.page(
            "reports.html",
            course=course,
            reports=reports,
            latest={key: runs[0] if runs else None for key, runs in latest.items()},
            manages=place.manages,
            problem=problem,
        )

    async def post(self, slug: str) -> None:
        async with self.db() as session:
            account, course, place = await self.course(session, slug)
            fields = {"title": self.get_body_argument("title", "")}
            try:
                report = await report_notebooks.attach(
                    session, course, account, place, self.uploaded(), fields
                )
            except ReportError as error:
                await session.rollback()
                self.set_status(error.status)
                await self.get(slug, problem=error.message)
                return
            await session.commit()
        self.redirect(f"{self.settings_obj.service_prefix}/courses/{slug}/reports/{report.id}")


class ReportPage(ReportHandler):
    async def get(self, slug: str, report_id: str, problem: str = "") -> None:
        async with self.db() as session:
            _, course, place, report = await self.report(session, slug, report_id)
            runs = await report_notebooks.history(session, report)
        self.page(
            "reports_report.html",
            course=course,
            report=report,
            runs=runs,
            manages=place.manages,
            problem=problem,
        )

    async def post(self, slug: str, report_id: str) -> None:
        """The report's settings: schedule, names (instructors only), time limit."""
        async with self.db() as session:
            _, _, place, report = await self.report(session, slug, report_id)
            fields: dict[str, Any] = {
                "schedule": self.get_body_argument("schedule", report.schedule),
                "with_names": self.get_body_argument("with_names", ""),
                "time_limit_seconds": self.get_body_argument(
                    "time_limit_seconds", str(report.time_limit_seconds)
                ),
            }
            try:
                await report_notebooks.change(session, report, place, fields)
            except ReportError as error:
                await session.rollback()
                self.set_status(error.status)
                await self.get(slug, report_id, problem=error.message)
                return
            await session.commit()
        self.redirect(self.request.path)


class RunReportPage(ReportHandler):
    async def post(self, slug: str, report_id: str) -> None:
        async with self.db() as session:
            account, _, place, report = await self.report(session, slug, report_id)
            run = await report_notebooks.request_run(session, report, place, account)
            await session.commit()
        self.redirect(
            f"{self.settings_obj.service_prefix}/courses/{slug}/reports/{report.id}/runs/{run.id}"
        )


class RunPage(ReportHandler):
    async def get(self, slug: str, report_id: str, run_id: str) -> None:
        async with self.db() as session:
            _, course, _, report = await self.report(session, slug, report_id)
            run = await report_notebooks.run_in(session, report, row_id(run_id))
        self.page(
            "reports_run.html",
            course=course,
            report=report,
            run=run,
            finished=run.state in FINISHED,
        )


class RunNotebook(ReportHandler):
    """The run's executed notebook: ``notebook.html`` (sanitised, for the sandboxed frame)
    or ``notebook.ipynb`` (a download)."""

    async def get(self, slug: str, report_id: str, run_id: str, form: str) -> None:
        async with self.db(read_only=True) as session:
            _, _, _, report = await self.report(session, slug, report_id)
            run = await report_notebooks.run_in(session, report, row_id(run_id))
        if run.notebook is None:
            raise web.HTTPError(404, "This run has no notebook yet.")
        self.set_header("Cache-Control", "private, no-store")
        if form == "ipynb":
            self.set_header("Content-Type", "application/x-ipynb+json")
            self.set_header(
                "Content-Disposition",
                f'attachment; filename="report-{report.id}-run-{run.id}.ipynb"',
            )
            self.finish(json.dumps(run.notebook))
            return
        html = await notebook_preview.render_html_off_loop(run.notebook)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Content-Security-Policy", notebook_preview.CONTENT_SECURITY_POLICY)
        self.finish(html)


class ReportsAPI(ReportHandler):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            _, course, _ = await self.course(session, slug)
            reports = await report_notebooks.reports_of(session, course)
        self.write_json({"reports": [report_notebooks.report_json(r) for r in reports]})

    async def post(self, slug: str) -> None:
        """A new report: ``{"title", "notebook" (nbformat JSON; the starter when absent),
        "schedule", "with_names", "time_limit_seconds"}``."""
        body = self.json_body()
        async with self.db() as session:
            account, course, place = await self.course(session, slug)
            notebook = body.pop("notebook", None)
            report = await report_notebooks.attach(session, course, account, place, notebook, body)
            await session.commit()
        self.write_json(report_notebooks.report_json(report), 201)


class ReportRunsAPI(ReportHandler):
    async def post(self, slug: str, report_id: str) -> None:
        async with self.db() as session:
            account, _, place, report = await self.report(session, slug, report_id)
            run = await report_notebooks.request_run(session, report, place, account)
            await session.commit()
        self.write_json(report_notebooks.run_json(run), 202)


class ReportRunAPI(ReportHandler):
    async def get(self, slug: str, report_id: str, run_id: str) -> None:
        async with self.db(read_only=True) as session:
            _, _, _, report = await self.report(session, slug, report_id)
            run = await report_notebooks.run_in(session, report, row_id(run_id))
        self.write_json(report_notebooks.run_json(run))


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    course = rf"{prefix}/courses/([^/]+)/reports"
    api = rf"{prefix}/api/courses/([^/]+)/reports"
    return [
        (course, ReportsPage),
        (rf"{course}/(\d+)", ReportPage),
        (rf"{course}/(\d+)/runs", RunReportPage),
        (rf"{course}/(\d+)/runs/(\d+)", RunPage),
        (rf"{course}/(\d+)/runs/(\d+)/notebook\.(html|ipynb)", RunNotebook),
        (api, ReportsAPI),
        (rf"{api}/(\d+)/runs", ReportRunsAPI),
        (rf"{api}/(\d+)/runs/(\d+)", ReportRunAPI),
    ]
