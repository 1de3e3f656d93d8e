"""LTI roster sync (Names and Role Provisioning Services): an LMS context's memberships
address and its last sync, and the members its roster listed (coursehub.services.lti.roster).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coursehub.services.models.base import Base, utcnow


class LtiRoster(Base):
    """The roster of one LMS context (``lti_contexts``): where the platform lists its members
    (``context_memberships_url`` of a launch's NRPS claim) and how the last sync went. A
    failed sync keeps the counts of the last good one and says why in ``last_error``."""

    __tablename__ = "lti_rosters"

    lti_context_id: Mapped[int] = mapped_column(
        ForeignKey("lti_contexts.id", ondelete="CASCADE"), primary_key=True
    )
    memberships_url: Mapped[str] = mapped_column(String(2000))
    # never, queued, running, done, failed
    state: Mapped[str] = mapped_column(String(20), default="never")
    last_attempt_at: Mapped[datetime | None]
    last_synced_at: Mapped[datetime | None]
    added: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    left: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")


class LtiRosterMember(Base):
    """A person the context's roster listed: ``active``, or ``left`` (Inactive on the
    platform, or missing from its full list) with the time; a member who left keeps their
    account, progress and work, only their place in the course ended."""

    __tablename__ = "lti_roster_members"
    __table_args__ = (UniqueConstraint("lti_context_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lti_context_id: Mapped[int] = mapped_column(ForeignKey("lti_contexts.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    roles: Mapped[list[str]] = mapped_column(JSONB, default=list)
    place: Mapped[str] = mapped_column(String(10))  # student, staff
    status: Mapped[str] = mapped_column(String(10), default="active")  # active, left
    joined_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    left_at: Mapped[datetime | None]

    def as_dict(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "roles": list(self.roles),
            "place": self.place,
            "status": self.status,
            "joined_at": self.joined_at,
            "left_at": self.left_at,
        }
