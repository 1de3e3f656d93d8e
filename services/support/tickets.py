"""Support tickets: a person asks (subject, message, optional page link and screenshot); the
ticket waits in the administrators' queue (open, answered, closed; assigned to an admin);
replies go both ways, in CourseHub and by email (notification kinds ``support_request`` for
admins and ``support_reply`` for the person, both emailed by default).

A screenshot's type is decided by its first bytes (``content.uploads``): PNG, JPEG or WebP.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import SERVICE_PREFIX, Role
from coursehub.services.accounts import accounts
from coursehub.services.content import uploads
from coursehub.services.errors import Refusal
from coursehub.services.models import Account, SupportReply, SupportTicket, Upload, utcnow
from coursehub.services.notifications import notifications
from coursehub.services.settings import MB, Settings

OPEN, ANSWERED, CLOSED = "open", "answered", "closed"
STATUSES = (OPEN, ANSWERED, CLOSED)
SCREENSHOT = "screenshot"
MAX_SCREENSHOT_BYTES = 5 * MB
MAX_SUBJECT = 200
MAX_MESSAGE = 10_000


class SupportError(Refusal):
    """A support request or reply that cannot be kept; ``problems`` names each field."""

    def __init__(self, problems: dict[str, str], status: int = 400) -> None:
        field, message = next(iter(problems.items()))
        super().__init__(message, status=status, field=field)
        self.problems = problems


def ticket_url(ticket_id: int) -> str:
    return f"{SERVICE_PREFIX}/support/tickets/{ticket_id}"


def check_request(subject: str, message: str, page_link: str) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not subject.strip():
        problems["subject"] = "Give your request a subject, such as “Cannot open my notebook”."
    elif len(subject.strip()) > MAX_SUBJECT:
        problems["subject"] = f"Keep the subject to {MAX_SUBJECT} characters."
    if not message.strip():
        problems["message"] = "Tell us what happened and what you expected."
    elif len(message) > MAX_MESSAGE:
        problems["message"] = f"Keep the message to {MAX_MESSAGE} characters."
    link = page_link.strip()
    if link:
        parts = urlsplit(link)
        if len(link) > 2000 or parts.scheme not in ("http", "https") or not parts.netloc:
            problems["page_link"] = "Paste the page's whole address (starting with https://)."
    return problems


async def keep_screenshot(
    session: AsyncSession, settings: Settings, account: Account, data: bytes, file_name: str
) -> Upload:
    if len(data) > MAX_SCREENSHOT_BYTES:
        raise SupportError(
            {"screenshot": f"A screenshot can be at most {MAX_SCREENSHOT_BYTES / MB:g} MB."}, 413
        )
    try:
        incoming = await uploads.receive_bytes(
            settings.uploads_dir, uploads.THUMBNAIL, MAX_SCREENSHOT_BYTES, data
        )
    except uploads.UploadError as error:
        message = error.message
        if "not a PNG" in message:
            message = (
                "This file is not a PNG, JPEG or WebP image (whatever its name says). Take the "
                "screenshot again, or save it as PNG, and attach that."
            )
        raise SupportError({"screenshot": message}, error.status) from None
    upload = await uploads.record(session, incoming, account, file_name)
    upload.purpose = SCREENSHOT
    return upload


async def open_ticket(
    session: AsyncSession,
    settings: Settings,
    account: Account,
    *,
    subject: str,
    message: str,
    page_link: str = "",
    screenshot: tuple[bytes, str] | None = None,
) -> SupportTicket:
    """A new ticket; every administrator hears of it. Nothing is kept if a field is wrong."""
    problems = check_request(subject, message, page_link)
    if problems:
        raise SupportError(problems)
    upload = None
    if screenshot is not None and screenshot[0]:
        upload = await keep_screenshot(session, settings, account, *screenshot)
    now = utcnow()
    ticket = SupportTicket(
        account_id=account.id,
        subject=subject.strip(),
        message=message.strip(),
        page_link=page_link.strip(),
        screenshot_upload_id=upload.id if upload else None,
        status=OPEN,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    await session.flush()
    await tell_admins(session, ticket)
    return ticket


async def open_visitor_ticket(
    session: AsyncSession, *, email: str, subject: str, message: str
) -> SupportTicket:
    """A request from the public contact form: a visitor without an account, answered at
    ``email`` by the administrators. Nothing is kept if a field is wrong."""
    problems: dict[str, str] = {}
    try:
        address = accounts.normalise_email(email) if email.strip() else ""
    except Refusal:
        address = ""
        problems["email"] = "Give an address we can answer at, such as ada@example.org."
    if not email.strip():
        problems["email"] = "Give the email address we should answer at."
    problems.update(check_request(subject, message, ""))
    if problems:
        raise SupportError(problems)
    now = utcnow()
    ticket = SupportTicket(
        account_id=None,
        contact_email=address,
        subject=subject.strip(),
        message=message.strip(),
        status=OPEN,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    await session.flush()
    await tell_admins(session, ticket)
    return ticket


async def tell_admins(session: AsyncSession, ticket: SupportTicket) -> None:
    """Every administrator hears of a new ticket."""
    for admin_id in await session.scalars(select(Account.id).where(Account.role == Role.ADMIN)):
        notifications.add(
            session,
            admin_id,
            "support_request",
            {
                "title": f"New support request: {ticket.subject}",
                "url": ticket_url(ticket.id),
                "ticket_id": ticket.id,
            },
        )


def may_see(account: Account, ticket: SupportTicket) -> bool:
    return account.role is Role.ADMIN or ticket.account_id == account.id


async def ticket_for(session: AsyncSession, account: Account, ticket_id: int) -> SupportTicket:
    ticket = await session.get(SupportTicket, ticket_id)
    if ticket is None or not may_see(account, ticket):
        raise Refusal("There is no such support request of yours.", 404)
    return ticket


async def reply(
    session: AsyncSession, ticket: SupportTicket, author: Account, body: str
) -> SupportReply:
    """Add a reply. An admin's answer marks the ticket answered and tells its author (in
    CourseHub and by email); the author's reply opens it again."""
    if not body.strip():
        raise SupportError({"body": "Write a reply first."})
    if len(body) > MAX_MESSAGE:
        raise SupportError({"body": f"Keep the reply to {MAX_MESSAGE} characters."})
    answer = SupportReply(ticket_id=ticket.id, author_id=author.id, body=body.strip())
    session.add(answer)
    ticket.updated_at = utcnow()
    if author.id == ticket.account_id:
        ticket.status = OPEN
        if ticket.assignee_id is not None and ticket.assignee_id != author.id:
            notifications.add(
                session,
                ticket.assignee_id,
                "support_request",
                {
                    "title": f"New reply on support request: {ticket.subject}",
                    "url": ticket_url(ticket.id),
                    "ticket_id": ticket.id,
                },
            )
    else:
        ticket.status = ANSWERED
        if ticket.assignee_id is None:
            ticket.assignee_id = author.id
        if ticket.account_id is not None:
            notifications.add(
                session,
                ticket.account_id,
                "support_reply",
                {
                    "title": f"Support answered your request “{ticket.subject}”: "
                    f"{_excerpt(answer.body)}",
                    "url": ticket_url(ticket.id),
                    "ticket_id": ticket.id,
                },
            )
    await session.flush()
    return answer


def _excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


async def set_status(session: AsyncSession, ticket: SupportTicket, status: str) -> None:
    if status not in STATUSES:
        raise SupportError({"status": "Choose open, answered or closed."})
    ticket.status = status
    ticket.updated_at = utcnow()


async def assign(session: AsyncSession, ticket: SupportTicket, assignee_id: int | None) -> None:
    """Give the ticket to an administrator (None: to nobody)."""
    if assignee_id is not None:
        assignee = await session.get(Account, assignee_id)
        if assignee is None or assignee.role is not Role.ADMIN:
            raise SupportError({"assignee": "Assign the request to an administrator."})
    ticket.assignee_id = assignee_id
    ticket.updated_at = utcnow()


async def replies_of(session: AsyncSession, ticket: SupportTicket) -> list[SupportReply]:
    return list(
        await session.scalars(
            select(SupportReply)
            .where(SupportReply.ticket_id == ticket.id)
            .order_by(SupportReply.created_at, SupportReply.id)
        )
    )


async def tickets_of(session: AsyncSession, account: Account) -> list[SupportTicket]:
    return list(
        await session.scalars(
            select(SupportTicket)
            .where(SupportTicket.account_id == account.id)
            .order_by(SupportTicket.updated_at.desc())
            .limit(100)
        )
    )


async def queue(
    session: AsyncSession, status: str | None, assignee_id: int | None = None
) -> list[SupportTicket]:
    """The admins' queue: open first, then answered, then closed; oldest waiting first."""
    query = select(SupportTicket)
    if status:
        query = query.where(SupportTicket.status == status)
    if assignee_id is not None:
        query = query.where(SupportTicket.assignee_id == assignee_id)
    order = case({status: rank for rank, status in enumerate(STATUSES)}, value=SupportTicket.status)
    return list(await session.scalars(query.order_by(order, SupportTicket.updated_at).limit(500)))


async def counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(SupportTicket.status, func.count()).group_by(SupportTicket.status)
    )
    found = {status: 0 for status in STATUSES}
    found.update({status: count for status, count in rows})
    return found


async def may_download_screenshot(
    session: AsyncSession, account: Account, ticket: SupportTicket
) -> Upload | None:
    if not may_see(account, ticket) or ticket.screenshot_upload_id is None:
        return None
    return await session.get(Upload, ticket.screenshot_upload_id)
