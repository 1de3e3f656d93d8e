"""The database steps ``coursehub up`` and the ``coursehub`` command share: the demo data,
the first administrator, and role changes, each in one session of its own."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.accounts import accounts
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.models import Account
from coursehub.services.seed import seed_demo

log = logging.getLogger("coursehub")


async def with_session(database_url: str, work):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


async def seed_and_print(database_url: str, data_dir: Path) -> None:
    logins = await with_session(database_url, lambda s: seed_demo(s, data_dir))
    print("\nCourseHub demo sign-ins (passwords kept in", data_dir / "demo-logins.json", "):")
    for login in logins:
        print(f"  {login.role.value:<10} {login.email:<28} {login.password}")
    print()


async def create_admin(database_url: str, email: str, name: str, password: str) -> str:
    async def work(session):  # type: ignore[no-untyped-def]
        account = await accounts.find_by_email(session, accounts.normalise_email(email))
        if account is None:
            account = await accounts.register(
                session, email=email, password=password, name=name, role=Role.ADMIN
            )
        else:
            account.role = Role.ADMIN
        return account.username

    return await with_session(database_url, work)


async def bootstrap_admin_from_env(database_url: str) -> None:
    """COURSEHUB_ADMIN_EMAIL + COURSEHUB_ADMIN_PASSWORD make (or promote) the first admin."""
    email = os.environ.get("COURSEHUB_ADMIN_EMAIL")
    password = os.environ.get("COURSEHUB_ADMIN_PASSWORD")
    if email and password:
        username = await create_admin(database_url, email, "Administrator", password)
        log.info("Administrator %s is ready", username)


async def set_role(database_url: str, login: str, role: Role) -> None:
    async def work(session):  # type: ignore[no-untyped-def]
        column = Account.email if "@" in login else Account.username
        account = await session.scalar(select(Account).where(column == login.lower()))
        if account is None:
            sys.exit(f"No CourseHub account has the email or user name {login!r}.")
        account.role = role

    await with_session(database_url, work)
