"""Deleting an account, completely.

``personal_data`` lists every place that holds something of a person and what happens to it.
What only the person had (profile, avatar, notes, notifications, settings, links, exports,
sign-ins, their support tickets with screenshots) is deleted. What others rely on — forum
posts, messages, submissions and grades of the course record, enrolments counted in a
course's statistics, who graded or wrote something — stays, but with the account row
anonymised: no email, no password, no Google identity, the name "Deleted user" and a user
name of ``deleted-<id>``. A certificate is kept revoked, without its name, PDF and credential
(so none is issued again to "Deleted user"). A payment is kept as the accounting record the
law requires, without the payer's address. Then every text and JSON column of every other
table (a notification "Ada replied", a copied address) has the old name and address
replaced, and so do procrastinate's jobs (``job_records``). The audit log is append-only and
is left as is; its entries name people by user name only, never by name or address.

The caller (``handlers.my_data``) removes the JupyterHub user (which stops their servers and
ends their sessions and tokens) before committing; after, ``remove_files`` deletes their
home folder, avatar, screenshots, export zips and the mail waiting for them in the outbox,
and ``redis_keys.forget_in_redis`` their Redis keys.
"""

from __future__ import annotations

import email
import json
import logging
import shutil
from dataclasses import dataclass, field
from email import policy
from pathlib import Path

from sqlalchemy import JSON, Enum, String, Text, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import Role
from coursehub.services.accounts.accounts import (
    DELETED_NAME,
    DELETED_USERNAME_PREFIX,
    AccountError,
)
from coursehub.services.models import (
    Account,
    Base,
    Certificate,
    DataExport,
    LoginThrottle,
    Profile,
    SupportTicket,
    Upload,
    utcnow,
)
from coursehub.services.models.payments import Payment
from coursehub.services.privacy import job_records
from coursehub.services.privacy.personal_data import Handling, handled

log = logging.getLogger(__name__)

CERTIFICATE_REVOKED = "The holder deleted their CourseHub account."
# Tables never rewritten: the audit log refuses changes by design.
UNTOUCHED_TABLES = frozenset({"audit_log"})
# What instructors and administrators wrote as course content and configuration: CourseHub
# never copies a person's name into it, and a name there is someone else's text (a lesson on
# Grace Hopper stays one when a student of that name leaves). Only an address is scrubbed here.
AUTHORED_CONTENT_TABLES = frozenset(
    {
        "assignment_files",
        "assignment_variant_rules",
        "assignments",
        "categories",
        "certificate_rules",
        "course_prices",
        "courses",
        "grade_categories",
        "lesson_files",
        "lesson_versions",
        "lessons",
        "modules",
        "quiz_categories",
        "quiz_question_variants",
        "quiz_questions",
        "quiz_slots",
        "quizzes",
        "report_notebooks",
        "reusable_comments",
        "rubric_items",
        "site_settings",
    }
)
# A name this short would match inside unrelated words; it is not searched for elsewhere.
MIN_SCRUBBED_NAME = 4


@dataclass
class Deleted:
    """What the caller removes once the deletion is committed."""

    old_username: str
    account_id: int = 0
    # The old address, user name and name, to look for in Redis (never stored anywhere).
    secrets: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


async def refuse_last_admin(session: AsyncSession, account: Account) -> None:
    if account.role is not Role.ADMIN:
        return
    admins = await session.scalar(
        select(func.count()).select_from(Account).where(Account.role == Role.ADMIN)
    )
    if (admins or 0) <= 1:
        raise AccountError(
            "You are the only administrator, so your account cannot be deleted: make someone "
            "else an administrator first.",
            status=409,
        )


async def delete_account(session: AsyncSession, account: Account, uploads_dir: Path) -> Deleted:
    """Anonymise ``account`` and delete its private rows, in the caller's transaction."""
    await refuse_last_admin(session, account)
    name, email_address = account.name, account.email or ""
    secrets = [value for value in (email_address, _long_enough(name)) if value]
    deleted = Deleted(
        old_username=account.username,
        account_id=account.id,
        secrets=[*secrets, account.username],
    )
    deleted.files += await _private_files(session, account, uploads_dir)
    await job_records.forget_jobs(session, account.id, [_json_pattern(s) for s in secrets])
    private = handled(Handling.DELETED)
    for table in reversed(Base.metadata.sorted_tables):  # rows that point at others first
        for table_name, column_name in private:
            if table_name == table.name:
                await session.execute(delete(table).where(table.c[column_name] == account.id))
    await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.login.in_([f"account:{account.id}", email_address, account.username])
        )
    )
    await _keep_certificates_anonymised(session, account)
    await _keep_payments_as_the_law_requires(session, account)
    account.username = f"{DELETED_USERNAME_PREFIX}{account.id}"
    account.email = None
    account.name = DELETED_NAME
    account.password_hash = None
    account.google_subject = None
    account.google_email = None
    account.role = Role.STUDENT
    account.last_login_at = None
    await session.flush()
    for secret in secrets:
        await scrub_everywhere(session, secret)
    return deleted


def _long_enough(name: str) -> str:
    return name if len(name.strip()) >= MIN_SCRUBBED_NAME else ""


def _json_pattern(secret: str) -> tuple[str, str]:
    replacement = DELETED_NAME if "@" not in secret else "deleted@invalid"
    return word_pattern(json.dumps(secret)[1:-1]), replacement


async def _keep_certificates_anonymised(session: AsyncSession, account: Account) -> None:
    """A certificate stays (revoked), so that a later grade change of the course record does
    not issue "Deleted user" a new one; its name, PDF and credential go."""
    await session.execute(
        update(Certificate)
        .where(Certificate.account_id == account.id, Certificate.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=CERTIFICATE_REVOKED)
    )
    await session.execute(
        update(Certificate)
        .where(Certificate.account_id == account.id)
        .values(holder_name=DELETED_NAME, pdf=None, credential=None)
    )


async def _keep_payments_as_the_law_requires(session: AsyncSession, account: Account) -> None:
    """Payments are accounting records that the law requires to be kept (commonly six to ten
    years): the invoice number, amount, currency, course and dates stay; the payer's address
    goes, and the account they point at is the anonymised one. A refund still works."""
    await session.execute(update(Payment).where(Payment.account_id == account.id).values(email=""))
    if account.email:
        await session.execute(
            update(Payment).where(Payment.email == account.email).values(email="")
        )


async def _private_files(session: AsyncSession, account: Account, uploads_dir: Path) -> list[Path]:
    """The stored files that go with the account: avatar, support screenshots, exports. The
    upload rows are deleted here; uploads used by courses (thumbnails, videos) stay."""
    files: list[Path] = []
    upload_ids = set(
        await session.scalars(
            select(Profile.avatar_upload_id).where(
                Profile.account_id == account.id, Profile.avatar_upload_id.is_not(None)
            )
        )
    ) | set(
        await session.scalars(
            select(SupportTicket.screenshot_upload_id).where(
                SupportTicket.account_id == account.id,
                SupportTicket.screenshot_upload_id.is_not(None),
            )
        )
    )
    for upload in await session.scalars(select(Upload).where(Upload.id.in_(upload_ids))):
        files.append(uploads_dir / upload.storage_name)
        await session.delete(upload)
    for storage_name in await session.scalars(
        select(DataExport.storage_name).where(
            DataExport.account_id == account.id, DataExport.storage_name.is_not(None)
        )
    ):
        files.append(uploads_dir.parent / "exports" / storage_name)
    await session.flush()
    return files


def word_pattern(secret: str) -> str:
    """A PostgreSQL regular expression matching ``secret`` as whole words (so deleting "Ann"
    leaves "Anna" alone), every other character taken literally."""
    body = "".join(char if char.isalnum() else f"\\{char}" for char in secret)
    start = r"\m" if secret[:1].isalnum() else ""
    end = r"\M" if secret[-1:].isalnum() else ""
    return f"{start}{body}{end}"


async def scrub_everywhere(session: AsyncSession, secret: str) -> None:
    """Replace ``secret`` (an old name or address), as whole words, in every text and JSON
    column (table and column names come from our own metadata, the secret is a bound
    parameter). Other people's own account rows are left alone: their names are theirs."""
    replacement = DELETED_NAME if "@" not in secret else "deleted@invalid"
    plain = word_pattern(secret)
    in_json = word_pattern(json.dumps(secret)[1:-1])
    for table in Base.metadata.sorted_tables:
        if table.name in UNTOUCHED_TABLES or table.name == "accounts":
            continue
        if table.name in AUTHORED_CONTENT_TABLES and "@" not in secret:
            continue
        for column in table.columns:
            kind = column.type
            if isinstance(kind, JSON | JSONB):
                as_text = f'CAST("{column.name}" AS text)'
                statement = text(
                    f'UPDATE "{table.name}" SET "{column.name}" = '
                    f"CAST(regexp_replace({as_text}, :pattern, :new, 'g') AS jsonb) "
                    f"WHERE {as_text} ~ :pattern"
                )
                await session.execute(statement, {"pattern": in_json, "new": replacement})
            elif isinstance(kind, String | Text) and not isinstance(kind, Enum):
                if kind.length is not None and kind.length < len(secret):
                    continue
                replaced = f"""regexp_replace("{column.name}", :pattern, :new, 'g')"""
                if kind.length is not None:  # the replacement may be longer than the secret
                    replaced = f"left({replaced}, {int(kind.length)})"
                statement = text(
                    f'UPDATE "{table.name}" SET "{column.name}" = {replaced} '
                    f'WHERE "{column.name}" ~ :pattern'
                )
                await session.execute(statement, {"pattern": plain, "new": replacement})


def remove_files(deleted: Deleted, homes_dir: Path, outbox_dir: Path) -> int:
    """After the commit: the person's files (avatar, screenshots, export zips), their
    JupyterLab home, and mail to their old address still in the outbox (the folder mail goes
    to when no mail server is set). The number of files and folders removed."""
    removed = 0
    for path in deleted.files:
        if path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    home = homes_dir / deleted.old_username
    if home.is_dir():
        shutil.rmtree(home, ignore_errors=True)
        removed += 1
    addresses = {secret.lower() for secret in deleted.secrets if "@" in secret}
    if addresses and outbox_dir.is_dir():
        for path in outbox_dir.glob("*.eml"):
            try:
                message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
            except OSError:
                continue
            to = {address.strip().lower() for address in str(message["To"] or "").split(",")}
            if to & addresses:
                path.unlink(missing_ok=True)
                removed += 1
    log.info("Removed %d files and folders of a deleted account", removed)
    return removed
