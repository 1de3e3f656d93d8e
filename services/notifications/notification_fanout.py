"""One Redis subscription per course-service process for every open notification stream.

Each open page's stream used to hold a Redis subscription of its own: a thousand pages
opening at once meant a thousand subscriptions, most of which timed out. Here a process keeps
one pattern subscription (``coursehub:notifications:*``) and hands each message to the
open streams of that person, encoded once as the server-sent event every one of them
writes (``Published``): a person with many open pages, or a course announcement, costs one
read and one encoding per process, not one per page, and each stream writes it at once (no
task or queue per page). While Redis is away, streams are told so (``lost``) and read the
database instead until the subscription is back (``connected``). The application makes one
at start (``lms.init_redis``); it subscribes when the first stream opens.

Redis only says "look": anyone who can reach Redis can publish. A message names a
notification (or read marks); the fan-out reads what it names from the database, the record,
and passes on only what is there and belongs to the person of the channel, as the database
has it (``_check``, once for all messages that arrived together). A forged notification, one
of someone else's, or read marks for notifications that are not read, reach nobody.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as redis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coursehub.services.models import Notification
from coursehub.services.notifications import notifications
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


def notification_event(notification: Notification) -> Published:
    """A stored notification as the event every open page of its person is sent."""
    event = notifications.notification_json(notification)
    data = json.dumps(event, default=lambda value: value.isoformat())
    return Published(notification.id, event_frame(notification.id, data))


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


@dataclass
class _Claims:
    """What the messages that arrived together claim, per person: notifications and read
    marks (``everything_upto``: all read up to that notification)."""

    notifications: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    read: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    everything_upto: dict[int, int] = field(default_factory=dict)

    def people(self) -> set[int]:
        return {*self.notifications, *self.read, *self.everything_upto}


class NotificationFanout:
    """The process's subscription and the open streams that listen to it."""

    def __init__(
        self,
        client: redis.Redis,
        sessions: async_sessionmaker[AsyncSession],
        keep_alive_s: float = KEEP_ALIVE_S,
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.keep_alive_s = keep_alive_s
        self.listeners: dict[int, set[Listener]] = defaultdict(set)
        self.connected = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.claims = _Claims()
        self.checking: asyncio.Task[None] | None = None

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
                        self._claim(message)
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

    def _claim(self, message: dict[str, object]) -> None:
        """Note what a message claims for a person with open pages; it is checked against
        the database with whatever else arrived meanwhile."""
        channel = message.get("channel", b"")
        channel = channel.decode() if isinstance(channel, bytes) else str(channel)
        try:
            account_id = int(channel.removeprefix(PREFIX))
            if not self.listeners.get(account_id):
                return
            _note(self.claims, account_id, json.loads(message["data"]))  # type: ignore[arg-type]
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        if self.checking is None or self.checking.done():
            self.checking = asyncio.get_running_loop().create_task(self._check_claims())

    async def _check_claims(self) -> None:
        # Messages published together arrive together: let them gather, then read once.
        await asyncio.sleep(0)
        while self.claims.people():
            claims, self.claims = self.claims, _Claims()
            try:
                await self._check(claims)
            except (SQLAlchemyError, OSError) as error:
                log.warning("Could not check announced notifications (%s); pages reread", error)
                for account_id in claims.people():
                    for listener in list(self.listeners.get(account_id, ())):
                        listener.lost()

    async def _check(self, claims: _Claims) -> None:
        """Pass on what the database confirms: each claimed notification that exists and is
        the person's, in order of id; read marks of notifications that are read."""
        sends: list[tuple[int, Published]] = []
        async with self.sessions() as session:
            claimed = {n for ids in claims.notifications.values() for n in ids}
            for row in await notifications.committed_rows(session, claimed):
                if row.id in claims.notifications.get(row.account_id, ()):
                    sends.append((row.account_id, notification_event(row)))
            for account_id, ids in claims.read.items():
                if confirmed := await notifications.read_ones(session, account_id, ids):
                    sends.append((account_id, Published(None, read_frame(confirmed))))
            for account_id, upto in claims.everything_upto.items():
                if await notifications.all_read_upto(session, account_id, upto):
                    sends.append((account_id, Published(None, read_frame("all"))))
        for account_id, published in sends:
            for listener in list(self.listeners.get(account_id, ())):  # a page may leave
                listener.deliver(published)

    def _everyone(self) -> list[Listener]:
        return [listener for listeners in self.listeners.values() for listener in listeners]


def _note(claims: _Claims, account_id: int, event: dict[str, Any]) -> None:
    """What one message claims; ValueError and friends for anything else."""
    if "read" in event:
        read = event["read"]
        if read == "all":
            upto = event.get("upto")
            if type(upto) is not int:
                raise ValueError("a mark of all read says up to which notification")
            claims.everything_upto[account_id] = max(
                upto, claims.everything_upto.get(account_id, 0)
            )
            return
        if not (isinstance(read, list) and read and all(type(number) is int for number in read)):
            raise ValueError("read marks name notification numbers, or all")
        claims.read[account_id].update(read)
        return
    notification_id = event["id"]
    if type(notification_id) is not int:
        raise ValueError("a notification is announced by its number")
    claims.notifications[account_id].add(notification_id)
