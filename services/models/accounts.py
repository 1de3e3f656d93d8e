"""Accounts and sign-in bookkeeping: people, failed sign-ins, reset links (role changes are in
the audit log)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.hub.constants import Role
from coursehub.services.models.base import Base, utcnow


class Account(Base):
    """A person's CourseHub account; ``username`` is their JupyterHub user name."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(
        Enum(Role, name="account_role"), default=Role.STUDENT, server_default=Role.STUDENT.value
    )
    google_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    # The linked Google identity's address as Google last gave it (shown in Settings).
    google_email: Mapped[str | None] = mapped_column(String(320))
    # When the person last unlinked Google: from then on a Google identity with their address
    # no longer links itself at sign-in (only linking again from Settings does).
    google_unlinked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    last_login_at: Mapped[datetime | None]


class LoginThrottle(Base):
    """Failed sign-ins per login name (known or not, so lockout reveals nothing)."""

    __tablename__ = "login_throttles"

    login: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]


class PasswordReset(Base):
    """A single-use password-reset link; only the SHA-256 of its token is stored."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
