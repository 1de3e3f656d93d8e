"""People's notifications ("your submission is graded"): the rows are the record; Redis only
tells open pages that a new one exists."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import redis.asyncio as redis
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.models import Notification, utcnow

LATEST = 50
CHANNEL = "coursehub:notifications:{account_id}"
log = logging.getLogger(__name__)


def add(session: AsyncSession, account_id: int, kind: str, payload: dict[str, Any]) -> Notification:
    """A notification for ``account_id`` in ``session``'s transaction (the record); after the
    commit, ``announce`` it so open pages hear of it at once."""
    notification = Notification(account_id=account_id, kind=kind, payload=payload)
    session.add(notification)
    return notification


async def announce(client: redis.Redis, notifications: Iterable[Notification]) -> None:
    """Tell open pages about committed notifications over Redis. Redis being down loses
    nothing: the rows are the record, and pages read them when they (re)connect."""
    for notification in notifications:
        message = json.dumps(
            {
                "id": notification.id,
                "kind": notification.kind,
                "payload": notification.payload,
                "created_at": notification.created_at.isoformat(),
            }
        )
        try:
            await client.publish(CHANNEL.format(account_id=notification.account_id), message)
        except (redis.RedisError, OSError) as error:
            log.warning("Could not announce notification %s on Redis: %s", notification.id, error)
            return


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
