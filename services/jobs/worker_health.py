"""Whether background jobs are being run: for ``/health``.

Jobs waiting is normal; jobs waiting while no worker has heart-beaten within
``HEARTBEAT_BOUND`` seconds means nobody will run them (every worker stopped, frozen or cut
off from the database), and ``/health`` says so instead of "ok".
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Workers heart-beat every 10 s by default (``coursehub worker --heartbeat``).
HEARTBEAT_BOUND = 60

_REPORT = text(
    """
    SELECT
      (SELECT count(*) FROM procrastinate_jobs
        WHERE status = 'todo' AND (scheduled_at IS NULL OR scheduled_at <= NOW())) AS waiting,
      (SELECT EXTRACT(EPOCH FROM NOW() - max(last_heartbeat))
         FROM procrastinate_workers) AS silent_for
    """
)


async def workers_status(session: AsyncSession, bound: float = HEARTBEAT_BOUND) -> str:
    """ "ok", or "error: …" naming the waiting jobs and the workers' silence."""
    waiting, silent_for = (await session.execute(_REPORT)).one()
    if not waiting or (silent_for is not None and float(silent_for) <= bound):
        return "ok"
    silence = (
        "no worker is registered"
        if silent_for is None
        else f"no worker has heart-beaten for {int(silent_for)} s"
    )
    return f"error: {waiting} job(s) wait and {silence}"
