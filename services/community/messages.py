"""Direct messages between people who share a course: who may write to whom, conversations,
messages, unread counts, and the notification that tells the recipient.

Who may write to whom (both ways, so a conversation can always be answered):

- students and the course's staff (its instructor, its assigned graders, administrators);
- staff and staff;
- students and students, only in a course whose staff allowed it
  (``Course.students_may_message``).

Administrators are staff of every course (as in ``enrollment.is_staff_of``), so they may write
to anyone who belongs to a course. A conversation stays readable by its two people when they
no longer share a course; only new messages are refused then.

Functions take an ``AsyncSession`` and leave committing to the caller. Refusals raise
``MessageError`` with a sentence to show and the HTTP status to answer with.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import nh3
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from coursehub.hub.constants import Role
from coursehub.services.content.markdown import to_safe_html
from coursehub.services.courses.enrollment import is_staff_of
from coursehub.services.courses.membership import GRADERS, Place, members
from coursehub.services.errors import Refusal
from coursehub.services.models import (
    Account,
    Conversation,
    Course,
    DirectMessage,
    Notification,
    utcnow,
)
from coursehub.services.notifications import notifications

KIND = "direct_message"
MAX_BODY_CHARS = 10_000
PREVIEW_CHARS = 140
PAGE_SIZE = 100
MAX_CONVERSATIONS = 200
MAX_CONTACTS = 500

NO_SUCH_CONVERSATION = "There is no such conversation. Open Messages to see yours."
NO_SHARED_COURSE = (
    "You can write only to people who share a course with you: its instructor and graders, "
    "and other students when the course allows it. Check the name, or ask the course's staff."
)


class MessageError(Refusal):
    """A refusal about messages; the message says what to do instead."""


@dataclass(frozen=True)
class ConversationSummary:
    conversation: Conversation
    other: Account
    last_message: DirectMessage | None
    unread: int


# -- what people write --------------------------------------------------------------------


def checked_body(raw: Any) -> str:
    """The message text, or a ``MessageError`` saying what is wrong with it."""
    if not isinstance(raw, str):
        raise MessageError("Write the message as text in the field body.")
    if not raw.strip():
        raise MessageError("The message is empty; write something before sending.")
    if len(raw) > MAX_BODY_CHARS:
        raise MessageError(
            f"The message has {len(raw):,} characters; the most is {MAX_BODY_CHARS:,}. "
            "Shorten it or send it in parts."
        )
    # PostgreSQL text cannot hold NUL; browsers show it as the replacement character anyway.
    return raw.replace("\x00", "\ufffd")


def plain_preview(body: str, limit: int = PREVIEW_CHARS) -> str:
    """The message as one line of plain text (no markup at all), cut at ``limit``."""
    text = html.unescape(nh3.clean(to_safe_html(body, math=False), tags=set()))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def display_name(account: Account) -> str:
    return account.name or account.username


# -- who may write to whom ----------------------------------------------------------------


async def course_roles(session: AsyncSession, account: Account) -> dict[int, bool]:
    """The courses ``account`` belongs to, each with True when they are staff of it."""
    mine = members(people=[account.id])
    rows = await session.execute(select(mine.c.course_id, mine.c.place))
    return {course_id: Place(place) in GRADERS for course_id, place in rows}


async def may_message(session: AsyncSession, sender: Account, recipient: Account) -> bool:
    """Whether the two share a course in which one of them is staff, or one that lets its
    students write to each other."""
    if sender.id == recipient.id:
        return False
    mine, theirs = await course_roles(session, sender), await course_roles(session, recipient)
    shared = mine.keys() & theirs.keys()
    if any(mine[course_id] or theirs[course_id] for course_id in shared):
        return True
    if not shared:
        return False
    allowing = await session.scalar(
        select(func.count(Course.id)).where(
            Course.id.in_(list(shared)), Course.students_may_message
        )
    )
    return bool(allowing)


async def contacts(session: AsyncSession, account: Account) -> list[tuple[Account, list[str]]]:
    """The people ``account`` may start a conversation with, each with the shared courses'
    titles: the staff of each of their courses, and its students where they may write to them.
    """
    roles = await course_roles(session, account)
    if not roles:
        return []
    open_courses = set(
        await session.scalars(
            select(Course.id).where(Course.id.in_(list(roles)), Course.students_may_message)
        )
    )
    students_visible = {course_id for course_id, staff in roles.items() if staff} | open_courses
    tied = members(courses=list(roles), administrators=False)
    people = (
        select(tied.c.account_id, tied.c.course_id)
        .where(or_(tied.c.place.in_(GRADERS), tied.c.course_id.in_(list(students_visible))))
        .subquery()
    )
    rows = await session.execute(
        select(Account, Course.title)
        .select_from(Account)
        .join(people, people.c.account_id == Account.id)
        .join(Course, Course.id == people.c.course_id)
        .where(Account.id != account.id)
        .order_by(Account.name, Account.username, Course.title)
    )
    found: dict[int, tuple[Account, list[str]]] = {}
    for person, title in rows:
        if person.id not in found:
            if len(found) >= MAX_CONTACTS:
                break
            found[person.id] = (person, [])
        if title not in found[person.id][1]:
            found[person.id][1].append(title)
    return list(found.values())


# -- conversations ------------------------------------------------------------------------


def other_id(conversation: Conversation, account_id: int) -> int:
    if conversation.first_account_id == account_id:
        return conversation.second_account_id
    return conversation.first_account_id


async def start_conversation(
    session: AsyncSession, sender: Account, recipient: Account | None
) -> tuple[Conversation, bool]:
    """The one conversation of the pair, made if needed; (conversation, newly made).

    A missing recipient is refused like one sharing no course with the sender, so account
    numbers cannot be probed."""
    if recipient is None or not await may_message(session, sender, recipient):
        raise MessageError(NO_SHARED_COURSE, 403)
    first, second = sorted((sender.id, recipient.id))
    made = await session.scalar(
        insert(Conversation)
        .values(first_account_id=first, second_account_id=second)
        .on_conflict_do_nothing(index_elements=["first_account_id", "second_account_id"])
        .returning(Conversation.id)
    )
    conversation = await session.scalar(
        select(Conversation).where(
            Conversation.first_account_id == first, Conversation.second_account_id == second
        )
    )
    assert conversation is not None  # made now or before
    return conversation, made is not None


async def own_conversation(
    session: AsyncSession, account: Account, conversation_id: int
) -> Conversation:
    """One of ``account``'s conversations; anybody else's is "not found", like a missing one."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or account.id not in (
        conversation.first_account_id,
        conversation.second_account_id,
    ):
        raise MessageError(NO_SUCH_CONVERSATION, 404)
    return conversation


async def send(
    session: AsyncSession, sender: Account, conversation: Conversation, body: str, prefix: str
) -> tuple[DirectMessage, Notification]:
    """Add ``body`` to the conversation and a ``direct_message`` notification for the other
    person (``notifications.add``: announced once the caller's transaction commits)."""
    recipient = await session.get(Account, other_id(conversation, sender.id))
    if recipient is None or not await may_message(session, sender, recipient):
        raise MessageError(
            "You can no longer write to this person: you share no course that lets you write "
            "to each other (students may always write to their course's staff). The "
            "conversation so far stays readable.",
            403,
        )
    message = DirectMessage(conversation_id=conversation.id, sender_id=sender.id, body=body)
    session.add(message)
    conversation.last_message_at = utcnow()
    await session.flush()
    notification = notifications.add(
        session,
        recipient.id,
        KIND,
        {
            "title": f"{display_name(sender)} sent you a message",
            "url": f"{prefix}/messages/{conversation.id}",
            "conversation_id": conversation.id,
            "message_id": message.id,
            "sender_id": sender.id,
            "sender_name": display_name(sender),
            "preview": plain_preview(body),
        },
    )
    await session.flush()
    return message, notification


async def messages_of(
    session: AsyncSession,
    conversation: Conversation,
    *,
    after: int | None = None,
    before: int | None = None,
) -> list[DirectMessage]:
    """Up to ``PAGE_SIZE`` messages, oldest first: the newest ones, those after the message
    numbered ``after`` (what a page has not shown yet) or those before ``before`` (older)."""
    query = select(DirectMessage).where(DirectMessage.conversation_id == conversation.id)
    if after is not None:
        rows = await session.scalars(
            query.where(DirectMessage.id > after).order_by(DirectMessage.id).limit(PAGE_SIZE)
        )
        return list(rows)
    if before is not None:
        query = query.where(DirectMessage.id < before)
    rows = await session.scalars(query.order_by(DirectMessage.id.desc()).limit(PAGE_SIZE))
    return list(reversed(list(rows)))


@dataclass(frozen=True)
class MarkedRead:
    """What opening a conversation marked read: how many of the other person's messages,
    and which of the reader's notifications of them (their pages' bells drop these)."""

    messages: int
    notification_ids: list[int]


async def mark_read(
    session: AsyncSession, account: Account, conversation: Conversation
) -> MarkedRead:
    """Mark the other person's messages here read, and ``account``'s notifications of them."""
    result = await session.execute(
        update(DirectMessage)
        .where(
            DirectMessage.conversation_id == conversation.id,
            DirectMessage.sender_id != account.id,
            DirectMessage.read_at.is_(None),
        )
        .values(read_at=utcnow())
    )
    notification_ids = await notifications.mark_read_about(
        session, account.id, [KIND], "conversation_id", [conversation.id]
    )
    return MarkedRead(result.rowcount or 0, notification_ids)  # type: ignore[attr-defined]


def _mine(account: Account) -> Any:
    return or_(
        Conversation.first_account_id == account.id,
        Conversation.second_account_id == account.id,
    )


async def unread_total(session: AsyncSession, account: Account) -> int:
    count = await session.scalar(
        select(func.count(DirectMessage.id))
        .join(Conversation, Conversation.id == DirectMessage.conversation_id)
        .where(
            _mine(account),
            DirectMessage.sender_id != account.id,
            DirectMessage.read_at.is_(None),
        )
    )
    return count or 0


async def conversation_list(session: AsyncSession, account: Account) -> list[ConversationSummary]:
    """``account``'s conversations, the most recently active first, each with the other
    person, the last message and how many of the other person's messages are unread."""
    other = case(
        (Conversation.first_account_id == account.id, Conversation.second_account_id),
        else_=Conversation.first_account_id,
    )
    pairs = list(
        await session.execute(
            select(Conversation, Account)
            .join(Account, Account.id == other)
            .where(_mine(account))
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
            .limit(MAX_CONVERSATIONS)
        )
    )
    ids = [conversation.id for conversation, _ in pairs]
    if not ids:
        return []
    last = {
        message.conversation_id: message
        for message in await session.scalars(
            select(DirectMessage)
            .where(DirectMessage.conversation_id.in_(ids))
            .ext(distinct_on(DirectMessage.conversation_id))
            .order_by(DirectMessage.conversation_id, DirectMessage.id.desc())
        )
    }
    unread = dict(
        (
            await session.execute(
                select(DirectMessage.conversation_id, func.count(DirectMessage.id))
                .where(
                    DirectMessage.conversation_id.in_(ids),
                    DirectMessage.sender_id != account.id,
                    DirectMessage.read_at.is_(None),
                )
                .group_by(DirectMessage.conversation_id)
            )
        ).all()
    )
    return [
        ConversationSummary(
            conversation, person, last.get(conversation.id), unread.get(conversation.id, 0)
        )
        for conversation, person in pairs
    ]


async def other_person(
    session: AsyncSession, account: Account, conversation: Conversation
) -> Account:
    return await session.get_one(Account, other_id(conversation, account.id))


# -- the course setting -------------------------------------------------------------------


def set_students_may_message(account: Account, course: Course, allowed: Any) -> None:
    """Let (or stop) the course's students write to each other; its instructor and
    administrators decide."""
    if not is_staff_of(account, course):
        raise MessageError(
            "Only the course's instructor and administrators can decide whether its students "
            "may write to each other.",
            403,
        )
    if not isinstance(allowed, bool):
        raise MessageError("students_may_message must be true or false.")
    course.students_may_message = allowed


async def managed_courses(session: AsyncSession, account: Account) -> list[Course]:
    """The courses whose messaging setting ``account`` may change (none for students)."""
    if account.role is Role.ADMIN:
        query = select(Course)
    elif account.role is Role.INSTRUCTOR:
        query = select(Course).where(Course.instructor_id == account.id)
    else:
        return []
    query = query.options(defer(Course.search_document)).order_by(Course.title)
    return list(await session.scalars(query))


# -- JSON ---------------------------------------------------------------------------------


def person_json(account: Account) -> dict[str, Any]:
    return {"account_id": account.id, "username": account.username, "name": display_name(account)}


def message_json(message: DirectMessage, me: Account) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "sender_id": message.sender_id,
        "mine": message.sender_id == me.id,
        "body": message.body,
        "html": to_safe_html(message.body),
        "created_at": message.created_at,
        "read_at": message.read_at,
    }


def summary_json(summary: ConversationSummary, prefix: str) -> dict[str, Any]:
    last: DirectMessage | None = summary.last_message
    last_at: datetime = last.created_at if last else summary.conversation.last_message_at
    return {
        "id": summary.conversation.id,
        "url": f"{prefix}/messages/{summary.conversation.id}",
        "other": person_json(summary.other),
        "preview": plain_preview(last.body) if last else "",
        "last_sender_id": last.sender_id if last else None,
        "last_message_at": last_at,
        "unread": summary.unread,
    }
