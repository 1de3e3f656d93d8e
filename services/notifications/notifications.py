"""People's notifications ("your submission is graded"): the rows are the record; Redis only
tells open pages that a new one exists.

Making one is ``add`` in the caller's transaction. Two things follow:

- Email: as the transaction that made it commits (``_queue_emails``, the session's
  ``before_commit`` step, on the rows ``add`` remembered), its owner's choice for its kind
  (``kinds``, ``notification_preferences``) decides, in that transaction, whether an email
  goes at once (an ``email_deliveries`` row and a ``send_notification_email`` job, deferred
  with ``jobs.queue.defer``), waits for the daily digest (a row only), or does not go
  (``notification_email.queue_emails``). A rolled-back transaction queues nothing; each
  notification is queued once, by the commit that made it real.
- Live news: the session remembers the rows made with ``add`` and the notifications marked
  read (``mark_read``, ``mark_read_about``: a ``ReadMark``) in ``session.info``, and which of
  them its commits made real; whoever owns the session takes those (``committed``) and
  ``announce``-s them (the service's request sessions do it when their block ends,
  ``BaseHandler.db``). Read marks let a person's other open pages and JupyterLab take them
  off their bell. An ``announce`` twice is harmless: pages drop an event they already have.
  What is announced only says "look": the streams read it from the database before sending
  it (``notification_fanout``), so anyone who can publish on Redis sends nobody anything.

Every payload carries a human ``title`` and a ``url`` (a page under the service prefix):
the producer's, else what the kind's declaration (``kinds``) makes of the payload;
``kinds.display`` supplies both for older rows made without them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis.asyncio as redis
from sqlalchemy import event, func, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from coursehub.services.models import Notification, utcnow
from coursehub.services.notifications import notification_email
from coursehub.services.notifications.kinds import display, with_title_and_link

LATEST = 50
RECONCILE_LIMIT = 200
CHANNEL = "coursehub:notifications:{account_id}"
log = logging.getLogger(__name__)
PENDING = "coursehub_notifications_to_announce"  # made with add, not committed yet
COMMITTED = "coursehub_notifications_committed"  # committed, not announced yet


@dataclass(frozen=True)
class ReadMark:
    """Some of a person's notifications marked read (``ids`` None: all of them, up to the
    newest marked, ``upto``)."""

    account_id: int
    ids: tuple[int, ...] | None
    upto: int = 0

    def message(self) -> str:
        if self.ids is None:
            return json.dumps({"read": "all", "upto": self.upto})
        return json.dumps({"read": list(self.ids)})


Announced = Notification | ReadMark


def _remember(session: AsyncSession, item: Announced) -> None:
    session.info.setdefault(PENDING, []).append(item)


def add(session: AsyncSession, account_id: int, kind: str, payload: dict[str, Any]) -> Notification:
    """A notification for ``account_id`` in ``session``'s transaction (the record), with the
    title and page its kind declares where ``payload`` has none. The session remembers it:
    as the transaction commits, its email is queued in it (``_queue_emails``:
    ``notification_email.queue_emails``); after the commit, ``committed`` hands it out to
    ``announce`` so open pages hear of it at once."""
    payload = with_title_and_link(kind, payload)
    notification = Notification(account_id=account_id, kind=kind, payload=payload)
    session.add(notification)
    _remember(session, notification)
    return notification


def committed(session: AsyncSession | Session) -> list[Announced]:
    """The rows made with ``add`` and the read marks in ``session`` that a commit has made
    real since this was last asked (each is handed out once)."""
    return session.info.pop(COMMITTED, [])


# What a session's commit does with the notifications ``add`` remembered (in its own
# ``info``): first, still inside the transaction, their emails are queued; once it is
# committed they wait for ``committed``; a rollback forgets them, and the transaction takes
# their emails with it. Announcing is left to the session's owner.
@event.listens_for(Session, "before_commit")
def _queue_emails(session: Session) -> None:
    made = [item for item in session.info.get(PENDING, ()) if isinstance(item, Notification)]
    if made:
        session.flush()  # the rows get their ids; rows of a rolled-back savepoint are gone
        kept = [notification for notification in made if inspect(notification).persistent]
        notification_email.queue_emails(session.connection(), kept)


@event.listens_for(Session, "after_commit")
def _remember_committed(session: Session) -> None:
    pending = session.info.pop(PENDING, None)
    if pending:
        session.info.setdefault(COMMITTED, []).extend(pending)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(PENDING, None)
        return
    # A savepoint rolled back: only the rows written inside it are gone (SQLAlchemy makes
    # them transient again); the transaction around it goes on with the others.
    pending = session.info.get(PENDING)
    if pending:
        pending[:] = [
            item for item in pending if isinstance(item, ReadMark) or not inspect(item).transient
        ]


async def announce(client: redis.Redis, items: Iterable[Announced]) -> None:
    """Tell open pages about committed notifications (and read marks) over Redis, all in one
    round trip (an announcement to a course of hundreds). Redis being down loses nothing:
    the rows are the record, and pages read them when they (re)connect."""
    pipeline = client.pipeline(transaction=False)
    for item in items:
        message = item.message() if isinstance(item, ReadMark) else _message(item)
        pipeline.publish(CHANNEL.format(account_id=item.account_id), message)
    try:
        await pipeline.execute()
    except (redis.RedisError, OSError) as error:
        log.warning("Could not announce %d notification(s) on Redis: %s", len(pipeline), error)


def _message(notification: Notification) -> str:
    title, url = display(notification)
    return json.dumps(
        {
            "id": notification.id,
            "title": title,
            "url": url,
            "kind": notification.kind,
            "payload": notification.payload,
            "created_at": notification.created_at.isoformat(),
        }
    )


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
    marked = list(await session.scalars(query.values(read_at=utcnow()).returning(Notification.id)))
    if marked:
        if ids is None:
            _remember(session, ReadMark(account_id, None, max(marked)))
        else:
            _remember(session, ReadMark(account_id, tuple(sorted(marked))))
    return len(marked)


async def to_reconcile(
    session: AsyncSession, account_id: int, after: int, since: datetime | None
) -> list[Notification]:
    """What an open stream that has sent up to ``after`` reads to catch up, oldest first:
    the person's notifications after it, and with ``since`` also those made since then
    whatever their number. Ids are taken when a row is written, not when it commits, so a
    transaction that made #10 may commit after the one that made #11: reading only "after
    the last one sent" would skip #10 for good."""
    newer = Notification.id > after
    if since is not None:
        newer = or_(newer, Notification.created_at >= since)
    rows = await session.scalars(
        select(Notification)
        .where(Notification.account_id == account_id, newer)
        .order_by(Notification.id)
        .limit(RECONCILE_LIMIT)
    )
    return list(rows)


async def committed_rows(session: AsyncSession, ids: Iterable[int]) -> list[Notification]:
    """The notifications numbered ``ids`` that exist (are committed), by id: what Redis
    announced, as the record has it (a forged announcement finds nothing)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    rows = await session.scalars(
        select(Notification).where(Notification.id.in_(wanted)).order_by(Notification.id)
    )
    return list(rows)


async def read_ones(session: AsyncSession, account_id: int, ids: Iterable[int]) -> list[int]:
    """Which of ``ids`` are ``account_id``'s notifications and marked read."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    rows = await session.scalars(
        select(Notification.id)
        .where(
            Notification.account_id == account_id,
            Notification.id.in_(wanted),
            Notification.read_at.is_not(None),
        )
        .order_by(Notification.id)
    )
    return list(rows)


async def all_read_upto(session: AsyncSession, account_id: int, upto: int) -> bool:
    """Whether ``account_id`` has read every notification of theirs up to ``upto``."""
    unread = await session.scalar(
        select(Notification.id)
        .where(
            Notification.account_id == account_id,
            Notification.id <= upto,
            Notification.read_at.is_(None),
        )
        .limit(1)
    )
    return unread is None


def notification_json(notification: Notification) -> dict[str, Any]:
    title, url = display(notification)
    return {
        "id": notification.id,
        "title": title,
        "url": url,
        "kind": notification.kind,
        "payload": notification.payload,
        "created_at": notification.created_at,
        "read_at": notification.read_at,
    }


async def mark_read_about(
    session: AsyncSession, account_id: int, kinds: Iterable[str], key: str, values: Iterable[int]
) -> list[int]:
    """Mark read ``account_id``'s unread notifications of ``kinds`` whose payload's ``key``
    is one of ``values`` (those about a conversation or posts just shown to them); the ids
    marked, so the pages showing them can drop them from the bell."""
    # Compared as text: a cast would fail on any other kind's payload holding a word there.
    wanted = [str(value) for value in values]
    if not wanted:
        return []
    rows = await session.scalars(
        update(Notification)
        .where(
            Notification.account_id == account_id,
            Notification.kind.in_(list(kinds)),
            Notification.read_at.is_(None),
            Notification.payload[key].as_string().in_(wanted),
        )
        .values(read_at=utcnow())
        .returning(Notification.id)
    )
    marked = sorted(rows)
    if marked:
        _remember(session, ReadMark(account_id, tuple(marked)))
    return marked
