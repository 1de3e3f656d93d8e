"""Admin reports as tables and CSV.

- ``/admin/reports``: the list, and large exports the job queue built or is building
- ``/admin/reports/<kind>`` (``?from=&to=&course=``): the table on screen (the first rows;
  a large one offers "build the CSV in the background")
- ``/admin/reports/<kind>.csv``: the CSV at once (up to ``INLINE_ROWS`` rows); POST
  ``/admin/reports/<kind>`` queues an export and ``/admin/reports/exports/<id>.csv`` downloads it
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from coursehub.services.administration import admin_reports
from coursehub.services.administration.handlers.admin_base import AdminHandler
from coursehub.services.errors import Refusal
from coursehub.services.models import AdminReportExport, Course

SHOWN_ROWS = 200


class ReportHandler(AdminHandler):
    def params(self) -> tuple[admin_reports.Range, int | None]:
        span = admin_reports.parse_range(self.get_argument("from", ""), self.get_argument("to", ""))
        raw = self.get_argument("course", "").strip()
        return span, int(raw) if raw.isdigit() and len(raw) < 10 else None


class ReportsPage(ReportHandler):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            await self.account(session)
            exports = list(
                await session.scalars(
                    select(AdminReportExport).order_by(AdminReportExport.id.desc()).limit(20)
                )
            )
        self.render_page("admin_reports.html", reports=admin_reports.REPORTS, exports=exports)


class ReportPage(ReportHandler):
    async def get(self, kind: str) -> None:
        report = admin_reports.report_named(kind)
        span, course_id = self.params()
        async with self.db(read_only=True) as session:
            await self.account(session)
            total = await admin_reports.count(session, report, span, course_id)
            table = await admin_reports.rows(session, report, span, course_id, SHOWN_ROWS)
            courses = list(await session.scalars(select(Course).order_by(Course.title)))
        self.render_page(
            "admin_report.html",
            report=report,
            span=span,
            course_id=course_id,
            courses=courses,
            total=total,
            table=table,
            large=total > admin_reports.INLINE_ROWS,
            query=self.request.query,
        )

    async def post(self, kind: str) -> None:
        report = admin_reports.report_named(kind)
        span = admin_reports.parse_range(
            self.get_body_argument("from", ""), self.get_body_argument("to", "")
        )
        raw = self.get_body_argument("course", "").strip()
        course_id = int(raw) if raw.isdigit() and len(raw) < 10 else None
        async with self.db() as session:
            actor = await self.account(session)
            export = await admin_reports.queue_export(session, actor, report, span, course_id)
            await session.commit()
        self.redirect(
            f"{self.settings_obj.service_prefix}/admin/reports?queued={export.id}", status=303
        )


class ReportCSV(ReportHandler):
    async def get(self, kind: str) -> None:
        report = admin_reports.report_named(kind)
        span, course_id = self.params()
        async with self.db(read_only=True) as session:
            await self.account(session)
            total = await admin_reports.count(session, report, span, course_id)
            if total > admin_reports.INLINE_ROWS:
                raise Refusal(
                    f"This report has {total} rows: build it in the background from its page "
                    "and download it from Reports when it is ready.",
                    413,
                )
            table = await admin_reports.rows(session, report, span, course_id)
        self.csv_download(
            f"{kind}-{span.start}-{span.end}.csv", admin_reports.to_csv(report, table)
        )


class ExportCSV(ReportHandler):
    async def get(self, export_id: str) -> None:
        async with self.db(read_only=True) as session:
            await self.account(session)
            export: Any = await session.get(AdminReportExport, int(export_id))
        if export is None:
            raise Refusal("There is no such export.", 404)
        if export.state != "done" or export.csv is None:
            raise Refusal("This export is not ready yet; reload Reports in a moment.", 409)
        params = export.params
        self.csv_download(f"{export.kind}-{params['from']}-{params['to']}.csv", export.csv)


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/admin/reports", ReportsPage),
        (rf"{prefix}/admin/reports/exports/(\d+)\.csv", ExportCSV),
        (rf"{prefix}/admin/reports/([a-z-]+)\.csv", ReportCSV),
        (rf"{prefix}/admin/reports/([a-z-]+)", ReportPage),
    ]
