"""One Redis subscription per course-service process for every open notification stream.

Each open page's stream used to hold a Redis subscription of its own: a thousand pages
opening at once meant a thousand subscriptions, most of which timed out. Here a process keeps
one pattern subscription (``coursehub:notifications:*``) and hands each message to the
queues of that person's open streams. While Redis is away, streams are told so (``None`` on
their queue) and read the database instead until the subscription is back.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from typing import Any

import redis.asyncio as redis

from coursehub.services.notifications import CHANNEL

log = logging.getLogger(__name__)
PATTERN = CHANNEL.format(account_id="*")
PREFIX = CHANNEL.format(account_id="")
RECONNECT_S = 3.0


class NotificationFanout:
    """The process's subscription and the open streams that listen to it."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.listeners: dict[int, set[asyncio.Queue[dict[str, Any] | None]]] = defaultdict(set)
        self.connected = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def listen(self, account_id: int) -> asyncio.Queue[dict[str, Any] | None]:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._follow())
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.listeners[account_id].add(queue)
        return queue

    def leave(self, account_id: int, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        listeners = self.listeners.get(account_id)
        if listeners is not None:
            listeners.discard(queue)
            if not listeners:
                del self.listeners[account_id]

    async def _follow(self) -> None:
        while self.listeners:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(PATTERN)
                self.connected.set()
                while self.listeners:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._deliver(message)
            except (redis.RedisError, OSError) as error:
                log.warning("Notification subscription lost (%s); pages read the database", error)
            finally:
                self.connected.clear()
                self._tell_all(None)
                try:
                    await pubsub.aclose()
                except (redis.RedisError, OSError):
                    pass
            if self.listeners:
                await asyncio.sleep(RECONNECT_S)

    def _deliver(self, message: dict[str, Any]) -> None:
        channel = message.get("channel", b"")
        channel = channel.decode() if isinstance(channel, bytes) else str(channel)
        try:
            account_id = int(channel.removeprefix(PREFIX))
            event = json.loads(message["data"])
        except (ValueError, KeyError, TypeError):
            return
        for queue in self.listeners.get(account_id, ()):
            queue.put_nowait(event)

    def _tell_all(self, item: dict[str, Any] | None) -> None:
        for queues in self.listeners.values():
            for queue in queues:
                queue.put_nowait(item)
