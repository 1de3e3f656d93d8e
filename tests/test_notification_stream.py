"""A student's open page hears about their grades at once: the notification stream sends
what the page missed, then each new notification as Redis announces it, only the student's
own, and keeps delivering from the database while Redis is away."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
import redis
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import Account, Notification
from coursehub.services.notifications.handlers.notification_stream import LARGEST_ID
from coursehub.services.notifications.notification_fanout import RECONNECT_S
from tests.course_builder import enroll, make_course, unique_word
from tests.teaching_client import open_session

CHANNEL = "coursehub:notifications:{account_id}"


@contextmanager
def listening(client: httpx.Client, url: str) -> Iterator[queue.Queue]:
    """The stream read in the background, as a page's EventSource does; events in a queue."""
    events: queue.Queue = queue.Queue()
    stop = threading.Event()

    def read() -> None:
        try:
            follow()
        except httpx.HTTPError:
            pass  # the test is over and its client closed

    def follow() -> None:
        with client.stream("GET", url, timeout=httpx.Timeout(5, read=60)) as response:
            events.put(("status", response.status_code))
            data = None
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("data: "):
                    data = json.loads(line[len("data: ") :])
                elif line == "" and data is not None:
                    events.put(("event", data))
                    data = None

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield events
    finally:
        stop.set()


def next_event(events: queue.Queue, within: float = 15) -> dict:
    kind, value = events.get(timeout=within)
    while kind == "status":
        kind, value = events.get(timeout=within)
    return value


def notify(db, redis_url: str, account: Account, score: float, publish: bool = True) -> int:  # type: ignore[no-untyped-def]
    """What the grading worker does: the row first (the record), then the news on Redis."""
    with db() as session:
        row = Notification(
            account_id=account.id, kind="submission_graded", payload={"final_score": score}
        )
        session.add(row)
        session.commit()
        message = {"id": row.id, "kind": row.kind, "payload": row.payload, "created_at": "now"}
    if publish:
        redis.Redis.from_url(redis_url).publish(
            CHANNEL.format(account_id=account.id), json.dumps(message)
        )
    return row.id


@pytest.fixture
def student_page(platform, signed_in, make_account):  # type: ignore[no-untyped-def]
    student = make_account(Role.STUDENT)
    return student, signed_in(student), f"{platform.service_url}/api/me/notifications/stream"


def test_an_open_page_gets_missed_then_live_notifications_and_only_its_own(
    student_page, make_account, db, redis_url
):
    student, browser, url = student_page
    missed = notify(db, redis_url, student, 1, publish=False)
    classmate = make_account(Role.STUDENT)

    with listening(browser, f"{url}?after={missed - 1}") as events:
        assert next_event(events)["id"] == missed
        time.sleep(0.5)  # subscribed by now
        notify(db, redis_url, classmate, 99)
        live = notify(db, redis_url, student, 7)
        event = next_event(events, within=5)

    assert event["id"] == live and event["payload"]["final_score"] == 7
    assert events.empty(), "the classmate's notification reached this student's page"


def test_a_page_that_reconnects_gets_only_what_it_has_not_seen(student_page, db, redis_url):
    student, browser, url = student_page
    first = notify(db, redis_url, student, 1, publish=False)
    second = notify(db, redis_url, student, 2, publish=False)

    browser.headers["Last-Event-ID"] = str(first)
    with listening(browser, url) as events:
        assert next_event(events)["id"] == second
        time.sleep(0.5)
        assert events.empty()


def test_notifications_keep_coming_from_the_database_while_redis_is_away(
    student_page, db, redis_url
):
    student, browser, url = student_page
    with listening(browser, url) as events:
        time.sleep(1)
        # Redis drops the page's subscription (as a restart does) and the news is never
        # published; the row is the record.
        redis.Redis.from_url(redis_url).client_kill_filter(_type="pubsub")
        unannounced = notify(db, redis_url, student, 5, publish=False)
        event = next_event(events, within=20)

    assert event["id"] == unannounced


def test_twelve_notifications_committed_at_once_from_several_connections_all_arrive(
    student_page, db, redis_url
):
    """Twelve people message a teacher at once: each message's notification is written and
    committed on its own connection, and announced when committed, so the newest may come
    first. Every one reaches the open page, once."""
    teacher, browser, url = student_page
    connections = [db() for _ in range(12)]
    rows = []
    for number, session in enumerate(connections, start=1):
        row = Notification(
            account_id=teacher.id, kind="direct_message", payload={"title": f"Message {number}"}
        )
        session.add(row)
        session.flush()  # the id is taken now; the commit comes later
        rows.append(row)
    ids = [row.id for row in rows]
    announcer = redis.Redis.from_url(redis_url)

    def commit_and_announce(index: int, start: threading.Barrier | None = None) -> None:
        if start is not None:
            start.wait()
        connections[index].commit()
        connections[index].close()
        announcer.publish(CHANNEL.format(account_id=teacher.id), json.dumps({"id": ids[index]}))

    with listening(browser, f"{url}?after={LARGEST_ID - 1}") as events:
        assert events.get(timeout=5) == ("status", 200)
        time.sleep(0.5)  # subscribed by now
        commit_and_announce(11)  # the newest first
        assert next_event(events, within=5)["id"] == ids[11]
        start = threading.Barrier(11)
        committers = [
            threading.Thread(target=commit_and_announce, args=(index, start)) for index in range(11)
        ]
        for committer in committers:
            committer.start()
        for committer in committers:
            committer.join()
        arrived = [ids[11]] + [next_event(events, within=10)["id"] for _ in range(11)]
        time.sleep(0.5)
        assert events.empty(), "a notification arrived twice"
    assert sorted(arrived) == ids


def test_twelve_students_message_their_teacher_at_once_and_the_open_page_gets_every_one(
    platform, signed_in, make_account, db, database_url
):
    """Through the service's several processes, as in class: every direct message's
    notification reaches the teacher's open page."""
    teacher = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, teacher, title=f"Office hours {unique_word()}", modules={})
    students = [make_account(Role.STUDENT) for _ in range(12)]
    for student in students:
        enroll(db, student, course)
    senders = [open_session(platform, signed_in, student) for student in students]
    start = threading.Barrier(len(senders))

    def ask(number: int) -> int:
        start.wait()
        answer = senders[number].call(
            "POST",
            "/api/messages/conversations",
            json={"account_id": teacher.id, "body": f"Question {number + 1} about the lab"},
        )
        return answer.status_code

    stream = f"{platform.service_url}/api/me/notifications/stream?after={LARGEST_ID - 1}"
    with listening(signed_in(teacher), stream) as events:
        assert events.get(timeout=5) == ("status", 200)
        time.sleep(0.5)  # subscribed by now
        with ThreadPoolExecutor(max_workers=len(senders)) as pool:
            assert list(pool.map(ask, range(len(senders)))) == [201] * len(senders)
        arrived = [next_event(events, within=15)["id"] for _ in senders]
        time.sleep(0.5)
        assert events.empty(), "a notification arrived twice"
    with db() as session:
        stored = session.scalars(
            select(Notification.id).where(
                Notification.account_id == teacher.id, Notification.kind == "direct_message"
            )
        )
        assert sorted(arrived) == sorted(stored)


def test_a_forged_announcement_on_redis_reaches_nobody(student_page, make_account, db, redis_url):
    """Anyone who reaches Redis can publish: only notifications in the database, and the
    person's own, are sent."""
    student, browser, url = student_page
    classmate = make_account(Role.STUDENT)
    theirs = notify(db, redis_url, classmate, 3, publish=False)
    unread = notify(db, redis_url, student, 1, publish=False)  # on the page already
    channel = CHANNEL.format(account_id=student.id)
    forged = {"id": LARGEST_ID, "title": "Reset your password here", "url": "//evil.example"}
    with listening(browser, f"{url}?after={unread}") as events:
        assert events.get(timeout=5) == ("status", 200)
        time.sleep(0.5)
        announcer = redis.Redis.from_url(redis_url)
        announcer.publish(channel, json.dumps(forged))
        announcer.publish(channel, json.dumps({"id": theirs, "title": "Yours now"}))
        announcer.publish(channel, json.dumps({"read": "all", "upto": LARGEST_ID}))
        real = notify(db, redis_url, student, 8)
        assert next_event(events, within=5)["id"] == real
        time.sleep(0.5)
        assert events.empty()


def test_the_stream_is_for_signed_in_people_only(platform, client):  # type: ignore[no-untyped-def]
    answer = client.get(f"{platform.service_url}/api/me/notifications/stream")
    assert answer.status_code in (401, 403)


@pytest.mark.parametrize("after", ["-1", "soon", str(2**62)], ids=["negative", "word", "huge"])
def test_a_stream_asked_to_start_after_no_notification_is_refused(student_page, after):
    _, browser, url = student_page
    answer = browser.get(url, params={"after": after})
    assert answer.status_code == 400
    assert "number of a notification" in answer.json()["error"]


def test_notifications_read_on_one_page_leave_the_bell_of_the_persons_other_pages(
    platform, signed_in, make_account, db, redis_url
):
    """Two pages of one student, and a classmate's: what the student reads on one page is
    announced to their other page (and JupyterLab) as a read mark, never to the classmate."""
    student, classmate = make_account(Role.STUDENT), make_account(Role.STUDENT)
    first = notify(db, redis_url, student, 1, publish=False)
    notify(db, redis_url, student, 2, publish=False)
    notify(db, redis_url, classmate, 3, publish=False)
    other_tab = signed_in(student)
    reading = open_session(platform, signed_in, student)
    stream = f"{platform.service_url}/api/me/notifications/stream?after={LARGEST_ID}"
    with (
        listening(other_tab, stream) as events,
        listening(signed_in(classmate), stream) as classmates,
    ):
        # Subscribed by now, even after a test that dropped the service's subscription (it is
        # back within RECONNECT_S): read marks are not stored, so one sent meanwhile is lost.
        time.sleep(RECONNECT_S + 1)
        marked = reading.call("POST", "/api/me/notifications/read", json={"ids": [first]})
        assert marked.json() == {"marked_read": 1}
        assert next_event(events, within=5) == {"read": [first]}

        # Marking it again changes nothing, so nothing is announced; "all" marks the rest.
        reading.call("POST", "/api/me/notifications/read", json={"ids": [first]})
        reading.call("POST", "/api/me/notifications/read", json={})
        assert next_event(events, within=5) == {"read": "all"}
        time.sleep(0.5)
        assert events.empty()
        assert classmates.get(timeout=10) == ("status", 200)
        assert classmates.empty()


def test_a_page_knows_at_once_that_its_stream_is_open(student_page):
    """Through the proxy, before any notification: the answer starts at once (the proxy
    passes headers on only with the first bytes, so the stream sends a comment)."""
    _, browser, url = student_page
    with listening(browser, f"{url}?after={LARGEST_ID}") as events:
        assert events.get(timeout=5) == ("status", 200)
