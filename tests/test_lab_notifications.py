"""CourseHub notifications inside a student's JupyterLab: the server extension relays the
owner's own notifications (list, mark read, the live stream) with the server's hub token,
and in Chromium a new notification shows a toast and raises the bell's count at once.

The student's server is started for real through the hub, once for the module.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coursehub.hub.constants import Role
from coursehub.services.models import Account, Notification
from tests.conftest import PASSWORD
from tests.test_lab_extension import Hub, Person, add_account, sign_in_as
from tests.test_notification_stream import listening, next_event

SERVICE = "/services/coursehub"


@dataclass
class Lab:
    hub: Hub
    student: Person
    classmate: Account


@pytest.fixture(scope="module")
def lab(platform, db) -> Iterator[Lab]:  # type: ignore[no-untyped-def]
    hub = Hub(platform)
    student = sign_in_as(platform, hub, add_account(db, Role.STUDENT, "bell"))
    hub.start(student.name)
    yield Lab(hub, student, add_account(db, Role.STUDENT, "classmate"))
    if hub.server(student.name):
        hub.stop(student.name)
    student.browser.close()
    student.server.close()
    hub.http.close()


def notify(
    db: Callable[[], Session], redis_url: str, account: Account, title: str, publish: bool = True
) -> Notification:
    """What the grading worker does: the row (the record), then the news on Redis."""
    with db() as session:
        row = Notification(
            account_id=account.id,
            kind="feedback_released",
            payload={"title": title, "url": f"{SERVICE}/courses/physics/assignments"},
        )
        session.add(row)
        session.commit()
    if publish:
        news = {
            "id": row.id,
            "title": title,
            "url": row.payload["url"],
            "kind": row.kind,
            "payload": row.payload,
            "created_at": row.created_at.isoformat(),
        }
        redis.Redis.from_url(redis_url).publish(
            f"coursehub:notifications:{account.id}", json.dumps(news)
        )
    return row


def unread_of(db: Callable[[], Session], account: Account) -> int:
    with db() as session:
        return session.scalar(
            select(func.count(Notification.id)).where(
                Notification.account_id == account.id, Notification.read_at.is_(None)
            )
        )


def test_the_server_extension_relays_only_the_owners_notifications(lab, db, redis_url):
    own = notify(db, redis_url, lab.student.account, "Lab report 1 has feedback.", publish=False)
    other = notify(db, redis_url, lab.classmate, "Someone else's feedback.", publish=False)

    listed = lab.student.server.get("/coursehub/api/notifications")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert [n["id"] for n in body["notifications"]] == [own.id]
    assert body["notifications"][0]["title"] == "Lab report 1 has feedback."
    assert body["unread"] == 1

    marked = lab.student.server.post(
        "/coursehub/api/notifications/read", json={"ids": [other.id, own.id]}
    )
    assert marked.status_code == 200, marked.text
    assert marked.json() == {"marked_read": 1}
    assert unread_of(db, lab.classmate) >= 1
    assert lab.student.server.get("/coursehub/api/notifications").json()["unread"] == 0


def test_the_server_extension_relays_the_live_stream_after_the_last_seen(lab, db, redis_url):
    seen = notify(db, redis_url, lab.student.account, "Seen before.", publish=False)
    url = f"/coursehub/api/notifications/stream?after={seen.id}"
    with listening(lab.student.server, url) as events:
        time.sleep(1.5)  # relayed and subscribed: what follows arrives live
        notify(db, redis_url, lab.classmate, "Not for this lab.")
        live = notify(db, redis_url, lab.student.account, "Quiz 3 feedback is out.")
        event = next_event(events, within=15)
    assert event["id"] == live.id and event["title"] == "Quiz 3 feedback is out."


def test_the_stream_relay_refuses_a_bad_start(lab):
    answer = lab.student.server.get("/coursehub/api/notifications/stream?after=soon")
    assert answer.status_code == 400


@pytest.mark.browser
def test_a_new_notification_shows_a_toast_and_the_bell_count_in_jupyterlab(
    lab, platform, db, redis_url, page
):
    from playwright.sync_api import expect

    student = lab.student
    lab.student.server.post("/coursehub/api/notifications/read", json={})
    page.goto(f"{platform.url}/hub/login")
    page.locator("#username_input").fill(student.account.email or "")
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    page.wait_for_url(lambda url: "/hub/login" not in url)
    page.goto(f"{platform.url}/user/{student.name}/lab")
    bell = page.locator("#coursehub-notification-bell")
    expect(bell).to_be_visible(timeout=90_000)
    expect(bell).to_have_attribute("data-unread", "0")

    notify(db, redis_url, student.account, "Your essay on optics has feedback.")
    expect(page.get_by_text("Your essay on optics has feedback.")).to_be_visible(timeout=20_000)
    expect(bell).to_have_attribute("data-unread", "1")
    expect(bell.locator(".coursehub-Bell-count")).to_have_text("1")

    bell.click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Your essay on optics has feedback.")
    dialog.get_by_role("button", name="Mark all as read").click()
    expect(bell).to_have_attribute("data-unread", "0")
    assert unread_of(db, student.account) == 0


@pytest.mark.browser
def test_a_reply_to_the_students_forum_thread_reaches_their_jupyterlab_as_a_toast(
    lab, platform, signed_in, make_account, db, database_url, page
):
    from playwright.sync_api import expect

    from tests.course_builder import enroll, make_course
    from tests.teaching_client import open_session

    student = lab.student
    teacher = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, teacher, title="Optics in notebooks")
    enroll(db, student.account, course)
    forum = f"/api/courses/{course.slug}/forums"
    asked = open_session(platform, signed_in, student.account).call(
        "POST",
        f"{forum}/general/threads",
        json={"title": "Why does the lens flip the image?", "body": "I do not see it."},
    )
    assert asked.status_code == 201, asked.text
    student.server.post("/coursehub/api/notifications/read", json={})

    page.goto(f"{platform.url}/hub/login")
    page.locator("#username_input").fill(student.account.email or "")
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()
    page.wait_for_url(lambda url: "/hub/login" not in url)
    page.goto(f"{platform.url}/user/{student.name}/lab")
    bell = page.locator("#coursehub-notification-bell")
    expect(bell).to_be_visible(timeout=90_000)
    expect(bell).to_have_attribute("data-unread", "0")

    thread_id = asked.json()["id"]
    replied = open_session(platform, signed_in, teacher).call(
        "POST", f"{forum}/threads/{thread_id}/posts", json={"body": "Rays cross at the focus."}
    )
    assert replied.status_code == 201, replied.text

    expect(page.get_by_text("replied in “Why does the lens flip the image?”")).to_be_visible(
        timeout=20_000
    )
    expect(bell).to_have_attribute("data-unread", "1")

    # The student reads the answer on the course's forum page: JupyterLab's bell drops it.
    read = open_session(platform, signed_in, student.account).get(f"{forum}/threads/{thread_id}")
    assert read.status_code == 200, read.text
    expect(bell).to_have_attribute("data-unread", "0", timeout=15_000)
    assert unread_of(db, student.account) == 0
