"""The bell and the notifications page in Chromium: notifications that arrive out of order
(the service's processes announce them as they commit) are all shown, once each and in
their place; one committed while the stream was opening is found when it opens; a link
that is not a CourseHub page leads to the notifications page instead."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
import redis
from playwright.sync_api import expect

from coursehub.hub.constants import Role
from coursehub.services.models import Notification
from tests.player_data import sign_in

pytestmark = pytest.mark.browser


def stored(db, account_id: int, title: str, url: str | None = None) -> int:  # type: ignore[no-untyped-def]
    payload = {"title": title} if url is None else {"title": title, "url": url}
    with db() as session:
        row = Notification(account_id=account_id, kind="direct_message", payload=payload)
        session.add(row)
        session.commit()
        return row.id


def test_notifications_arriving_out_of_order_are_all_shown_in_their_place(
    platform, page, make_account, db, redis_url
):
    student = make_account(Role.STUDENT)
    sign_in(page, platform, student.email)
    page.goto(f"{platform.service_url}/notifications")
    bell = page.locator("#notification_bell")
    expect(bell).to_have_attribute("data-ready", "true")
    page.wait_for_timeout(1000)  # the page's stream is open by now

    first, second, third = (stored(db, student.id, f"Message {n}") for n in (1, 2, 3))
    evil = stored(db, student.id, "Click me", url="//evil.example/steal")
    walking = stored(db, student.id, "Walk out", url="/services/coursehub/../../hub/admin")
    announcer = redis.Redis.from_url(redis_url)
    for number in (third, first, walking, evil, second):  # as the processes commit them
        announcer.publish(f"coursehub:notifications:{student.id}", json.dumps({"id": number}))

    rows = page.locator("#notifications_list .notification-item")
    expect(rows).to_have_count(5)
    expect(page.locator("#notification_count")).to_have_text("5")
    newest_first = [walking, evil, third, second, first]
    assert [int(row.get_attribute("data-notification-id")) for row in rows.all()] == newest_first
    notifications_page = f"{urlsplit(platform.service_url).path}/notifications"
    for unsafe in (evil, walking):
        link = page.locator(f'.notification-item[data-notification-id="{unsafe}"] a')
        assert link.get_attribute("href") == notifications_page

    # A forged announcement and a repeated one change nothing.
    announcer.publish(f"coursehub:notifications:{student.id}", json.dumps({"id": second}))
    announcer.publish(
        f"coursehub:notifications:{student.id}",
        json.dumps({"id": 2**31 - 1, "title": "Forged", "url": "/services/coursehub/x"}),
    )
    page.wait_for_timeout(1000)
    expect(rows).to_have_count(5)
    expect(page.locator("#notification_count")).to_have_text("5")


SHOW_TAB = """(state) => {
    Object.defineProperty(document, "visibilityState", { value: state, configurable: true });
    document.dispatchEvent(new Event("visibilitychange"));
}"""


def test_a_notification_committed_late_and_never_announced_is_found_when_the_stream_reopens(
    platform, page, make_account, db, redis_url
):
    """#10 is written, #11 is written, committed and announced; #10 commits while the tab is
    away, with no word on Redis. When the tab is back its stream reopens after #11, and the
    bell reads the latest list again and finds #10."""
    student = make_account(Role.STUDENT)
    sign_in(page, platform, student.email)
    page.goto(f"{platform.service_url}/notifications")
    expect(page.locator("#notification_bell")).to_have_attribute("data-ready", "true")
    page.wait_for_timeout(1000)  # the page's stream is open by now

    slow = db()
    late = Notification(account_id=student.id, kind="direct_message", payload={"title": "Late"})
    slow.add(late)
    slow.flush()  # its id is taken; it commits later
    newer = stored(db, student.id, "On time")
    redis.Redis.from_url(redis_url).publish(
        f"coursehub:notifications:{student.id}", json.dumps({"id": newer})
    )
    expect(page.locator(f'.notification-item[data-notification-id="{newer}"]')).to_have_count(1)
    page.evaluate(SHOW_TAB, "hidden")
    slow.commit()
    slow.close()
    page.evaluate(SHOW_TAB, "visible")

    expect(page.locator(f'.notification-item[data-notification-id="{late.id}"]')).to_have_count(1)
    expect(page.locator("#notification_count")).to_have_text("2")
    rows = page.locator("#notifications_list .notification-item")
    assert [int(row.get_attribute("data-notification-id")) for row in rows.all()] == [
        newer,
        late.id,
    ]


def test_the_bell_opens_its_stream_again_after_the_service_refused_it(
    platform, page, make_account, db, redis_url
):
    """A 503 (a service process restarting) makes the browser give up an event stream; the
    bell tries again by itself, waiting longer each time, and misses nothing."""
    student = make_account(Role.STUDENT)
    refused = []

    def unavailable_twice(route):  # type: ignore[no-untyped-def]
        if len(refused) < 2:
            refused.append(route.request.url)
            route.fulfill(status=503, body="Service Unavailable")
        else:
            route.continue_()

    page.route("**/api/me/notifications/stream*", unavailable_twice)
    sign_in(page, platform, student.email)
    page.goto(f"{platform.service_url}/notifications")
    expect(page.locator("#notification_bell")).to_have_attribute("data-ready", "true")
    missed = stored(db, student.id, "Sent while the stream was refused")
    page.wait_for_timeout(4000)  # 1 s, then 2 s, then the stream opens
    assert len(refused) == 2
    expect(page.locator(f'.notification-item[data-notification-id="{missed}"]')).to_have_count(1)
    live = stored(db, student.id, "Sent once it is open again")
    redis.Redis.from_url(redis_url).publish(
        f"coursehub:notifications:{student.id}", json.dumps({"id": live})
    )
    expect(page.locator(f'.notification-item[data-notification-id="{live}"]')).to_have_count(1)
    expect(page.locator("#notification_count")).to_have_text("2")
