"""What people keep about themselves and ask of CourseHub: profiles, emailed confirmation
links (email changes, account deletion), data exports, and support tickets with replies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class Profile(Base):
    """What a person says about themself; shown wherever they appear."""

    __tablename__ = "profiles"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    bio: Mapped[str] = mapped_column(Text, default="", server_default="")
    pronouns: Mapped[str] = mapped_column(String(40), default="", server_default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    language: Mapped[str] = mapped_column(String(16), default="en", server_default="en")
    avatar_upload_id: Mapped[int | None] = mapped_column(
        ForeignKey("uploads.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class AccountLink(Base):
    """A single-use emailed link: confirming a new email address, or deleting the account.
    Only the SHA-256 of its token is stored."""

    __tablename__ = "account_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(20))  # email_change, delete_account
    new_email: Mapped[str | None] = mapped_column(String(320))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class DataExport(Base):
    """One "download my data" request: queued, then ready (a zip with a link) or failed."""

    __tablename__ = "data_exports"
    # One export in the making per person: asking twice finds the first.
    __table_args__ = (
        Index(
            "data_exports_one_queued",
            "account_id",
            unique=True,
            postgresql_where=text("state = 'queued'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(20), default="queued", server_default="queued")
    token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    storage_name: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    ready_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class SupportTicket(Base):
    """A support request; admins answer it from their queue."""

    __tablename__ = "support_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True
    )
    subject: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    page_link: Mapped[str] = mapped_column(String(2000), default="", server_default="")
    # A visitor's reply address (the public contact form); empty for signed-in people.
    contact_email: Mapped[str | None] = mapped_column(String(320))
    screenshot_upload_id: Mapped[int | None] = mapped_column(
        ForeignKey("uploads.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(
        String(20), default="open", server_default="open", index=True
    )  # open, answered, closed
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())


class SupportReply(Base):
    """One message in a ticket's conversation, by its author or an admin."""

    __tablename__ = "support_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("support_tickets.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
