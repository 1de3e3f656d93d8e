"""My data: ``/account/data`` (ask for an export of everything CourseHub holds about me,
download it; delete my account), ``/account/data/exports/<token>`` (the emailed link) and
``/account/delete/<token>`` (the emailed deletion link for accounts without a password).

Deleting asks for the password, or for accounts without one (Google sign-in only) sends a
single-use link by email. The hub user goes before the deletion is committed, like a
password change: if the hub cannot be told, nothing is deleted.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession
from tornado.httpclient import HTTPClientError

from coursehub.services import mail
from coursehub.services.accounts import accounts, email_changes, hub_users
from coursehub.services.accounts.accounts import AccountError
from coursehub.services.audit import audit_log
from coursehub.services.errors import Refusal
from coursehub.services.models import Account, AccountLink, DataExport, utcnow
from coursehub.services.privacy import deletion, exports, redis_keys
from coursehub.services.web.base import BaseHandler

log = logging.getLogger(__name__)


class MyDataPage(BaseHandler):
    async def get(self) -> None:
        await self._show({}, 200)

    async def _show(self, errors: dict[str, str], status: int) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            made = await exports.exports_of(session, account)
        self.set_status(status)
        self.render_page(
            "my_data.html",
            account=account,
            exports=made,
            now=utcnow(),
            errors=errors,
            notice=self.get_argument("notice", ""),
            lifetime_days=exports.LIFETIME.days,
        )

    async def post(self) -> None:
        async with self.db() as session:
            account = await self.account(session)
            _export, made = await exports.request_export(session, account)
            await session.commit()
        notice = "export_queued" if made else "export_already_queued"
        self.redirect(
            f"{self.settings_obj.service_prefix}/account/data?notice={notice}", status=303
        )


class ExportDownload(BaseHandler):
    """``/account/data/exports/<token>`` (emailed) or ``/account/data/exports/<id>/zip``."""

    async def get(self, key: str) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            now = utcnow()
            if key.isdigit() and self.request.path.endswith("/zip"):
                export = await exports.export_for_owner(session, account, int(key), now)
            else:
                export = await exports.export_for_download(session, account, key, now)
        await self._send(export)

    async def _send(self, export: DataExport) -> None:
        path = exports.exports_dir(self.settings_obj.data_dir) / (export.storage_name or "")
        if not export.storage_name or not path.is_file():
            raise Refusal("This export is no longer kept. Ask for a new one on My data.", 410)
        self.set_header("Content-Type", "application/zip")
        self.set_header(
            "Content-Disposition",
            f'attachment; filename="coursehub-data-{export.created_at:%Y-%m-%d}.zip"',
        )
        self.set_header("Cache-Control", "private, no-store")
        with path.open("rb") as file:
            while chunk := await asyncio.to_thread(file.read, 1 << 20):
                self.write(chunk)
                await self.flush()
        self.finish()


class DeleteAccount(MyDataPage):
    """``POST /account/delete``: with the password, delete now; without a password on the
    account, send a deletion link to its address."""

    async def post(self) -> None:
        async with self.db() as session:
            account = await self.account(session)
            if account.password_hash:
                if not accounts.verify_password(account, self.get_body_argument("password", "")):
                    await session.rollback()
                    await self._refuse(
                        "That is not your password; your account was not deleted.", 403
                    )
                    return
                await delete_now(self, session, account)
                return
            if not account.email:
                raise Refusal("Your account has no email address to send the link to.", 409)
            await self._send_link(session, account)

    async def get(self) -> None:
        self.redirect(f"{self.settings_obj.service_prefix}/account/data")

    async def _refuse(self, message: str, status: int) -> None:
        await self._show({"delete": message}, status)

    async def _send_link(self, session: AsyncSession, account: Account) -> None:
        settings = self.settings_obj
        try:
            await deletion.refuse_last_admin(session, account)
        except AccountError as error:
            await self._refuse(error.message, error.status)
            return
        token = secrets.token_urlsafe(32)
        now = utcnow()
        session.add(
            AccountLink(
                account_id=account.id,
                purpose=email_changes.DELETE_ACCOUNT,
                token_sha256=email_changes.token_digest(token),
                created_at=now,
                expires_at=now + email_changes.LINK_LIFETIME,
            )
        )
        await session.commit()
        link = f"{settings.public_url}{settings.service_prefix}/account/delete/{token}"
        message = mail.compose(
            settings,
            account.email or "",
            "Confirm the deletion of your CourseHub account",
            f"Hello {account.name},\n\nOpen this link within 24 hours, signed in, to delete "
            f"your CourseHub account for good:\n\n{link}\n\nIf you did not ask for this, "
            "ignore this mail: nothing happens.\n",
        )
        self.application.settings["background"](mail.send_later(settings, message))
        self.redirect(f"{settings.service_prefix}/account/data?notice=delete_link_sent", status=303)


class DeleteByLink(BaseHandler):
    """``/account/delete/<token>``: the emailed link; confirms, then deletes."""

    async def get(self, token: str) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            await self._link(session, account, token)
        self.render_page("account_delete_confirm.html", token=token)

    async def post(self, token: str) -> None:
        async with self.db() as session:
            account = await self.account(session)
            link = await self._link(session, account, token)
            link.used_at = utcnow()
            await delete_now(self, session, account)

    @staticmethod
    async def _link(session: AsyncSession, account: Account, token: str) -> AccountLink:
        link = await email_changes.usable_link(
            session, token, email_changes.DELETE_ACCOUNT, utcnow()
        )
        if link.account_id != account.id:
            raise Refusal("This link is for another account: sign in as its owner.", 403)
        return link


async def delete_now(handler: BaseHandler, session: AsyncSession, account: Account) -> None:
    """Delete ``account`` (the request's own), tell the hub, commit, remove its files."""
    settings = handler.settings_obj
    try:
        deleted = await deletion.delete_account(session, account, settings.uploads_dir)
    except AccountError as error:
        await session.rollback()
        raise Refusal(error.message, error.status) from None
    audit_log.record(
        session, None, "account.delete", ("account", account.id), reason="deleted by its owner"
    )
    try:
        await hub_users.delete_user(settings, deleted.old_username)
    except (HTTPClientError, OSError) as error:
        log.error("Could not remove %s from the hub: %s", deleted.old_username, error)
        raise Refusal(
            "CourseHub could not stop your notebook server and sign you out everywhere, so "
            "your account was not deleted. Try again in a minute.",
            503,
        ) from None
    await session.commit()
    handler.hub_auth.forget_user(deleted.old_username)
    await asyncio.to_thread(
        deletion.remove_files, deleted, exports.homes_dir(settings.data_dir), settings.outbox_dir
    )
    try:
        await redis_keys.forget_in_redis(
            handler.application.settings["redis"], deleted.account_id, deleted.secrets
        )
    except RedisError as error:  # the keys expire by themselves (minutes at most)
        log.warning("Could not remove the Redis keys of a deleted account: %s", error)
    handler.clear_cookie(handler.hub_auth.cookie_name)
    handler._hub_auth_user_cache = None
    handler.render_page("account_deleted.html")


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/account/data", MyDataPage),
        (f"{prefix}/account/data/exports/(\\d+)/zip", ExportDownload),
        (f"{prefix}/account/data/exports/([A-Za-z0-9_-]{{20,100}})", ExportDownload),
        (f"{prefix}/account/delete", DeleteAccount),
        (f"{prefix}/account/delete/([A-Za-z0-9_-]{{20,100}})", DeleteByLink),
    ]
