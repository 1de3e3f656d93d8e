"""The course service's one Redis subscription per process, against the real Redis: each
notification reaches every open stream of its person (and nobody else's) as one ready-made
server-sent event, quiet streams get a keep-alive comment, and a lost subscription tells
every stream so it reads the database."""

from __future__ import annotations

import asyncio
import json

import redis.asyncio as aioredis

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


async def test_each_open_page_of_a_person_gets_their_notification_once_and_ready_to_send(
    redis_url,
):
    client = aioredis.from_url(redis_url)
    fanout = NotificationFanout(client)
    laptop, phone, classmate = OpenPage(), OpenPage(), OpenPage()
    fanout.listen(4101, laptop)
    fanout.listen(4101, phone)
    fanout.listen(4102, classmate)
    try:
        await asyncio.wait_for(fanout.connected.wait(), 5)
        event = {"id": 77, "title": "Your essay is graded.", "payload": {"line": "a\nb"}}
        await client.publish(CHANNEL.format(account_id=4101), json.dumps(event))
        await eventually(lambda: laptop.notifications() and phone.notifications())

        [sent] = laptop.notifications()
        assert phone.notifications() == [sent]  # the same bytes: encoded once per process
        lines = sent.frame.decode().split("\n")
        assert lines[:2] == ["id: 77", "event: notification"]
        assert json.loads(lines[2].removeprefix("data: ")) == event
        assert sent.frame.endswith(b"\n\n") and sent.frame.count(b"\n") == 4  # one data line
        assert classmate.received == []

        # Not a notification (no id) and another channel: nobody hears anything.
        await client.publish(CHANNEL.format(account_id=4101), "not json")
        await client.publish("coursehub:elsewhere", json.dumps({"id": 78}))
        await asyncio.sleep(0.3)
        assert len(laptop.notifications()) == 1 and classmate.received == []

        # A closed page leaves; the others still hear.
        fanout.leave(4101, laptop)
        await client.publish(CHANNEL.format(account_id=4101), json.dumps({"id": 79}))
        await eventually(lambda: len(phone.notifications()) == 2)
        assert len(laptop.notifications()) == 1
    finally:
        for account_id, page in ((4101, phone), (4102, classmate)):
            fanout.leave(account_id, page)
        await client.aclose()


async def test_quiet_pages_get_keep_alives_and_a_lost_subscription_tells_every_page(redis_url):
    client = aioredis.from_url(redis_url, client_name="fanout-under-test")
    fanout = NotificationFanout(client, keep_alive_s=0.2)
    page = OpenPage()
    fanout.listen(4201, page)
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
        await client.publish(CHANNEL.format(account_id=4201), json.dumps({"id": 80}))
        await eventually(lambda: [item.id for item in page.notifications()] == [80])
    finally:
        fanout.leave(4201, page)
        await client.aclose()


async def test_read_marks_reach_the_persons_pages_as_read_events_and_bad_ones_nobody(redis_url):
    client = aioredis.from_url(redis_url)
    fanout = NotificationFanout(client)
    page = OpenPage()
    fanout.listen(4301, page)
    try:
        await asyncio.wait_for(fanout.connected.wait(), 5)
        channel = CHANNEL.format(account_id=4301)
        for bad in ({"read": "some"}, {"read": [1, "2"]}, {"read": [True]}, {"read": None}):
            await client.publish(channel, json.dumps(bad))
        await client.publish(channel, json.dumps({"read": [5, 6]}))
        await client.publish(channel, json.dumps({"read": "all"}))
        await eventually(lambda: len(page.received) == 2)
        assert [item.frame for item in page.received] == [
            b'event: read\ndata: {"read": [5, 6]}\n\n',
            b'event: read\ndata: {"read": "all"}\n\n',
        ]
        assert all(item.id is None for item in page.received)  # sent whatever came before
    finally:
        fanout.leave(4301, page)
        await client.aclose()
