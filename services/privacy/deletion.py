"""Deleting an account.

What only the person had (profile, avatar, notes, notifications, settings, links, exports,
their support tickets) is deleted. What others rely on — forum posts, messages, submissions
and grades of the course record, enrolments counted in a course's statistics — stays, but
with the account row anonymised: no email, no password, no Google identity, the name
"Deleted user" and a user name of ``deleted-<id>``. Then every text and JSON column of every
other table (a notification "Ada replied", a copied address) has the old name and address
replaced, so no row still carries them. The audit log is append-only and is left as is; its
entries name people by user name only, never by name or address.

The caller (``handlers.my_data``) removes the JupyterHub user (which stops their servers)
before committing, and the home folder and files after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import JSON, Enum, String, Text, delete, func, select, text
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
    DataExport,
    LoginThrottle,
    Profile,
    SupportTicket,
    Upload,
)

# Tables whose rows about the person are theirs alone: deleted with the account.
PRIVATE_TABLES = (
    "profiles",
    "account_links",
    "data_exports",
    "password_resets",
    "notes",
    "notifications",
    "notification_preferences",
    "notification_digests",
    "notification_once",
    "email_deliveries",
    "forum_reads",
    "support_tickets",
)
# Tables never rewritten: the audit log refuses changes by design.
UNTOUCHED_TABLES = frozenset({"audit_log"})
# A name this short would match inside unrelated words; it is not searched for elsewhere.
MIN_SCRUBBED_NAME = 4


@dataclass
class Deleted:
    """What the caller removes once the deletion is committed."""

    old_username: str
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
    deleted = Deleted(old_username=account.username)
    name, email = account.name, account.email or ""
    deleted.files += await _private_files(session, account, uploads_dir)
    for table in Base.metadata.sorted_tables:
        if table.name not in PRIVATE_TABLES:
            continue
        for column in table.columns:
            if any(key.column.table.name == "accounts" for key in column.foreign_keys):
                await session.execute(delete(table).where(column == account.id))
    await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.login.in_([f"account:{account.id}", email, account.username])
        )
    )
    account.username = f"{DELETED_USERNAME_PREFIX}{account.id}"
    account.email = None
    account.name = DELETED_NAME
    account.password_hash = None
    account.google_subject = None
    account.google_email = None
    account.role = Role.STUDENT
    account.last_login_at = None
    await session.flush()
    for secret in {email, name if len(name.strip()) >= MIN_SCRUBBED_NAME else ""} - {""}:
        await scrub_everywhere(session, secret)
    return deleted


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
