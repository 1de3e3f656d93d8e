"""Profile and settings pages: ``/account/profile`` (name, bio, pronouns, time zone,
language, avatar), ``/people/<id>`` (how others see a person), ``/account/settings`` (email
change with a confirmation link, password, Google identity, links to notification settings
and API tokens) and ``/account/email/<token>`` (the link that confirms a new address).
"""

from __future__ import annotations

from pathlib import Path

from tornado import web

from coursehub.services import mail
from coursehub.services.accounts import accounts, email_changes, profiles
from coursehub.services.accounts.accounts import AccountError
from coursehub.services.accounts.handlers.accounts import (
    AccountPage,
    accounts_errors,
    google_notice,
)
from coursehub.services.audit import audit_log
from coursehub.services.models import Account, Profile, Upload, utcnow
from coursehub.services.web.base import BaseHandler


def _profile_values(account: Account, profile: Profile) -> dict[str, str]:
    return {
        "name": account.name,
        "bio": profile.bio,
        "pronouns": profile.pronouns,
        "time_zone": profile.time_zone,
        "language": profile.language,
    }


class ProfilePage(BaseHandler):
    """``/account/profile``: a person edits what others see of them."""

    async def get(self) -> None:
        async with self.db() as session:
            account = await self.account(session)
            profile = await profiles.profile_of(session, account)
            values = _profile_values(account, profile)
            avatar = profiles.avatar_url(self.prefix, account.id, profile.avatar_upload_id)
        self._render(values, avatar, {}, saved=self.get_argument("saved", "") == "1")

    def _render(
        self, values: dict[str, str], avatar: str | None, errors: dict[str, str], saved: bool
    ) -> None:
        self.render_page(
            "profile.html",
            values=values,
            avatar=avatar,
            errors=errors,
            saved=saved,
            time_zones=profiles.TIME_ZONES,
            max_avatar_mb=profiles.MAX_AVATAR_BYTES / 1_000_000,
        )

    @property
    def prefix(self) -> str:
        return self.settings_obj.service_prefix

    async def post(self) -> None:
        fields = ("name", "bio", "pronouns", "time_zone")
        values = {key: self.get_body_argument(key, "") for key in fields}
        # The page offers no choice of language yet (profiles.LANGUAGES): English unless said.
        values["language"] = self.get_body_argument("language", "en")
        files = self.request.files.get("avatar") or []
        async with self.db() as session:
            account = await self.account(session)
            profile = await profiles.profile_of(session, account)
            stale: list[Path | None] = []
            try:
                # The form's fields first: a wrong field keeps no picture on disk.
                await profiles.update_profile(session, account, **values)
                if self.get_body_argument("remove_avatar", ""):
                    stale.append(await profiles.remove_avatar(session, self.settings_obj, account))
                if files and files[0].body:
                    stale.append(
                        await profiles.set_avatar(
                            session, self.settings_obj, account, files[0].body, files[0].filename
                        )
                    )
            except AccountError as error:
                avatar = profiles.avatar_url(self.prefix, account.id, profile.avatar_upload_id)
                await session.rollback()
                self.set_status(error.status)
                self._render(values, avatar, accounts_errors(error), saved=False)
                return
            await session.commit()
        for path in stale:
            if path is not None:
                path.unlink(missing_ok=True)
        self.redirect(f"{self.prefix}/account/profile?saved=1", status=303)


class PersonPage(BaseHandler):
    """``/people/<account id>``: a person's profile as signed-in people see it."""

    async def get(self, account_id: str) -> None:
        async with self.db(read_only=True) as session:
            await self.account(session)
            person = await session.get(Account, int(account_id))
            if person is None or accounts.is_deleted(person):
                raise web.HTTPError(404, "There is no such person on CourseHub.")
            profile = await session.get(Profile, person.id)
            card = (await profiles.cards(session, self.settings_obj.service_prefix, [person.id]))[
                person.id
            ]
        self.render_page(
            "person.html",
            person=person,
            card=card,
            bio=profile.bio if profile else "",
            time_zone=profile.time_zone if profile else "UTC",
        )


class AvatarHandler(BaseHandler):
    """``/people/<account id>/avatar/<upload id>``: the picture, for signed-in people."""

    async def get(self, account_id: str, upload_id: str) -> None:
        async with self.db(read_only=True) as session:
            await self.account(session)
            profile = await session.get(Profile, int(account_id))
            upload = await session.get(Upload, int(upload_id))
        if profile is None or upload is None or profile.avatar_upload_id != upload.id:
            raise web.HTTPError(404, "This person has no such picture.")
        path = self.settings_obj.uploads_dir / upload.storage_name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise web.HTTPError(404, "This picture is gone.") from None
        self.set_header("Content-Type", upload.content_type)
        self.set_header("Cache-Control", "private, max-age=86400")
        self.finish(data)


class CurrentAvatar(BaseHandler):
    """``/people/<account id>/avatar``: the person's current picture, or their initial drawn
    as SVG when they have none (so pages can show every author without knowing which)."""

    async def get(self, account_id: str) -> None:
        async with self.db(read_only=True) as session:
            await self.account(session)
            person = await session.get(Account, int(account_id))
            profile = await session.get(Profile, int(account_id))
            upload = (
                await session.get(Upload, profile.avatar_upload_id)
                if profile and profile.avatar_upload_id
                else None
            )
        if person is None:
            raise web.HTTPError(404, "There is no such person on CourseHub.")
        self.set_header("Cache-Control", "private, max-age=300")
        if upload is not None:
            try:
                data = (self.settings_obj.uploads_dir / upload.storage_name).read_bytes()
            except FileNotFoundError:
                data = b""
            if data:
                self.set_header("Content-Type", upload.content_type)
                self.finish(data)
                return
        self.set_header("Content-Type", "image/svg+xml")
        self.finish(profiles.initials_svg(person.name or person.username, person.id))


class SettingsPage(AccountPage):
    """``/account/settings``: email, password, Google identity, and where the rest lives."""

    async def get(self) -> None:
        await self._show({}, {}, status=200)

    async def _show(self, errors: dict[str, str], values: dict[str, str], status: int) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            pending = await email_changes.pending_email(session, account, utcnow())
        self.set_status(status)
        self.render_page(
            "settings.html",
            account=account,
            pending=pending,
            errors=errors,
            values=values,
            notice=self.get_argument("notice", ""),
            google_sign_in=self.settings_obj.google_sign_in,
        )

    async def post(self) -> None:
        action = self.get_body_argument("action", "")
        if action == "email":
            await self._change_email()
        elif action == "unlink_google":
            await self._unlink_google()
        else:
            raise web.HTTPError(400, "Say what to change: action=email or action=unlink_google.")

    async def _change_email(self) -> None:
        settings = self.settings_obj
        new_email = self.get_body_argument("new_email", "")
        async with self.db() as session:
            account = await self.account(session)
            try:
                address, token = await email_changes.start_email_change(
                    session, account, new_email, self.get_body_argument("password", ""), utcnow()
                )
            except AccountError as error:
                await session.rollback()
                await self._show(accounts_errors(error), {"new_email": new_email}, error.status)
                return
            # Which addresses are not kept in the audit log: the entry outlives a deletion.
            audit_log.record(session, account, "account.email_change_requested", account)
            await session.commit()
        link = f"{settings.public_url}{settings.service_prefix}/account/email/{token}"
        hours = int(email_changes.LINK_LIFETIME.total_seconds() // 3600)
        message = mail.compose(
            settings,
            address,
            "Confirm your new CourseHub email address",
            f"Hello {account.name},\n\nOpen this link within {hours} hours to make {address} "
            f"the email address of your CourseHub account:\n\n{link}\n\nUntil you do, you "
            "keep signing in with your current address. If you did not ask for this, ignore "
            "this mail.\n",
        )
        self.application.settings["background"](mail.send_later(settings, message))
        if account.email:
            warning = mail.compose(
                settings,
                account.email,
                "Your CourseHub email address is about to change",
                f"Hello {account.name},\n\nSomeone signed in as you asked to move your CourseHub "
                "account to another email address. It changes only when the link sent there "
                "is opened. If this was not you, change your password now.\n",
            )
            self.application.settings["background"](mail.send_later(settings, warning))
        self.redirect(f"{settings.service_prefix}/account/settings?notice=email_sent", status=303)

    async def _unlink_google(self) -> None:
        async with self.db() as session:
            account = await self.account(session)
            google_email = account.google_email
            try:
                accounts.unlink_google(account)
            except AccountError as error:
                await session.rollback()
                await self._show({"google": error.message}, {}, error.status)
                return
            audit_log.record(session, account, "account.google_unlink", account)
            await session.commit()
        google_notice(self, account, linked=False, google_email=google_email)
        self.redirect(
            f"{self.settings_obj.service_prefix}/account/settings?notice=google_unlinked",
            status=303,
        )


class ConfirmEmailPage(BaseHandler):
    """``/account/email/<token>``: the link sent to the new address. It works signed in or
    not (it may be opened on another device); the token alone names the account."""

    public = True

    async def get(self, token: str) -> None:
        async with self.db(read_only=True) as session:
            try:
                link = await email_changes.usable_link(
                    session, token, email_changes.EMAIL_CHANGE, utcnow()
                )
            except AccountError as error:
                self.set_status(error.status)
                self.render_page("done.html", heading="Email not changed", text=error.message)
                return
        self.render_page("email_confirm.html", new_email=link.new_email, token=token)

    async def post(self, token: str) -> None:
        async with self.db() as session:
            try:
                account, _old = await email_changes.confirm_email_change(session, token, utcnow())
            except AccountError as error:
                await session.rollback()
                self.set_status(error.status)
                self.render_page("done.html", heading="Email not changed", text=error.message)
                return
            audit_log.record(session, account, "account.email_change", account)
            await session.commit()
        self.render_page(
            "done.html",
            heading="Your email address has changed",
            text=f"Sign in with {account.email} from now on.",
            login=account.email,
        )


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/account/profile", ProfilePage),
        (f"{prefix}/account/settings", SettingsPage),
        (f"{prefix}/account/email/([A-Za-z0-9_-]{{20,100}})", ConfirmEmailPage),
        (f"{prefix}/people/(\\d+)", PersonPage),
        (f"{prefix}/people/(\\d+)/avatar/(\\d+)", AvatarHandler),
        (f"{prefix}/people/(\\d+)/avatar", CurrentAvatar),
    ]
