"""The reports domain's worker tasks: ``run_report`` runs one queued report run in the
sandbox; ``run_scheduled_reports`` (periodic, every 10 minutes) queues the runs of daily and
weekly reports that came due. This module imports neither Tornado nor the hub."""

from __future__ import annotations

import logging

import procrastinate
from procrastinate import RetryStrategy

from coursehub.services.jobs.context import WorkerContext
from coursehub.services.notebook_runs.run_queue import NOTEBOOK_RUNS_QUEUE
from coursehub.services.notifications import notifications
from coursehub.services.reports import report_notebooks

log = logging.getLogger("coursehub.worker")
SCHEDULE_CRON = "*/10 * * * *"


async def run_report(context: WorkerContext, run_id: int) -> None:
    async with context.sessions() as session:
        run = await report_notebooks.execute(session, run_id)
        told = notifications.committed(session)  # staff told of a run that did not finish
    await notifications.announce(context.redis, told)
    if run is not None:
        log.info("Report run %s: %s", run_id, run.state)


async def queue_due_reports(context: WorkerContext) -> list[int]:
    async with context.sessions() as session:
        queued = await report_notebooks.due_reports(session)
        await session.commit()
    if queued:
        log.info("Queued %d scheduled report run(s)", len(queued))
    return queued


def tasks(context: WorkerContext) -> procrastinate.Blueprint:
    """The reports domain's tasks, for ``coursehub worker`` to host."""
    blueprint = procrastinate.Blueprint()

    @blueprint.task(name=report_notebooks.RUN_REPORT_TASK, queue=NOTEBOOK_RUNS_QUEUE)
    async def run_report_task(run_id: int) -> None:
        await run_report(context, run_id)

    @blueprint.periodic(cron=SCHEDULE_CRON)
    @blueprint.task(
        name=report_notebooks.SCHEDULED_TASK,
        queue=NOTEBOOK_RUNS_QUEUE,
        retry=RetryStrategy(max_attempts=2),
    )
    async def run_scheduled_reports(timestamp: int) -> None:
        await queue_due_reports(context)

    return blueprint
