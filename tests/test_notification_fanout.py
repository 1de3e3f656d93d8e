"""The course service's one Redis subscription per process, against the real Redis and
PostgreSQL: each notification reaches every open stream of its person (and nobody else's)
as one ready-made server-sent event, read from the database (the record) once Redis says
"look"; forged announcements, and someone else's notification announced on a person's
channel, reach nobody; quiet streams get a keep-alive comment, and a lost subscription tells
every stream so it reads the database."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import redis.asyncio as aioredis
from sqlalchemy import update

from coursehub.hub.constants import Role
from coursehub.services.models import Notification
from coursehub.services.notifications.notification_fanout import (
    KEEP_ALIVE,
    NotificationFanout,
    Published,
)
from coursehub.services.notifications.notifications import CHANNEL


class OpenPage:
    """What a stream does with what the fan-out hands it: remembers it."""

    def __init__(self) -> None:
        self.received: list[Published] = []
        self.times_lost = 0

    def deliver(self, published: Published) -> None:
        self.received.append(published)

    def lost(self) -> None:
        self.times_lost += 1

    def notifications(self) -> list[Published]:
        return [item for item in self.received if item is not KEEP_ALIVE]


async def eventually(check, seconds: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    assert check()


def stored(db, account_id: int, title: str, *, read: bool = False) -> int:  # type: ignore[no-untyped-def]
    with db() as session:
        row = Notification(
            account_id=account_id,
            kind="submission_graded",
            payload={"title": title, "line": "a\nb"},
            read_at=datetime.now(UTC) if read else None,
        )
        session.add(row)
        session.commit()
        return row.id


async def test_each_open_page_of_a_person_gets_their_notification_once_and_ready_to_send(
    redis_url, sessions, db, make_account
):
    student, other = make_account(Role.STUDENT), make_account(Role.STUDENT)
    client = aioredis.from_url(redis_url)
    fanout = NotificationFanout(client, sessions)
    laptop, phone, classmate = OpenPage(), OpenPage(), OpenPage()
    fanout.listen(student.id, laptop)
    fanout.listen(student.id, phone)
    fanout.listen(other.id, classmate)
    try:
        await asyncio.wait_for(fanout.connected.wait(), 5)
        graded = stored(db, student.id, "Your essay is graded.")
        # Only "look" comes over Redis: what is sent is the database's row.
        await client.publish(CHANNEL.format(account_id=student.id), json.dumps({"id": graded}))
        await eventually(lambda: laptop.notifications() and phone.notifications())

        [sent] = laptop.notifications()
        assert phone.notifications() == [sent]  # the same bytes: encoded once per process
        lines = sent.frame.decode().split("\n")
        assert lines[:2] == [f"id: {graded}", "event: notification"]
        event = json.loads(lines[2].removeprefix("data: "))
        assert event["id"] == graded and event["title"] == "Your essay is graded."
        assert event["payload"]["line"] == "a\nb" and event["read_at"] is None
        assert event["created_at"].endswith("+00:00") and "T" in event["created_at"]
        assert sent.frame.endswith(b"\n\n") and sent.frame.count(b"\n") == 4  # one data line
        assert classmate.received == []

        # Not a notification, another channel, a number no row has, a forged body, and the
        # classmate's real notification announced on the student's channel: nobody hears.
        theirs = stored(db, other.id, "Only for the classmate.")
        channel = CHANNEL.format(account_id=student.id)
        await client.publish(channel, "not json")
        await client.publish(channel, json.dumps({"id": "7"}))
        await client.publish("coursehub:elsewhere", json.dumps({"id": graded}))
        await client.publish(channel, json.dumps({"id": 2**31 - 1, "title": "Forged!"}))
        await client.publish(channel, json.dumps({"id": theirs, "title": "Yours now"}))
        await asyncio.sleep(0.5)
        assert len(laptop.notifications()) == 1 and classmate.received == []

        # A closed page leaves; the others still hear.
        fanout.leave(student.id, laptop)
        later = stored(db, student.id, "Another grade.")
        await client.publish(channel, json.dumps({"id": later}))
        await eventually(lambda: len(phone.notifications()) == 2)
        assert len(laptop.notifications()) == 1
    finally:
        for account_id, page in ((student.id, phone), (other.id, classmate)):
            fanout.leave(account_id, page)
        await client.aclose()


async def test_notifications_announced_out_of_order_all_arrive(
    redis_url, sessions, db, make_account
):
    """Ids are taken when rows are written, so #2 may be announced before #1: both arrive."""
    teacher = make_account(Role.INSTRUCTOR)
    client = aioredis.from_url(redis_url)
    fanout = NotificationFanout(client, sessions)
    page = OpenPage()
    fanout.listen(teacher.id, page)
    try:
        await asyncio.wait_for(fanout.connected.wait(), 5)
        first, second = (stored(db, teacher.id, f"Message {n}") for n in (1, 2))
        channel = CHANNEL.format(account_id=teacher.id)
        await client.publish(channel, json.dumps({"id": second}))
        await eventually(lambda: len(page.notifications()) == 1)
        await client.publish(channel, json.dumps({"id": first}))
        await eventually(lambda: len(page.notifications()) == 2)
        assert [item.id for item in page.notifications()] == [second, first]
    finally:
        fanout.leave(teacher.id, page)
        await client.aclose()


async def test_quiet_pages_get_keep_alives_and_a_lost_subscription_tells_every_page(
    redis_url, sessions, db, make_account
):
    student = make_account(Role.STUDENT)
    client = aioredis.from_url(redis_url, client_name="fanout-under-test")
    fanout = NotificationFanout(client, sessions, keep_alive_s=0.2)
    page = OpenPage()
    fanout.listen(student.id, page)
    try:
        await asyncio.wait_for(fanout.connected.wait(), 5)
        await eventually(lambda: KEEP_ALIVE in page.received)
        assert page.notifications() == []

        # Redis drops the connection: the page is told, then the subscription comes back.
        [ours] = [
            entry
            for entry in await client.client_list(_type="pubsub")
            if entry["name"] == "fanout-under-test"
        ]
        await client.client_kill_filter(_id=ours["id"])
        await eventually(lambda: page.times_lost == 1)
        await asyncio.wait_for(fanout.connected.wait(), 10)
        back = stored(db, student.id, "After the restart.")
        await client.publish(CHANNEL.format(account_id=student.id), json.dumps({"id": back}))
        await eventually(lambda: [item.id for item in page.notifications()] == [back])
    finally:
        fanout.leave(student.id, page)
        await client.aclose()


async def test_read_marks_reach_the_persons_pages_only_when_the_database_agrees(
    redis_url, sessions, db, make_account
):
    student = make_account(Role.STUDENT)
    client = aioredis.from_url(redis_url)
    fanout = NotificationFanout(client, sessions)
    page = OpenPage()
    fanout.listen(student.id, page)
    try:
        await asyncio.wait_for(fanout.connected.wait(), 5)
        channel = CHANNEL.format(account_id=student.id)
        read = stored(db, student.id, "Read already.", read=True)
        unread = stored(db, student.id, "Not read yet.")
        for bad in ({"read": "some"}, {"read": [1, "2"]}, {"read": [True]}, {"read": None}):
            await client.publish(channel, json.dumps(bad))
        # Forged: the unread one named read, and "all" while one is unread.
        await client.publish(channel, json.dumps({"read": [unread]}))
        await client.publish(channel, json.dumps({"read": "all", "upto": unread}))
        await asyncio.sleep(0.5)
        assert page.received == []

        await client.publish(channel, json.dumps({"read": [read, unread]}))
        await eventually(lambda: len(page.received) == 1)
        assert page.received[0].frame == f'event: read\ndata: {{"read": [{read}]}}\n\n'.encode()
        with db() as session:
            session.execute(
                update(Notification)
                .where(Notification.id == unread)
                .values(read_at=datetime.now(UTC))
            )
            session.commit()
        await client.publish(channel, json.dumps({"read": "all", "upto": unread}))
        await eventually(lambda: len(page.received) == 2)
        assert page.received[1].frame == b'event: read\ndata: {"read": "all"}\n\n'
        assert all(item.id is None for item in page.received)  # sent whatever came before
    finally:
        fanout.leave(student.id, page)
        await client.aclose()
