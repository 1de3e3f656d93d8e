"""Changing one's email address: a single-use link goes to the new address, and the old one
keeps signing in until the link is opened. An address that is someone's is refused, both
when asked and when confirmed (someone may have taken it in between)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.accounts.accounts import (
    AccountError,
    find_by_email,
    normalise_email,
    verify_password,
)
from coursehub.services.models import Account, AccountLink

EMAIL_CHANGE = "email_change"
DELETE_ACCOUNT = "delete_account"
LINK_LIFETIME = timedelta(hours=24)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _in_use() -> AccountError:
    return AccountError(
        "Another account already uses this email address. Choose a different one.",
        status=409,
        field="new_email",
    )


async def start_email_change(
    session: AsyncSession, account: Account, new_email: str, password: str, now: datetime
) -> tuple[str, str]:
    """A confirmation token for moving ``account`` to ``new_email``: (normalised address,
    token). Earlier unconfirmed changes of the account stop working."""
    if account.password_hash and not verify_password(account, password):
        raise AccountError("That is not your current password.", field="password")
    if not new_email.strip():
        raise AccountError("Enter the new email address.", field="new_email")
    try:
        address = normalise_email(new_email)
    except AccountError as error:
        raise AccountError(error.message, field="new_email") from None
    if address == account.email:
        raise AccountError("That is already your email address.", field="new_email")
    if await find_by_email(session, address) is not None:
        raise _in_use()
    await session.execute(
        update(AccountLink)
        .where(
            AccountLink.account_id == account.id,
            AccountLink.purpose == EMAIL_CHANGE,
            AccountLink.used_at.is_(None),
        )
        .values(expires_at=now)
    )
    token = secrets.token_urlsafe(32)
    session.add(
        AccountLink(
            account_id=account.id,
            purpose=EMAIL_CHANGE,
            new_email=address,
            token_sha256=token_digest(token),
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
    )
    await session.flush()
    return address, token


async def usable_link(
    session: AsyncSession, token: str, purpose: str, now: datetime
) -> AccountLink:
    """The unused, unexpired link named by ``token``, or a refusal saying what is wrong."""
    link = await session.scalar(
        select(AccountLink)
        .where(AccountLink.token_sha256 == token_digest(token), AccountLink.purpose == purpose)
        .with_for_update()
    )
    if link is None:
        raise AccountError("This link is not valid. Ask for a new one.", status=404)
    if link.used_at is not None:
        raise AccountError("This link has already been used.", status=410)
    if link.expires_at <= now:
        raise AccountError("This link has expired. Ask for a new one.", status=410)
    return link


async def confirm_email_change(
    session: AsyncSession, token: str, now: datetime
) -> tuple[Account, str]:
    """Move the account to the link's address: (account, old address)."""
    link = await usable_link(session, token, EMAIL_CHANGE, now)
    account = await session.get_one(Account, link.account_id, with_for_update=True)
    assert link.new_email is not None
    taken = await find_by_email(session, link.new_email)
    if taken is not None and taken.id != account.id:
        raise _in_use()
    old = account.email or ""
    account.email = link.new_email
    link.used_at = now
    return account, old


async def pending_email(session: AsyncSession, account: Account, now: datetime) -> str | None:
    """The address an unconfirmed change of ``account`` waits for, if any."""
    return await session.scalar(
        select(AccountLink.new_email)
        .where(
            AccountLink.account_id == account.id,
            AccountLink.purpose == EMAIL_CHANGE,
            AccountLink.used_at.is_(None),
            AccountLink.expires_at > now,
        )
        .order_by(AccountLink.created_at.desc())
        .limit(1)
    )
