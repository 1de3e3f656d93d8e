"""``GET /api/me/notifications/stream``: my notifications as server-sent events, live.

The stream first sends what the page missed (after the ``Last-Event-ID`` the browser sends
on reconnecting, or ``?after=<id>``), then each new notification as Redis announces it on
``coursehub:notifications:<account id>``. The database is the record and Redis only says
"look": what is announced is read from the database before it is sent
(``notification_fanout``), so a forged announcement sends nothing. While Redis is down the
stream reads new rows every few seconds instead, and it goes back to Redis when Redis
returns.

Notifications are reconciled by id, never by "newer than the last one sent": ids are taken
when a row is written, so the service's processes and workers commit and announce them out
of order (#11 may arrive before #10). The stream remembers which ids it sent and sends each
once, in whatever order they come; its reads of the database take, besides what is newer
than anything sent, whatever was made in the last ``LATE_COMMIT`` (a #10 committed after
#11 was sent). Events carry the notification's id, and the page drops one it already has.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from tornado import iostream, web

from coursehub.services.models import utcnow
from coursehub.services.notifications import notifications
from coursehub.services.notifications.notification_fanout import (
    KEEP_ALIVE,
    NotificationFanout,
    Published,
    notification_event,
)
from coursehub.services.web.base import BaseHandler

POLL_WITHOUT_REDIS_S = 3.0
LARGEST_ID = 2**31 - 1  # notification ids are PostgreSQL integers
# A notification committed up to this long after its row was written is still found by the
# stream's next read of the database (the live announcement finds it whenever it commits).
LATE_COMMIT = timedelta(minutes=2)
# Ids sent are remembered this long (monotonic seconds): well past LATE_COMMIT, so nothing
# the reads can still find is sent twice.
REMEMBER_SENT_S = 2 * LATE_COMMIT.total_seconds() + 60


class NotificationStream(BaseHandler):
    """One open page's stream. The fan-out writes each live notification to it at once
    (``deliver``); the request's own coroutine only reads the database: first what the page
    missed, and again whenever the subscription was lost, until it is back."""

    account_id = 0
    floor = 0  # the newest id sent (or the page's ``after``)

    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            self.account_id = (await self.account(session)).id
        self.floor = self._after()
        self.sent: dict[int, float] = {}  # id: when it was sent (monotonic)
        self.first_read = True
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Accel-Buffering", "no")
        self.closed = False
        self.wake = asyncio.Event()  # the page closed, or the subscription was lost
        # Live notifications that arrive while the database is read wait here, so each is
        # sent once and after what was missed.
        self.backlog: list[Published] | None = []
        fanout: NotificationFanout = self.application.settings["notification_fanout"]
        fanout.listen(self.account_id, self)  # before reading what was missed: no gap
        try:
            # A comment with the headers: a proxy (configurable-http-proxy) passes headers on
            # only with the first bytes of the body, and the page should know it is connected.
            self.write(b": connected\n\n")
            await self.flush()
            while not self.closed:
                # Subscribed before the database is read: what is committed later comes live.
                subscribed = fanout.connected.is_set()
                sent = await self._catch_up(go_live=subscribed)
                if subscribed:
                    await self.wake.wait()
                    self.wake.clear()
                    continue
                # Redis is away (or not subscribed yet): the database is the record, and
                # whatever comes live meanwhile waits for the next read.
                try:
                    await asyncio.wait_for(fanout.connected.wait(), POLL_WITHOUT_REDIS_S)
                except TimeoutError:
                    if not sent:
                        self.write(KEEP_ALIVE.frame)  # finds closed pages while polling
                        await self.flush()
        except iostream.StreamClosedError:
            pass  # the page was closed
        finally:
            self.closed = True
            fanout.leave(self.account_id, self)

    # -- what the fan-out calls -------------------------------------------------------------

    def deliver(self, published: Published) -> None:
        if self.closed:
            return
        if self.backlog is not None:
            self.backlog.append(published)
        elif self._send(published):
            self.flush().add_done_callback(self._flushed)

    def lost(self) -> None:
        self.wake.set()  # it may have missed some: read the database

    def on_connection_close(self) -> None:
        self.closed = True
        # The page may leave before the stream started (refused, or while its account is read).
        if hasattr(self, "wake"):
            self.wake.set()

    def _flushed(self, future: asyncio.Future[None]) -> None:
        if future.exception() is not None:
            self.on_connection_close()  # the page is gone

    # -- sending ----------------------------------------------------------------------------

    async def _catch_up(self, *, go_live: bool) -> int:
        """Send what the database has that this stream has not sent, then what arrived live
        meanwhile (each once); from then on live ones are sent as they come (``go_live``),
        or wait for the next read."""
        if self.backlog is None:
            self.backlog = []
        sent = await self._send_missed()
        backlog, self.backlog = self.backlog, None if go_live else []
        waiting = sum(self._send(published) for published in backlog)
        if waiting:
            await self.flush()
        return sent + waiting

    def _after(self) -> int:
        raw = self.request.headers.get("Last-Event-ID") or self.get_argument("after", "0")
        try:
            after = int(raw)
        except ValueError:
            after = -1
        if not 0 <= after <= LARGEST_ID:
            raise web.HTTPError(400, "after must be the number of a notification.")
        return after

    async def _send_missed(self) -> int:
        """Send what the database has after the newest one sent and what committed late
        (``LATE_COMMIT``), each once. On the first read, those up to the page's ``after``
        that are there already are the page's (it read them, or reads them as it opens the
        stream): only the ones that commit later are sent."""
        since = utcnow() - LATE_COMMIT
        async with self.db(read_only=True) as session:
            rows = await notifications.to_reconcile(session, self.account_id, self.floor, since)
        self._forget_old()
        if self.first_read:
            self.first_read = False
            for row in rows:
                if row.id <= self.floor:
                    self.sent[row.id] = time.monotonic()
        sent = sum(self._send(notification_event(row)) for row in rows)
        if sent:
            await self.flush()
        return sent

    def _send(self, published: Published) -> int:
        if published.id is None:  # a keep-alive comment, or notifications read elsewhere
            self.write(published.frame)
            return 1
        if published.id in self.sent:
            return 0  # already sent (read from the database, or announced twice)
        self.sent[published.id] = time.monotonic()
        self.floor = max(self.floor, published.id)
        self.write(published.frame)
        return 1

    def _forget_old(self) -> None:
        horizon = time.monotonic() - REMEMBER_SENT_S
        if self.sent and min(self.sent.values()) < horizon:
            self.sent = {number: at for number, at in self.sent.items() if at >= horizon}


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    return [(rf"{prefix}/api/me/notifications/stream", NotificationStream)]
