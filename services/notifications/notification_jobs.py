"""The notification domain's worker tasks (``coursehub worker`` hosts them next to grading):

- ``send_notification_email(notification_id)``: one notification's email, deferred in the
  notification's own transaction; retried with growing waits while SMTP fails.
- ``send_daily_digests`` (periodic, 07:00 UTC): each person's digest of what waited for it.
- ``scan_assignment_dates`` (periodic, every 10 minutes): scheduled releases that came due
  and assignments due within 24 hours for students who have not submitted (once each).

Periodic tasks are deferred by every worker's procrastinate, once per scheduled time (its
own unique key), so running several workers sends nothing twice. Mail settings come from
the worker's environment (``COURSEHUB_SMTP_*``, ``COURSEHUB_MAIL_FROM``,
``COURSEHUB_PUBLIC_URL``). This module imports neither Tornado nor the hub.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import procrastinate
from procrastinate import RetryStrategy

from coursehub.services.jobs.context import WorkerContext
from coursehub.services.notifications import notification_email, notification_events, notifications
from coursehub.services.notifications.notification_email import (
    EMAIL_TASK,
    NOTIFICATION_QUEUE,
    EmailNotSent,
    mail_settings,
)
from coursehub.services.settings import Settings

log = logging.getLogger("coursehub.worker")

DIGEST_TASK = "send_daily_digests"
SCAN_TASK = "scan_assignment_dates"
DIGEST_CRON = "0 7 * * *"
SCAN_CRON = "*/10 * * * *"
# Waits of 5, 11, 29, 83, 245, 731 and 2189 s: SMTP outages of about an hour are bridged.
EMAIL_RETRY = RetryStrategy(max_attempts=7, wait=2, exponential_wait=3)


class DigestsNotSent(Exception):
    """Some digests could not be sent; the job runs again and sends only those."""


async def send_daily_digests(context: WorkerContext, settings: Settings, timestamp: int) -> int:
    day = datetime.fromtimestamp(timestamp, UTC).date()
    async with context.sessions() as session:
        people = await notification_email.digest_accounts(session)
    sent, failed = 0, []
    for account_id in people:
        try:
            sent += await notification_email.send_digest(
                context.sessions, settings, account_id, day
            )
        except EmailNotSent as error:
            log.warning("The digest of account %s was not sent: %s", account_id, error)
            failed.append(account_id)
    log.info("Sent %d notification digest(s) for %s", sent, day)
    if failed:
        raise DigestsNotSent(f"{len(failed)} digest(s) could not be sent")
    return sent


async def scan_assignment_dates(context: WorkerContext) -> int:
    async with context.sessions() as session:
        made = await notification_events.scan(session)
        await session.commit()
    await notifications.announce(context.redis, made)
    if made:
        log.info("Made %d release and due-date notification(s)", len(made))
    return len(made)


def tasks(
    context: WorkerContext, settings: Settings | None = None, *, periodic: bool = True
) -> procrastinate.Blueprint:
    """The notification domain's tasks, for ``coursehub worker`` to host; ``periodic=False``
    leaves out the scheduled ones (a worker that should only send what is deferred)."""
    settings = settings or mail_settings()
    blueprint = procrastinate.Blueprint()

    @blueprint.task(name=EMAIL_TASK, queue=NOTIFICATION_QUEUE, retry=EMAIL_RETRY)
    async def send_notification_email(notification_id: int) -> None:
        await notification_email.send_notification_email(
            context.sessions, settings, notification_id
        )

    if not periodic:
        return blueprint

    @blueprint.periodic(cron=DIGEST_CRON)
    @blueprint.task(name=DIGEST_TASK, queue=NOTIFICATION_QUEUE, retry=EMAIL_RETRY)
    async def daily_digests(timestamp: int) -> None:
        await send_daily_digests(context, settings, timestamp)

    @blueprint.periodic(cron=SCAN_CRON)
    @blueprint.task(name=SCAN_TASK, queue=NOTIFICATION_QUEUE, retry=RetryStrategy(max_attempts=2))
    async def assignment_dates(timestamp: int) -> None:
        await scan_assignment_dates(context)

    return blueprint
