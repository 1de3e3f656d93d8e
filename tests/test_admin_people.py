"""People rules in the service's own functions: the last active administrator cannot be
suspended, a suspended person is refused at sign-in and their sign-ins are kept, and bulk
enrolment takes everyone or nobody."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select, update

from coursehub.hub.constants import Role
from coursehub.services.administration import people
from coursehub.services.errors import Refusal
from coursehub.services.models import Account, Course, Enrollment, SignIn, Suspension
from tests.conftest import PASSWORD
from tests.course_builder import make_course, unique_word
from tests.platform import sign_in


async def test_the_last_active_administrator_cannot_be_suspended(sessions, make_account):
    first, second = make_account(Role.ADMIN), make_account(Role.ADMIN)
    async with sessions() as session:
        # In this transaction only (rolled back): these two are the platform's admins.
        await session.execute(
            update(Account)
            .where(Account.role == Role.ADMIN, Account.id.not_in([first.id, second.id]))
            .values(role=Role.STUDENT)
        )
        actor = await session.get_one(Account, first.id)
        other = await session.get_one(Account, second.id)
        with pytest.raises(Refusal, match="cannot suspend yourself"):
            await people.suspend(session, actor, actor, "testing")
        await people.suspend(session, actor, other, "Left the school")
        # Now ``first`` is the only active administrator: ``second`` (suspended) cannot act,
        # and nobody may suspend ``first``.
        with pytest.raises(Refusal, match="last active administrator") as refused:
            await people.suspend(session, other, actor, "revenge")
        assert refused.value.status == 409
        await session.rollback()
    async with sessions() as session:
        assert await session.get(Suspension, second.id) is None
        assert (
            await session.scalar(select(Account.role).where(Account.id == first.id)) is Role.ADMIN
        )


async def test_a_suspended_person_is_refused_at_sign_in_and_reactivated(sessions, make_account):
    admin, student = make_account(Role.ADMIN), make_account()
    async with sessions() as session, session.begin():
        actor = await session.get_one(Account, admin.id)
        person = await session.get_one(Account, student.id)
        await people.admit(session, person, "password")
        await people.suspend(session, actor, person, "Spam in the forums")
    async with sessions() as session, session.begin():
        person = await session.get_one(Account, student.id)
        with pytest.raises(Refusal, match="suspended") as refused:
            await people.admit(session, person, "google")
        assert refused.value.status == 403
    async with sessions() as session, session.begin():
        actor = await session.get_one(Account, admin.id)
        person = await session.get_one(Account, student.id)
        with pytest.raises(Refusal, match="already suspended"):
            await people.suspend(session, actor, person, "again")
    async with sessions() as session, session.begin():
        actor = await session.get_one(Account, admin.id)
        person = await session.get_one(Account, student.id)
        await people.reactivate(session, actor, person)
        await people.admit(session, person, "ticket")
    async with sessions() as session:
        methods = list(
            await session.scalars(
                select(SignIn.method).where(SignIn.account_id == student.id).order_by(SignIn.id)
            )
        )
        found, total = await people.search(session, people.PeopleQuery(text=student.username))
    assert methods == ["password", "ticket"]
    assert total == 1 and found[0][1] is False


async def test_bulk_enrolment_takes_everyone_or_nobody(sessions, database_url, make_account):
    admin, teacher = make_account(Role.ADMIN), make_account(Role.INSTRUCTOR)
    ada, alan = make_account(), make_account()
    built = make_course(database_url, teacher, title=f"Bulk {unique_word()}")
    async with sessions() as session:
        actor = await session.get_one(Account, admin.id)
        course = await session.get_one(Course, built.id)
        found, unknown = await people.accounts_named(
            session, [ada.email.upper(), alan.username, "nobody-at-all"]
        )
        assert {a.id for a in found} == {ada.id, alan.id} and unknown == ["nobody-at-all"]
        instructor = await session.get_one(Account, teacher.id)
        with pytest.raises(Refusal, match="teaches or grades"):
            await people.bulk_enrol(session, actor, course, [*found, instructor], enrol=True)
        await session.rollback()
    async with sessions() as session, session.begin():
        actor = await session.get_one(Account, admin.id)
        course = await session.get_one(Course, built.id)
        found, _ = await people.accounts_named(session, [ada.username, alan.username])
        result = await people.bulk_enrol(session, actor, course, found, enrol=True)
        assert sorted(result["changed"]) == sorted([ada.username, alan.username])
    async with sessions() as session:
        enrolled = set(
            await session.scalars(
                select(Enrollment.account_id).where(Enrollment.course_id == built.id)
            )
        )
    assert enrolled == {ada.id, alan.id}


async def test_a_sign_in_through_the_hub_keeps_the_address_the_proxy_saw(
    platform, sessions, make_account
):
    student = make_account()
    # The visitor writes an address of their own into X-Forwarded-For; the proxy appends the
    # one it was reached from (this machine's loopback), and that is the one kept.
    with httpx.Client(
        follow_redirects=True, timeout=30, headers={"X-Forwarded-For": "203.0.113.9"}
    ) as http:
        answer = sign_in(http, platform.url, student.email, PASSWORD)
    assert answer.status_code == 200, answer.text[:300]
    async with sessions() as session:
        kept = (
            await session.execute(
                select(SignIn.method, SignIn.address).where(SignIn.account_id == student.id)
            )
        ).all()
    assert [tuple(row) for row in kept] == [("password", "127.0.0.1")]
