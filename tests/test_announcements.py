"""Announcements as instructors post them and students read them: a notification for every
enrolled student (with "also email" passed on), pinned ones first, who may read and who may
post, editing and deleting, limits, and stored XSS."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import Account, Announcement, Notification
from tests.test_forums import ForumRoom, make_room
from tests.xss_corpus import XSS_CORPUS, assert_harmless


@pytest.fixture
def room(platform, signed_in, make_account, db, database_url) -> ForumRoom:  # type: ignore[no-untyped-def]
    return make_room(platform, signed_in, make_account, db, database_url)


def api(room: ForumRoom) -> str:
    return f"/api/courses/{room.course.slug}/announcements"


def announcement_notifications(db, account: Account) -> list[Notification]:  # type: ignore[no-untyped-def]
    with db() as session:
        return list(
            session.scalars(
                select(Notification)
                .where(Notification.account_id == account.id, Notification.kind == "announcement")
                .order_by(Notification.id)
            )
        )


def post(room: ForumRoom, **fields) -> dict:  # type: ignore[no-untyped-def]
    made = room.teacher.call("POST", api(room), json={"title": "Welcome", "body": "Hi", **fields})
    assert made.status_code == 201, made.text
    return made.json()


def test_an_announcement_notifies_every_enrolled_student_and_no_one_else(room, db):
    made = post(room, title="Exam moved", body="The exam is on **Friday**.", email=True)
    assert (
        made["notified"] == 2 and made["html"] == "<p>The exam is on <strong>Friday</strong>.</p>\n"
    )

    for role in ("author", "classmate"):
        [notice] = announcement_notifications(db, room.accounts[role])
        payload = notice.payload
        assert payload["title"] == f"New announcement in {room.course.title}: Exam moved"
        assert payload["url"] == (
            f"/services/coursehub/courses/{room.course.slug}/announcements#announcement-{made['id']}"
        )
        assert payload["email_requested"] is True and payload["course_slug"] == room.course.slug
    for role in ("teacher", "grader", "outsider"):
        assert announcement_notifications(db, room.accounts[role]) == []

    post(room, title="No email")
    latest = announcement_notifications(db, room.accounts["author"])[-1]
    assert latest.payload["email_requested"] is False


def test_pinned_announcements_come_first_then_the_newest(room):
    first = post(room, title="First")
    pinned = post(room, title="Pinned", is_pinned=True)
    last = post(room, title="Last")
    for who in (room.author, room.grader, room.teacher):
        listed = who.get(api(room))
        assert listed.status_code == 200, listed.text
        assert [a["id"] for a in listed.json()["announcements"]] == [
            pinned["id"],
            last["id"],
            first["id"],
        ]
    assert room.author.get(api(room)).json()["may_post"] is False
    assert room.author.get(api(room)).json()["announcements"][0]["body"] is None
    assert room.teacher.get(api(room)).json()["may_post"] is True

    page = room.author.get(f"/courses/{room.course.slug}/announcements")
    assert page.status_code == 200
    assert page.text.index("Pinned") < page.text.index("Last") < page.text.index("First")
    assert 'id="announcement_form"' not in page.text
    course_page = room.author.get(f"/courses/{room.course.slug}")
    assert 'id="course_announcements"' in course_page.text and "forum_live.js" in course_page.text


def test_only_the_instructor_and_admins_post_change_or_delete(room, make_account):
    made = post(room, title="To change")
    one = f"{api(room)}/{made['id']}"
    for role in ("author", "grader"):
        who = getattr(room, role)
        assert who.call("POST", api(room), json={"title": "t", "body": "b"}).status_code == 403
        assert who.call("PATCH", one, json={"title": "x"}).status_code == 403
        assert who.call("DELETE", one).status_code == 403
    outsider = room.outsider
    assert outsider.get(api(room)).status_code == 403
    assert outsider.get(f"/courses/{room.course.slug}/announcements").status_code == 403
    assert outsider.call("POST", api(room), json={"title": "t", "body": "b"}).status_code == 403

    changed = room.teacher.call("PATCH", one, json={"title": "Changed", "is_pinned": True})
    assert changed.status_code == 200 and changed.json()["title"] == "Changed"
    assert changed.json()["is_pinned"] is True and changed.json()["edited_at"] is not None
    assert room.teacher.call("PATCH", one, json={}).status_code == 400

    admin = room.open_as(make_account(Role.ADMIN))
    by_admin = admin.call("POST", api(room), json={"title": "From the admins", "body": "Hello"})
    assert by_admin.status_code == 201 and by_admin.json()["notified"] == 2
    assert admin.call("DELETE", f"{api(room)}/{by_admin.json()['id']}").status_code == 204
    assert room.teacher.call("DELETE", one).status_code == 204
    assert room.teacher.call("DELETE", one).status_code == 404
    assert room.author.get(api(room)).json()["announcements"] == []


@pytest.mark.parametrize(
    ("title", "body", "words"),
    [
        ("", "b", "title"),
        ("x" * 201, "b", "200 characters"),
        ("t", "", "Write something in the announcement"),
        ("t", "x" * 20_001, "20,000 characters"),
    ],
    ids=["empty title", "long title", "empty body", "long body"],
)
def test_empty_or_oversized_announcements_get_a_clear_400(room, title, body, words):
    answer = room.teacher.call("POST", api(room), json={"title": title, "body": body})
    assert answer.status_code == 400 and words in answer.json()["error"], answer.text


def test_the_xss_corpus_in_announcements_is_harmless(room, db):
    for _name, payload in XSS_CORPUS:
        post(room, title=payload[:200], body=payload)
    listed = room.author.get(api(room)).json()["announcements"]
    assert len(listed) == len(XSS_CORPUS)
    for item in listed:
        assert_harmless(item["html"])
    page = room.author.get(f"/courses/{room.course.slug}/announcements")
    for chunk in page.text.split('<div class="announcement-body">')[1:]:
        assert_harmless(chunk.split("</div>", 1)[0])
    for chunk in page.text.split('announcement-title">')[1:]:
        title = chunk.split("</h2>", 1)[0]
        assert "<" not in title.replace('<span class="badge text-bg-info me-1">Pinned</span>', "")
    with db() as session:
        stored = session.scalars(
            select(Announcement.body_html).where(Announcement.course_id == room.course.id)
        )
        for html in stored:
            assert_harmless(html)
