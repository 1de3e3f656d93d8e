"""Notifications by email: which ones go (decided in the transaction that makes them, from
their owner's choice), the messages, and sending them from the worker, never in a request.

- ``queue_emails`` runs as the transaction that made notifications (``notifications.add``)
  commits, in it: it writes each one's ``email_deliveries`` row (EMAIL or DIGEST, none when
  the choice is OFF or the person has no email address) and, for EMAIL, defers
  ``send_notification_email`` on procrastinate (``jobs.queue.defer``).
- ``send_notification_email`` sends one through ``services/mail.py`` (SMTP, or the outbox
  folder without an SMTP server). The delivery row is locked while sending and marked sent
  after, so a job that runs twice sends once; an SMTP failure is recorded and raised, and
  procrastinate runs the job again later.
- ``send_digest`` sends one person's daily digest: everything kept for the digest since the
  last one, at most one digest per person and day (a unique key).

Each message has a fixed Message-ID (the notification's or the digest's), so in the rare
case of a worker dying between sending and recording, mail programs show the copy once.
This module imports neither Tornado nor the hub.
"""

from __future__ import annotations

import asyncio
import logging
import os
import smtplib
from collections.abc import Iterable, Mapping
from datetime import date
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

from sqlalchemy import Connection, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from coursehub.hub.constants import SERVICE_PREFIX
from coursehub.services import mail
from coursehub.services.jobs.queue import defer
from coursehub.services.models import (
    Account,
    EmailChoice,
    EmailDelivery,
    Notification,
    NotificationDigest,
    utcnow,
)
from coursehub.services.notifications.kinds import default_for, display
from coursehub.services.settings import Settings, smtp_from_env

log = logging.getLogger("coursehub.notifications")

NOTIFICATION_QUEUE = "notifications"
EMAIL_TASK = "send_notification_email"
SETTINGS_PAGE = f"{SERVICE_PREFIX}/notifications/settings"

# One row per notification whose owner gets email for its kind (their choice, else the
# kind's default), none when that is OFF or the person has no email address.
_QUEUE_DELIVERIES = text(
    """
    INSERT INTO email_deliveries (notification_id, account_id, channel)
    SELECT notifications.id, accounts.id, chosen.email
    FROM unnest(CAST(:ids AS integer[]), CAST(:defaults AS email_choice[])) AS made(id, fallback)
    JOIN notifications ON notifications.id = made.id
    JOIN accounts ON accounts.id = notifications.account_id
    CROSS JOIN LATERAL (
        SELECT COALESCE(
            (SELECT email FROM notification_preferences
             WHERE account_id = accounts.id AND kind = notifications.kind),
            made.fallback) AS email
    ) AS chosen
    WHERE accounts.email IS NOT NULL AND chosen.email <> 'OFF'
    ON CONFLICT (notification_id) DO NOTHING
    RETURNING notification_id, channel
    """
)


class EmailNotSent(Exception):
    """The SMTP server refused or could not be reached; the job runs again later."""


def queue_emails(connection: Connection | Session, made: Iterable[Notification]) -> list[int]:
    """The email side of notifications just written in ``connection``'s transaction (they
    have their ids): an ``email_deliveries`` row each for those that email (EMAIL or DIGEST),
    and a ``send_notification_email`` job (``defer``) for each EMAIL one. The ids queued to
    send at once. Synchronous: it runs as the transaction commits
    (``notifications.add``)."""
    rows = [notification for notification in made if notification.id is not None]
    if not rows:
        return []
    chosen = connection.execute(
        _QUEUE_DELIVERIES,
        {
            "ids": [notification.id for notification in rows],
            "defaults": [default_for(notification.kind).value for notification in rows],
        },
    )
    at_once = sorted(id_ for id_, channel in chosen if channel == EmailChoice.EMAIL.value)
    for notification_id in at_once:
        defer(connection, EMAIL_TASK, NOTIFICATION_QUEUE, notification_id=notification_id)
    return at_once


def mail_settings(env: Mapping[str, str] | None = None) -> Settings:
    """What sending needs (SMTP, sender, public URL), read from the environment of a worker,
    which has no cookie secret and needs none."""
    env = dict(os.environ if env is None else env)
    return Settings(
        database_url=env.get("DATABASE_URL", ""),
        redis_url=env.get("REDIS_URL", ""),
        data_dir=Path(env.get("COURSEHUB_DATA_DIR", ".coursehub")).resolve(),
        public_url=env.get("COURSEHUB_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
        mail_from=env.get("COURSEHUB_MAIL_FROM", "CourseHub <no-reply@coursehub.example>"),
        smtp=smtp_from_env(env),
    )


def _message_id(settings: Settings, what: str) -> str:
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "coursehub.invalid"
    return f"<coursehub-{what}@{domain}>"


def _footer(settings: Settings) -> str:
    return (
        "\n\n--\nYou get this email because of your CourseHub notification settings. "
        f"Choose which notifications email you: {settings.public_url}{SETTINGS_PAGE}\n"
    )


def compose_one(settings: Settings, to: str, notification: Notification) -> EmailMessage:
    title, url = display(notification)
    body = f"{title}\n\nOpen it on CourseHub: {settings.public_url}{url}" + _footer(settings)
    message = mail.compose(settings, to, title, body)
    message["Message-ID"] = _message_id(settings, f"notification-{notification.id}")
    return message


def compose_digest(
    settings: Settings, to: str, digest_id: int, rows: list[Notification]
) -> EmailMessage:
    count = f"{len(rows)} notification{'s' if len(rows) != 1 else ''}"
    lines = [f"Here is what happened on CourseHub since your last digest ({count}):", ""]
    for row in rows:
        title, url = display(row)
        lines += [f"- {title}", f"  {settings.public_url}{url}"]
    message = mail.compose(
        settings, to, f"Your CourseHub digest: {count}", "\n".join(lines) + _footer(settings)
    )
    message["Message-ID"] = _message_id(settings, f"digest-{digest_id}")
    return message


async def _deliver(settings: Settings, message: EmailMessage) -> None:
    try:
        await asyncio.to_thread(mail.deliver, settings, message)
    except (OSError, smtplib.SMTPException) as error:
        raise EmailNotSent(f"{type(error).__name__}: {error}"[:500]) from error


async def send_notification_email(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, notification_id: int
) -> bool:
    """Send the email of one notification unless it went already; True when sent now."""
    async with sessions() as session:
        row = (
            await session.execute(
                select(EmailDelivery, Notification, Account)
                .join(Notification, Notification.id == EmailDelivery.notification_id)
                .join(Account, Account.id == EmailDelivery.account_id)
                .where(EmailDelivery.notification_id == notification_id)
                .with_for_update(of=EmailDelivery)
            )
        ).first()
        if row is None or row[0].sent_at is not None or not row[2].email:
            return False
        delivery, notification, account = row
        delivery.attempts += 1
        try:
            await _deliver(settings, compose_one(settings, account.email, notification))
        except EmailNotSent as error:
            delivery.last_error = str(error)
            await session.commit()
            raise
        delivery.sent_at, delivery.last_error = utcnow(), ""
        await session.commit()
    return True


async def digest_accounts(session: AsyncSession) -> list[int]:
    """People with notifications waiting for their digest."""
    rows = await session.scalars(
        select(EmailDelivery.account_id)
        .where(EmailDelivery.channel == EmailChoice.DIGEST, EmailDelivery.sent_at.is_(None))
        .distinct()
    )
    return sorted(rows)


async def send_digest(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, account_id: int, day: date
) -> bool:
    """``account_id``'s digest of ``day`` with everything waiting for it; True when sent now.
    A second run the same day sends nothing: the day's digest row is the key."""
    async with sessions() as session:
        account = await session.get(Account, account_id)
        digest_id = await session.scalar(
            insert(NotificationDigest)
            .values(account_id=account_id, day=day)
            .on_conflict_do_nothing(index_elements=["account_id", "day"])
            .returning(NotificationDigest.id)
        )
        if digest_id is None or account is None or not account.email:
            return False  # the day's digest went already (or there is nobody to send it to)
        waiting = await session.execute(
            select(EmailDelivery, Notification)
            .join(Notification, Notification.id == EmailDelivery.notification_id)
            .where(
                EmailDelivery.account_id == account_id,
                EmailDelivery.channel == EmailChoice.DIGEST,
                EmailDelivery.sent_at.is_(None),
            )
            .order_by(Notification.id)
            .with_for_update(of=EmailDelivery, skip_locked=True)
        )
        rows = [(delivery, notification) for delivery, notification in waiting]
        if not rows:
            await session.rollback()
            return False
        await _deliver(
            settings, compose_digest(settings, account.email, digest_id, [n for _, n in rows])
        )
        now = utcnow()
        await session.execute(
            update(EmailDelivery)
            .where(EmailDelivery.notification_id.in_([d.notification_id for d, _ in rows]))
            .values(digest_id=digest_id, sent_at=now, attempts=EmailDelivery.attempts + 1)
        )
        await session.execute(
            update(NotificationDigest).where(NotificationDigest.id == digest_id).values(sent_at=now)
        )
        await session.commit()
    return True
