"""People and roles: the admin's users page and role changes (page and API)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web

from coursehub.hub.constants import Role
from coursehub.services.accounts import accounts, hub_users
from coursehub.services.accounts.handlers.accounts import account_json
from coursehub.services.models import Account
from coursehub.services.web.base import BaseHandler


class UsersHandler(BaseHandler):
    min_role = Role.ADMIN

    async def apply_role(self, session: AsyncSession, username: str, raw_role: str) -> Account:
        actor = await self.account(session)
        try:
            new_role = Role(raw_role)
        except ValueError:
            raise web.HTTPError(
                400, f"{raw_role!r} is not a role; use one of STUDENT, INSTRUCTOR, ADMIN."
            ) from None
        account = await session.scalar(select(Account).where(Account.username == username))
        if account is None:
            raise web.HTTPError(404, f"There is no CourseHub user named {username!r}.")
        await accounts.change_role(session, actor=actor, account=account, new_role=new_role)
        await session.commit()
        await hub_users.push_role(self.settings_obj, account.username, account.role)
        return account

    async def all_accounts(self, session: AsyncSession) -> list[Account]:
        return list(await session.scalars(select(Account).order_by(Account.username)))


class UsersPage(UsersHandler):
    async def get(self) -> None:
        async with self.db() as session:
            await self.account(session)
            people = await self.all_accounts(session)
        self.render_page("users.html", people=people, roles=list(Role), changed="")

    async def post(self, username: str) -> None:
        async with self.db() as session:
            account = await self.apply_role(session, username, self.get_body_argument("role", ""))
            people = await self.all_accounts(session)
        self.render_page(
            "users.html",
            people=people,
            roles=list(Role),
            changed=f"{account.name or account.username} is now {account.role.value.lower()}.",
        )


class UsersAPI(UsersHandler):
    async def get(self) -> None:
        async with self.db() as session:
            await self.account(session)
            people = await self.all_accounts(session)
        self.write_json({"users": [account_json(a) for a in people]})


class UserRoleAPI(UsersHandler):
    async def patch(self, username: str) -> None:
        body = self.json_body()
        async with self.db() as session:
            account = await self.apply_role(session, username, str(body.get("role", "")))
        self.write_json(account_json(account))


class MeAPI(BaseHandler):
    async def get(self) -> None:
        async with self.db() as session:
            account = await self.account(session)
            await session.commit()
        self.write_json(account_json(account))


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    name = r"([a-z0-9][a-z0-9._@-]{0,63})"
    return [
        (f"{prefix}/admin/users", UsersPage),
        (f"{prefix}/admin/users/{name}/role", UsersPage),
        (f"{prefix}/api/users", UsersAPI),
        (f"{prefix}/api/users/{name}", UserRoleAPI),
        (f"{prefix}/api/me", MeAPI),
    ]
