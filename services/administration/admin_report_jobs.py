"""The administration domain's worker task: building a large admin report's CSV
(``coursehub worker`` hosts it). Imports neither Tornado nor the hub."""

from __future__ import annotations

import logging

import procrastinate
from procrastinate import RetryStrategy

from coursehub.services.administration import admin_reports
from coursehub.services.analytics.rollups import ANALYTICS_QUEUE
from coursehub.services.jobs.context import WorkerContext
from coursehub.services.models import AdminReportExport, utcnow

log = logging.getLogger(__name__)


async def build(context: WorkerContext, export_id: int) -> None:
    try:
        async with context.sessions() as session:
            await admin_reports.build_export(session, export_id)
            await session.commit()
    except Exception as error:  # the admin sees why on the page, instead of "queued" forever
        log.exception("Admin report export %d failed", export_id)
        async with context.sessions() as session:
            export = await session.get(AdminReportExport, export_id)
            if export is not None:
                export.state, export.error = "failed", str(error)[:1000]
                export.finished_at = utcnow()
                await session.commit()


def tasks(context: WorkerContext) -> procrastinate.Blueprint:
    blueprint = procrastinate.Blueprint()

    @blueprint.task(
        name=admin_reports.EXPORT_TASK, queue=ANALYTICS_QUEUE, retry=RetryStrategy(max_attempts=2)
    )
    async def admin_report_export(export_id: int) -> None:
        await build(context, export_id)

    return blueprint
