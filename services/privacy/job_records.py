"""Forgetting a deleted person in procrastinate's job table.

A job's arguments name rows by id (``export_id``, ``submission_id``…; ``personal_data``
says which name a person's rows) and, through a request's id, nothing else; but an argument
could carry an address or a name. Deleting an account, in its transaction:

- a finished job (succeeded, failed, cancelled, aborted) about one of the person's rows, or
  whose arguments carry their old address or name, is deleted: its history helps no one;
- a queued job about a row that is deleted with the account (their export, a notification's
  email, a certificate's PDF) is deleted: nothing is left for it to do;
- any other queued or running job keeps running (a grading of the course record), with the
  old address and name replaced in its arguments. A running job's row is never deleted
  (its worker still has to mark it done); it holds ids only once scrubbed.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.privacy.personal_data import JOB_ARGUMENTS, JOBS_OF_DELETED_ROWS

FINISHED = "('succeeded', 'failed', 'cancelled', 'aborted')"


async def forget_jobs(
    session: AsyncSession, account_id: int, patterns: list[tuple[str, str]]
) -> int:
    """Delete and scrub the person's jobs (before their rows are deleted: the queries read
    them). ``patterns`` are (PostgreSQL regular expression, replacement) pairs for the old
    address and name inside JSON text. The number of jobs deleted."""
    removed = 0
    for (task, argument), rows in JOB_ARGUMENTS.items():
        statuses = "status <> 'doing'" if task in JOBS_OF_DELETED_ROWS else f"status IN {FINISHED}"
        result = await session.execute(
            text(
                f"DELETE FROM procrastinate_jobs WHERE task_name = :task AND {statuses} "
                "AND jsonb_typeof(args -> :argument) = 'number' "
                f"AND (args ->> :argument)::bigint IN ({rows})"
            ),
            {"task": task, "argument": argument, "account": account_id},
        )
        removed += result.rowcount or 0  # type: ignore[attr-defined]
    for pattern, replacement in patterns:
        result = await session.execute(
            text(
                f"DELETE FROM procrastinate_jobs WHERE status IN {FINISHED} "
                "AND CAST(args AS text) ~* :pattern"
            ),
            {"pattern": pattern},
        )
        removed += result.rowcount or 0  # type: ignore[attr-defined]
        await session.execute(
            text(
                "UPDATE procrastinate_jobs SET args = CAST(regexp_replace(CAST(args AS text), "
                ":pattern, :new, 'gi') AS jsonb) WHERE CAST(args AS text) ~* :pattern"
            ),
            {"pattern": pattern, "new": replacement},
        )
    return removed
