"""Runs of a job: the ones that failed (procrastinate's ``attempts``, the retry budget) and the
ones that were cut off (a worker killed, frozen or disconnected, its lease expired).

A cut-off run is not a failed run: ``requeue_interrupted`` puts the job back in its queue
without spending a retry, and ``interrupted_runs`` counts such runs from procrastinate's own
event log (every run starts with a ``started`` event), so a job that keeps taking its worker
down still stops somewhere (``MAX_INTERRUPTIONS``).
"""

from __future__ import annotations

import procrastinate
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Cut-off runs of one job before it is given up as one that keeps killing its worker.
MAX_INTERRUPTIONS = 10

# What procrastinate_retry_job_v2 does for a running job, without ``attempts + 1``.
_REQUEUE = """
UPDATE procrastinate_jobs
   SET status = 'todo'::procrastinate_job_status, scheduled_at = NOW(), worker_id = NULL
 WHERE id = %(job_id)s AND status = 'doing'::procrastinate_job_status AND NOT abort_requested
"""

_STARTED = text(
    "SELECT count(*) FROM procrastinate_events WHERE job_id = :job_id AND type = 'started'"
)


async def requeue_interrupted(app: procrastinate.App, job_id: int) -> None:
    """Back in its queue at once, its retry budget untouched (nothing if it is no longer
    running)."""
    await app.connector.execute_query_async(_REQUEUE, job_id=job_id)


async def interrupted_runs(session: AsyncSession, job_id: int, attempts: int) -> int:
    """Runs of the job before the current one that neither finished nor failed: started
    runs, less this one, less the ``attempts`` that failed."""
    started = int(await session.scalar(_STARTED, {"job_id": job_id}) or 0)
    return max(0, started - 1 - attempts)
