"""Support requests: the form becomes a ticket in the administrators' queue (with its page
link and screenshot); bad input is refused field by field and keeps nothing; an admin's
answer marks it answered and reaches the person in CourseHub and by email; only the person
and administrators see a ticket."""

from __future__ import annotations

import email
from email import policy

import httpx
from sqlalchemy import func, select

from coursehub.hub.constants import Role
from coursehub.services.models import Notification, SupportTicket, Upload
from tests.platform import xsrf_from
from tests.test_my_data import wait_for
from tests.test_profile import post_form, tiny_png


def ask(client: httpx.Client, service: str, files: dict | None = None, **fields: str):
    page = client.get(f"{service}/support")
    values = {"subject": "", "message": "", "page_link": ""}
    values.update(fields)
    return post_form(client, f"{service}/support", {"_xsrf": xsrf_from(page), **values}, files)


def tickets_of(db, account) -> list[SupportTicket]:
    with db() as session:
        return list(
            session.scalars(select(SupportTicket).where(SupportTicket.account_id == account.id))
        )


def test_a_request_reaches_the_queue_and_the_answer_reaches_the_person(
    platform, make_account, signed_in, db
):
    student, admin = make_account(), make_account(Role.ADMIN)
    me = signed_in(student)
    sent = ask(
        me,
        platform.service_url,
        files={"screenshot": ("screen.png", tiny_png(), "image/png")},
        subject="Cannot open my notebook",
        message="The button spins forever.",
        page_link=f"{platform.url}/hub/home",
    )
    assert sent.status_code == 200 and "Your request is sent" in sent.text
    (ticket,) = tickets_of(db, student)
    assert ticket.status == "open" and ticket.page_link.endswith("/hub/home")
    with db() as session:
        assert session.get(Upload, ticket.screenshot_upload_id).purpose == "screenshot"
        told_admin = session.scalar(
            select(func.count()).where(
                Notification.account_id == admin.id, Notification.kind == "support_request"
            )
        )
    assert told_admin == 1

    staff = signed_in(admin)
    queue = staff.get(f"{platform.service_url}/admin/support?status=open")
    assert queue.status_code == 200 and "Cannot open my notebook" in queue.text
    url = f"{platform.service_url}/support/tickets/{ticket.id}"
    assert staff.get(f"{url}/screenshot").content == tiny_png()
    page = staff.get(url)
    answered = staff.post(
        url, data={"_xsrf": xsrf_from(page), "action": "reply", "body": "Restart it from Home."}
    )
    assert answered.status_code == 200 and "Restart it from Home." in answered.text
    staff.post(url, data={"_xsrf": xsrf_from(page), "action": "assign", "assignee": admin.id})

    with db() as session:
        ticket = session.get(SupportTicket, ticket.id)
        assert (ticket.status, ticket.assignee_id) == ("answered", admin.id)
        note = session.scalar(
            select(Notification).where(
                Notification.account_id == student.id, Notification.kind == "support_reply"
            )
        )
    assert "Restart it from Home." in note.payload["title"]
    assert note.payload["url"].endswith(f"/support/tickets/{ticket.id}")
    mine = me.get(url)
    assert "Restart it from Home." in mine.text and "answered" in mine.text
    # Its author's reply opens it again; the admin closes it.
    me.post(url, data={"_xsrf": xsrf_from(mine), "action": "reply", "body": "It works, thanks"})
    with db() as session:
        assert session.get(SupportTicket, ticket.id).status == "open"
    staff.post(url, data={"_xsrf": xsrf_from(page), "action": "status", "status": "closed"})
    with db() as session:
        assert session.get(SupportTicket, ticket.id).status == "closed"

    # The answer also came by email (the kind is emailed by default; the worker sends it).
    def mailed() -> bool:
        for path in platform.outbox():
            message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            if message["To"] == student.email and "Restart it from Home." in str(
                message.get_body(("plain",)).get_content()
            ):
                return True
        return False

    assert wait_for(mailed)


def test_bad_requests_are_refused_field_by_field_and_keep_nothing(
    platform, make_account, signed_in, db
):
    student = make_account()
    me = signed_in(student)
    uploads_before = _uploads(db)
    empty = ask(me, platform.service_url, page_link="javascript:alert(1)")
    assert empty.status_code == 400
    for sentence in ("Give your request a subject", "Tell us what happened", "whole address"):
        assert sentence in empty.text
    fake = ask(
        me,
        platform.service_url,
        files={"screenshot": ("shot.png", b"MZ\x90\x00 not a picture" * 8, "image/png")},
        subject="Help",
        message="Something",
    )
    assert fake.status_code == 400 and "not a PNG, JPEG or WebP image" in fake.text
    assert tickets_of(db, student) == [] and _uploads(db) == uploads_before


def test_only_the_person_and_administrators_see_a_ticket(platform, make_account, signed_in, db):
    student, classmate, teacher = make_account(), make_account(), make_account(Role.INSTRUCTOR)
    ask(signed_in(student), platform.service_url, subject="Private", message="Mine only")
    (ticket,) = tickets_of(db, student)
    url = f"{platform.service_url}/support/tickets/{ticket.id}"
    for other in (classmate, teacher):
        client = signed_in(other)
        assert client.get(url).status_code == 404
        assert client.get(f"{platform.service_url}/admin/support").status_code == 403
        page = client.get(f"{platform.service_url}/support")
        tried = client.post(url, data={"_xsrf": xsrf_from(page), "body": "sneaky"})
        assert tried.status_code == 404


def _uploads(db) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(Upload))
