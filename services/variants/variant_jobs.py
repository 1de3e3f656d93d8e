"""The variants domain's worker tasks: ``record_variant_answers`` runs the solution once per
recorded variant of a released assignment (``copy_checks.record_all_expected``), on the
notebook-runs queue, so that grading finds each variant's expected values ready. This module
imports neither Tornado nor the hub."""

from __future__ import annotations

import logging

import procrastinate

from coursehub.services.jobs.context import WorkerContext
from coursehub.services.notebook_runs.run_queue import NOTEBOOK_RUNS_QUEUE
from coursehub.services.variants import copy_checks

log = logging.getLogger("coursehub.worker")


def tasks(context: WorkerContext) -> procrastinate.Blueprint:
    """The variants domain's tasks, for ``coursehub worker`` to host."""
    blueprint = procrastinate.Blueprint()

    @blueprint.task(name=copy_checks.RECORD_EXPECTED_TASK, queue=NOTEBOOK_RUNS_QUEUE)
    async def record_variant_answers(assignment_id: int) -> None:
        known = await copy_checks.record_all_expected(context.sessions, assignment_id)
        log.info("Assignment %s: expected values of %d variant(s) recorded", assignment_id, known)

    return blueprint
