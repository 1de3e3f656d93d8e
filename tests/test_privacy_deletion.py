"""Deleting my account leaves nothing of me behind: a person with a profile and avatar,
forum posts, messages, a grade, a support request with a screenshot, a payment, a data
export, jobs in the queue, files in their JupyterLab home and keys in Redis deletes their
account; afterwards nothing of theirs is readable in the database (text, JSON and bytes),
on disk or in Redis, others see "Deleted user", the grade stays for the course record and
the payment stays as an accounting record without the address. A wrong password deletes
nothing and loses nothing."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import httpx
import redis
from sqlalchemy import func, select, text

from coursehub.hub.constants import Role
from coursehub.services.jobs.queue import defer
from coursehub.services.models import (
    Account,
    Certificate,
    DataExport,
    ForumPost,
    Grade,
    Notification,
    Profile,
    SupportTicket,
    Upload,
)
from coursehub.services.models.payments import Payment
from coursehub.services.notifications.notification_email import EMAIL_TASK, NOTIFICATION_QUEUE
from tests.conftest import PASSWORD
from tests.platform import Platform
from tests.teaching_client import open_session
from tests.test_my_data import (
    arrange_what_others_rely_on,
    mails_to,
    my_data_form,
    person,
    rows_carrying,
    wait_for,
)
from tests.test_privacy_records import bytes_carrying, counts_of_mine
from tests.test_profile import save_profile, tiny_png
from tests.test_support import ask


def files_carrying(data_dir: Path, *secrets_: str) -> list[str]:
    """Files under the data directory whose path or bytes carry any of ``secrets_``. Logs
    are operations' (rotated, never shown to anyone else); the hub's SQLite file is asked
    through the hub's API instead (its free pages are no one's to read); the outbox is the
    mail already sent, to others too (mail to the person is checked on its own)."""
    found = []
    wanted = [secret.encode().lower() for secret in secrets_]
    for root, _dirs, names in os.walk(data_dir):
        for name in names:
            path = Path(root) / name
            if path.suffix == ".log" or name.startswith("jupyterhub.sqlite"):
                continue
            if path.parent.name == "outbox":
                continue
            relative = str(path.relative_to(data_dir)).lower()
            if any(secret.decode() in relative for secret in wanted):
                found.append(relative)
                continue
            try:
                content = path.read_bytes().lower()
            except OSError:
                continue
            if any(secret in content for secret in wanted):
                found.append(relative)
    return found


def redis_carrying(redis_url: str, account_id: int, *secrets_: str) -> list[str]:
    """CourseHub's Redis keys that name the account or whose value carries a secret."""
    client = redis.Redis.from_url(redis_url)
    found = []
    try:
        for raw in client.scan_iter(match="coursehub:*", count=500):
            key = raw.decode()
            parts = [*key.split(":"), "", "", "", ""]
            # coursehub:rate:<action>:<id>:<window>, coursehub:heartbeat:<id>:<lesson>,
            # coursehub:lesson-kernels:account-<id>
            if (
                (parts[1] == "rate" and parts[3] == str(account_id))
                or (parts[1] == "heartbeat" and parts[2] == str(account_id))
                or (parts[1] == "lesson-kernels" and parts[2] == f"account-{account_id}")
            ):
                found.append(key)
                continue
            kind = client.type(raw).decode()
            if kind == "string":
                values = [client.get(raw) or b""]
            elif kind == "hash":
                values = [part for pair in client.hgetall(raw).items() for part in pair]
            else:
                values = []
            if any(s.encode().lower() in v.lower() for v in values for s in secrets_):
                found.append(key)
    finally:
        client.close()
    return found


def test_deleting_my_account_leaves_nothing_of_me_in_the_database_on_disk_or_in_redis(
    platform: Platform, signed_in, make_account, db, redis_url: str, database_url: str
):
    me = person(db, "Octavia Fenwick-Marlow")
    kept = arrange_what_others_rely_on(db, me)
    client = signed_in(me)
    service = platform.service_url

    # A profile with an avatar, a support request with a screenshot, a forum post made
    # through the API (which counts it in Redis) and a message to the teacher.
    saved = save_profile(
        client,
        service,
        files={"avatar": ("me.png", tiny_png(), "image/png")},
        name=me.name,
        bio=f"I am {me.name}; write to {me.email}.",
        pronouns="she/her",
    )
    assert saved.status_code == 200, saved.text[:300]
    sent = ask(
        client,
        service,
        files={"screenshot": ("screen.png", tiny_png(), "image/png")},
        subject=f"Help for {me.name}",
        message="My notebook will not open.",
    )
    assert sent.status_code == 200 and "Your request is sent" in sent.text
    with db() as session:
        course_slug = session.scalar(
            text(
                "SELECT c.slug FROM courses c JOIN enrollments e ON e.course_id = c.id "
                "WHERE e.account_id = :id"
            ),
            {"id": me.id},
        )
        classmate_id = session.scalar(
            text(
                "SELECT e.account_id FROM enrollments e JOIN courses c ON c.id = e.course_id "
                "WHERE c.slug = :slug AND e.account_id <> :id"
            ),
            {"slug": course_slug, "id": me.id},
        )
        classmate = session.get_one(Account, classmate_id)
        teacher = session.get_one(
            Account,
            session.scalar(
                text("SELECT instructor_id FROM courses WHERE slug = :s"), {"s": course_slug}
            ),
        )
    mine = open_session(platform, signed_in, me)
    thread = mine.call(
        "POST",
        f"/api/courses/{course_slug}/forums/general/threads",
        json={"title": "Where is week 2?", "body": f"Regards, {me.name}"},
    )
    assert thread.status_code == 201, thread.text
    thread_id = thread.json()["id"]
    message = mine.call(
        "POST",
        "/api/messages/conversations",
        json={"account_id": teacher.id, "body": f"Hi, it is {me.name}"},
    )
    assert message.status_code == 201, message.text

    # A payment (as the webhook records it), a certificate with its PDF, work in the home.
    with db() as session:
        payment = Payment(
            provider="stripe",
            checkout_id=f"cs_test_{secrets.token_hex(8)}",
            payment_ref=f"pi_{secrets.token_hex(8)}",
            account_id=me.id,
            currency="usd",
            amount_cents=4900,
            email=me.email or "",
            course_title="Loops for everyone",
        )
        course_id = session.scalar(
            text("SELECT id FROM courses WHERE slug = :s"), {"s": course_slug}
        )
        certificate = Certificate(
            public_id=secrets.token_urlsafe(12),
            course_id=course_id,
            account_id=me.id,
            holder_name=me.name,
            course_title="Loops for everyone",
            title="Certificate of completion",
            pdf=b"%PDF-1.7 awarded to " + me.name.encode(),
            credential={"recipient": {"name": me.name, "email": me.email}},
        )
        session.add_all([payment, certificate])
        session.commit()
        invoice, payment_id, certificate_id = payment.invoice_number, payment.id, certificate.id
    home = platform.data_dir / "homes" / me.username / "courses"
    home.mkdir(parents=True)
    (home / "essay.ipynb").write_text(json.dumps({"cells": [], "metadata": {"by": me.name}}))

    # My data export, built by the worker: its zip on disk, its job in the queue, its mail.
    asked = my_data_form(client, service, "/account/data")
    assert asked.status_code == 200
    wait_for(lambda: mails_to(platform, me.email or ""))
    with db() as session:
        export = session.scalar(select(DataExport).where(DataExport.account_id == me.id))
        assert export is not None and export.storage_name
        export_id, zip_path = export.id, platform.data_dir / "exports" / export.storage_name
        # A notification's email still queued, and a finished job whose arguments carry the
        # address (a task that took one in an older version).
        told = Notification(account_id=me.id, kind="support_answered", payload={"title": "Hi"})
        session.add(told)
        session.flush()
        defer(session, EMAIL_TASK, NOTIFICATION_QUEUE, notification_id=told.id)
        session.execute(
            text(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status) "
                "VALUES ('notifications', 'old_welcome_mail', CAST(:args AS jsonb), 'succeeded')"
            ),
            {"args": json.dumps({"to": me.email, "name": me.name})},
        )
        session.commit()
        avatar = session.scalar(select(Profile.avatar_upload_id).where(Profile.account_id == me.id))
        ticket = session.scalar(select(SupportTicket).where(SupportTicket.account_id == me.id))
        assert avatar is not None and ticket is not None and ticket.screenshot_upload_id
        pictures = [
            platform.data_dir / "uploads" / name
            for name in session.scalars(
                select(Upload.storage_name).where(
                    Upload.id.in_([avatar, ticket.screenshot_upload_id])
                )
            )
        ]
    assert zip_path.is_file() and all(path.is_file() for path in pictures)

    secrets_ = (me.name, me.email or "")
    # Before: I am everywhere, so the searches below can find me.
    assert rows_carrying(db, *secrets_)
    assert bytes_carrying(db, me.name)
    assert files_carrying(platform.data_dir, me.name, me.username)
    assert redis_carrying(redis_url, me.id, *secrets_), "posting counted me in Redis"
    before = counts_of_mine(db, me)
    assert before["profiles"] == before["support_tickets"] == 1 and before["sign_ins"] >= 1
    assert before["data_exports"] == 1

    # A wrong password is refused and loses nothing.
    wrong = my_data_form(client, service, "/account/delete", password="not my password")
    assert wrong.status_code == 403 and "That is not your password" in wrong.text
    assert counts_of_mine(db, me) == before
    assert zip_path.is_file() and all(path.is_file() for path in pictures)
    with db() as session:
        assert session.get_one(Account, me.id).email == me.email

    deleted = my_data_form(client, service, "/account/delete", password=PASSWORD)
    assert deleted.status_code == 200 and "Your account is deleted" in deleted.text

    # Nothing of me is readable anywhere.
    assert rows_carrying(db, *secrets_) == []
    assert bytes_carrying(db, me.name, me.email or "") == []
    assert [t for t, n in counts_of_mine(db, me).items() if n] == []
    assert files_carrying(platform.data_dir, me.name, me.email or "", me.username) == []
    assert not zip_path.exists() and not any(path.exists() for path in pictures)
    assert mails_to(platform, me.email or "") == []  # not left waiting in the outbox
    assert redis_carrying(redis_url, me.id, *secrets_) == []
    with db() as session:
        about_me = session.scalar(
            text(
                "SELECT count(*) FROM procrastinate_jobs WHERE "
                "(task_name = 'build_data_export' AND (args->>'export_id')::int = :export) "
                "OR (task_name = 'send_notification_email' "
                "AND (args->>'notification_id')::int = :told) "
                "OR task_name = 'old_welcome_mail'"
            ),
            {"export": export_id, "told": told.id},
        )
        assert about_me == 0
        assert (
            session.scalar(
                select(func.count()).select_from(Account).where(Account.username == me.username)
            )
            == 0
        )

        # The course record keeps the grade, by the anonymised account.
        account = session.get_one(Account, me.id)
        assert (account.name, account.email, account.username) == (
            "Deleted user",
            None,
            f"deleted-{me.id}",
        )
        assert session.get_one(Grade, kept["grade"]).final_score == 7
        assert session.get_one(ForumPost, kept["post"]).author_id == me.id
        # The payment is kept as the accounting record, without the address.
        kept_payment = session.get_one(Payment, payment_id)
        assert (kept_payment.invoice_number, kept_payment.amount_cents) == (invoice, 4900)
        assert kept_payment.email == "" and kept_payment.account_id == me.id
        # The certificate is revoked, without name, PDF or credential.
        held = session.get_one(Certificate, certificate_id)
        assert held.revoked_at is not None and held.holder_name == "Deleted user"
        assert held.pdf is None and held.credential is None

    # Others see "Deleted user" where I wrote.
    theirs = open_session(platform, signed_in, classmate)
    seen = theirs.get(f"/api/courses/{course_slug}/forums/threads/{thread_id}")
    assert seen.status_code == 200, seen.text
    assert me.name not in seen.text and me.username not in seen.text
    assert "Deleted user" in seen.text
    conversations = open_session(platform, signed_in, teacher).get("/api/messages/conversations")
    assert conversations.status_code == 200
    assert me.name not in conversations.text and "Deleted user" in conversations.text

    # The hub forgot me: no user, no session, no token.
    hub_secrets = json.loads((platform.data_dir / "secrets.json").read_text())
    gone = httpx.get(
        f"{platform.url}/hub/api/users/{me.username}",
        headers={"Authorization": f"token {hub_secrets['service_token']}"},
        timeout=30,
    )
    assert gone.status_code == 404
    assert client.get(f"{service}/account/data").url.path.startswith("/hub/")


def test_the_last_administrator_is_refused_and_nothing_of_theirs_is_lost(
    platform: Platform, signed_in, db
):
    admin = person(db, "Solitary Admin", Role.ADMIN)
    with db() as session:
        others = session.scalars(
            select(Account).where(Account.role == Role.ADMIN, Account.id != admin.id)
        ).all()
        demoted = [account.id for account in others]
        for account in others:
            account.role = Role.STUDENT
        session.add(Profile(account_id=admin.id, bio="Keeps the lights on"))
        session.commit()
    try:
        client = signed_in(admin)
        before = counts_of_mine(db, admin)
        refused = my_data_form(client, platform.service_url, "/account/delete", password=PASSWORD)
        assert refused.status_code == 409
        assert "You are the only administrator" in refused.text
        assert counts_of_mine(db, admin) == before
        with db() as session:
            kept = session.get_one(Account, admin.id)
            assert (kept.email, kept.role) == (admin.email, Role.ADMIN)
        assert client.get(f"{platform.service_url}/account/data").status_code == 200
    finally:
        with db() as session:
            for account_id in demoted:
                session.get_one(Account, account_id).role = Role.ADMIN
            session.commit()
