"""Importing students into a course from CSV: a preview that says what each row will do,
then all of it or nothing.

The file has a header row with an ``email`` column (and optionally ``name``). Each row will:
create an account (and send an invitation: a link to choose a password), match an existing
account by email, or be refused as malformed or a duplicate of an earlier row. Applying
refuses while any row is refused, and when the file's plan is not the one previewed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import Role
from coursehub.services import mail
from coursehub.services.accounts import accounts
from coursehub.services.accounts.accounts import AccountError
from coursehub.services.audit import audit_log
from coursehub.services.courses import enrollment
from coursehub.services.errors import Refusal
from coursehub.services.models import Account, Course, Enrollment, utcnow
from coursehub.services.settings import Settings

MAX_BYTES = 2_000_000
MAX_ROWS = 5000
INVITATION_DAYS = 7


class StudentImportError(Refusal):
    """The file as a whole cannot be read."""


@dataclass(frozen=True)
class Row:
    line: int
    email: str
    name: str
    action: str  # create, match, enrolled (already), malformed, duplicate, staff
    note: str = ""

    @property
    def refused(self) -> bool:
        return self.action in ("malformed", "duplicate", "staff")


@dataclass
class Plan:
    rows: list[Row] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def refused(self) -> list[Row]:
        return [row for row in self.rows if row.refused]

    @property
    def digest(self) -> str:
        document = [[r.line, r.email, r.name, r.action] for r in self.rows]
        return hashlib.sha256(json.dumps(document).encode()).hexdigest()


def _read(text: str) -> list[tuple[int, dict[str, str]]]:
    if len(text.encode()) > MAX_BYTES:
        raise StudentImportError("The file is larger than 2 MB; split it into smaller files.", 413)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = [h.strip().lower() for h in reader.fieldnames or []]
    if "email" not in headers:
        raise StudentImportError(
            "The first row must name the columns, with one called email (and optionally name).",
            400,
            field="csv",
        )
    reader.fieldnames = headers
    rows = [(reader.line_num, {k: (v or "").strip() for k, v in r.items() if k}) for r in reader]
    if len(rows) > MAX_ROWS:
        raise StudentImportError(
            f"At most {MAX_ROWS} rows at once; split the file.", 413, field="csv"
        )
    if not rows:
        raise StudentImportError("The file has no rows below its header.", 400, field="csv")
    return rows


async def plan(session: AsyncSession, course: Course, text: str) -> Plan:
    """What importing ``text`` into ``course`` would do, row by row."""
    result = Plan()
    seen: dict[str, int] = {}
    parsed: list[tuple[int, str, str, str]] = []
    for line, values in _read(text):
        raw, name = values.get("email", ""), values.get("name", "")[:200]
        try:
            email = accounts.normalise_email(raw)
        except AccountError:
            result.rows.append(
                Row(line, raw, name, "malformed", f"{raw!r} is not an email address")
            )
            continue
        if email in seen:
            result.rows.append(
                Row(line, email, name, "duplicate", f"the same as line {seen[email]}")
            )
            continue
        seen[email] = line
        parsed.append((line, email, name, raw))
    existing = {
        (a.email or ""): a
        for a in await session.scalars(select(Account).where(Account.email.in_(list(seen))))
    }
    enrolled = set(
        await session.scalars(
            select(Enrollment.account_id).where(
                Enrollment.course_id == course.id,
                Enrollment.account_id.in_([a.id for a in existing.values()]),
            )
        )
    )
    for line, email, name, _raw in parsed:
        account = existing.get(email)
        if account is None:
            result.rows.append(
                Row(line, email, name, "create", "a new account; an invitation is sent")
            )
        elif account.id in enrolled:
            result.rows.append(Row(line, email, account.name, "enrolled", "already enrolled"))
        elif await enrollment.teaching_conflict(session, account, course) is not None:
            result.rows.append(
                Row(line, email, account.name, "staff", "teaches or grades this course")
            )
        else:
            result.rows.append(
                Row(line, email, account.name, "match", f"existing account {account.username}")
            )
    result.rows.sort(key=lambda row: row.line)
    return result


@dataclass(frozen=True)
class Applied:
    created: list[Account]
    invitations: list[EmailMessage]
    enrolled: int


async def apply(
    session: AsyncSession,
    settings: Settings,
    actor: Account,
    course: Course,
    text: str,
    previewed: str,
) -> Applied:
    """Import all of it or nothing: refused while any row is refused or when the plan is
    not the one previewed (``previewed``: its digest). The caller commits, then sends the
    invitations."""
    if not actor.role.at_least(Role.ADMIN):
        raise StudentImportError("Only administrators import students.", 403)
    current = await plan(session, course, text)
    if current.digest != previewed:
        raise StudentImportError(
            "Accounts or enrolments changed since the preview, so it no longer says what would "
            "happen. Preview the file again.",
            409,
        )
    if current.refused:
        lines = ", ".join(str(row.line) for row in current.refused[:10])
        raise StudentImportError(
            f"Nothing was imported: fix the rows the preview marks (lines {lines}) and try again.",
            400,
            field="csv",
        )
    created: list[Account] = []
    invitations: list[EmailMessage] = []
    now = utcnow()
    for row in current.rows:
        if row.action == "create":
            account = Account(
                username=await accounts.unique_username(session, row.email),
                email=row.email,
                name=row.name or row.email.partition("@")[0],
                role=Role.STUDENT,
            )
            session.add(account)
            await session.flush()
            created.append(account)
            started = await accounts.start_password_reset(
                session, row.email, timedelta(days=INVITATION_DAYS), now
            )
            assert started is not None  # made just above
            invitations.append(_invitation(settings, course, account, started[1]))
    emails = [row.email for row in current.rows if row.action in ("create", "match")]
    ids = list(
        await session.scalars(select(Account.id).where(func.lower(Account.email).in_(emails)))
    )
    for account_id in ids:
        session.add(Enrollment(account_id=account_id, course_id=course.id, enrolled_at=now))
    audit_log.record(
        session,
        actor,
        "course.import_students",
        ("course", course.id),
        None,
        {"created": [a.username for a in created], "enrolled": len(ids)},
        course_id=course.id,
    )
    await session.flush()
    return Applied(created=created, invitations=invitations, enrolled=len(ids))


def _invitation(settings: Settings, course: Course, account: Account, token: str) -> EmailMessage:
    link = f"{settings.public_url}{settings.service_prefix}/reset/{token}"
    return mail.compose(
        settings,
        account.email or "",
        f"You are invited to {course.title}",
        f"Hello {account.name},\n\nAn administrator enrolled you in {course.title} and made you "
        f"an account. Open this link within {INVITATION_DAYS} days to choose your password:\n\n"
        f"{link}\n\nYour sign-in is your email address, {account.email}.\n",
    )
