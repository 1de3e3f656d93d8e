"""Direct messages: one conversation per pair of people, and the messages written in it.

A conversation stores its two people in a fixed order (the smaller account id first), so a
pair can have only one. A message is unread until the other person opens the conversation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("first_account_id", "second_account_id"),
        CheckConstraint("first_account_id < second_account_id", name="conversations_pair_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    first_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    second_account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class DirectMessage(Base):
    """One message; ``body`` is the author's markdown, sanitised whenever it is shown."""

    __tablename__ = "direct_messages"
    __table_args__ = (Index("direct_messages_conversation_idx", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    # When the other person first saw it (opened the conversation).
    read_at: Mapped[datetime | None]
