"""My notifications: ``GET /api/me/notifications`` (the newest 50 and the unread count),
``POST /api/me/notifications/read`` (``{"ids": [...]}``, or no ids for all) and the page
``/notifications``. Live news of a new one comes over Redis channel
``coursehub:notifications:<account id>`` (pages listen through the notification stream).
Everyone sees and marks only their own: every query is by the signed-in account."""

from __future__ import annotations

from typing import Any

from tornado import web

from coursehub.services.notifications import notifications
from coursehub.services.web.base import BaseHandler


class NotificationsAPI(BaseHandler):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            rows, unread = await notifications.latest(session, account.id)
        self.write_json(
            {"notifications": [notifications.notification_json(n) for n in rows], "unread": unread}
        )


class ReadNotificationsAPI(BaseHandler):
    async def post(self) -> None:
        ids = self.json_body().get("ids")
        if ids is not None and (
            not isinstance(ids, list)
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        ):
            raise web.HTTPError(400, "ids must be a list of notification ids, or left out for all.")
        async with self.db() as session:
            account = await self.account(session)
            changed = await notifications.mark_read(session, account.id, ids)
            await session.commit()
        self.write_json({"marked_read": changed})


class NotificationsPage(BaseHandler):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            rows, unread = await notifications.latest(session, account.id)
        self.render_page(
            "notifications.html",
            notifications=[notifications.notification_json(n) for n in rows],
            unread=unread,
        )


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    return [
        (rf"{prefix}/notifications", NotificationsPage),
        (rf"{prefix}/api/me/notifications", NotificationsAPI),
        (rf"{prefix}/api/me/notifications/read", ReadNotificationsAPI),
    ]
