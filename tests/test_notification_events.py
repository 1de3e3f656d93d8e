"""What CourseHub tells people, as it happens: enrolling, a new lesson version, a released
assignment (once per student), an assignment due within 24 hours that a student has not
submitted (once, however often the scan runs), each stored with read/unread and announced
to open pages; the bell on every page; the notifications page; email settings; and nobody
reads or changes anyone else's."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from coursehub.hub.constants import Role
from coursehub.services.models import (
    Account,
    Assignment,
    AssignmentExtension,
    LessonKind,
    Notification,
    NotificationPreference,
    Submission,
    utcnow,
)
from coursehub.services.notifications import notification_events, notifications
from tests.assignment_data import source_bytes
from tests.course_builder import LessonPlan, enroll, make_course, notebook_bytes, unique_word
from tests.teaching_client import open_session
from tests.test_notification_stream import listening, next_event

SERVICE = "/services/coursehub"
IPYNB = {"Content-Type": "application/x-ipynb+json"}


def notes_of(db: Callable[[], Session], account: Account, kind: str | None = None) -> list:
    with db() as session:
        query = select(Notification).where(Notification.account_id == account.id)
        if kind:
            query = query.where(Notification.kind == kind)
        return list(session.scalars(query.order_by(Notification.id)))


def store(db: Callable[[], Session], account: Account, title: str, kind: str = "announcement"):  # type: ignore[no-untyped-def]
    with db() as session:
        row = Notification(
            account_id=account.id, kind=kind, payload={"title": title, "url": f"{SERVICE}/courses"}
        )
        session.add(row)
        session.commit()
        return row


# -- producers -------------------------------------------------------------------------------


def test_enrolling_is_recorded_and_reaches_the_students_open_page_at_once(
    platform, signed_in, make_account, database_url
):
    teacher, student = make_account(Role.INSTRUCTOR), make_account(Role.STUDENT)
    course = make_course(database_url, teacher, title=f"Botany {unique_word()}")
    learner = open_session(platform, signed_in, student)

    with listening(learner.http, f"{platform.service_url}/api/me/notifications/stream") as events:
        time.sleep(1)  # the page is subscribed: what follows arrives live, not at connecting
        joined = learner.call("POST", f"/api/courses/{course.slug}/enroll")
        assert joined.status_code == 201, joined.text
        event = next_event(events, within=10)

    assert event["kind"] == "enrolled"
    assert event["title"] == f"You are enrolled in {course.title}."
    assert event["url"] == f"{SERVICE}/courses/{course.slug}"
    mine = learner.get("/api/me/notifications").json()
    assert mine["unread"] == 1
    [listed] = mine["notifications"]
    assert listed["id"] == event["id"] and listed["read_at"] is None
    assert listed["payload"]["title"] == event["title"]
    # Enrolling again is no news.
    assert learner.call("POST", f"/api/courses/{course.slug}/enroll").status_code == 200
    assert learner.get("/api/me/notifications").json()["unread"] == 1


def test_a_new_lesson_version_notifies_the_courses_students_only(
    platform, signed_in, make_account, db, database_url
):
    teacher, student, outsider = (
        make_account(Role.INSTRUCTOR),
        make_account(Role.STUDENT),
        make_account(Role.STUDENT),
    )
    course = make_course(
        database_url,
        teacher,
        title=f"Genetics {unique_word()}",
        modules={"Week 1": [LessonPlan("Mendel")]},
    )
    enroll(db, student, course)
    lesson_id = course.lesson_ids[0]
    instructor = open_session(platform, signed_in, teacher)

    published = instructor.call(
        "POST",
        f"/api/lessons/{lesson_id}/versions",
        content=notebook_bytes("# Mendel, revised"),
        headers=IPYNB,
    )
    assert published.status_code == 201, published.text

    [note] = notes_of(db, student, "lesson_published")
    assert note.payload["title"] == f"Mendel in {course.title} is updated (version 2)."
    assert note.payload["url"] == f"{SERVICE}/learn/{course.slug}/{lesson_id}"
    assert note.payload["version"] == 2
    assert notes_of(db, outsider) == [] and notes_of(db, teacher) == []


@pytest.fixture
def assessed(platform, signed_in, make_account, db, database_url):  # type: ignore[no-untyped-def]
    teacher = make_account(Role.INSTRUCTOR)
    course = make_course(
        database_url,
        teacher,
        title=f"Statistics {unique_word()}",
        modules={"Week 1": [LessonPlan("Homework", kind=LessonKind.ASSIGNMENT)]},
    )
    return course, open_session(platform, signed_in, teacher)


def test_releasing_an_assignment_notifies_each_enrolled_student_once(assessed, make_account, db):
    course, instructor = assessed
    students = [make_account(Role.STUDENT), make_account(Role.STUDENT)]
    for student in students:
        enroll(db, student, course)
    api = f"/api/courses/{course.slug}/assignments"
    made = instructor.call(
        "POST", api, params={"title": "Regression"}, content=source_bytes(), headers=IPYNB
    )
    assert made.status_code == 201, made.text
    one = f"{api}/{made.json()['id']}"
    assert notes_of(db, students[0]) == []  # not released yet

    for change in (
        {"release": True},
        {"title": "Linear regression"},
        {"release": False},
        {"release": True},
    ):
        answer = instructor.call("PATCH", one, json=change)
        assert answer.status_code == 200, answer.text

    for student in students:
        [note] = notes_of(db, student, "assignment_released")
        assert note.payload["title"] == f"New assignment in {course.title}: Regression."
        assert note.payload["url"] == f"{SERVICE}/courses/{course.slug}/assignments"
        assert note.payload["assignment_id"] == made.json()["id"]


# -- the scheduled scan ------------------------------------------------------------------------


def assignment_in(db, course, title: str, *, released_ago=None, due_in=None) -> Assignment:  # type: ignore[no-untyped-def]
    now = utcnow()
    row = Assignment(
        course_id=course.id,
        title=title,
        source_notebook={},
        student_notebook={},
        source_sha256="0" * 64,
        released_at=None if released_ago is None else now - released_ago,
        due_at=None if due_in is None else now + due_in,
    )
    with db() as session:
        session.add(row)
        session.commit()
    return row


async def scan(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[int, str, int]]:
    async with sessions() as session:
        made = await notification_events.scan(session)
        await session.commit()
    return sorted((n.account_id, n.kind, n.payload["assignment_id"]) for n in made)


async def test_only_committed_notifications_are_handed_out_for_announcing_and_only_once(
    sessions, make_account
):
    """What a request's session tells open pages: rows its commit made real, never rows it
    rolled back, each once."""
    student = make_account(Role.STUDENT)
    async with sessions() as session:
        notifications.add(session, student.id, "announcement", {"title": "Rolled back"})
        await session.flush()
        await session.rollback()
        assert notifications.committed(session) == []

        kept = notifications.add(session, student.id, "announcement", {"title": "Kept"})
        assert notifications.committed(session) == []  # not committed yet
        await session.commit()
        assert notifications.committed(session) == [kept] and kept.id is not None
        assert notifications.committed(session) == []


async def test_the_scan_reminds_each_student_who_has_not_submitted_once_before_the_due_date(
    sessions, make_account, db, database_url
):
    teacher = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, teacher, title=f"Ecology {unique_word()}", modules={})
    waiting, submitted, extended = (make_account(Role.STUDENT) for _ in range(3))
    for student in (waiting, submitted, extended):
        enroll(db, student, course, enrolled_at=utcnow() - timedelta(days=3))
    hour = timedelta(hours=1)
    soon = assignment_in(db, course, "Field notes", released_ago=50 * hour, due_in=12 * hour)
    assignment_in(db, course, "Later", released_ago=48 * hour, due_in=72 * hour)
    assignment_in(db, course, "Unreleased", due_in=5 * hour)
    assignment_in(db, course, "Past", released_ago=48 * hour, due_in=-1 * hour)
    with db() as session:
        session.add(
            Submission(
                assignment_id=soon.id,
                account_id=submitted.id,
                attempt=1,
                sha256="0" * 64,
                notebook=b"{}",
                size=2,
            )
        )
        session.add(
            AssignmentExtension(
                assignment_id=soon.id, account_id=extended.id, due_at=utcnow() + 72 * hour
            )
        )
        session.commit()
    late_joiner = make_account(Role.STUDENT)
    enroll(db, late_joiner, course)  # after the release: still reminded of the due date

    people = {waiting.id, submitted.id, extended.id, late_joiner.id}
    first = await scan(sessions)
    due_soon = [
        (account, assignment)
        for account, kind, assignment in first
        if kind == "assignment_due_soon" and account in people
    ]
    assert due_soon == sorted([(waiting.id, soon.id), (late_joiner.id, soon.id)])
    again = await scan(sessions)  # a second run (another worker, a retry) adds nothing
    assert [made for made in again if made[0] in people] == []
    [note] = notes_of(db, waiting, "assignment_due_soon")
    assert note.payload["title"] == (
        f"Field notes ({course.title}) is due within 24 hours, and you have not submitted it yet."
    )
    assert note.payload["url"] == f"{SERVICE}/courses/{course.slug}/assignments"


async def test_a_release_scheduled_ahead_is_announced_by_the_scan_when_it_comes(
    sessions, make_account, db, database_url
):
    teacher = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, teacher, title=f"Zoology {unique_word()}", modules={})
    student = make_account(Role.STUDENT)
    enroll(db, student, course, enrolled_at=utcnow() - timedelta(days=1))
    # Released a minute ago by its schedule: no request made that happen.
    scheduled = assignment_in(db, course, "Scheduled", released_ago=timedelta(minutes=1))
    future = assignment_in(db, course, "Next week", released_ago=-timedelta(days=7))

    made = await scan(sessions)
    assert (student.id, "assignment_released", scheduled.id) in made
    assert all(assignment != future.id for *_, assignment in made)
    assert [again for again in await scan(sessions) if again[0] == student.id] == []
    assert len(notes_of(db, student, "assignment_released")) == 1


# -- reading, marking and settings: only one's own --------------------------------------------


@pytest.mark.parametrize("role", [Role.STUDENT, Role.INSTRUCTOR, Role.ADMIN])
def test_everyone_reads_and_marks_only_their_own_notifications_and_settings(
    platform, signed_in, make_account, db, role
):
    me, classmate = make_account(role), make_account(Role.STUDENT)
    mine = store(db, me, "Yours.")
    theirs = store(db, classmate, "Not yours.")
    client = open_session(platform, signed_in, me)

    listed = client.get("/api/me/notifications").json()
    assert [n["id"] for n in listed["notifications"]] == [mine.id]
    marked = client.call("POST", "/api/me/notifications/read", json={"ids": [theirs.id, mine.id]})
    assert marked.json() == {"marked_read": 1}
    assert notes_of(db, classmate)[0].read_at is None
    assert notes_of(db, me)[0].read_at is not None
    page = client.get("/notifications")
    assert "Yours." in page.text and "Not yours." not in page.text

    changed = client.call(
        "PUT", "/api/me/notification-settings", json={"email": {"announcement": "off"}}
    )
    assert changed.status_code == 200, changed.text
    with db() as session:
        chosen = session.scalars(
            select(NotificationPreference.account_id).where(
                NotificationPreference.kind == "announcement"
            )
        ).all()
    assert me.id in chosen and classmate.id not in chosen


def test_notifications_and_their_settings_are_for_signed_in_people_only(platform, client):  # type: ignore[no-untyped-def]
    for path in ("/api/me/notifications", "/api/me/notification-settings"):
        answer = client.get(f"{platform.service_url}{path}", follow_redirects=False)
        assert answer.status_code in (401, 403), path
    answer = client.put(f"{platform.service_url}/api/me/notification-settings", json={})
    assert answer.status_code in (401, 403)


def test_email_settings_have_defaults_and_change_by_api_and_by_the_page(
    platform, signed_in, make_account
):
    client = open_session(platform, signed_in, make_account(Role.STUDENT))

    def choices() -> dict[str, str]:
        body = client.get("/api/me/notification-settings").json()
        return {kind["kind"]: kind["email"] for kind in body["kinds"]}

    defaults = choices()
    assert defaults["announcement"] == "email"
    assert defaults["assignment_due_soon"] == "email"
    assert defaults["submission_graded"] == "digest"
    assert defaults["enrolled"] == "off"

    answer = client.call(
        "PUT", "/api/me/notification-settings", json={"email": {"announcement": "digest"}}
    )
    assert answer.status_code == 200
    assert choices() == defaults | {"announcement": "digest"}

    for body, words in [
        ({"email": {"gossip": "email"}}, "no notification kind"),
        ({"email": {"announcement": "pigeon"}}, "Choose off, email or digest"),
        ({"email": ["announcement"]}, 'Send "email" as an object'),
    ]:
        refused = client.call("PUT", "/api/me/notification-settings", json=body)
        assert refused.status_code == 400
        assert words in refused.json()["error"] and refused.json()["error"].endswith(".")
    assert choices()["announcement"] == "digest"

    page = client.get("/notifications/settings")
    assert page.status_code == 200 and 'name="email.announcement"' in page.text
    saved = client.form(
        "/notifications/settings", {"email.announcement": "off", "email.enrolled": "email"}
    )
    assert saved.status_code == 200 and "settings are saved" in saved.text
    assert choices() == defaults | {"announcement": "off", "enrolled": "email"}


# -- the bell and the page -------------------------------------------------------------------


def test_every_page_has_the_bell_and_the_notifications_page_lists_titles_as_text(
    platform, signed_in, make_account, db
):
    student = make_account(Role.STUDENT)
    store(db, student, "<script>alert('hi')</script> Quiz 2 is graded.")
    client = open_session(platform, signed_in, student)

    courses = client.get("/courses")
    assert 'id="notification_bell"' in courses.text
    assert f"{SERVICE}/static/notifications.js" in courses.text
    assert client.get("/static/notifications.js").status_code == 200
    page = client.get("/notifications")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(" in page.text and "<script>alert(" not in page.text
    assert f'href="{SERVICE}/courses"' in page.text


@pytest.mark.browser
def test_the_bell_counts_shows_and_marks_read_new_notifications_live(
    platform, make_account, db, redis_url, page
):
    from playwright.sync_api import expect

    from tests.conftest import PASSWORD

    student = make_account(Role.STUDENT)
    store(db, student, "Welcome to CourseHub.")
    page.goto(f"{platform.url}/hub/login")
    page.locator("#username_input").fill(student.email or "")
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    page.wait_for_url(lambda url: "/hub/login" not in url)
    page.goto(f"{platform.service_url}/courses")
    bell = page.locator("#notification_bell")
    expect(bell).to_have_attribute("data-ready", "true", timeout=20_000)
    expect(page.locator("#notification_count")).to_have_text("1")

    # The grading worker's way: the row, then the news on Redis.
    row = store(db, student, "Homework 2 is graded: 8/10.", kind="submission_graded")
    news = {
        "id": row.id,
        "title": row.payload["title"],
        "url": row.payload["url"],
        "kind": row.kind,
        "payload": row.payload,
        "created_at": row.created_at.isoformat(),
    }
    redis.Redis.from_url(redis_url).publish(
        f"coursehub:notifications:{student.id}", json.dumps(news)
    )
    expect(page.locator("#notification_count")).to_have_text("2", timeout=15_000)

    # The same student has the notifications page open in another tab.
    other_tab = page.context.new_page()
    other_tab.goto(f"{platform.service_url}/notifications")
    expect(other_tab.locator("#notification_bell")).to_have_attribute("data-ready", "true")
    expect(other_tab.locator("#notification_count")).to_have_text("2")

    page.bring_to_front()
    page.locator("#notification_bell_button").click()
    items = page.locator("#notification_items .notification-item")
    expect(items.first).to_contain_text("Homework 2 is graded: 8/10.")
    expect(items.nth(1)).to_contain_text("Welcome to CourseHub.")
    page.locator("#notification_mark_all").click()
    expect(page.locator("#notification_count")).to_be_hidden()
    # Read in one tab, read in the other, without reloading it.
    expect(other_tab.locator("#notification_count")).to_be_hidden(timeout=10_000)
    expect(
        other_tab.locator("#notifications_page .notification-item[data-unread=true]")
    ).to_have_count(0)
    other_tab.close()
    with db() as session:
        unread = session.scalar(
            select(func.count(Notification.id)).where(
                Notification.account_id == student.id, Notification.read_at.is_(None)
            )
        )
    assert unread == 0
