"""The one way to queue a job: procrastinate's deferral, in the caller's own transaction.

A job deferred here is committed (or rolled back) with the rows it is about, so a worker
never sees a job for a submission or a notification that does not exist. ``make_app`` is the
procrastinate App on the course database that the worker runs and tests defer through.
"""

from __future__ import annotations

import json
from typing import Any

import procrastinate
from sqlalchemy import Connection, TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession

_DEFER = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW("
    ":queue, :task, 0, NULL, NULL, CAST(:args AS jsonb), NULL"
    ")::procrastinate_job_to_defer_v1]))"
)


def _deferral(task: str, queue: str, args: dict[str, Any]) -> tuple[TextClause, dict[str, str]]:
    return _DEFER, {"queue": queue, "task": task, "args": json.dumps(args)}


async def defer(session: AsyncSession, task: str, queue: str, **args: Any) -> int:
    """Queue ``task(**args)`` on ``queue`` in ``session``'s transaction; the job's id."""
    return int(await session.scalar(*_deferral(task, queue, args)))


def defer_in_flush(connection: Connection, task: str, queue: str, **args: Any) -> int:
    """``defer`` for code that runs inside SQLAlchemy's flush, on its (synchronous)
    connection."""
    return int(connection.execute(*_deferral(task, queue, args)).scalar_one())


def libpq_url(database_url: str) -> str:
    """psycopg's own URL form (no SQLAlchemy driver name)."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def make_app(database_url: str) -> procrastinate.App:
    """A procrastinate App on the course database (also usable to defer from Python)."""
    return procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=libpq_url(database_url))
    )
