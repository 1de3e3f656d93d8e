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

import redis.asyncio as redis
from tornado import iostream, web

from coursehub.services import notifications
from coursehub.services.handlers.base import BaseHandler
from coursehub.services.notifications import CHANNEL

KEEP_ALIVE_S = 15.0
POLL_WITHOUT_REDIS_S = 3.0
RETRY_REDIS_S = 10.0
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
        pubsub = await self._subscribe()
        try:
            await self._send_missed()
            await self._follow(pubsub)
        except iostream.StreamClosedError:
            pass  # the page was closed
        finally:
            if pubsub is not None:
                await _close(pubsub)

    def _after(self) -> int:
        raw = self.request.headers.get("Last-Event-ID") or self.get_argument("after", "0")
        try:
            after = int(raw)
        except ValueError:
            after = -1
        if not 0 <= after <= LARGEST_ID:
            raise web.HTTPError(400, "after must be the number of a notification.")
        return after

    async def _subscribe(self) -> Any:
        pubsub = self.application.settings["redis"].pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(CHANNEL.format(account_id=self.account_id))
        except (redis.RedisError, OSError):
            await _close(pubsub)
            return None
        return pubsub

    async def _follow(self, pubsub: Any) -> None:
        last_write = time.monotonic()
        next_redis_try = time.monotonic() + RETRY_REDIS_S
        while True:
            if pubsub is None:
                await asyncio.sleep(POLL_WITHOUT_REDIS_S)
                sent = await self._send_missed()
                if time.monotonic() >= next_redis_try:
                    pubsub = await self._subscribe()
                    next_redis_try = time.monotonic() + RETRY_REDIS_S
                    if pubsub is not None:
                        sent += await self._send_missed()  # published while subscribing
            else:
                try:
                    message = await pubsub.get_message(timeout=KEEP_ALIVE_S)
                except (redis.RedisError, OSError):
                    await _close(pubsub)
                    pubsub, next_redis_try = None, time.monotonic() + RETRY_REDIS_S
                    continue
                sent = await self._send_published(message) if message else 0
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

    async def _send_published(self, message: dict[str, Any]) -> int:
        try:
            event = json.loads(message["data"])
            number = int(event["id"])
        except (ValueError, KeyError, TypeError):
            return 0
        if number <= self.last_id:
            return 0
        self._event(event)
        await self.flush()
        return 1

    def _event(self, event: dict[str, Any]) -> None:
        self.last_id = max(self.last_id, int(event["id"]))
        data = json.dumps(event, default=str)
        self.write(f"id: {event['id']}\nevent: notification\ndata: {data}\n\n")


async def _close(pubsub: Any) -> None:
    try:
        await pubsub.aclose()
    except (redis.RedisError, OSError):
        pass


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    return [(rf"{prefix}/api/me/notifications/stream", NotificationStream)]
