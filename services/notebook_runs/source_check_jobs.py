"""The notebook-runs domain's worker tasks: ``check_assignment_source`` runs a queued check
of an uploaded assignment source (``source_check_records.run_check``) on the notebook-runs
queue. This module imports neither Tornado nor the hub."""

from __future__ import annotations

import logging

import procrastinate

from coursehub.services.jobs.context import WorkerContext
from coursehub.services.notebook_runs import source_check_records
from coursehub.services.notebook_runs.run_queue import NOTEBOOK_RUNS_QUEUE

log = logging.getLogger("coursehub.worker")


def tasks(context: WorkerContext) -> procrastinate.Blueprint:
    """The notebook-runs domain's tasks, for ``coursehub worker`` to host."""
    blueprint = procrastinate.Blueprint()

    @blueprint.task(name=source_check_records.CHECK_SOURCE_TASK, queue=NOTEBOOK_RUNS_QUEUE)
    async def check_assignment_source(check_id: int) -> None:
        row = await source_check_records.run_check(context.sessions, check_id)
        if row is not None:
            log.info("Assignment source check %s: %s (ok=%s)", check_id, row.state, row.ok)

    return blueprint
