"""The one way to queue a job: procrastinate's deferral, in the caller's own transaction.

A job deferred here is committed (or rolled back) with the rows it is about, so a worker
never sees a job for a submission or a notification that does not exist. ``make_app`` is the
procrastinate App on the course database that the worker runs and tests defer through.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any, overload

import procrastinate
from sqlalchemy import Connection, TextClause, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from coursehub.services import structured_logs

_DEFER = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW("
    ":queue, :task, 0, NULL, NULL, CAST(:args AS jsonb), NULL"
    ")::procrastinate_job_to_defer_v1]))"
)


def _deferral(task: str, queue: str, args: dict[str, Any]) -> tuple[TextClause, dict[str, str]]:
    args = structured_logs.with_request_id(args)  # the job's logs name the request
    return _DEFER, {"queue": queue, "task": task, "args": json.dumps(args)}


@overload
def defer(session: AsyncSession, task: str, queue: str, **args: Any) -> Awaitable[int]: ...


@overload
def defer(session: Session | Connection, task: str, queue: str, **args: Any) -> int: ...


def defer(
    session: AsyncSession | Session | Connection, task: str, queue: str, **args: Any
) -> Awaitable[int] | int:
    """Queue ``task(**args)`` on ``queue`` in ``session``'s transaction; the job's id.

    Awaited on an ``AsyncSession`` (``await defer(session, ...)``); on a synchronous
    ``Session`` or ``Connection`` (code that runs inside SQLAlchemy's commit, such as the
    notifications' email step) it returns the id at once.
    """
    statement, params = _deferral(task, queue, args)
    if isinstance(session, AsyncSession):
        return _job_id(session.scalar(statement, params))
    return int(session.execute(statement, params).scalar_one())


async def _job_id(scalar: Awaitable[Any]) -> int:
    return int(await scalar)


def libpq_url(database_url: str) -> str:
    """psycopg's own URL form (no SQLAlchemy driver name)."""
    return database_url.replace("postgresql+psycopg://", "postgresql://", 1)


def make_app(database_url: str) -> procrastinate.App:
    """A procrastinate App on the course database (also usable to defer from Python)."""
    return procrastinate.App(
        connector=procrastinate.PsycopgConnector(conninfo=libpq_url(database_url)),
        # A job queued by a request runs with that request's id (structured_logs).
        worker_defaults={"worker_middleware": [structured_logs.carry_request_id]},
    )
