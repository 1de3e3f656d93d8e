"""Names and Role Provisioning Services: a course's roster synced from the LMS.

A launch whose NRPS claim names a ``context_memberships_url`` keeps it with its LMS context
(``remember``) and queues a sync on the job queue (never in the launch request); staff queue
one from the course's *LMS roster* page. The sync (``sync``, run by ``roster_jobs``) reads
every page of the platform's membership container (``rel="next"`` links) with pylti1p3's
NRPS client and an access token for the NRPS scope from the platform's token endpoint, then
places each member as a launch would: matched to a CourseHub account by the platform's
``sub`` (``lti_identities``, never by an email alone), created when new, a student for
Learner, a grader for Instructor or teaching assistant. Members the platform lists as
Inactive (or Deleted), and members missing from its full list, are marked as left: their
enrolment (or grader place) ends, their account, progress and work stay.

Nothing changes unless the whole roster was read: a platform that cannot be reached, answers
with an error, sends something that is not a membership container, or lists nobody where
the roster has members, fails the sync with a sentence saying why, and the previous roster
stays as it was.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.accounts.accounts import (
    AccountError,
    find_by_email,
    normalise_email,
    unique_username,
)
from coursehub.services.courses import course_staff, enrollment
from coursehub.services.errors import Refusal
from coursehub.services.jobs.queue import defer
from coursehub.services.lti import line_items, tool_keys
from coursehub.services.lti.launch import ValidLaunch
from coursehub.services.lti.launch_people import place_for_roles
from coursehub.services.lti.pylti1p3_adapters import PlatformSnapshot
from coursehub.services.lti.scores import PASSBACK_QUEUE
from coursehub.services.models import (
    Account,
    Course,
    CourseGrader,
    Enrollment,
    LtiContext,
    LtiIdentity,
    LtiPlatform,
    LtiRoster,
    LtiRosterMember,
    Suspension,
    utcnow,
)

log = logging.getLogger(__name__)

NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SYNC_TASK = "lti_sync_roster"
ROSTER_QUEUE = PASSBACK_QUEUE  # the lti queue
# A launch queues a sync only when the last one is older than this (every launch of a large
# class would otherwise read the whole roster again).
LAUNCH_RESYNC_AFTER = timedelta(minutes=10)
MAX_PAGES = 1000
TIMEOUT_SECONDS = 20
MAX_PROBLEMS_KEPT = 5
_NEXT = re.compile(r"<([^>]*)>\s*;\s*rel=\"?next\"?", re.IGNORECASE)


class RosterError(Exception):
    """Why a roster could not be read; the sentence staff see."""


@dataclass(frozen=True)
class Member:
    subject: str
    name: str
    email: str
    roles: list[str]
    active: bool


@dataclass
class SyncResult:
    added: int = 0
    updated: int = 0
    left: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)

    def failure(self, sentence: str) -> None:
        self.failed += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(sentence)


# -- The platform's side: reading the membership container ------------------------------


class _TimedSession(requests.Session):
    """requests with a timeout on every call (pylti1p3 sets none)."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", TIMEOUT_SECONDS)
        return super().request(*args, **kwargs)


def next_page(headers: dict[str, str]) -> str | None:
    """The ``rel="next"`` address of a page's ``Link`` header, as written (pylti1p3's own
    reading lowercases it, which breaks addresses with capitals)."""
    link = next((v for k, v in headers.items() if k.lower() == "link"), "")
    for part in link.split(","):
        found = _NEXT.search(part)
        if found:
            return found.group(1).strip()
    return None


def _sentence(error: Exception, token_url: str) -> str:
    if isinstance(error, LtiServiceException):
        response = error.response
        where = "an access token" if response.url == token_url else "its roster"
        text = " ".join((response.text or "").split())[:200]
        detail = f": {text}" if text else ""
        return f"the LMS refused {where} (HTTP {response.status_code}{detail})"
    if isinstance(error, requests.Timeout):
        return f"the LMS did not answer within {TIMEOUT_SECONDS} seconds"
    if isinstance(error, requests.RequestException):
        return "the LMS could not be reached"
    if isinstance(error, KeyError):
        return "the LMS's token endpoint answered without an access token"
    return "the LMS answered with something that is not a membership container"


def _member(raw: Any) -> Member | None:
    if not isinstance(raw, dict):
        return None
    subject = str(raw.get("user_id", "")).strip()
    if not subject or len(subject) > 255:
        return None
    roles = raw.get("roles", [])
    name = raw.get("name") or " ".join(
        str(raw.get(part, "")) for part in ("given_name", "family_name")
    )
    return Member(
        subject=subject,
        name=str(name).strip()[:200],
        email=str(raw.get("email", "") or "").strip(),
        roles=[str(r) for r in roles] if isinstance(roles, list) else [],
        active=str(raw.get("status", "Active")) == "Active",
    )


def fetch_members(
    platform: PlatformSnapshot, signing_key_pem: str, memberships_url: str
) -> tuple[list[Member], int]:
    """Every member on every page of the platform's roster, and how many entries could not
    be read (no ``user_id``). Runs in a thread; raises ``RosterError``."""
    registration = line_items.signing_registration(platform, signing_key_pem)
    service = NamesRolesProvisioningService(
        ServiceConnector(registration, _TimedSession()),
        {"context_memberships_url": memberships_url},
    )
    members: list[Member] = []
    unreadable = 0
    seen: set[str] = set()
    url: str | None = memberships_url
    try:
        while url:
            if url in seen:
                raise RosterError("the LMS's roster pages lead back to a page already read")
            if len(seen) >= MAX_PAGES:
                raise RosterError(f"the LMS's roster has more than {MAX_PAGES} pages")
            seen.add(url)
            data = service.get_nrps_data(url)
            body = data.get("body")
            if not isinstance(body, dict) or not isinstance(body.get("members"), list):
                raise ValueError("no members list")
            for raw in body["members"]:
                member = _member(raw)
                if member is None:
                    unreadable += 1
                else:
                    members.append(member)
            url = next_page(dict(data.get("headers") or {}))
    except RosterError:
        raise
    except (LtiException, requests.RequestException, ValueError, KeyError) as error:
        raise RosterError(_sentence(error, platform.auth_token_url)) from None
    return members, unreadable


# -- CourseHub's side ----------------------------------------------------------------------


def memberships_url_of(launch: ValidLaunch) -> str:
    claim = launch.claims.get(NRPS_CLAIM)
    if not isinstance(claim, dict):
        return ""
    url = str(claim.get("context_memberships_url", "") or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        return ""
    return url


# procrastinate's own table: is a sync of this roster waiting to start?
_WAITING = text(
    "SELECT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE task_name = :task "
    "AND status = 'todo' AND args->>'roster_context' = :context)"
)


async def queue_sync(session: AsyncSession, roster: LtiRoster) -> bool:
    """Queue a sync of ``roster`` unless one is waiting to start already (one that runs
    now may have read the roster before the latest change, so another may follow it); the
    caller commits. Syncs of one roster never overlap (``sync`` locks its row), and a
    repeated one changes nothing."""
    roster.state = "queued"
    waiting = await session.scalar(
        _WAITING, {"task": SYNC_TASK, "context": str(roster.lti_context_id)}
    )
    if waiting:
        return False
    await defer(session, SYNC_TASK, ROSTER_QUEUE, roster_context=roster.lti_context_id)
    return True


async def remember(session: AsyncSession, context: LtiContext, launch: ValidLaunch) -> bool:
    """A launch's NRPS claim kept with its context, and a sync queued when the roster was not
    read in the last ``LAUNCH_RESYNC_AFTER``; whether one was queued (the caller commits)."""
    url = memberships_url_of(launch)
    if not url:
        return False
    await session.execute(
        insert(LtiRoster)
        .values(
            lti_context_id=context.id,
            memberships_url=url,
            state="never",
            added=0,
            updated=0,
            left=0,
            failed=0,
            last_error="",
        )
        .on_conflict_do_update(index_elements=["lti_context_id"], set_={"memberships_url": url})
    )
    roster = await session.get(LtiRoster, context.id, populate_existing=True)
    assert roster is not None
    recent = roster.last_attempt_at is not None and (
        utcnow() - roster.last_attempt_at < LAUNCH_RESYNC_AFTER
    )
    if recent:
        return False
    return await queue_sync(session, roster)


async def _account_for(
    session: AsyncSession, platform: LtiPlatform, member: Member
) -> tuple[Account, bool]:
    """The member's account by the platform's ``sub`` link, or a new one linked to it (an
    email another account holds stays theirs); (account, made now)."""
    identity = await session.scalar(
        select(LtiIdentity).where(
            LtiIdentity.platform_id == platform.id, LtiIdentity.subject == member.subject
        )
    )
    if identity is not None:
        account = await session.get(Account, identity.account_id)
        assert account is not None
        return account, False
    email: str | None = None
    try:
        email = normalise_email(member.email) if member.email else None
    except AccountError:
        email = None
    if email is not None and await find_by_email(session, email) is not None:
        email = None
    seed = email or f"{(member.name or 'lti-user').replace(' ', '.')}@lti"
    account = Account(
        username=await unique_username(session, seed), email=email, name=member.name or "LTI user"
    )
    session.add(account)
    await session.flush()
    session.add(LtiIdentity(platform_id=platform.id, subject=member.subject, account_id=account.id))
    await session.flush()
    return account, True


async def _end_place(
    session: AsyncSession, course: Course, account_id: int, place: str, context_id: int
) -> None:
    """The account's place in the course ends, unless another LMS context of the same course
    still lists them in that place. Progress, submissions and grades are kept."""
    elsewhere = await session.scalar(
        select(LtiRosterMember.id)
        .join(LtiContext, LtiContext.id == LtiRosterMember.lti_context_id)
        .where(
            LtiContext.course_id == course.id,
            LtiRosterMember.lti_context_id != context_id,
            LtiRosterMember.account_id == account_id,
            LtiRosterMember.status == "active",
            LtiRosterMember.place == place,
        )
        .limit(1)
    )
    if elsewhere is not None:
        return
    if place == "student":
        await session.execute(
            delete(Enrollment).where(
                Enrollment.account_id == account_id, Enrollment.course_id == course.id
            )
        )
    elif account_id != course.instructor_id:
        await session.execute(
            delete(CourseGrader).where(
                CourseGrader.account_id == account_id, CourseGrader.course_id == course.id
            )
        )


async def _take_place(session: AsyncSession, course: Course, account: Account, place: str) -> bool:
    """The account placed as ``place``; whether that changed anything. Raises ``Refusal``."""
    if await session.get(Suspension, account.id) is not None:
        raise Refusal(f"{account.username}'s CourseHub account is suspended")
    if place == "student":
        return (await enrollment.enroll(session, account, course, paid_for=True)).changed
    if account.id == course.instructor_id:
        return False
    _, added = await course_staff.add_grader(session, course, account.username, course.instructor)
    return added


async def _apply_member(
    session: AsyncSession,
    platform: LtiPlatform,
    course: Course,
    context: LtiContext,
    known: dict[int, LtiRosterMember],
    member: Member,
    result: SyncResult,
) -> int | None:
    """One listed member placed (in a savepoint: a refusal undoes only this member); their
    account id (also when they could not be placed now), or None for someone unknown."""
    place = place_for_roles(member.roles)
    if member.active and not place:
        result.failure(
            f"{member.name or member.subject}: no role CourseHub knows "
            "(Learner, Instructor or Teaching assistant)"
        )
        return None
    try:
        async with session.begin_nested():
            if not member.active:
                identity = await session.scalar(
                    select(LtiIdentity.account_id).where(
                        LtiIdentity.platform_id == platform.id,
                        LtiIdentity.subject == member.subject,
                    )
                )
                return identity  # marked as left below if they were a member
            account, _ = await _account_for(session, platform, member)
            row = known.get(account.id)
            if row is not None and row.status == "active" and row.place != place:
                # A changed role: the old place ends before the new one begins.
                await _end_place(session, course, account.id, row.place, context.id)
                await session.flush()
            changed = await _take_place(session, course, account, place)
            if row is None:
                row = LtiRosterMember(
                    lti_context_id=context.id,
                    account_id=account.id,
                    roles=member.roles,
                    place=place,
                    status="active",
                )
                session.add(row)
                known[account.id] = row
                if changed:
                    result.added += 1
            else:
                if row.status == "left":
                    result.added += 1
                elif row.place != place:
                    result.updated += 1
                row.roles = member.roles
                row.place = place
                row.status = "active"
                row.left_at = None
            await session.flush()
            return account.id
    except Refusal as error:
        result.failure(f"{member.name or member.subject}: {error.message.rstrip('.')}")
        # Still listed by the LMS: a member CourseHub could not place now is not a leaver.
        return await session.scalar(
            select(LtiIdentity.account_id).where(
                LtiIdentity.platform_id == platform.id, LtiIdentity.subject == member.subject
            )
        )


async def apply(
    session: AsyncSession,
    platform: LtiPlatform,
    context: LtiContext,
    members: list[Member],
) -> SyncResult:
    """The platform's full roster applied to the context's course (the caller commits)."""
    course = await session.get(Course, context.course_id)
    assert course is not None
    known = {
        row.account_id: row
        for row in await session.scalars(
            select(LtiRosterMember).where(LtiRosterMember.lti_context_id == context.id)
        )
    }
    result = SyncResult()
    active: set[int] = set()
    inactive: set[int] = set()
    for member in members:
        account_id = await _apply_member(session, platform, course, context, known, member, result)
        if account_id is None:
            continue
        (active if member.active else inactive).add(account_id)
    for account_id, row in known.items():
        if row.status != "active" or account_id in active:
            continue
        # Inactive on the platform, or no longer on its full list: they left.
        row.status = "left"
        row.left_at = utcnow()
        await _end_place(session, course, account_id, row.place, context.id)
        result.left += 1
    await session.flush()
    return result


async def sync(session: AsyncSession, context_id: int) -> SyncResult | None:
    """Read the context's roster from its platform and apply it; the roster row keeps how it
    went. None when there is nothing to do (no roster, or another worker is syncing it).
    Commits."""
    # The service token is signed with this key: platforms must find it published first.
    key = await tool_keys.signing_key(session)
    await session.commit()
    roster = await session.scalar(
        select(LtiRoster)
        .where(LtiRoster.lti_context_id == context_id)
        .with_for_update(skip_locked=True)
    )
    if roster is None:
        return None
    context = await session.get(LtiContext, context_id)
    platform = await session.get(LtiPlatform, context.platform_id) if context else None
    if context is None or platform is None:
        return None
    roster.state = "running"
    roster.last_attempt_at = utcnow()
    try:
        members, unreadable = await asyncio.to_thread(
            fetch_members,
            PlatformSnapshot.of(platform),
            key.private_key_pem,
            roster.memberships_url,
        )
        if not any(m.active for m in members) and await session.scalar(
            select(LtiRosterMember.id)
            .where(LtiRosterMember.lti_context_id == context_id, LtiRosterMember.status == "active")
            .limit(1)
        ):
            raise RosterError(
                "the LMS listed nobody in the course; CourseHub kept the roster as it was "
                "rather than mark everyone as left"
            )
    except RosterError as error:
        roster.state = "failed"
        roster.last_error = f"The roster could not be read: {error}."
        log.warning("LTI roster of context %s not synced: %s", context_id, error)
        await session.commit()
        return None
    try:
        result = await apply(session, platform, context, members)
    except Exception:
        await session.rollback()
        await _failed(session, context_id, "CourseHub could not apply it (see the service log)")
        raise
    for _ in range(unreadable):
        result.failure("an entry of the LMS's roster names no user_id")
    roster.state = "done"
    roster.last_synced_at = utcnow()
    roster.added, roster.updated, roster.left = result.added, result.updated, result.left
    roster.failed = result.failed
    roster.last_error = "; ".join(result.problems)
    await session.commit()
    log.info(
        "LTI roster of context %s synced: %s added, %s updated, %s left, %s failed",
        context_id,
        result.added,
        result.updated,
        result.left,
        result.failed,
    )
    return result


async def _failed(session: AsyncSession, context_id: int, reason: str) -> None:
    roster = await session.get(LtiRoster, context_id, populate_existing=True)
    if roster is not None:
        roster.state = "failed"
        roster.last_attempt_at = utcnow()
        roster.last_error = f"The roster could not be synced: {reason}."
        await session.commit()


@dataclass(frozen=True)
class RosterView:
    context: LtiContext
    roster: LtiRoster | None
    members: list[tuple[LtiRosterMember, Account]]


async def course_rosters(session: AsyncSession, course: Course) -> list[RosterView]:
    """The course's LMS contexts with their rosters and members (for its staff)."""
    contexts = list(
        await session.scalars(
            select(LtiContext).where(LtiContext.course_id == course.id).order_by(LtiContext.id)
        )
    )
    views = []
    for context in contexts:
        roster = await session.get(LtiRoster, context.id)
        rows = (
            await session.execute(
                select(LtiRosterMember, Account)
                .join(Account, Account.id == LtiRosterMember.account_id)
                .where(LtiRosterMember.lti_context_id == context.id)
                .order_by(LtiRosterMember.status, Account.name, Account.username)
            )
        ).all()
        views.append(RosterView(context, roster, [(row[0], row[1]) for row in rows]))
    return views
