"""How people hear about their notifications besides the in-app record: each person's email
choice per kind of notification, the email deliveries decided when a notification is made
(sent at once or kept for the daily digest), the digests sent, and the keys that make
scheduled notifications ("due in 24 hours") happen once per person and subject."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class EmailChoice(enum.StrEnum):
    """What email a kind of notification brings; the in-app record is always kept."""

    OFF = "OFF"
    EMAIL = "EMAIL"  # one email at once
    DIGEST = "DIGEST"  # in the next daily digest


class NotificationPreference(Base):
    """One person's email choice for one kind of notification (absent: the kind's default)."""

    __tablename__ = "notification_preferences"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(50), primary_key=True)
    email: Mapped[EmailChoice] = mapped_column(Enum(EmailChoice, name="email_choice"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class NotificationDigest(Base):
    """One daily digest email of one person: at most one per person and day."""

    __tablename__ = "notification_digests"
    __table_args__ = (UniqueConstraint("account_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    day: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    sent_at: Mapped[datetime | None]


class EmailDelivery(Base):
    """The email side of one notification, decided in the notification's own transaction
    from its owner's choice: sent alone (EMAIL) or in a digest (DIGEST). ``sent_at`` makes a
    job that runs twice send nothing the second time."""

    __tablename__ = "email_deliveries"
    __table_args__ = (Index("email_deliveries_pending_idx", "channel", "account_id", "sent_at"),)

    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    channel: Mapped[EmailChoice] = mapped_column(Enum(EmailChoice, name="email_choice"))
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_digests.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    sent_at: Mapped[datetime | None]


class NotificationOnce(Base):
    """A scheduled notification already made (``kind`` about ``subject_id`` for a person):
    the scan that runs twice inserts nothing the second time."""

    __tablename__ = "notification_once"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(50), primary_key=True)
    subject_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
