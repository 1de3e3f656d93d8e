"""Writing to the audit log and reading it back (search, one target's history, CSV)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, String, and_, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services import structured_logs
from coursehub.services.models import Account
from coursehub.services.models.audit import AuditEntry

# The id of the request (or job) being served (structured_logs sets it); kept on each entry.
request_id = structured_logs.REQUEST_ID

MAX_REASON = 2000
PAGE_SIZE = 50


class _Row(Protocol):
    __tablename__: str
    id: Any


Target = tuple[str, Any] | _Row


def _target(target: Target) -> tuple[str, str]:
    if isinstance(target, tuple):
        kind, ident = target
        return str(kind), "" if ident is None else str(ident)
    return str(target.__tablename__).removesuffix("s"), str(target.id)


def _plain(value: Any) -> Any:
    """JSON-safe copy (dates, enums and decimals become text)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=lambda v: getattr(v, "value", str(v))))


def record(
    session: AsyncSession,
    actor: Account | None,
    action: str,
    target: Target,
    before: Any = None,
    after: Any = None,
    *,
    reason: str = "",
    course_id: int | None = None,
) -> AuditEntry:
    """Add one entry to the caller's transaction: it is kept exactly when the change is.

    ``actor`` None means CourseHub itself (a job, a command); ``target`` is a row or a
    ``(kind, id)`` pair; ``before``/``after`` are what changed, as JSON-able values.
    """
    kind, ident = _target(target)
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        actor_name=actor.username if actor is not None else "coursehub",
        action=action,
        target_kind=kind,
        target_id=ident,
        before=_plain(before),
        after=_plain(after),
        reason=(reason or "").strip()[:MAX_REASON],
        request_id=request_id.get(),
        course_id=course_id,
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditQuery:
    """What an admin searches the log for; every field optional."""

    text: str = ""
    action: str = ""
    target_kind: str = ""
    target_id: str = ""
    actor: str = ""
    since: datetime | None = None
    until: datetime | None = None
    course_id: int | None = None

    def statement(self) -> Select[tuple[AuditEntry]]:
        query = select(AuditEntry)
        if self.action:
            query = query.where(AuditEntry.action.startswith(self.action))
        if self.target_kind:
            query = query.where(AuditEntry.target_kind == self.target_kind)
        if self.target_id:
            query = query.where(AuditEntry.target_id == self.target_id)
        if self.actor:
            query = query.where(AuditEntry.actor_name == self.actor)
        if self.since is not None:
            query = query.where(AuditEntry.at >= self.since)
        if self.until is not None:
            query = query.where(AuditEntry.at < self.until)
        if self.course_id is not None:
            query = query.where(AuditEntry.course_id == self.course_id)
        if self.text:
            like = f"%{_escape_like(self.text)}%"
            query = query.where(
                or_(
                    AuditEntry.action.ilike(like, escape="\\"),
                    AuditEntry.actor_name.ilike(like, escape="\\"),
                    AuditEntry.target_id.ilike(like, escape="\\"),
                    AuditEntry.reason.ilike(like, escape="\\"),
                    cast(AuditEntry.before, String).ilike(like, escape="\\"),
                    cast(AuditEntry.after, String).ilike(like, escape="\\"),
                    # Entries about a person are found by their name too.
                    and_(
                        AuditEntry.target_kind == "account",
                        AuditEntry.target_id.in_(
                            select(cast(Account.id, String)).where(
                                or_(
                                    Account.username.ilike(like, escape="\\"),
                                    Account.email.ilike(like, escape="\\"),
                                )
                            )
                        ),
                    ),
                )
            )
        return query


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search(
    session: AsyncSession, query: AuditQuery, *, page: int = 1, size: int = PAGE_SIZE
) -> tuple[list[AuditEntry], int]:
    """One page of matching entries, newest first, and how many match in all."""
    statement = query.statement()
    total = await session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = await session.scalars(
        statement.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .offset((max(page, 1) - 1) * size)
        .limit(size)
    )
    return list(rows), total or 0


async def history(
    session: AsyncSession, kind: str, target_id: Any, *, actions: Iterable[str] = ()
) -> list[AuditEntry]:
    """Every entry about one thing, oldest first (optionally only some actions)."""
    statement = select(AuditEntry).where(
        AuditEntry.target_kind == kind, AuditEntry.target_id == str(target_id)
    )
    wanted = list(actions)
    if wanted:
        statement = statement.where(AuditEntry.action.in_(wanted))
    rows = await session.scalars(statement.order_by(AuditEntry.at, AuditEntry.id))
    return list(rows)


CSV_COLUMNS = (
    "id",
    "at",
    "actor",
    "action",
    "target_kind",
    "target_id",
    "before",
    "after",
    "reason",
    "request_id",
)


def _cell(value: str) -> str:
    # Spreadsheets run cells that start with these as formulas.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor_name,
        "actor_id": entry.actor_id,
        "action": entry.action,
        "target_kind": entry.target_kind,
        "target_id": entry.target_id,
        "before": entry.before,
        "after": entry.after,
        "reason": entry.reason,
        "request_id": entry.request_id,
        "course_id": entry.course_id,
    }


async def _in_batches(
    session: AsyncSession, query: AuditQuery, size: int = 1000
) -> AsyncIterator[AuditEntry]:
    """Every matching entry, oldest first, read a batch at a time (by id, so a long log is
    never held in memory at once, and no server-side cursor is needed)."""
    after = 0
    while True:
        batch = list(
            await session.scalars(
                query.statement().where(AuditEntry.id > after).order_by(AuditEntry.id).limit(size)
            )
        )
        for entry in batch:
            yield entry
        if len(batch) < size:
            return
        after = batch[-1].id
        session.expunge_all()


async def export_csv(session: AsyncSession, query: AuditQuery) -> str:
    """Every matching entry as CSV, oldest first (before/after as JSON text)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    async for entry in _in_batches(session, query):
        writer.writerow(
            [
                entry.id,
                entry.at.isoformat(),
                _cell(entry.actor_name),
                entry.action,
                entry.target_kind,
                _cell(entry.target_id),
                "" if entry.before is None else json.dumps(entry.before, sort_keys=True),
                "" if entry.after is None else json.dumps(entry.after, sort_keys=True),
                _cell(entry.reason),
                entry.request_id or "",
            ]
        )
    return out.getvalue()
