"""People pages for administrators.

- ``/admin/people`` (``?q=&role=&status=&course=&seen=&page=``): search and filter accounts
- ``/admin/people/<id>``: one person (courses, enrolments, grades, servers, sign-ins); POST
  ``action`` = suspend (with ``reason``), reactivate, reset-password, role (with ``role``)
- ``/admin/courses/<id>/import``: students from CSV (``step`` = preview, then import)
- ``/admin/courses/<id>/enrol``: enrol or unenrol many people (user names or emails)
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from coursehub.hub.constants import Role
from coursehub.services import mail
from coursehub.services.accounts import accounts, hub_users
from coursehub.services.administration import people, student_import
from coursehub.services.administration.handlers.admin_base import AdminHandler
from coursehub.services.audit import audit_log
from coursehub.services.errors import Refusal
from coursehub.services.models import Account, Course, utcnow

log = logging.getLogger(__name__)


def _id(raw: str) -> int:
    return int(raw)


PERSON_DONE = {
    "suspend": lambda a: (
        f"{a.username} is suspended: signed out everywhere, servers stopped, tokens revoked. "
        "Nothing of theirs was deleted."
    ),
    "reactivate": lambda a: f"{a.username} can sign in again.",
    "reset-password": lambda a: f"A link to choose a new password was sent to {a.email}.",
    "role": lambda a: f"{a.username} is now {a.role.value.lower()}.",
}


class PeoplePage(AdminHandler):
    async def get(self) -> None:
        arg = self.get_argument
        course_raw = arg("course", "").strip()
        query = people.PeopleQuery(
            text=arg("q", "").strip()[:200],
            role=arg("role", "").strip(),
            status=arg("status", "").strip(),
            course_id=int(course_raw) if course_raw.isdigit() and len(course_raw) < 10 else None,
            seen=arg("seen", "").strip(),
        )
        try:
            page = max(1, min(int(arg("page", "1")), 100_000))
        except ValueError:
            page = 1
        async with self.db(read_only=True) as session:
            await self.account(session)
            found, total = await people.search(session, query, page)
            courses = list(await session.scalars(select(Course).order_by(Course.title)))
        self.render_page(
            "admin_people.html",
            found=found,
            total=total,
            page=page,
            pages=max(1, -(-total // people.PAGE_SIZE)),
            courses=courses,
            roles=list(Role),
            args={k: arg(k, "") for k in ("q", "role", "status", "course", "seen")},
        )


async def _servers(settings: Any, username: str) -> list[dict[str, Any]]:
    """The person's notebook servers as the hub knows them (none if it never saw them)."""
    try:
        response = await AsyncHTTPClient().fetch(
            f"{settings.hub_api_url.rstrip('/')}/users/{username}",
            headers={"Authorization": f"token {settings.hub_api_token}"},
            request_timeout=5,
        )
    except (HTTPClientError, OSError):
        return []
    servers = json.loads(response.body).get("servers", {})
    return [
        {"name": name or "(default)", "ready": bool(s.get("ready")), "started": s.get("started")}
        for name, s in servers.items()
    ]


class PersonPage(AdminHandler):
    async def show(self, account_id: int, **context: Any) -> None:
        async with self.db(read_only=True) as session:
            me = await self.account(session)
            account = await session.get(Account, account_id)
            if account is None:
                raise Refusal("There is no such person.", 404)
            view = await people.person(session, account)
            history = await audit_log.history(session, "account", account.id)
        servers = await _servers(self.settings_obj, account.username)
        code = context.pop("done_code", "")
        if code in PERSON_DONE:
            context["done"] = PERSON_DONE[code](account)
        self.render_page(
            "admin_person.html",
            view=view,
            me=me,
            servers=servers,
            history=history,
            roles=list(Role),
            **context,
        )

    async def get(self, account_id: str) -> None:
        await self.show(_id(account_id), done_code=self.get_argument("done", ""))

    async def post(self, account_id: str) -> None:
        action = self.get_body_argument("action", "")
        handlers = {
            "suspend": self.suspend,
            "reactivate": self.reactivate,
            "reset-password": self.reset_password,
            "role": self.change_role,
        }
        if action not in handlers:
            raise Refusal("Choose suspend, reactivate, reset-password or role.", 400)
        try:
            done = await handlers[action](_id(account_id))
        except Refusal as error:
            self.set_status(error.status)
            await self.show(_id(account_id), problem=error.message)
            return
        log.info("Administration: %s", done)
        # After a change, a page of its own: reloading it changes nothing again.
        self.redirect(
            f"{self.settings_obj.service_prefix}/admin/people/{_id(account_id)}?done={action}",
            status=303,
        )

    async def _target(self, session: Any, account_id: int) -> tuple[Account, Account]:
        actor = await self.account(session)
        account = await session.get(Account, account_id)
        if account is None:
            raise Refusal("There is no such person.", 404)
        return actor, account

    async def suspend(self, account_id: int) -> str:
        async with self.db() as session:
            actor, account = await self._target(session, account_id)
            await people.suspend(session, actor, account, self.get_body_argument("reason", ""))
            try:
                # Before the commit: if the hub cannot end their sessions, nothing changes.
                await hub_users.end_sessions(self.settings_obj, account.username)
            except (HTTPClientError, OSError):
                raise Refusal(
                    "The hub did not answer, so their sessions could not be ended; nothing "
                    "was changed. Try again in a minute.",
                    503,
                ) from None
            await session.commit()
        return (
            f"{account.username} is suspended: signed out everywhere, servers stopped, tokens "
            "revoked. Nothing of theirs was deleted."
        )

    async def reactivate(self, account_id: int) -> str:
        async with self.db() as session:
            actor, account = await self._target(session, account_id)
            await people.reactivate(session, actor, account, self.get_body_argument("reason", ""))
            await session.commit()
        return f"{account.username} can sign in again."

    async def reset_password(self, account_id: int) -> str:
        settings = self.settings_obj
        async with self.db() as session:
            actor, account = await self._target(session, account_id)
            if not account.email:
                raise Refusal("This account has no email address to send a link to.", 409)
            started = await accounts.start_password_reset(
                session, account.email, timedelta(minutes=settings.reset_link_minutes), utcnow()
            )
            assert started is not None  # the account has this email
            audit_log.record(session, actor, "account.password_reset_link", account)
            await session.commit()
        link = f"{settings.public_url}{settings.service_prefix}/reset/{started[1]}"
        message = mail.compose(
            settings,
            account.email,
            "Choose a new CourseHub password",
            f"Hello {account.name},\n\nAn administrator sent you this link to choose a new "
            f"password. Open it within {settings.reset_link_minutes} minutes:\n\n{link}\n\n"
            "Your current password keeps working until you choose a new one.\n",
        )
        self.application.settings["background"](mail.send_later(settings, message))
        return f"A link to choose a new password was sent to {account.email}."

    async def change_role(self, account_id: int) -> str:
        raw = self.get_body_argument("role", "")
        try:
            role = Role(raw)
        except ValueError:
            raise Refusal(f"{raw!r} is not a role.", 400, field="role") from None
        async with self.db() as session:
            actor, account = await self._target(session, account_id)
            await accounts.change_role(session, actor=actor, account=account, new_role=role)
            await session.commit()
        await hub_users.push_role(self.settings_obj, account.username, account.role)
        return f"{account.username} is now {account.role.value.lower()}."


class CourseOf(AdminHandler):
    async def course(self, session: Any, course_id: str) -> Course:
        course = await session.get(Course, _id(course_id))
        if course is None:
            raise Refusal("There is no such course.", 404)
        return course


class ImportPage(CourseOf):
    async def get(self, course_id: str) -> None:
        async with self.db(read_only=True) as session:
            await self.account(session)
            course = await self.course(session, course_id)
        self.render_page(
            "admin_import.html", course=course, plan=None, csv_text="", done=self.done(course)
        )

    def done(self, course: Course) -> str:
        """What the import that redirected here did (its counts are in the address)."""
        created, enrolled = self.get_argument("created", ""), self.get_argument("enrolled", "")
        if not (created.isdigit() and enrolled.isdigit()):
            return ""
        return (
            f"Imported: {int(created)} new accounts (invited by email), {int(enrolled)} people "
            f"enrolled in {course.title}."
        )

    async def post(self, course_id: str) -> None:
        text = self.get_body_argument("csv", "")
        upload = self.request.files.get("file")
        if upload:
            try:
                text = upload[0]["body"].decode("utf-8-sig")
            except UnicodeDecodeError:
                text = ""
                problem = Refusal("The file is not UTF-8 text; save it as CSV (UTF-8).", 400)
                async with self.db(read_only=True) as session:
                    await self.account(session)
                    course = await self.course(session, course_id)
                self.render_refusal(
                    "admin_import.html", problem, course=course, plan=None, csv_text=""
                )
                return
        step = self.get_body_argument("step", "preview")
        async with self.db() as session:
            actor = await self.account(session)
            course = await self.course(session, course_id)
            try:
                if step == "import":
                    applied = await student_import.apply(
                        session,
                        self.settings_obj,
                        actor,
                        course,
                        text,
                        self.get_body_argument("digest", ""),
                    )
                    await session.commit()
                else:
                    plan = await student_import.plan(session, course, text)
            except Refusal as error:
                plan = None
                if step == "import":
                    try:
                        plan = await student_import.plan(session, course, text)
                    except Refusal:
                        plan = None
                self.render_refusal(
                    "admin_import.html", error, course=course, plan=plan, csv_text=text
                )
                return
        if step == "import":
            for message in applied.invitations:
                self.application.settings["background"](mail.send_later(self.settings_obj, message))
            # A page of its own: reloading it imports nothing again.
            self.redirect(
                f"{self.request.path}?created={len(applied.created)}&enrolled={applied.enrolled}",
                status=303,
            )
            return
        self.render_page("admin_import.html", course=course, plan=plan, csv_text=text)


class BulkEnrolPage(CourseOf):
    async def get(self, course_id: str) -> None:
        async with self.db(read_only=True) as session:
            await self.account(session)
            course = await self.course(session, course_id)
        self.render_page("admin_enrol.html", course=course, names="", done=self.done(course))

    def done(self, course: Course) -> str:
        """What the change that redirected here did (its counts are in the address)."""
        changed, unchanged = self.get_argument("changed", ""), self.get_argument("unchanged", "")
        if not (changed.isdigit() and unchanged.isdigit()):
            return ""
        verb = "unenrolled from" if self.get_argument("done", "") == "unenrol" else "enrolled in"
        return f"{int(changed)} {verb} {course.title}; {int(unchanged)} already were."

    async def post(self, course_id: str) -> None:
        names = self.get_body_argument("names", "")
        enrol = self.get_body_argument("action", "enrol") != "unenrol"
        async with self.db() as session:
            actor = await self.account(session)
            course = await self.course(session, course_id)
            try:
                found, unknown = await people.accounts_named(
                    session, names.replace(",", "\n").splitlines()
                )
                if unknown:
                    raise Refusal(
                        "Nobody was changed: no account has the name or email "
                        + ", ".join(unknown[:10])
                        + ".",
                        400,
                        field="names",
                    )
                result = await people.bulk_enrol(session, actor, course, found, enrol=enrol)
            except Refusal as error:
                self.render_refusal("admin_enrol.html", error, course=course, names=names)
                return
            await session.commit()
        # A page of its own: reloading it changes nothing again.
        self.redirect(
            f"{self.request.path}?done={'enrol' if enrol else 'unenrol'}"
            f"&changed={len(result['changed'])}&unchanged={len(result['unchanged'])}",
            status=303,
        )


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/admin/people", PeoplePage),
        (rf"{prefix}/admin/people/(\d+)", PersonPage),
        (rf"{prefix}/admin/courses/(\d+)/import", ImportPage),
        (rf"{prefix}/admin/courses/(\d+)/enrol", BulkEnrolPage),
    ]
