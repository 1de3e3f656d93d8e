"""Account pages and endpoints: register, forgotten password, reset link, hub sign-in calls.

Register and reset are open to anonymous visitors. The ``/api/internal/*`` endpoints are
called only by the hub's authenticator, which proves itself with this service's own hub
token (the hub generated it and hands it to the service), so no other secret is needed.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

from tornado import web

from coursehub.hub.constants import hub_groups_for
from coursehub.services import mail
from coursehub.services.accounts import accounts
from coursehub.services.accounts.accounts import AccountError, ThrottlePolicy
from coursehub.services.models import Account, utcnow
from coursehub.services.web.base import BaseHandler


class RegisterPage(BaseHandler):
    public = True

    def get(self) -> None:
        self.render_page("register.html", errors={}, values={})

    async def post(self) -> None:
        values = {key: self.get_body_argument(key, "") for key in ("name", "email")}
        password = self.get_body_argument("password", "")
        async with self.db() as session:
            try:
                await accounts.register(session, password=password, **values)
            except AccountError as error:
                self.set_status(error.status)
                self.render_page("register.html", errors=accounts_errors(error), values=values)
                return
            await session.commit()
        self.render_page(
            "done.html",
            heading="Your account is ready",
            text="Sign in with your email and password.",
            login=values["email"],
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


class ResetPasswordPage(BaseHandler):
    public = True

    async def get(self, token: str) -> None:
        async with self.db() as session:
            try:
                await accounts.reset_for_token(session, token, utcnow())
            except AccountError as error:
                self.set_status(error.status)
                self.render_page("reset.html", errors=accounts_errors(error), usable=False)
                return
        self.render_page("reset.html", errors={}, usable=True)

    async def post(self, token: str) -> None:
        password = self.get_body_argument("password", "")
        async with self.db() as session:
            try:
                await accounts.finish_password_reset(session, token, password, utcnow())
            except AccountError as error:
                self.set_status(error.status)
                usable = error.field == "password"
                self.render_page("reset.html", errors=accounts_errors(error), usable=usable)
                return
            await session.commit()
        self.render_page(
            "done.html",
            heading="Your password has been changed",
            text="Sign in with the new one.",
            login="",
        )


class RegisterAPI(BaseHandler):
    """``POST /api/accounts``: register from a script or another front end."""

    public = True

    async def post(self) -> None:
        body = self.json_body()
        async with self.db() as session:
            try:
                account = await accounts.register(
                    session,
                    email=str(body.get("email", "")),
                    password=str(body.get("password", "")),
                    name=str(body.get("name", "")),
                )
            except AccountError as error:
                self.write_json({"error": error.message, "field": error.field}, error.status)
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
            except AccountError as error:
                self.write_json({"error": error.message}, error.status)
                return
            await session.commit()
        if account is None:
            self.write_json({"error": "Invalid email or password."}, 401)
            return
        self.write_json(hub_auth_model(account))


class GoogleSignInAPI(InternalHandler):
    async def post(self) -> None:
        body = self.json_body()
        if not body.get("sub"):
            self.write_json({"error": "The identity provider sent no subject."}, 400)
            return
        async with self.db() as session:
            try:
                account = await accounts.sign_in_with_google(
                    session,
                    subject=str(body.get("sub", "")),
                    email=str(body.get("email", "")),
                    email_verified=body.get("email_verified") is True,
                    name=str(body.get("name", "")),
                )
            except AccountError as error:
                self.write_json({"error": error.message}, error.status)
                return
            account.last_login_at = utcnow()
            await session.commit()
        self.write_json(hub_auth_model(account))


def accounts_errors(error: AccountError) -> dict[str, str]:
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
        (f"{prefix}/api/accounts", RegisterAPI),
        (f"{prefix}/api/internal/password-sign-in", PasswordSignInAPI),
        (f"{prefix}/api/internal/google-sign-in", GoogleSignInAPI),
    ]
