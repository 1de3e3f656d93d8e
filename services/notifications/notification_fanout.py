"""One Redis subscription per course-service process for every open notification stream.

Each open page's stream used to hold a Redis subscription of its own: a thousand pages
opening at once meant a thousand subscriptions, most of which timed out. Here a process keeps
one pattern subscription (``coursehub:notifications:*``) and hands each message to the
open streams of that person, encoded once as the server-sent event every one of them
writes (``Published``): a person with many open pages, or a course announcement, costs one
decode and one encoding per process, not one per page, and each stream writes it at once
(no task or queue per page). While Redis is away, streams are told so (``lost``) and read the
database instead until the subscription is back (``connected``). The application makes one
at start (``lms.init_redis``); it subscribes when the first stream opens.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as redis

from coursehub.services.notifications.notifications import CHANNEL

log = logging.getLogger(__name__)
PATTERN = CHANNEL.format(account_id="*")
PREFIX = CHANNEL.format(account_id="")
RECONNECT_S = 3.0
KEEP_ALIVE_S = 15.0


@dataclass(frozen=True)
class Published:
    """A notification as announced on Redis, and the server-sent event that carries it;
    ``id`` None for what is not a notification (read marks, keep-alives): sent as it comes."""

    id: int | None
    frame: bytes


def event_frame(notification_id: int, data: str) -> bytes:
    """The server-sent event for a notification; ``data`` is its JSON on one line."""
    return f"id: {notification_id}\nevent: notification\ndata: {data}\n\n".encode()


def read_frame(ids: list[int] | str) -> bytes:
    """The server-sent event telling a page that notifications were read elsewhere."""
    return f"event: read\ndata: {json.dumps({'read': ids})}\n\n".encode()


# Every KEEP_ALIVE_S each open stream is handed this comment: it keeps proxies from closing
# quiet streams and finds pages that were closed, without a timer per stream.
KEEP_ALIVE = Published(None, b": still here\n\n")


class Listener(Protocol):
    """An open stream: handed each of its person's notifications, and told when the
    subscription is lost (it may have missed some; the database has them)."""

    def deliver(self, published: Published) -> None: ...

    def lost(self) -> None: ...


class NotificationFanout:
    """The process's subscription and the open streams that listen to it."""

    def __init__(self, client: redis.Redis, keep_alive_s: float = KEEP_ALIVE_S) -> None:
        self.client = client
        self.keep_alive_s = keep_alive_s
        self.listeners: dict[int, set[Listener]] = defaultdict(set)
        self.connected = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def listen(self, account_id: int, listener: Listener) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._follow())
        self.listeners[account_id].add(listener)

    def leave(self, account_id: int, listener: Listener) -> None:
        listeners = self.listeners.get(account_id)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self.listeners[account_id]

    async def _follow(self) -> None:
        while self.listeners:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(PATTERN)
                self.connected.set()
                next_keep_alive = time.monotonic() + self.keep_alive_s
                while self.listeners:
                    message = await pubsub.get_message(timeout=min(1.0, self.keep_alive_s))
                    if message is not None:
                        self._deliver(message)
                    if time.monotonic() >= next_keep_alive:
                        for listener in self._everyone():
                            listener.deliver(KEEP_ALIVE)
                        next_keep_alive = time.monotonic() + self.keep_alive_s
            except (redis.RedisError, OSError) as error:
                log.warning("Notification subscription lost (%s); pages read the database", error)
            finally:
                self.connected.clear()
                for listener in self._everyone():
                    listener.lost()
                try:
                    await pubsub.aclose()
                except (redis.RedisError, OSError):
                    pass
            if self.listeners:
                await asyncio.sleep(RECONNECT_S)

    def _deliver(self, message: dict[str, object]) -> None:
        channel = message.get("channel", b"")
        channel = channel.decode() if isinstance(channel, bytes) else str(channel)
        try:
            listeners = self.listeners.get(int(channel.removeprefix(PREFIX)))
            if not listeners:
                return
            event = json.loads(message["data"])  # type: ignore[arg-type]
            published = _published(event)
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        for listener in list(listeners):  # a closed page leaves while being written to
            listener.deliver(published)

    def _everyone(self) -> list[Listener]:
        return [listener for listeners in self.listeners.values() for listener in listeners]


def _published(event: dict[str, Any]) -> Published:
    """What was announced, encoded again rather than passed on as it came (one line, whatever
    was published); ValueError and friends for anything else."""
    if "read" in event:
        read = event["read"]
        if read != "all" and not (
            isinstance(read, list) and all(type(number) is int for number in read)
        ):
            raise ValueError("read marks name notification numbers, or all")
        return Published(None, read_frame(read))
    notification_id = int(event["id"])
    return Published(notification_id, event_frame(notification_id, json.dumps(event)))
