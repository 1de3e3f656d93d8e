"""Support: ``/support`` (the form and my requests), ``/support/tickets/<id>`` (one request's
conversation; admins also set its status and assignee there), its screenshot, and the
administrators' queue ``/admin/support`` (the admin area links it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web

from coursehub.hub.constants import Role
from coursehub.services.accounts import profiles
from coursehub.services.models import Account
from coursehub.services.support import tickets
from coursehub.services.support.tickets import SupportError
from coursehub.services.web.base import BaseHandler


def _errors(error: SupportError) -> dict[str, str]:
    return dict(error.problems)


class SupportPage(BaseHandler):
    async def get(self) -> None:
        await self._show({}, {}, 200)

    async def _show(self, errors: dict[str, str], values: dict[str, str], status: int) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            mine = await tickets.tickets_of(session, account)
        if not values:
            values = {"page_link": self.get_argument("page", "")[:2000]}
        self.set_status(status)
        self.render_page(
            "support.html",
            tickets=mine,
            errors=errors,
            values=values,
            sent=self.get_argument("sent", ""),
            max_screenshot_mb=tickets.MAX_SCREENSHOT_BYTES / 1_000_000,
        )

    async def post(self) -> None:
        fields = ("subject", "message", "page_link")
        values = {key: self.get_body_argument(key, "") for key in fields}
        files = self.request.files.get("screenshot") or []
        screenshot = (files[0].body, files[0].filename) if files and files[0].body else None
        async with self.db() as session:
            account = await self.account(session)
            try:
                ticket = await tickets.open_ticket(
                    session, self.settings_obj, account, screenshot=screenshot, **values
                )
            except SupportError as error:
                await session.rollback()
                await self._show(_errors(error), values, error.status)
                return
            await session.commit()
        self.redirect(
            f"{self.settings_obj.service_prefix}/support/tickets/{ticket.id}?sent=1", status=303
        )


class TicketPage(BaseHandler):
    async def get(self, ticket_id: str) -> None:
        await self._show(int(ticket_id), {}, 200)

    async def _show(self, ticket_id: int, errors: dict[str, str], status: int) -> None:
        prefix = self.settings_obj.service_prefix
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            ticket = await tickets.ticket_for(session, account, ticket_id)
            replies = await tickets.replies_of(session, ticket)
            people = await profiles.cards(
                session,
                prefix,
                [ticket.account_id or 0, *(reply.author_id or 0 for reply in replies)],
            )
            admins = await _admins(session) if account.role is Role.ADMIN else []
        self.set_status(status)
        self.render_page(
            "support_ticket.html",
            ticket=ticket,
            replies=replies,
            people=people,
            me=account,
            is_admin=account.role is Role.ADMIN,
            admins=admins,
            statuses=tickets.STATUSES,
            errors=errors,
            sent=self.get_argument("sent", ""),
        )

    async def post(self, ticket_id: str) -> None:
        action = self.get_body_argument("action", "reply")
        async with self.db() as session:
            account = await self.account(session)
            ticket = await tickets.ticket_for(session, account, int(ticket_id))
            try:
                if action == "reply":
                    await tickets.reply(
                        session, ticket, account, self.get_body_argument("body", "")
                    )
                elif action in ("status", "assign") and account.role is not Role.ADMIN:
                    raise web.HTTPError(403, "Only administrators change a request's status.")
                elif action == "status":
                    await tickets.set_status(session, ticket, self.get_body_argument("status", ""))
                elif action == "assign":
                    raw = self.get_body_argument("assignee", "")
                    await tickets.assign(session, ticket, int(raw) if raw.isdigit() else None)
                else:
                    raise web.HTTPError(400, "Say what to do: action=reply, status or assign.")
            except SupportError as error:
                await session.rollback()
                await self._show(int(ticket_id), _errors(error), error.status)
                return
            await session.commit()
        self.redirect(f"{self.settings_obj.service_prefix}/support/tickets/{ticket_id}", status=303)


class ScreenshotHandler(BaseHandler):
    async def get(self, ticket_id: str) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            ticket = await tickets.ticket_for(session, account, int(ticket_id))
            upload = await tickets.may_download_screenshot(session, account, ticket)
        if upload is None:
            raise web.HTTPError(404, "This request has no screenshot.")
        try:
            data = (self.settings_obj.uploads_dir / upload.storage_name).read_bytes()
        except FileNotFoundError:
            raise web.HTTPError(404, "This screenshot is gone.") from None
        self.set_header("Content-Type", upload.content_type)
        self.set_header("Cache-Control", "private, max-age=3600")
        self.finish(data)


class SupportQueue(BaseHandler):
    """``/admin/support``: every request, open first; filter by status and by assignee."""

    min_role = Role.ADMIN

    async def get(self) -> None:
        status = self.get_argument("status", "")
        status = status if status in tickets.STATUSES else ""
        mine = self.get_argument("mine", "") == "1"
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            found = await tickets.queue(session, status or None, account.id if mine else None)
            counts = await tickets.counts(session)
            people = {
                person.id: person
                for person in await session.scalars(
                    select(Account).where(
                        Account.id.in_(
                            {t.account_id for t in found if t.account_id}
                            | {t.assignee_id for t in found if t.assignee_id}
                        )
                    )
                )
            }
        self.render_page(
            "support_queue.html",
            tickets=found,
            counts=counts,
            status=status,
            mine=mine,
            people=people,
            statuses=tickets.STATUSES,
        )


async def _admins(session: AsyncSession) -> list[Account]:
    return list(
        await session.scalars(
            select(Account).where(Account.role == Role.ADMIN).order_by(Account.name)
        )
    )


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/support", SupportPage),
        (f"{prefix}/support/tickets/(\\d+)", TicketPage),
        (f"{prefix}/support/tickets/(\\d+)/screenshot", ScreenshotHandler),
        (f"{prefix}/admin/support", SupportQueue),
    ]
