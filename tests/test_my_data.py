"""My data: an export of everything CourseHub holds about me (JSON, my notebooks and my
uploads, as a zip) built by the job queue, asked twice → one job; deleting my account removes
what is mine alone and anonymises what others rely on (forum posts, messages, grades), so
that no row of the database still carries my name or my email; the last administrator
cannot delete themself."""

from __future__ import annotations

import email
import io
import json
import re
import secrets
import time
import zipfile
from email import policy

import httpx
import pytest
from sqlalchemy import func, select, text, update

from coursehub.hub.constants import Role
from coursehub.services.accounts.accounts import AccountError, hash_password
from coursehub.services.models import (
    Account,
    Assignment,
    Category,
    Conversation,
    DataExport,
    DirectMessage,
    ForumPost,
    ForumThread,
    Grade,
    Notification,
    Profile,
    Submission,
    SubmissionStatus,
)
from coursehub.services.privacy import deletion
from tests.conftest import PASSWORD
from tests.platform import sign_in, xsrf_from
from tests.service_data import course_with


def person(db, name: str, role: Role = Role.STUDENT) -> Account:
    """An account whose name and email appear nowhere else (so a search for them is exact)."""
    stem = f"zq{secrets.token_hex(5)}"
    account = Account(
        username=stem,
        email=f"{stem}.mail@coursehub.example",
        name=f"{name} {secrets.token_hex(3)}",
        password_hash=hash_password(PASSWORD),
        role=role,
    )
    with db() as session:
        session.add(account)
        session.commit()
    return account


def my_data_form(client: httpx.Client, service: str, path: str, **fields: str) -> httpx.Response:
    page = client.get(f"{service}/account/data")
    return client.post(f"{service}{path}", data={"_xsrf": xsrf_from(page), **fields})


def mails_to(platform, address: str) -> list[email.message.EmailMessage]:
    found = []
    for path in platform.outbox():
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if message["To"] == address:
            found.append(message)
    return found


def wait_for(check, seconds: float = 120):  # type: ignore[no-untyped-def]
    """Poll until ``check()`` gives something (a worker's job finishing), or fail."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError("the job queue did not get there")


def test_asking_for_my_data_twice_makes_one_job_and_the_zip_holds_everything(
    platform, signed_in, db
):
    me = person(db, "Export Person")
    with db() as session:
        session.add(Profile(account_id=me.id, bio="Bio for the export", time_zone="Asia/Tokyo"))
        session.add(Notification(account_id=me.id, kind="enrolled", payload={"title": "Hi"}))
        session.commit()
    home = platform.data_dir / "homes" / me.username / "courses"
    home.mkdir(parents=True)
    (home / "my-work.ipynb").write_text('{"cells": [], "nbformat": 4}')
    client = signed_in(me)

    first = my_data_form(client, platform.service_url, "/account/data")
    second = my_data_form(client, platform.service_url, "/account/data")
    assert first.status_code == second.status_code == 200
    assert "CourseHub is preparing your data" in first.text
    assert "already being prepared" in second.text or "Ready until" in second.text
    with db() as session:
        exports = session.scalars(select(DataExport).where(DataExport.account_id == me.id)).all()
        jobs = session.scalar(
            text(
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'build_data_export' "
                "AND (args->>'export_id')::int = :id"
            ),
            {"id": exports[0].id},
        )
    assert len(exports) == 1 and jobs == 1

    mail = wait_for(lambda: mails_to(platform, me.email))[0]
    assert mail["Subject"] == "Your CourseHub data is ready to download"
    link = re.search(r"https?://\S+/account/data/exports/[A-Za-z0-9_-]+", mail.get_content())
    assert link, mail.get_content()
    download = client.get(link.group(0))
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    data = json.loads(archive.read("my-data.json"))
    assert data["account"]["email"] == me.email and "password_hash" not in data["account"]
    assert data["tables"]["profiles"][0]["bio"] == "Bio for the export"
    assert data["tables"]["notifications"][0]["kind"] == "enrolled"
    assert archive.read("notebooks/courses/my-work.ipynb").startswith(b'{"cells"')
    # The page lists it too; someone else signed in gets nothing from the emailed link.
    assert "/zip" in client.get(f"{platform.service_url}/account/data").text
    stranger = signed_in(person(db, "Stranger"))
    assert stranger.get(link.group(0)).status_code == 404
    # A week later the link has expired.
    with db() as session:
        session.execute(
            update(DataExport)
            .where(DataExport.account_id == me.id)
            .values(expires_at=func.now() - text("interval '1 minute'"))
        )
        session.commit()
    expired = client.get(link.group(0))
    assert expired.status_code == 410 and "expired" in expired.text


def arrange_what_others_rely_on(db, me: Account) -> dict[str, int]:
    teacher, classmate = person(db, "Teacher", Role.INSTRUCTOR), person(db, "Classmate")
    course = course_with(db, teacher, students=[me, classmate])
    with db() as session:
        thread = ForumThread(course_id=course.id, author_id=me.id, title="Question on loops")
        session.add(thread)
        session.flush()
        post = ForumPost(thread_id=thread.id, author_id=me.id, body=f"Thanks, {me.name} here!")
        first, second = sorted((me.id, classmate.id))
        conversation = Conversation(first_account_id=first, second_account_id=second)
        session.add_all([post, conversation])
        session.flush()
        message = DirectMessage(conversation_id=conversation.id, sender_id=me.id, body="hello")
        assignment = Assignment(
            course_id=course.id,
            title="Loops",
            source_notebook={},
            student_notebook={},
            source_sha256="0" * 64,
        )
        session.add_all([message, assignment])
        session.flush()
        submission = Submission(
            assignment_id=assignment.id,
            account_id=me.id,
            attempt=1,
            sha256="1" * 64,
            notebook=b"{}",
            size=2,
            status=SubmissionStatus.GRADED,
        )
        session.add(submission)
        session.flush()
        grade = Grade(submission_id=submission.id, outcome="graded", score=7, final_score=7)
        # Others' notifications name me ("<name> replied") and my address.
        told = Notification(
            account_id=classmate.id,
            kind="forum_reply",
            payload={"title": f"{me.name} replied", "by": me.email},
        )
        session.add_all([grade, told])
        session.commit()
        return {"post": post.id, "message": message.id, "grade": grade.id, "thread": thread.id}


def rows_carrying(db, *secrets_: str) -> list[str]:
    """Every table.column (text, varchar, json, jsonb) in which any of ``secrets_`` appears."""
    found = []
    with db() as session:
        columns = session.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type IN "
                "('text', 'character varying', 'json', 'jsonb', 'USER-DEFINED', 'ARRAY')"
                " AND table_name IN (SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE')"
            )
        ).all()
        for table, column in columns:
            for secret in secrets_:
                hits = session.scalar(
                    text(
                        f'SELECT count(*) FROM "{table}" '
                        f'WHERE strpos(lower(CAST("{column}" AS text)), lower(:secret)) > 0'
                    ),
                    {"secret": secret},
                )
                if hits:
                    found.append(f"{table}.{column}")
    return found


def test_deleting_my_account_leaves_no_row_with_my_name_or_email(platform, signed_in, db):
    me = person(db, "Zelda Quintavalle")
    kept = arrange_what_others_rely_on(db, me)
    client = signed_in(me)
    assert rows_carrying(db, me.name, me.email), "the arrangement names me somewhere"

    wrong = my_data_form(client, platform.service_url, "/account/delete", password="not it")
    assert wrong.status_code == 403 and "That is not your password" in wrong.text
    with db() as session:
        assert session.get(Account, me.id).email == me.email

    deleted = my_data_form(client, platform.service_url, "/account/delete", password=PASSWORD)
    assert deleted.status_code == 200 and "Your account is deleted" in deleted.text
    assert rows_carrying(db, me.name, me.email) == []
    with db() as session:
        account = session.get(Account, me.id)
        assert (account.name, account.email, account.password_hash) == ("Deleted user", None, None)
        # What others rely on is still there, now by "Deleted user".
        assert session.get(ForumPost, kept["post"]).author_id == me.id
        assert session.get(ForumPost, kept["post"]).body == "Thanks, Deleted user here!"
        assert session.get(DirectMessage, kept["message"]).sender_id == me.id
        assert session.get(Grade, kept["grade"]).final_score == 7
        assert session.scalar(select(func.count()).where(Notification.account_id == me.id)) == 0
        assert (
            session.scalar(
                text(
                    "SELECT count(*) FROM audit_log "
                    "WHERE action = 'account.delete' AND target_id = :id"
                ),
                {"id": str(me.id)},
            )
            == 1
        )
    # The hub forgot them: their password no longer signs in, and their old session is gone.
    with httpx.Client(follow_redirects=True, timeout=30) as later:
        answer = sign_in(later, platform.url, me.email, PASSWORD)
        assert "/hub/login" in str(answer.url)
    assert client.get(f"{platform.service_url}/account/data").url.path.startswith("/hub/")


async def test_the_last_admin_cannot_delete_themself(sessions, platform, db):
    admin = person(db, "Only Admin", Role.ADMIN)
    async with sessions() as session:
        # Everyone else stops being an administrator, in this transaction only.
        await session.execute(
            update(Account)
            .where(Account.id != admin.id, Account.role == Role.ADMIN)
            .values(role=Role.STUDENT)
        )
        account = await session.get_one(Account, admin.id)
        with pytest.raises(AccountError, match="You are the only administrator"):
            await deletion.delete_account(session, account, platform.data_dir / "uploads")
        await session.rollback()
    with db() as session:
        assert session.get(Account, admin.id).email == admin.email


def test_an_account_without_a_password_is_deleted_through_an_emailed_link(platform, signed_in, db):
    me = person(db, "Google Only")
    client = signed_in(me)
    with db() as session:  # they sign in with Google only: no password to confirm with
        session.get(Account, me.id).password_hash = None
        session.commit()
    page = client.get(f"{platform.service_url}/account/data")
    assert "Email me a deletion link" in page.text
    sent = my_data_form(client, platform.service_url, "/account/delete")
    assert sent.status_code == 200 and f"We sent a link to {me.email}" in sent.text
    with db() as session:
        assert session.get(Account, me.id).email == me.email  # nothing happened yet
    (mail,) = wait_for(lambda: mails_to(platform, me.email))
    link = re.search(r"https?://\S+/account/delete/[A-Za-z0-9_-]+", mail.get_content()).group(0)
    stranger = signed_in(person(db, "Someone Else"))
    assert stranger.get(link).status_code == 403
    confirm = client.get(link)
    assert confirm.status_code == 200 and "Delete your account?" in confirm.text
    done = client.post(link, data={"_xsrf": xsrf_from(confirm)})
    assert done.status_code == 200 and "Your account is deleted" in done.text
    assert rows_carrying(db, me.name, me.email) == []


async def test_a_deleted_name_is_replaced_as_whole_words_only(sessions, make_account):
    reader = make_account()
    async with sessions() as session:
        told = Notification(
            account_id=reader.id,
            kind="forum_reply",
            payload={"title": "Anne O'Hara replied; Anne O'Haras too"},
        )
        session.add(told)
        await session.flush()
        await deletion.scrub_everywhere(session, "Anne O'Hara")
        await session.refresh(told)
        assert told.payload["title"] == "Deleted user replied; Anne O'Haras too"
        await session.rollback()


async def test_course_content_naming_someone_of_the_same_name_is_left_as_written(sessions):
    """A student called Grace Hopper leaves: a category (course content, written by staff)
    about Grace Hopper keeps its name; an address is scrubbed everywhere."""
    async with sessions() as session:
        topic = Category(name="Grace Hopper and COBOL", slug=f"hopper-{secrets.token_hex(4)}")
        mailed = Category(name="Ask grace@coursehub.example", slug=f"ask-{secrets.token_hex(4)}")
        session.add_all([topic, mailed])
        await session.flush()
        await deletion.scrub_everywhere(session, "Grace Hopper")
        await deletion.scrub_everywhere(session, "grace@coursehub.example")
        await session.refresh(topic)
        await session.refresh(mailed)
        assert topic.name == "Grace Hopper and COBOL"
        assert mailed.name == "Ask deleted@invalid"
        await session.rollback()
