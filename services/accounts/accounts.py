"""Accounts: registration, password sign-in with lockout, password resets, Google linking, roles.

Everything here takes an ``AsyncSession`` and leaves committing to the caller, so one request
is one transaction. Errors a person can fix raise ``AccountError`` with a sentence to show.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.hub.constants import Role
from coursehub.services.audit import audit_log
from coursehub.services.errors import Refusal
from coursehub.services.models import Account, LoginThrottle, PasswordReset
from coursehub.services.models.base import utcnow

_hasher = PasswordHasher()
# Verified against when the login names nobody, so that a miss costs as much as a hit.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
MIN_PASSWORD_LENGTH = 10
_COMMON_PASSWORDS = frozenset(
    {
        "password123",
        "1234567890",
        "qwertyuiop",
        "password12",
        "letmein123",
        "iloveyou12",
        "coursehub1",
        "coursehub123",
        "welcome123",
        "administrator",
        "0123456789",
        "abcdefghij",
    }
)


class AccountError(Refusal):
    """A problem the person can fix; ``field`` names the form field it is about."""


class FormProblems(AccountError):
    """Several fields of one form are wrong at once: ``problems`` maps each to its sentence."""

    def __init__(self, problems: dict[str, str], status: int = 400) -> None:
        field, message = next(iter(problems.items()))
        super().__init__(message, status=status, field=field)
        self.problems = problems


# The rules a new password must meet, said up front on every form that asks for one.
PASSWORD_RULES = (
    f"At least {MIN_PASSWORD_LENGTH} characters, at least 4 different ones, not a common "
    "password, and not containing the part of your email before the @."
)


class LockedOut(AccountError):
    def __init__(self, minutes: int) -> None:
        super().__init__(
            f"Too many failed sign-ins. Wait {minutes} minutes, or reset your password.",
            status=429,
        )


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def normalise_email(raw: str) -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise AccountError(f"That email address is not valid: {error}", field="email") from None


def check_password_strength(password: str, email: str = "") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    if len(password) > 1024:
        raise AccountError("Choose a password of at most 1024 characters.", field="password")
    lowered = password.lower()
    local_part = email.split("@")[0].lower()
    if lowered in _COMMON_PASSWORDS or len(set(password)) < 4:
        raise AccountError("That password is too easy to guess; choose another.", field="password")
    if len(local_part) >= 4 and local_part in lowered:
        raise AccountError("Your password must not contain your email name.", field="password")


async def unique_username(session: AsyncSession, email: str) -> str:
    """A JupyterHub-safe user name from the email's local part, made unique with a number."""
    base = re.sub(r"[^a-z0-9]+", "-", email.split("@")[0].lower()).strip("-")[:40] or "user"
    taken = set(
        await session.scalars(select(Account.username).where(Account.username.like(f"{base}%")))
    )
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


async def find_by_email(session: AsyncSession, email: str) -> Account | None:
    return await session.scalar(select(Account).where(Account.email == email))


async def register(
    session: AsyncSession, *, email: str, password: str, name: str, role: Role = Role.STUDENT
) -> Account:
    """A new account; every field that is wrong is named at once (``FormProblems``)."""
    problems: dict[str, str] = {}
    name = name.strip()
    if not name:
        problems["name"] = "Tell us your name."
    elif len(name) > 200:
        problems["name"] = "Your name can be at most 200 characters."
    if not email.strip():
        problems["email"] = "Enter your email address."
    else:
        try:
            email = normalise_email(email)
        except AccountError as error:
            problems["email"] = error.message
    if not password:
        problems["password"] = "Choose a password."  # noqa: S105 - a sentence, not a secret
    else:
        try:
            check_password_strength(password, "" if "email" in problems else email)
        except AccountError as error:
            problems["password"] = error.message
    if problems:
        raise FormProblems(problems)
    if await find_by_email(session, email) is not None:
        raise AccountError(
            "An account with this email already exists. Sign in, or reset your password.",
            field="email",
            status=409,
        )
    account = Account(
        username=await unique_username(session, email),
        email=email,
        name=name,
        password_hash=hash_password(password),
        role=role,
    )
    session.add(account)
    await session.flush()
    return account


async def _throttle(session: AsyncSession, login: str, now: datetime) -> LoginThrottle:
    """The login name's failure counter, locked for this transaction (made if missing)."""
    # ON CONFLICT: two first sign-ins of one name at once must not collide.
    await session.execute(
        insert(LoginThrottle)
        .values(login=login, failures=0, first_failure_at=now)
        .on_conflict_do_nothing(index_elements=[LoginThrottle.login])
    )
    return await session.get_one(LoginThrottle, login, with_for_update=True)


def throttle_key(login: str, account: Account | None) -> str:
    """What failures are counted against: the account itself when the name is someone's (its
    email and its user name are one account), else the name as typed."""
    return f"account:{account.id}" if account is not None else login


async def sign_in(
    session: AsyncSession, login: str, password: str, policy: ThrottlePolicy, now: datetime
) -> Account | None:
    """The account for ``login`` (email or user name) and ``password``, or None.

    Failures are counted per account, however it is named, and per unknown login name; a
    locked account or name is refused before its password is checked: the answers never
    tell who has an account.
    """
    key = login.strip().lower()[:320]
    column = Account.email if "@" in key else Account.username
    account = await session.scalar(select(Account).where(column == key))
    throttle = await _throttle(session, throttle_key(key, account), now)
    if throttle.locked_until and throttle.locked_until > now:
        raise LockedOut(int(policy.lockout.total_seconds() // 60))
    if account is not None and account.password_hash and _verify(account.password_hash, password):
        await session.delete(throttle)
        account.last_login_at = now
        if _hasher.check_needs_rehash(account.password_hash):
            account.password_hash = hash_password(password)
        return account
    if account is None or not account.password_hash:
        _verify(_DUMMY_HASH, password)
    if now - throttle.first_failure_at > policy.window:
        throttle.failures, throttle.first_failure_at = 0, now
    throttle.failures += 1
    if throttle.failures >= policy.max_failures:
        throttle.locked_until = now + policy.lockout
    return None


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_password_reset(
    session: AsyncSession, email: str, lifetime: timedelta, now: datetime
) -> tuple[Account, str] | None:
    """A new reset token for the account with ``email``; None when nobody has that email."""
    account = await find_by_email(session, normalise_email(email))
    if account is None:
        return None
    token = secrets.token_urlsafe(32)
    session.add(
        PasswordReset(
            account_id=account.id,
            token_sha256=_token_digest(token),
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return account, token


async def reset_for_token(session: AsyncSession, token: str, now: datetime) -> PasswordReset:
    """The still-usable reset named by ``token``, or an AccountError saying what is wrong."""
    reset = await session.scalar(
        select(PasswordReset)
        .where(PasswordReset.token_sha256 == _token_digest(token))
        .with_for_update()
    )
    if reset is None:
        raise AccountError("This reset link is not valid. Ask for a new one.", status=404)
    if reset.used_at is not None:
        raise AccountError("This reset link has already been used. Ask for a new one.", status=410)
    if reset.expires_at <= now:
        raise AccountError("This reset link has expired. Ask for a new one.", status=410)
    return reset


async def finish_password_reset(
    session: AsyncSession, token: str, new_password: str, now: datetime
) -> Account:
    reset = await reset_for_token(session, token, now)
    account = await session.get_one(Account, reset.account_id)
    check_password_strength(new_password, account.email or "")
    account.password_hash = hash_password(new_password)
    reset.used_at = now
    # A reset also lifts any lockout on the account (and on its names, counted before).
    for login in filter(None, (throttle_key("", account), account.email, account.username)):
        throttle = await session.get(LoginThrottle, login)
        if throttle is not None:
            await session.delete(throttle)
    return account


async def change_password(
    session: AsyncSession, account: Account, current: str, new_password: str
) -> None:
    """Set a new password for a signed-in person who knows their current one."""
    if not (account.password_hash and _verify(account.password_hash, current)):
        raise AccountError("That is not your current password.", field="current_password")
    check_password_strength(new_password, account.email or "")
    account.password_hash = hash_password(new_password)


async def sign_in_with_google(
    session: AsyncSession, *, subject: str, email: str, email_verified: bool, name: str
) -> Account:
    """The account for a Google (OpenID Connect) identity, linked by verified email."""
    account = await session.scalar(select(Account).where(Account.google_subject == subject))
    if account is not None:
        account.google_email = _google_address(email) or account.google_email
        return account
    if not email_verified:
        raise AccountError(
            "Your Google account's email address is not verified, so CourseHub cannot link "
            "it to an account. Verify it with Google, or sign in with your password.",
            status=403,
        )
    email = normalise_email(email)
    account = await find_by_email(session, email)
    if account is not None and account.google_unlinked_at is not None:
        raise AccountError(GOOGLE_UNLINKED, status=403)
    if account is None:
        account = Account(
            username=await unique_username(session, email), email=email, name=name or email
        )
        session.add(account)
    account.google_subject = subject
    account.google_email = _google_address(email)
    await session.flush()
    return account


def _google_address(email: str) -> str | None:
    """The address Google gave, as it gave it (only shown to the person): None when empty."""
    return email.strip()[:320] or None


GOOGLE_UNLINKED = (
    "The CourseHub account with this Google account's address has Google sign-in unlinked, "
    "so Google does not open it any more. Sign in with your password; to use Google again, "
    "link it in Settings."
)

GOOGLE_TAKEN = (
    "This Google account is already linked to another CourseHub account, so it cannot sign "
    "in to this one too. Sign in with Google to reach that account (and unlink it in its "
    "Settings), or link a different Google account here."
)


async def link_google(session: AsyncSession, account: Account, *, subject: str, email: str) -> bool:
    """Link the Google identity ``subject`` to ``account``, whose owner is signed in and has
    just signed in to Google too; from then on signing in with Google opens this account.
    False when it was linked already (nothing to tell anyone). Refused when the identity
    belongs to another account, or this one has another identity linked."""
    subject = subject.strip()
    if not subject or len(subject) > 255:
        raise AccountError("Google did not say which account you signed in with.", status=400)
    owner = await session.scalar(
        select(Account).where(Account.google_subject == subject).with_for_update()
    )
    if owner is not None and owner.id != account.id:
        raise AccountError(GOOGLE_TAKEN, status=409, field="google")
    if account.google_subject == subject:
        account.google_email = _google_address(email) or account.google_email
        return False
    if account.google_subject is not None:
        raise AccountError(
            "Your account already has another Google account linked. Unlink it in Settings "
            "first, then link this one.",
            status=409,
            field="google",
        )
    account.google_subject = subject
    account.google_email = _google_address(email)
    account.google_unlinked_at = None
    await session.flush()
    return True


# Built once: every request looks its person up this way.
_BY_USERNAME = select(Account).where(Account.username == bindparam("username"))


async def account_for_hub_user(session: AsyncSession, username: str) -> Account:
    """The account of a hub user; one an admin created in the hub panel gets a STUDENT account."""
    account = await session.scalar(_BY_USERNAME, {"username": username})
    if account is None:
        account = Account(username=username, name=username)
        session.add(account)
        await session.flush()
    return account


async def change_role(
    session: AsyncSession, *, actor: Account, account: Account, new_role: Role
) -> None:
    if not actor.role.at_least(Role.ADMIN):
        raise AccountError("Only administrators can change roles.", status=403)
    if account.id == actor.id and new_role != Role.ADMIN:
        admins = await session.scalar(
            select(func.count()).select_from(Account).where(Account.role == Role.ADMIN)
        )
        if (admins or 0) <= 1:
            raise AccountError(
                "You are the only administrator; make someone else an administrator first.",
                status=409,
            )
    if account.role == new_role:
        return
    audit_log.record(
        session, actor, "role.change", account, {"role": account.role}, {"role": new_role}
    )
    account.role = new_role


def verify_password(account: Account, password: str) -> bool:
    """Whether ``password`` is the account's password (False when it has none)."""
    return bool(account.password_hash) and _verify(account.password_hash or "", password)


def unlink_google(account: Account) -> None:
    """Forget the account's Google identity; only while a password still signs it in."""
    if account.google_subject is None:
        raise AccountError("Your account has no linked Google identity.", status=409)
    if not account.password_hash:
        raise AccountError(
            "Set a password first (Forgot your password? sends a link): without Google and "
            "without a password you could not sign in at all.",
            status=409,
        )
    account.google_subject = None
    account.google_email = None
    account.google_unlinked_at = utcnow()


# A deleted account keeps its row (what others rely on points at it) under this name prefix,
# with no email, password or identity left: see ``privacy.deletion``.
DELETED_USERNAME_PREFIX = "deleted-"
DELETED_NAME = "Deleted user"


def is_deleted(account: Account) -> bool:
    return account.email is None and account.username.startswith(DELETED_USERNAME_PREFIX)
