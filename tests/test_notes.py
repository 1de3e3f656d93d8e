"""Notes and bookmarks: written, edited and deleted from the player, listed on "My notes",
sanitised, and nobody else's business — not another student's, not the instructor's."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import LessonKind, Note
from tests.player_data import LessonSpec, build_course, enroll, sign_in, xsrf_headers


@pytest.fixture
def lessons(db, make_account):
    instructor = make_account(Role.INSTRUCTOR)
    course = build_course(
        db,
        instructor,
        [
            LessonSpec("Reading", kind=LessonKind.TEXT),
            LessonSpec("Watching", kind=LessonKind.VIDEO, video=True),
            LessonSpec("Locked", kind=LessonKind.TEXT, module="Later"),
        ],
    )
    return course, instructor


def notes_client(platform, signed_in, account, course, lesson="Reading"):
    http = signed_in(account)
    page = http.get(course.url(platform.service_url, lesson))
    assert page.status_code == 200, page.text[:300]
    http.headers.update(xsrf_headers(http, page))
    return http


def notes_in_db(db, note_id: int) -> Note | None:
    with db() as session:
        return session.get(Note, note_id)


def test_a_student_writes_edits_and_deletes_notes(platform, db, make_account, signed_in, lessons):
    course, _ = lessons
    student = make_account()
    enroll(db, student, course)
    http = notes_client(platform, signed_in, student, course)
    url = course.api(platform.service_url, "Reading", "notes")

    hostile = "**Key idea** <script>alert('x')</script> [doc](javascript:alert(1))"
    made = http.post(url, json={"body": hostile})
    assert made.status_code == 201, made.text
    note = made.json()
    assert "<strong>Key idea</strong>" in note["html"]
    assert "<script" not in note["html"] and 'href="javascript' not in note["html"]
    assert note["is_bookmark"] is False and note["video_seconds"] is None

    listed = http.get(url).json()["notes"]
    assert [item["id"] for item in listed] == [note["id"]]

    edited = http.patch(f"{platform.service_url}/api/notes/{note['id']}", json={"body": "_better_"})
    assert edited.status_code == 200 and "<em>better</em>" in edited.json()["html"]
    assert notes_in_db(db, note["id"]).body == "_better_"

    page = http.get(f"{platform.service_url}/notes")
    assert page.status_code == 200
    assert "<em>better</em>" in page.text and "Reading" in page.text

    assert http.delete(f"{platform.service_url}/api/notes/{note['id']}").status_code == 204
    assert notes_in_db(db, note["id"]) is None
    assert http.delete(f"{platform.service_url}/api/notes/{note['id']}").status_code == 404


def test_a_video_bookmark_keeps_its_time_and_links_back_to_it(
    platform, db, make_account, signed_in, lessons
):
    course, _ = lessons
    student = make_account()
    enroll(db, student, course)
    http = notes_client(platform, signed_in, student, course, "Watching")
    url = course.api(platform.service_url, "Watching", "notes")
    made = http.post(url, json={"body": "", "is_bookmark": True, "video_seconds": 83.4})
    assert made.status_code == 201, made.text
    assert made.json()["video_seconds"] == 83.4 and made.json()["is_bookmark"] is True
    # On a lesson without a video, a time means nothing and is not kept.
    text_note = http.post(
        course.api(platform.service_url, "Reading", "notes"),
        json={"body": "x", "is_bookmark": True, "video_seconds": 5},
    )
    assert text_note.json()["video_seconds"] is None
    page = http.get(f"{platform.service_url}/notes").text
    link = f"/learn/{course.slug}/{course.lessons['Watching']}?t=83.4"
    assert link in page and "at 1:23" in page


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ({"body": ""}, "empty"),
        ({"body": 42}, "not text"),
        ({"body": "x" * 10_001}, "too long"),
        ({"body": "x", "is_bookmark": "yes"}, "flag as text"),
        ({"body": "x", "video_seconds": -3}, "negative time"),
        ({"body": "x", "video_seconds": "soon"}, "time as text"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_bad_notes_are_refused(platform, db, make_account, signed_in, lessons, body, why):
    course, _ = lessons
    student = make_account()
    enroll(db, student, course)
    http = notes_client(platform, signed_in, student, course, "Watching")
    response = http.post(course.api(platform.service_url, "Watching", "notes"), json=body)
    assert response.status_code == 400, why
    assert response.json()["error"]
    nan = http.post(
        course.api(platform.service_url, "Watching", "notes"),
        content='{"body": "x", "video_seconds": NaN}',
        headers={"Content-Type": "application/json"},
    )
    assert nan.status_code == 400
    with db() as session:
        assert session.scalars(select(Note).where(Note.account_id == student.id)).all() == []


def test_nobody_else_can_read_change_or_delete_a_students_notes(
    platform, db, make_account, signed_in, lessons
):
    course, instructor = lessons
    owner, classmate = make_account(), make_account()
    admin = make_account(Role.ADMIN)
    for student in (owner, classmate):
        enroll(db, student, course)
    mine = notes_client(platform, signed_in, owner, course)
    secret = "my private thought"
    note = mine.post(course.api(platform.service_url, "Reading", "notes"), json={"body": secret})
    note_id = note.json()["id"]

    for other in (classmate, instructor, admin):
        http = notes_client(platform, signed_in, other, course)
        listed = http.get(course.api(platform.service_url, "Reading", "notes")).json()["notes"]
        assert listed == []
        assert http.get(f"{platform.service_url}/api/notes").json()["notes"] == []
        assert secret not in http.get(f"{platform.service_url}/notes").text
        changed = http.patch(f"{platform.service_url}/api/notes/{note_id}", json={"body": "hacked"})
        assert changed.status_code == 404
        assert "no such note" in changed.json()["error"]
        assert http.delete(f"{platform.service_url}/api/notes/{note_id}").status_code == 404
    assert notes_in_db(db, note_id).body == secret


def test_notes_need_the_lesson(platform, db, make_account, signed_in, lessons):
    course, _ = lessons
    outsider = signed_in(make_account())
    response = outsider.get(course.api(platform.service_url, "Reading", "notes"))
    assert response.status_code == 403
    assert "Enroll" in response.json()["error"]


@pytest.mark.browser
def test_notes_from_the_player_in_a_browser(platform, db, make_account, page, lessons):
    course, _ = lessons
    student = make_account()
    enroll(db, student, course)
    sign_in(page, platform, student.email)
    page.goto(course.url(platform.service_url, "Reading"))
    page.locator("#note_body").fill("Remember **this**")
    page.locator("#add_note").click()
    item = page.locator("#notes_list .note-item")
    expect(item.locator("strong")).to_have_text("this")
    item.locator(".note-edit").click()
    item.locator(".note-editor").fill("Remember _that_")
    item.locator(".note-edit").click()
    expect(page.locator("#notes_list .note-item em")).to_have_text("that")

    page.goto(f"{platform.service_url}/notes")
    listed = page.locator(".note-item")
    expect(listed.locator("em")).to_have_text("that")
    listed.locator(".note-delete").click()
    expect(listed).to_have_count(0)
    page.reload()
    expect(page.locator("#no_notes")).to_be_visible()
    assert re.search(r"/notes$", page.url)
