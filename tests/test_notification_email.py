"""Notifications by email, against a real SMTP server (aiosmtpd) started by the test: a
person's choice decides in the notification's own transaction whether an email job is
queued; procrastinate's worker sends it, runs it again while SMTP fails, and sends it once
even when the job runs twice; the daily digest gathers everything since the last one, once
a day. Runs on a database of its own, so no platform worker takes these jobs."""

from __future__ import annotations

import asyncio
import email
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message

import pytest
import redis.asyncio as aioredis
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from coursehub.hub.constants import Role
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.jobs.context import WorkerContext
from coursehub.services.jobs.queue import make_app
from coursehub.services.migrate import upgrade
from coursehub.services.models import (
    Account,
    EmailChoice,
    EmailDelivery,
    NotificationDigest,
    NotificationPreference,
)
from coursehub.services.notifications import notification_jobs, notifications
from coursehub.services.notifications.notification_email import (
    EMAIL_TASK,
    NOTIFICATION_QUEUE,
    mail_settings,
)
from coursehub.services.settings import Settings, sqlalchemy_url
from coursehub.services.worker import host, retry_stalled_jobs
from tests.platform import create_database, drop_database, free_port

PUBLIC_URL = "https://courses.example.edu"


class Inbox:
    """What the SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture(scope="module")
def mail_db() -> Iterator[str]:
    url = create_database("coursehub_mail")
    upgrade(sqlalchemy_url(url))
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def sync_db(mail_db: str) -> Iterator[Callable[[], Session]]:
    engine = create_engine(sqlalchemy_url(mail_db))
    yield lambda: Session(engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[Inbox]:
    """A real SMTP server on loopback for the test."""
    received = Inbox()
    server = Controller(received, hostname="127.0.0.1", port=smtp_port)
    server.start()
    yield received
    server.stop()


@pytest.fixture
def settings(smtp_port: int, tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return mail_settings(
        {
            "COURSEHUB_SMTP_HOST": "127.0.0.1",
            "COURSEHUB_SMTP_PORT": str(smtp_port),
            "COURSEHUB_SMTP_STARTTLS": "0",
            "COURSEHUB_PUBLIC_URL": PUBLIC_URL,
            "COURSEHUB_MAIL_FROM": "CourseHub <courses@courses.example.edu>",
            "COURSEHUB_DATA_DIR": str(tmp_path),
        }
    )


@pytest.fixture
async def worker(mail_db: str, redis_url: str) -> AsyncIterator[WorkerContext]:
    engine = make_engine(sqlalchemy_url(mail_db), pool_size=2)
    client = aioredis.from_url(redis_url)
    yield WorkerContext(make_sessionmaker(engine), client)
    await client.aclose()
    await engine.dispose()


def person(sync_db: Callable[[], Session], *, with_email: bool = True, **choices: str) -> Account:
    name = f"mail-{secrets.token_hex(4)}"
    account = Account(
        username=name,
        email=f"{name}@students.example.edu" if with_email else None,
        name=name.title(),
        role=Role.STUDENT,
    )
    with sync_db() as session:
        session.add(account)
        session.flush()
        for kind, choice in choices.items():
            session.add(
                NotificationPreference(account_id=account.id, kind=kind, email=EmailChoice(choice))
            )
        session.commit()
    return account


async def notify(worker: WorkerContext, account: Account, kind: str, title: str) -> int:
    """What any part of CourseHub does: ``add`` in its transaction, then commit."""
    async with worker.sessions() as session:
        row = notifications.add(
            session,
            account.id,
            kind,
            {"title": title, "url": "/services/coursehub/courses/biology-101"},
        )
        await session.commit()
        return row.id


def jobs_of(sync_db: Callable[[], Session], notification_id: int) -> list[tuple[str, str, str]]:
    with sync_db() as session:
        rows = session.execute(
            text(
                "SELECT task_name, queue_name, status FROM procrastinate_jobs "
                "WHERE args->>'notification_id' = :id ORDER BY id"
            ),
            {"id": str(notification_id)},
        )
        return [tuple(row) for row in rows]


def delivery(sync_db: Callable[[], Session], notification_id: int) -> EmailDelivery | None:
    with sync_db() as session:
        return session.get(EmailDelivery, notification_id)


async def run_jobs(mail_db: str, worker: WorkerContext, settings: Settings) -> None:
    """A procrastinate worker on the notification queue until no job is waiting."""
    app = make_app(sqlalchemy_url(mail_db))
    host(app, notification_jobs.tasks(worker, settings, periodic=False))
    async with app.open_async():
        await app.run_worker_async(
            queues=[NOTIFICATION_QUEUE], wait=False, install_signal_handlers=False
        )


async def test_an_email_choice_queues_a_job_with_the_notification_and_the_worker_sends_it_once(
    mail_db, sync_db, worker, settings, inbox
):
    student = person(sync_db)  # announcements email at once by default
    notification_id = await notify(worker, student, "announcement", "Lab 3 moves to Friday.")

    # Queued in the notification's transaction, sent by nobody yet.
    assert jobs_of(sync_db, notification_id) == [(EMAIL_TASK, NOTIFICATION_QUEUE, "todo")]
    assert delivery(sync_db, notification_id).channel is EmailChoice.EMAIL
    assert inbox.messages == []

    await run_jobs(mail_db, worker, settings)
    [message] = inbox.to(student.email)
    assert message["Subject"] == "Lab 3 moves to Friday."
    assert message["From"] == "CourseHub <courses@courses.example.edu>"
    body = message.get_payload(decode=True).decode()
    assert f"{PUBLIC_URL}/services/coursehub/courses/biology-101" in body
    assert f"{PUBLIC_URL}/services/coursehub/notifications/settings" in body
    sent = delivery(sync_db, notification_id)
    assert sent.sent_at is not None and sent.attempts == 1

    # The same job once more (a worker that died after sending, say): no second email.
    app = make_app(sqlalchemy_url(mail_db))
    host(app, notification_jobs.tasks(worker, settings, periodic=False))
    async with app.open_async():
        await app.configure_task(EMAIL_TASK).defer_async(notification_id=notification_id)
    await run_jobs(mail_db, worker, settings)
    assert len(inbox.to(student.email)) == 1
    assert [status for *_, status in jobs_of(sync_db, notification_id)] == [
        "succeeded",
        "succeeded",
    ]


async def test_an_email_job_of_a_worker_that_died_is_sent_by_the_next_worker(
    mail_db, sync_db, worker, settings, inbox
):
    student = person(sync_db)
    notification_id = await notify(worker, student, "announcement", "The lab is open late.")
    app = make_app(sqlalchemy_url(mail_db))
    host(app, notification_jobs.tasks(worker, settings, periodic=False))
    async with app.open_async():
        # A worker takes the job, then its machine goes away: no heartbeat from then on.
        gone = await app.job_manager.register_worker()
        taken = await app.job_manager.fetch_job(queues=[NOTIFICATION_QUEUE], worker_id=gone)
        assert taken is not None and taken.task_kwargs == {"notification_id": notification_id}
        with sync_db() as session:
            session.execute(
                text(
                    "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '5 min' "
                    "WHERE id = :id"
                ),
                {"id": gone},
            )
            session.commit()
        assert jobs_of(sync_db, notification_id) == [(EMAIL_TASK, NOTIFICATION_QUEUE, "doing")]

        # The next worker's watch puts it back in the queue, and it is sent once.
        assert await retry_stalled_jobs(app, stalled_after=60) == 1
    await run_jobs(mail_db, worker, settings)
    assert len(inbox.to(student.email)) == 1
    assert jobs_of(sync_db, notification_id) == [(EMAIL_TASK, NOTIFICATION_QUEUE, "succeeded")]


async def test_an_smtp_failure_is_recorded_and_the_job_sends_the_email_when_it_runs_again(
    mail_db, sync_db, worker, settings, smtp_port
):
    student = person(sync_db)
    notification_id = await notify(worker, student, "direct_message", "Ada sent you a message.")

    await run_jobs(mail_db, worker, settings)  # nothing listens on the SMTP port yet
    failed = delivery(sync_db, notification_id)
    assert failed.sent_at is None and failed.attempts == 1
    assert "Connection" in failed.last_error or "refused" in failed.last_error.lower()
    assert [status for *_, status in jobs_of(sync_db, notification_id)] == ["todo"]  # a retry

    received = Inbox()
    server = Controller(received, hostname="127.0.0.1", port=smtp_port)
    server.start()
    try:
        deadline = time.monotonic() + 30
        while not received.to(student.email) and time.monotonic() < deadline:
            await asyncio.sleep(1)  # the retry is scheduled a few seconds later
            await run_jobs(mail_db, worker, settings)
    finally:
        server.stop()
    [message] = received.to(student.email)
    assert message["Subject"] == "Ada sent you a message."
    sent = delivery(sync_db, notification_id)
    assert sent.sent_at is not None and sent.attempts == 2 and sent.last_error == ""


@pytest.mark.parametrize(
    ("choices", "kind", "channel"),
    [
        ({}, "submission_graded", EmailChoice.DIGEST),
        ({}, "enrolled", None),
        ({}, "some_future_kind", None),
        ({"announcement": "OFF"}, "announcement", None),
        ({"announcement": "DIGEST"}, "announcement", EmailChoice.DIGEST),
        ({"submission_graded": "EMAIL"}, "submission_graded", EmailChoice.EMAIL),
    ],
    ids=[
        "digest-default",
        "off-default",
        "unknown-kind",
        "chose-off",
        "chose-digest",
        "chose-email",
    ],
)
async def test_the_persons_choice_decides_what_email_follows(
    sync_db, worker, choices, kind, channel
):
    student = person(sync_db, **choices)
    notification_id = await notify(worker, student, kind, "Something happened.")
    row = delivery(sync_db, notification_id)
    assert (row.channel if row else None) is channel
    expected_jobs = 1 if channel is EmailChoice.EMAIL else 0
    assert len(jobs_of(sync_db, notification_id)) == expected_jobs


async def test_only_the_commit_that_makes_a_notification_real_queues_its_email_once(
    sync_db, worker
):
    """An announcement's email is queued by the commit of the transaction that made it: not
    for a transaction rolled back, not for a savepoint rolled back inside a committed one,
    and not again when the same session commits later."""
    student = person(sync_db)
    async with worker.sessions() as session:
        dropped = notifications.add(session, student.id, "announcement", {"title": "Dropped"})
        await session.flush()
        dropped_id = dropped.id
        await session.rollback()

        kept = notifications.add(session, student.id, "announcement", {"title": "Kept"})
        savepoint = await session.begin_nested()
        notifications.add(session, student.id, "announcement", {"title": "Undone"})
        await session.flush()
        await savepoint.rollback()
        await session.commit()
        assert notifications.committed(session) == [kept]  # what open pages hear of

        notifications.add(session, student.id, "enrolled", {"title": "No email for this"})
        await session.commit()  # a later commit of the same session queues nothing twice

    assert delivery(sync_db, dropped_id) is None and jobs_of(sync_db, dropped_id) == []
    assert jobs_of(sync_db, kept.id) == [(EMAIL_TASK, NOTIFICATION_QUEUE, "todo")]
    with sync_db() as session:
        queued = session.scalars(
            select(EmailDelivery.notification_id).where(EmailDelivery.account_id == student.id)
        )
        assert list(queued) == [kept.id]


async def test_nobody_without_an_email_address_gets_a_delivery(sync_db, worker):
    student = person(sync_db, with_email=False)
    notification_id = await notify(worker, student, "announcement", "Exam rooms are posted.")
    assert delivery(sync_db, notification_id) is None
    assert jobs_of(sync_db, notification_id) == []


async def test_the_daily_digest_sends_everything_since_the_last_one_once_a_day(
    sync_db, worker, settings, inbox
):
    student = person(sync_db, announcement="DIGEST")
    first = await notify(worker, student, "submission_graded", "Homework 1 is graded: 9/10.")
    second = await notify(worker, student, "announcement", "Office hours move to room 4.")
    await notify(worker, student, "enrolled", "You are enrolled in Biology.")  # no email
    monday = datetime(2026, 11, 23, 7, tzinfo=UTC)

    await notification_jobs.send_daily_digests(worker, settings, int(monday.timestamp()))
    [digest] = inbox.to(student.email)
    assert digest["Subject"] == "Your CourseHub digest: 2 notifications"
    body = digest.get_payload(decode=True).decode()
    assert "Homework 1 is graded: 9/10." in body and "Office hours move to room 4." in body
    assert "Biology" not in body
    assert body.index("Homework 1") < body.index("Office hours")
    assert f"{PUBLIC_URL}/services/coursehub/courses/biology-101" in body
    assert delivery(sync_db, first).sent_at and delivery(sync_db, second).sent_at

    # The same day again (a second worker, a retry): nothing more.
    await notify(worker, student, "lesson_published", "Week 2 is published.")
    await notification_jobs.send_daily_digests(worker, settings, int(monday.timestamp()))
    assert len(inbox.to(student.email)) == 1

    # The next day's digest holds only what came since.
    tuesday = monday + timedelta(days=1)
    await notification_jobs.send_daily_digests(worker, settings, int(tuesday.timestamp()))
    later = inbox.to(student.email)[1]
    assert later["Subject"] == "Your CourseHub digest: 1 notification"
    later_body = later.get_payload(decode=True).decode()
    assert "Week 2 is published." in later_body and "Homework 1" not in later_body
    with sync_db() as session:
        days = session.scalars(
            select(NotificationDigest.day).where(NotificationDigest.account_id == student.id)
        )
        assert sorted(days) == [monday.date(), tuesday.date()]


def test_the_worker_schedules_the_digest_and_the_date_scan():
    app = make_app("postgresql://unused")
    host(app, notification_jobs.tasks(None, mail_settings({})))  # type: ignore[arg-type]
    scheduled = {
        task.task.name: task.cron for task in app.periodic_registry.periodic_tasks.values()
    }
    assert scheduled == {
        notification_jobs.DIGEST_TASK: notification_jobs.DIGEST_CRON,
        notification_jobs.SCAN_TASK: notification_jobs.SCAN_CRON,
    }
