"""People's notifications ("your submission is graded"): the rows are the record; Redis only
tells open pages that a new one exists."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.models import Notification, utcnow

LATEST = 50


async def latest(session: AsyncSession, account_id: int) -> tuple[list[Notification], int]:
    """The newest notifications of ``account_id`` and how many are unread."""
    rows = await session.scalars(
        select(Notification)
        .where(Notification.account_id == account_id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(LATEST)
    )
    unread = await session.scalar(
        select(func.count(Notification.id)).where(
            Notification.account_id == account_id, Notification.read_at.is_(None)
        )
    )
    return list(rows), unread or 0


async def mark_read(session: AsyncSession, account_id: int, ids: list[int] | None) -> int:
    """Mark some (or, with ``ids`` None, all) of one's own notifications read."""
    query = update(Notification).where(
        Notification.account_id == account_id, Notification.read_at.is_(None)
    )
    if ids is not None:
        query = query.where(Notification.id.in_(ids))
    result = await session.execute(query.values(read_at=utcnow()))
    return result.rowcount or 0  # type: ignore[attr-defined]


async def newer_than(session: AsyncSession, account_id: int, after: int) -> list[Notification]:
    """``account_id``'s notifications after the one numbered ``after``, oldest first (what a
    page that saw up to ``after`` has missed)."""
    rows = await session.scalars(
        select(Notification)
        .where(Notification.account_id == account_id, Notification.id > after)
        .order_by(Notification.id)
        .limit(LATEST)
    )
    return list(rows)


def notification_json(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.id,
        "kind": notification.kind,
        "payload": notification.payload,
        "created_at": notification.created_at,
        "read_at": notification.read_at,
    }
