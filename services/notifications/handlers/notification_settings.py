"""How I hear about my notifications: ``GET``/``PUT /api/me/notification-settings`` (JSON) and
the page ``/notifications/settings`` (a form). Everyone reads and changes only their own.

PUT sends ``{"email": {"<kind>": "off" | "email" | "digest"}}``; kinds left out keep their
choice. Every notification is kept in CourseHub whatever the choice (the bell and the
notifications page); the choice is about email only.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from coursehub.services.notifications import kinds
from coursehub.services.notifications import notification_preferences as preferences
from coursehub.services.web.base import BaseHandler


class NotificationSettingsAPI(BaseHandler):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            choices = await preferences.choices_of(session, account.id)
        self.write_json(preferences.settings_json(choices))

    async def put(self) -> None:
        try:
            wanted = preferences.parse_choices(self.json_body().get("email"))
        except preferences.PreferenceError as error:
            raise web.HTTPError(400, str(error)) from None
        async with self.db() as session:
            account = await self.account(session)
            await preferences.save_choices(session, account.id, wanted)
            await session.commit()
            choices = await preferences.choices_of(session, account.id)
        self.write_json(preferences.settings_json(choices))


class NotificationSettingsPage(BaseHandler):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            choices = await preferences.choices_of(session, account.id)
        self.show(choices, saved=self.get_query_argument("saved", "") == "1")

    async def post(self) -> None:
        raw = {kind.name: self.get_body_argument(f"email.{kind.name}", "") for kind in kinds.KINDS}
        try:
            wanted = preferences.parse_choices({k: v for k, v in raw.items() if v})
        except preferences.PreferenceError as error:
            async with self.db(read_only=True) as session:
                account = await self.account(session)
                choices = await preferences.choices_of(session, account.id)
            self.set_status(400)
            self.show(choices, problem=str(error))
            return
        async with self.db() as session:
            account = await self.account(session)
            await preferences.save_choices(session, account.id, wanted)
            await session.commit()
        self.redirect(
            f"{self.settings_obj.service_prefix}/notifications/settings?saved=1", status=303
        )

    def show(self, choices: dict[str, Any], *, saved: bool = False, problem: str = "") -> None:
        self.render_page(
            "notification_settings.html",
            settings=preferences.settings_json(choices),
            saved=saved,
            problem=problem,
        )


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    return [
        (rf"{prefix}/api/me/notification-settings", NotificationSettingsAPI),
        (rf"{prefix}/notifications/settings", NotificationSettingsPage),
    ]
