"""Account pages and endpoints: register, forgotten password, reset link, password change,
hub sign-in calls.

Register and reset are open to anonymous visitors. Registering, resetting and changing a
password end signed in, in this browser only: a sign-in ticket (``sign_in_tickets``) takes it
through the hub's welcome page. A reset or change first ends every other session of the
person (``hub_users.end_sessions``). The ``/api/internal/*`` endpoints are
called only by the hub's authenticator, which proves itself with this service's own hub
token (the hub generated it and hands it to the service), so no other secret is needed.
"""

from __future__ import annotations

import hmac
import logging
from datetime import timedelta
from urllib.parse import urlencode

from redis.exceptions import RedisError
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from tornado import web
from tornado.httpclient import HTTPClientError

from coursehub.hub.constants import hub_groups_for
from coursehub.services import mail
from coursehub.services.accounts import accounts, hub_users, sign_in_tickets
from coursehub.services.accounts.accounts import (
    PASSWORD_RULES,
    AccountError,
    FormProblems,
    ThrottlePolicy,
)
from coursehub.services.administration import people
from coursehub.services.administration.people import PeopleError
from coursehub.services.audit import audit_log
from coursehub.services.errors import Refusal
from coursehub.services.models import Account, utcnow
from coursehub.services.notifications import notifications
from coursehub.services.site_settings.site_settings import registration_refusal
from coursehub.services.web.base import BaseHandler

log = logging.getLogger(__name__)


class AccountPage(BaseHandler):
    """What the account pages share: ending sessions and signing this browser in."""

    async def end_other_sessions(self, account: Account) -> None:
        try:
            await hub_users.end_sessions(self.settings_obj, account.username)
        except (HTTPClientError, OSError) as error:
            log.error("Could not end the sessions of %s: %s", account.username, error)
            raise Refusal(
                "CourseHub could not sign you out of your other sessions, so your password "
                "was not changed. Try again in a minute.",
                503,
            ) from None
        self.hub_auth.forget_user(account.username)

    async def sign_in_here(self, account: Account, heading: str, text: str) -> None:
        """Send this browser to the hub's welcome page with a ticket, landing on My learning;
        when Redis is away, a page that asks to sign in instead."""
        try:
            ticket = await sign_in_tickets.issue(self.application.settings["redis"], account.id)
        except (RedisError, OSError) as error:
            log.warning("No sign-in ticket for %s: %s", account.username, error)
            self.render_page("done.html", heading=heading, text=text, login=account.email)
            return
        self.set_cookie(
            sign_in_tickets.COOKIE,
            ticket,
            path=sign_in_tickets.WELCOME_PATH,
            httponly=True,
            max_age=sign_in_tickets.LIFETIME_SECONDS,
            samesite="Lax",
            secure=self.settings_obj.public_url.startswith("https://"),
        )
        next_url = f"{self.settings_obj.service_prefix}/dashboard"
        self.redirect(f"{sign_in_tickets.WELCOME_PATH}?{urlencode({'next': next_url})}")


class RegisterPage(AccountPage):
    public = True

    def get(self) -> None:
        self.render_page("register.html", errors={}, values={}, rules=PASSWORD_RULES)

    async def post(self) -> None:
        values = {key: self.get_body_argument(key, "") for key in ("name", "email")}
        password = self.get_body_argument("password", "")
        async with self.db() as session:
            try:
                closed = registration_refusal(self.site, values["email"])
                if closed is not None:
                    raise AccountError(closed.message, closed.status, field=closed.field)
                account = await accounts.register(session, password=password, **values)
            except AccountError as error:
                self.set_status(error.status)
                self.render_page(
                    "register.html",
                    errors=accounts_errors(error),
                    values=values,
                    rules=PASSWORD_RULES,
                )
                return
            await session.commit()
        await self.sign_in_here(
            account, "Your account is ready", "Sign in with your email and password."
        )


class ForgotPasswordPage(BaseHandler):
    public = True

    def get(self) -> None:
        self.render_page("forgot.html", errors={}, sent=False)

    async def post(self) -> None:
        settings = self.settings_obj
        async with self.db() as session:
            try:
                started = await accounts.start_password_reset(
                    session,
                    self.get_body_argument("email", ""),
                    timedelta(minutes=settings.reset_link_minutes),
                    utcnow(),
                )
            except AccountError as error:
                self.set_status(400)
                self.render_page("forgot.html", errors=accounts_errors(error), sent=False)
                return
            await session.commit()
        if started is not None:
            account, token = started
            link = f"{settings.public_url}{settings.service_prefix}/reset/{token}"
            message = mail.compose(
                settings,
                account.email or "",
                "Reset your CourseHub password",
                f"Hello {account.name},\n\nSomeone (we hope you) asked to reset the password of "
                f"your CourseHub account. Open this link within {settings.reset_link_minutes} "
                f"minutes to choose a new one:\n\n{link}\n\nIf it was not you, ignore this "
                "mail: your password stays as it is.\n",
            )
            self.application.settings["background"](mail.send_later(settings, message))
        # The same answer whether or not the address has an account.
        self.render_page("forgot.html", errors={}, sent=True)


class ResetPasswordPage(AccountPage):
    public = True

    async def get(self, token: str) -> None:
        async with self.db() as session:
            try:
                await accounts.reset_for_token(session, token, utcnow())
            except AccountError as error:
                self.set_status(error.status)
                self.render_page("reset.html", errors=accounts_errors(error), usable=False)
                return
        self.render_page("reset.html", errors={}, usable=True, rules=PASSWORD_RULES)

    async def post(self, token: str) -> None:
        password = self.get_body_argument("password", "")
        async with self.db() as session:
            try:
                account = await accounts.finish_password_reset(session, token, password, utcnow())
            except AccountError as error:
                self.set_status(error.status)
                usable = error.field == "password"
                self.render_page(
                    "reset.html", errors=accounts_errors(error), usable=usable, rules=PASSWORD_RULES
                )
                return
            await self.end_other_sessions(account)
            await session.commit()
        await self.sign_in_here(
            account, "Your password has been changed", "Sign in with the new one."
        )


class ChangePasswordPage(AccountPage):
    """``/account/password``: a signed-in person sets a new password, knowing the current one;
    every other session of theirs ends, and this browser stays signed in."""

    async def get(self) -> None:
        async with self.db(read_only=True) as session:
            await self.account(session)
        self.render_page("password.html", errors={}, rules=PASSWORD_RULES)

    async def post(self) -> None:
        async with self.db() as session:
            account = await self.account(session)
            try:
                await accounts.change_password(
                    session,
                    account,
                    self.get_body_argument("current_password", ""),
                    self.get_body_argument("password", ""),
                )
            except AccountError as error:
                self.set_status(error.status)
                self.render_page(
                    "password.html", errors=accounts_errors(error), rules=PASSWORD_RULES
                )
                return
            await self.end_other_sessions(account)
            await session.commit()
        await self.sign_in_here(
            account, "Your password has been changed", "Sign in with the new one."
        )


class RegisterAPI(BaseHandler):
    """``POST /api/accounts``: register from a script or another front end."""

    public = True

    async def post(self) -> None:
        body = self.json_body()
        async with self.db() as session:
            try:
                closed = registration_refusal(self.site, str(body.get("email", "")))
                if closed is not None:
                    raise AccountError(closed.message, closed.status, field=closed.field)
                account = await accounts.register(
                    session,
                    email=str(body.get("email", "")),
                    password=str(body.get("password", "")),
                    name=str(body.get("name", "")),
                )
            except AccountError as error:
                self.write_json(
                    {
                        "error": error.message,
                        "field": error.field,
                        **({"errors": error.problems} if isinstance(error, FormProblems) else {}),
                    },
                    error.status,
                )
                return
            await session.commit()
        self.write_json(account_json(account), 201)


class InternalHandler(BaseHandler):
    """Endpoints for the hub's authenticator only."""

    public = True

    def check_xsrf_cookie(self) -> None:
        """Token-authenticated server-to-server calls carry no browser cookies."""

    async def prepare(self) -> None:
        expected = f"token {self.settings_obj.hub_api_token}"
        given = self.request.headers.get("Authorization", "")
        if not self.settings_obj.hub_api_token or not hmac.compare_digest(given, expected):
            raise web.HTTPError(403, "Only the hub may call this endpoint.")


class PasswordSignInAPI(InternalHandler):
    async def post(self) -> None:
        body = self.json_body()
        settings = self.settings_obj
        policy = ThrottlePolicy(
            max_failures=settings.max_login_failures,
            window=timedelta(minutes=settings.lockout_minutes),
            lockout=timedelta(minutes=settings.lockout_minutes),
        )
        async with self.db() as session:
            try:
                account = await accounts.sign_in(
                    session,
                    str(body.get("login", "")),
                    str(body.get("password", "")),
                    policy,
                    utcnow(),
                )
                if account is not None:
                    await people.admit(session, account, "password", body.get("address"))
            except (AccountError, PeopleError) as error:
                self.write_json({"error": error.message}, error.status)
                return
            await session.commit()
        if account is None:
            self.write_json({"error": "Invalid email or password."}, 401)
            return
        self.write_json(hub_auth_model(account))


class TicketSignInAPI(InternalHandler):
    """The hub's welcome page redeems a sign-in ticket here: the account it was for, once."""

    async def post(self) -> None:
        body = self.json_body()
        account_id = await sign_in_tickets.redeem(
            self.application.settings["redis"], str(body.get("ticket", ""))
        )
        async with self.db() as session:
            account = await session.get(Account, account_id) if account_id else None
            if account is not None:
                try:
                    await people.admit(session, account, "ticket", body.get("address"))
                except PeopleError as error:
                    self.write_json({"error": error.message}, error.status)
                    return
                await session.commit()
        if account is None:
            self.write_json({"error": "This sign-in link has expired; sign in."}, 401)
            return
        self.write_json(hub_auth_model(account))


class UnreadCountAPI(InternalHandler):
    """How many unread notifications a hub user has: the bell on the hub's own pages, which
    cannot call the course service's API themselves (its XSRF token is not theirs)."""

    async def post(self) -> None:
        name = str(self.json_body().get("name", ""))
        async with self.db(read_only=True) as session:
            account = await session.scalar(select(Account).where(Account.username == name))
            unread = (await notifications.latest(session, account.id))[1] if account else 0
        self.write_json({"unread": unread})


class GoogleSignInAPI(InternalHandler):
    async def post(self) -> None:
        body = self.json_body()
        if not body.get("sub"):
            self.write_json({"error": "The identity provider sent no subject."}, 400)
            return
        await self.load_site_settings()
        async with self.db() as session:
            # Someone new would be registered by signing in: the site's registration rules
            # apply to them as to the registration page.
            email = str(body.get("email", "")).strip().lower()
            known = await session.scalar(
                select(Account.id).where(
                    or_(
                        Account.google_subject == str(body.get("sub", "")),
                        func.lower(Account.email) == email,
                    )
                )
            )
            closed = None if known is not None else registration_refusal(self.site, email)
            if closed is not None:
                self.write_json({"error": closed.message}, closed.status)
                return
            try:
                account = await accounts.sign_in_with_google(
                    session,
                    subject=str(body.get("sub", "")),
                    email=str(body.get("email", "")),
                    email_verified=body.get("email_verified") is True,
                    name=str(body.get("name", "")),
                )
                await people.admit(session, account, "google", body.get("address"))
            except (AccountError, PeopleError) as error:
                self.write_json({"error": error.message}, error.status)
                return
            account.last_login_at = utcnow()
            await session.commit()
        self.write_json(hub_auth_model(account))


class GoogleLinkAPI(InternalHandler):
    """The end of a Google round trip that a signed-in person started from Settings: the
    hub's authenticator has checked their signed link request (theirs, in this browser, not
    expired) and Google's answer; the Google identity is linked to *their* account, and the
    hub signs them in again as themselves."""

    async def post(self) -> None:
        body = self.json_body()
        name, email = str(body.get("username", "")), str(body.get("email", ""))
        async with self.db() as session:
            account = await session.scalar(
                select(Account).where(Account.username == name).with_for_update()
            )
            if account is None or accounts.is_deleted(account):
                self.write_json({"error": "Your CourseHub account no longer exists."}, 404)
                return
            try:
                await people.admit(session, account, "google", body.get("address"))
                linked = await accounts.link_google(
                    session, account, subject=str(body.get("sub", "")), email=email
                )
            except (AccountError, PeopleError) as error:
                self.write_json({"error": error.message}, error.status)
                return
            if linked:
                audit_log.record(session, account, "account.google_link", account)
            account.last_login_at = utcnow()
            try:
                await session.commit()
            except IntegrityError:  # the same identity linked elsewhere a moment ago
                self.write_json({"error": accounts.GOOGLE_TAKEN}, 409)
                return
        if linked:
            google_notice(self, account, linked=True, google_email=email or None)
        self.write_json(hub_auth_model(account))


def google_notice(
    handler: BaseHandler, account: Account, *, linked: bool, google_email: str | None
) -> None:
    """Tell the person, by email, that a Google identity now signs in to their account (or
    no longer does): whoever did it had their session, so they hear it either way."""
    settings = handler.settings_obj
    to = account.email or google_email
    if not to:
        return
    which = f" ({google_email})" if google_email else ""
    settings_page = f"{settings.public_url}{settings.service_prefix}/account/settings"
    if linked:
        subject = "A Google account was linked to your CourseHub account"
        text = (
            f"A Google account{which} was linked to your CourseHub account {account.username}: "
            "signing in with Google now opens it."
        )
    else:
        subject = "A Google account was unlinked from your CourseHub account"
        text = (
            f"The Google account{which} no longer signs in to your CourseHub account "
            f"{account.username}; sign in with your email and password."
        )
    message = mail.compose(
        settings,
        to,
        subject,
        f"Hello {account.name},\n\n{text}\n\nSee it in your settings: {settings_page}\n\n"
        "If this was not you, change your password now and tell your administrator.\n",
    )
    handler.application.settings["background"](mail.send_later(settings, message))


def accounts_errors(error: AccountError) -> dict[str, str]:
    if isinstance(error, FormProblems):
        return dict(error.problems)
    return {error.field or "form": error.message}


def hub_auth_model(account: Account) -> dict[str, object]:
    return {
        "name": account.username,
        "admin": account.role.value == "ADMIN",
        "groups": hub_groups_for(account.role),
    }


def account_json(account: Account) -> dict[str, object]:
    return {
        "username": account.username,
        "email": account.email,
        "name": account.name,
        "role": account.role.value,
        "created_at": account.created_at,
    }


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/register", RegisterPage),
        (f"{prefix}/forgot-password", ForgotPasswordPage),
        (f"{prefix}/reset/([A-Za-z0-9_-]{{20,100}})", ResetPasswordPage),
        (f"{prefix}/account/password", ChangePasswordPage),
        (f"{prefix}/api/accounts", RegisterAPI),
        (f"{prefix}/api/internal/password-sign-in", PasswordSignInAPI),
        (f"{prefix}/api/internal/google-sign-in", GoogleSignInAPI),
        (f"{prefix}/api/internal/google-link", GoogleLinkAPI),
        (f"{prefix}/api/internal/ticket-sign-in", TicketSignInAPI),
        (f"{prefix}/api/internal/unread-count", UnreadCountAPI),
    ]
