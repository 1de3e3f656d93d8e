"""``GET /api/me/notifications/stream``: my notifications as server-sent events, live.

The stream first sends what the page missed (after the ``Last-Event-ID`` the browser sends
on reconnecting, or ``?after=<id>``), then each new notification as Redis announces it on
``coursehub:notifications:<account id>``. The database is the record: while Redis is down the
stream reads new rows every few seconds instead, and it goes back to Redis when Redis
returns, so nothing is lost and nothing is sent twice (events carry the notification's id).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from tornado import iostream, web

from coursehub.services import notifications
from coursehub.services.handlers.base import BaseHandler
from coursehub.services.notification_fanout import NotificationFanout

KEEP_ALIVE_S = 15.0
POLL_WITHOUT_REDIS_S = 3.0
LARGEST_ID = 2**31 - 1  # notification ids are PostgreSQL integers


class NotificationStream(BaseHandler):
    account_id = 0
    last_id = 0

    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            self.account_id = (await self.account(session)).id
        self.last_id = self._after()
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Accel-Buffering", "no")
        fanout = self._fanout()
        queue = fanout.listen(self.account_id)  # before reading what was missed: no gap
        try:
            await self._send_missed()
            await self._follow(fanout, queue)
        except iostream.StreamClosedError:
            pass  # the page was closed
        finally:
            fanout.leave(self.account_id, queue)

    def _fanout(self) -> NotificationFanout:
        settings = self.application.settings
        if "notification_fanout" not in settings:
            settings["notification_fanout"] = NotificationFanout(settings["redis"])
        return settings["notification_fanout"]

    def _after(self) -> int:
        raw = self.request.headers.get("Last-Event-ID") or self.get_argument("after", "0")
        try:
            after = int(raw)
        except ValueError:
            after = -1
        if not 0 <= after <= LARGEST_ID:
            raise web.HTTPError(400, "after must be the number of a notification.")
        return after

    async def _follow(self, fanout: NotificationFanout, queue: asyncio.Queue) -> None:
        last_write = time.monotonic()
        while True:
            if not fanout.connected.is_set():
                # Redis is away (or not subscribed yet): the database is the record.
                try:
                    await asyncio.wait_for(fanout.connected.wait(), POLL_WITHOUT_REDIS_S)
                except TimeoutError:
                    pass
                sent = await self._send_missed()
            else:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=KEEP_ALIVE_S)
                except TimeoutError:
                    event = None
                if event is None:
                    sent = await self._send_missed()  # the subscription may have dropped some
                else:
                    sent = self._send_published(event)
                    if sent:
                        await self.flush()
            if sent:
                last_write = time.monotonic()
            elif time.monotonic() - last_write >= KEEP_ALIVE_S:
                self.write(": still here\n\n")  # a comment: finds closed pages, keeps proxies
                await self.flush()
                last_write = time.monotonic()

    async def _send_missed(self) -> int:
        async with self.db(read_only=True) as session:
            rows = await notifications.newer_than(session, self.account_id, self.last_id)
        for row in rows:
            self._event(notifications.notification_json(row))
        if rows:
            await self.flush()
        return len(rows)

    def _send_published(self, event: dict[str, Any]) -> int:
        try:
            number = int(event["id"])
        except (ValueError, KeyError, TypeError):
            return 0
        if number <= self.last_id:
            return 0
        self._event(event)
        return 1

    def _event(self, event: dict[str, Any]) -> None:
        self.last_id = max(self.last_id, int(event["id"]))
        data = json.dumps(event, default=str)
        self.write(f"id: {event['id']}\nevent: notification\ndata: {data}\n\n")


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    return [(rf"{prefix}/api/me/notifications/stream", NotificationStream)]
