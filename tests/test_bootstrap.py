"""``services.bootstrap``: the database steps of ``coursehub up`` and the ``coursehub``
command. The first administrator is made from an email and a password, or an existing
account with that email is promoted; a role is set by email or username, and an unknown one
stops the command with a sentence."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services import bootstrap
from coursehub.services.models import Account
from coursehub.services.settings import sqlalchemy_url


def role_of(db, username: str) -> Role:  # type: ignore[no-untyped-def]
    with db() as session:
        return session.scalar(select(Account.role).where(Account.username == username))


async def test_the_first_administrator_is_made_or_promoted(db, make_account, database_url):
    url = sqlalchemy_url(database_url)
    email = f"head-{secrets.token_hex(3)}@uni.example"
    made = await bootstrap.create_admin(url, email, "Head of School", "a long passphrase")
    assert role_of(db, made) is Role.ADMIN

    teacher = make_account(Role.INSTRUCTOR)
    promoted = await bootstrap.create_admin(url, teacher.email.upper(), "Ignored", "x" * 12)
    assert promoted == teacher.username and role_of(db, teacher.username) is Role.ADMIN


async def test_a_role_is_set_by_email_or_username(db, make_account, database_url):
    url = sqlalchemy_url(database_url)
    student = make_account(Role.STUDENT)
    await bootstrap.set_role(url, student.email, Role.INSTRUCTOR)
    assert role_of(db, student.username) is Role.INSTRUCTOR
    await bootstrap.set_role(url, student.username.upper(), Role.STUDENT)
    assert role_of(db, student.username) is Role.STUDENT
    with pytest.raises(SystemExit, match="No CourseHub account has the email or user name"):
        await bootstrap.set_role(url, "nobody-at-all", Role.ADMIN)


async def test_the_environment_names_the_first_administrator(db, database_url, monkeypatch):
    email = f"env-admin-{secrets.token_hex(3)}@uni.example"
    monkeypatch.setenv("COURSEHUB_ADMIN_EMAIL", email)
    monkeypatch.delenv("COURSEHUB_ADMIN_PASSWORD", raising=False)
    await bootstrap.bootstrap_admin_from_env(sqlalchemy_url(database_url))
    with db() as session:
        assert session.scalar(select(Account).where(Account.email == email)) is None
    monkeypatch.setenv("COURSEHUB_ADMIN_PASSWORD", "a long passphrase")
    await bootstrap.bootstrap_admin_from_env(sqlalchemy_url(database_url))
    with db() as session:
        assert session.scalar(select(Account.role).where(Account.email == email)) is Role.ADMIN
