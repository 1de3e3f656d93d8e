"""Direct messages: the Messages page and its JSON API.

- ``/messages``: my conversations and a form to write to someone; ``/messages/<id>``: one
  conversation, opened (which marks it read) and updated live from my notification stream.
- ``/api/messages/conversations``: GET my conversations with unread counts and the total;
  POST ``{"account_id" or "username", "body"}`` writes to someone (the pair's conversation
  is made on the first message).
- ``/api/messages/conversations/<id>``: GET its messages (``?after=`` / ``?before=`` a
  message id), which marks it read (and says which of my notifications of it that marked
  read, ``notifications_read``, for the page to tell the bell); ``.../messages``: POST
  ``{"body"}`` a new one.
- ``/api/messages/contacts``: the people I may write to.
- ``/api/messages/courses/<slug>``: GET or PATCH ``{"students_may_message": bool}`` (the
  course's instructor and administrators).

Sending is rate limited per person (``rate_limits.check_rate``): 429 with Retry-After.
A conversation exists only for its two people: to anyone else it is "not found".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web

from coursehub.services import rate_limits
from coursehub.services.accounts import profiles
from coursehub.services.community import messages
from coursehub.services.courses.enrollment import check_visible, course_by_slug
from coursehub.services.models import Account, Conversation, DirectMessage, Notification
from coursehub.services.web.base import BaseHandler

# At most this many messages per person per window, from every service process together.
SEND_LIMIT = 20
SEND_WINDOW_S = 60
LARGEST_ID = 2**31 - 1


class MessagesBase(BaseHandler):
    @property
    def prefix(self) -> str:
        return self.settings_obj.service_prefix

    def message_id_argument(self, name: str) -> int | None:
        raw = self.get_argument(name, None)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if not 0 <= value <= LARGEST_ID:
            raise web.HTTPError(400, f"{name} must be the number of a message.")
        return value

    async def own_conversation(
        self, session: AsyncSession, account: Account, conversation_id: str
    ) -> Conversation:
        number = int(conversation_id)
        if number > LARGEST_ID:
            raise web.HTTPError(404, messages.NO_SUCH_CONVERSATION)
        return await messages.own_conversation(session, account, number)

    async def check_rate(self, account: Account) -> bool:
        """Count one message; when over the limit answer 429 (and return False)."""
        try:
            await rate_limits.check_rate(
                self.application.settings["redis"],
                f"direct-message:{account.id}",
                SEND_LIMIT,
                SEND_WINDOW_S,
                what="messages",
            )
        except rate_limits.RateLimited as error:
            self.set_header("Retry-After", str(error.retry_after))
            self.write_json({"error": error.message, "status": 429}, status=429)
            return False
        return True

    async def deliver(
        self, session: AsyncSession, sender: Account, conversation: Conversation, body: str
    ) -> DirectMessage:
        """Send and commit; the request's session then tells the recipient's open pages."""
        message, _notification = await messages.send(
            session, sender, conversation, body, self.prefix
        )
        await session.commit()
        return message


class MessagesPage(MessagesBase):
    async def get(self, conversation_id: str | None = None) -> None:
        async with self.db() as session:
            account = await self.account(session)
            opened: dict[str, Any] = {}
            if conversation_id is not None:
                conversation = await self.own_conversation(session, account, conversation_id)
                await messages.mark_read(session, account, conversation)
                await session.commit()
                opened = await self.opened(session, account, conversation)
            context = await self.page_data(session, account, with_forms=not opened)
        self.render_page("messages.html", xsrf_token=self.xsrf_token.decode(), **context, **opened)

    async def opened(
        self, session: AsyncSession, account: Account, conversation: Conversation
    ) -> dict[str, Any]:
        rows = await messages.messages_of(session, conversation)
        other = await messages.other_person(session, account, conversation)
        return {
            "conversation": conversation,
            "other": other,
            "pronouns": await profiles.pronouns_of(session, [other.id]),
            "thread": [messages.message_json(row, account) for row in rows],
        }

    async def page_data(
        self, session: AsyncSession, account: Account, *, with_forms: bool
    ) -> dict[str, Any]:
        summaries = await messages.conversation_list(session, account)
        latest = await session.scalar(
            select(func.max(Notification.id)).where(Notification.account_id == account.id)
        )
        data: dict[str, Any] = {
            "me": account,
            "conversations": [messages.summary_json(s, self.prefix) for s in summaries],
            "unread_total": await messages.unread_total(session, account),
            "stream_after": latest or 0,
            "contacts": [],
            "managed": [],
        }
        if with_forms:
            data["contacts"] = await messages.contacts(session, account)
            data["managed"] = await messages.managed_courses(session, account)
        return data


class ConversationsAPI(MessagesBase):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            summaries = await messages.conversation_list(session, account)
            total = await messages.unread_total(session, account)
        self.write_json(
            {
                "conversations": [messages.summary_json(s, self.prefix) for s in summaries],
                "unread_total": total,
            }
        )

    async def post(self) -> None:
        fields = self.json_body()
        body = messages.checked_body(fields.get("body"))
        async with self.db() as session:
            account = await self.account(session)
            recipient = await self.recipient(session, fields)
            if not await self.check_rate(account):
                return
            conversation, _ = await messages.start_conversation(session, account, recipient)
            message = await self.deliver(session, account, conversation, body)
        self.write_json(
            {
                "conversation_id": conversation.id,
                "url": f"{self.prefix}/messages/{conversation.id}",
                "message": messages.message_json(message, account),
            },
            status=201,
        )

    async def recipient(self, session: AsyncSession, fields: dict[str, Any]) -> Account | None:
        account_id, username = fields.get("account_id"), fields.get("username")
        if isinstance(account_id, int) and not isinstance(account_id, bool):
            return await session.get(Account, account_id) if 0 < account_id <= LARGEST_ID else None
        if isinstance(username, str) and username.strip():
            return await session.scalar(select(Account).where(Account.username == username.strip()))
        raise web.HTTPError(
            400, "Say whom to write to: account_id (a number) or username (their user name)."
        )


class ConversationAPI(MessagesBase):
    async def get(self, conversation_id: str) -> None:
        after, before = self.message_id_argument("after"), self.message_id_argument("before")
        async with self.db() as session:
            account = await self.account(session)
            conversation = await self.own_conversation(session, account, conversation_id)
            marked = await messages.mark_read(session, account, conversation)
            await session.commit()
            rows = await messages.messages_of(session, conversation, after=after, before=before)
            other = await messages.other_person(session, account, conversation)
        self.write_json(
            {
                "id": conversation.id,
                "other": messages.person_json(other),
                "messages": [messages.message_json(row, account) for row in rows],
                "marked_read": marked.messages,
                "notifications_read": marked.notification_ids,
            }
        )


class ConversationMessagesAPI(MessagesBase):
    async def post(self, conversation_id: str) -> None:
        body = messages.checked_body(self.json_body().get("body"))
        async with self.db() as session:
            account = await self.account(session)
            conversation = await self.own_conversation(session, account, conversation_id)
            if not await self.check_rate(account):
                return
            message = await self.deliver(session, account, conversation, body)
        self.write_json(messages.message_json(message, account), status=201)


class ContactsAPI(MessagesBase):
    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            found = await messages.contacts(session, account)
        self.write_json(
            {
                "contacts": [
                    {**messages.person_json(person), "courses": titles} for person, titles in found
                ]
            }
        )


class CourseMessagingAPI(MessagesBase):
    async def get(self, slug: str) -> None:
        async with self.db(read_only=True) as session:
            account = await self.account(session)
            course = check_visible(account, await course_by_slug(session, slug))
        self.write_json({"slug": course.slug, "students_may_message": course.students_may_message})

    async def patch(self, slug: str) -> None:
        allowed = self.json_body().get("students_may_message")
        async with self.db() as session:
            account = await self.account(session)
            course = check_visible(account, await course_by_slug(session, slug))
            messages.set_students_may_message(account, course, allowed)
            await session.commit()
        self.write_json({"slug": course.slug, "students_may_message": course.students_may_message})


def default_handlers(prefix: str) -> list[tuple[str, Any]]:
    return [
        (f"{prefix}/messages", MessagesPage),
        (rf"{prefix}/messages/(\d+)", MessagesPage),
        (f"{prefix}/api/messages/conversations", ConversationsAPI),
        (rf"{prefix}/api/messages/conversations/(\d+)", ConversationAPI),
        (rf"{prefix}/api/messages/conversations/(\d+)/messages", ConversationMessagesAPI),
        (f"{prefix}/api/messages/contacts", ContactsAPI),
        (rf"{prefix}/api/messages/courses/([\w-]+)", CourseMessagingAPI),
    ]
