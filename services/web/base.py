"""The base handler: hub sign-in, one database session per request, roles, JSON and pages.

Every service handler derives from ``BaseHandler``. Pages and API share it, so role checks,
error bodies (JSON under ``/api/``, a page that says why elsewhere) and XSRF live once.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property
from typing import Any

from jupyterhub.services.auth import HubOAuthenticated, UserNotAllowed
from psycopg import errors as pg_errors
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from tornado import web
from tornado.log import gen_log

from coursehub.hub.constants import SCOPE_READ, SCOPE_WRITE, Role
from coursehub.services import structured_logs
from coursehub.services.accounts import accounts
from coursehub.services.content import api_json
from coursehub.services.errors import Refusal, StorageFull, storage_full
from coursehub.services.lti import frame_origins
from coursehub.services.models import Account, Profile, Suspension
from coursehub.services.notifications import notifications
from coursehub.services.settings import Settings
from coursehub.services.site_settings.site_settings import SiteSettings
from coursehub.services.web.hub_oauth import FramedCookies, SharedStateHubOAuth

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_JSON_BODY = 1024 * 1024
# The ids in CourseHub's addresses are PostgreSQL integers: a longer number names nothing (a
# 404), instead of reaching the database and failing there (a 500 once, then a 400).
MAX_ROW_ID = 2**31 - 1
STORAGE_FULL = "CourseHub's storage is full; your file was not saved — tell your administrator."
# Errors from below the handlers that are the person's to hear, not a server fault.
SUSPENDED = (
    "Your CourseHub account is suspended; ask your administrator (or the support address) why."
)
_OUT_OF_RANGE = (pg_errors.NumericValueOutOfRange, pg_errors.DatetimeFieldOverflow)
# Every page's own frame-ancestors, in the default policy and in those handlers set themselves
# (the lesson frame's, the grading page's): pages an LTI launch leads to add the LMSs' origins.
_SELF_ANCESTORS = re.compile(r"frame-ancestors 'self'(?=;|$)")
log = logging.getLogger(__name__)


def refusal_for(error: BaseException | None) -> Refusal | None:
    """The Refusal an uncaught error stands for, if it is one a person should hear."""
    if isinstance(error, Refusal):
        return error
    if isinstance(error, DBAPIError) and isinstance(error.orig, _OUT_OF_RANGE):
        return Refusal("A number or date in this request is out of range.", 400)
    if isinstance(error, OverflowError):
        return Refusal("A number or date in this request is out of range.", 400)
    if storage_full(error) or (
        isinstance(error, DBAPIError) and isinstance(error.orig, pg_errors.DiskFull)
    ):
        return StorageFull()
    return None


class BaseHandler(FramedCookies, HubOAuthenticated, web.RequestHandler):
    """Shared behaviour; subclasses declare ``min_role`` when only some roles may enter."""

    hub_auth_class = SharedStateHubOAuth  # any of the service's processes finishes a sign-in
    min_role: Role | None = None
    public = False  # True for pages anyone may open (register, reset, health)
    site = SiteSettings()  # the defaults, until load_site_settings reads this request's

    @property
    def settings_obj(self) -> Settings:
        # The process's settings with the limits administrators set (site settings) in place.
        base = self.application.settings["coursehub"]
        site = getattr(self, "site", None)
        return site.applied_to(base) if site is not None else base

    async def load_site_settings(self) -> None:
        """This request's site settings (the process's copy, reloaded when they changed)."""
        cache = self.application.settings.get("site_settings")
        if cache is not None:
            settings = self.application.settings
            self.site = await cache.current(settings["read_sessions"], settings.get("redis"))

    @property
    def hub_scopes(self) -> set[str]:
        # One custom scope per method family, as in jupyterhub's examples/custom-scopes.
        return {SCOPE_READ} if self.request.method in READ_METHODS else {SCOPE_WRITE}

    @property
    def is_api(self) -> bool:
        return "/api/" in self.request.path

    # Tornado checks XSRF before ``prepare()``, when it cannot know yet whether the request
    # carries a valid hub token (which needs no XSRF: no browser sends it on its own). So a
    # request with an Authorization header is checked while ``prepare()`` resolves the user:
    # HubAuth skips the check for a valid token and makes it for a cookie sign-in.
    _resolving_user = False

    def check_xsrf_cookie(self) -> None:
        if "Authorization" in self.request.headers and not self._resolving_user:
            return
        super().check_xsrf_cookie()

    async def prepare(self) -> None:
        for argument in self.path_args:
            if isinstance(argument, str) and argument.isdigit() and int(argument) > MAX_ROW_ID:
                raise web.HTTPError(404, "There is nothing at this address.")
        await self.allow_lms_framing()
        await self.load_site_settings()
        # Resolve the hub user without blocking the loop; get_current_user then reads the cache.
        self._resolving_user = True
        model = await self.hub_auth.get_user(self, sync=False)
        try:
            self._hub_auth_user_cache = self.check_hub_user(model) if model else None
        except UserNotAllowed:
            self._hub_auth_user_cache = None
            raise web.HTTPError(
                403, "Your sign-in does not grant access to this part of CourseHub."
            ) from None
        if self.public or self._hub_auth_user_cache:
            return
        if self.is_api or self.request.method not in READ_METHODS:
            raise web.HTTPError(401, "Sign in to continue.")
        # Anonymous visitors of a page go through the hub's sign-in; the OAuth state brings
        # them back to this URL.
        self.redirect(self.get_login_url())

    @asynccontextmanager
    async def db(self, *, read_only: bool = False) -> AsyncIterator[AsyncSession]:
        """This request's database session; commit explicitly, anything else rolls back.

        ``read_only`` sessions run on AUTOCOMMIT connections: use them for requests that
        only read. Leave the block before writing the response, so the connection is back
        in the pool before the client can send its next request.
        """
        settings = self.application.settings
        async with settings["read_sessions" if read_only else "sessions"]() as session:
            try:
                yield session
            finally:
                # Notifications the block made (notifications.add) and committed: open pages
                # hear of them, in the background (a Redis that is away never slows a reply).
                made = notifications.committed(session)
                if made:
                    settings["background"](notifications.announce(settings["redis"], made))

    async def account(self, session: AsyncSession) -> Account:
        """The signed-in person's account, refusing those below ``min_role``."""
        user = self.current_user
        if not user:
            raise web.HTTPError(401, "Sign in to continue.")
        account = await accounts.account_for_hub_user(session, user["name"])
        if await session.get(Suspension, account.id) is not None:
            # Their sessions were ended when they were suspended; a sign-in this process
            # still trusts, or a token made in between, opens nothing: this page is signed out.
            self.hub_auth.clear_cookie(self)
            self._hub_auth_user_cache = None
            self.current_user = None
            raise web.HTTPError(403, SUSPENDED)
        self._nav_role = account.role.value
        if not self.is_api:
            # Pages show times in the zone of the person's profile (base.html, api.js).
            profile = await session.get(Profile, account.id)
            self._time_zone = profile.time_zone if profile is not None else ""
        if self.min_role is not None and not account.role.at_least(self.min_role):
            audience = {
                Role.INSTRUCTOR: "instructors and administrators",
                Role.ADMIN: "administrators",
            }.get(self.min_role, "signed-in people")
            raise web.HTTPError(
                403,
                f"This page is for {audience} only, and your account is a "
                f"{account.role.value.lower()} account. Ask an administrator if you need "
                "more access.",
            )
        return account

    # -- requests and responses -------------------------------------------------------------

    def json_body(self) -> dict[str, Any]:
        if len(self.request.body) > MAX_JSON_BODY:
            raise web.HTTPError(413, "The request body is larger than 1 MiB.")
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise web.HTTPError(400, "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "The request body must be a JSON object.")
        return body

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(api_json.dumps(payload))

    def render_page(self, template: str, **context: Any) -> None:
        env = self.application.settings["jinja"]
        self.finish(env.get_template(template).render(**self.page_context(), **context))

    def page_context(self) -> dict[str, Any]:
        prefix = self.settings_obj.service_prefix
        return {
            "prefix": prefix,
            "hub_prefix": "/hub/",
            "user": self.current_user,
            "nav_role": getattr(self, "_nav_role", ""),
            "reader_time_zone": getattr(self, "_time_zone", ""),
            "xsrf_form_html": self.xsrf_form_html,
            "csp_nonce": self.csp_nonce,
            "site": getattr(self, "site", None) or SiteSettings(),
        }

    def compute_etag(self) -> str | None:
        """None: pages and API answers are made for one person at one moment, so hashing each
        body (a thread page is 100 KB) for an ETag buys nothing. Downloads set their own."""
        return None

    @cached_property
    def csp_nonce(self) -> str:
        """This answer's script nonce: a page's own inline script carries it, nothing else."""
        return secrets.token_urlsafe(16)

    @cached_property
    def request_id(self) -> str:
        """The request's ``X-Request-Id`` (the proxy passes it on), or a new one."""
        return structured_logs.request_id_for(self.request.headers.get(structured_logs.HEADER))

    # The LMS origins that may frame this answer (``frame_origins``), besides 'self'.
    lms_frame_origins: tuple[str, ...] = ()

    async def allow_lms_framing(self) -> None:
        """A page an LTI launch leads to may be shown in the registered LMSs' iframes; every
        other page keeps ``frame-ancestors 'self'``."""
        prefix = self.settings_obj.service_prefix
        redis = self.application.settings.get("redis")
        path = self.request.path
        if redis is None or not path.startswith(prefix):
            return
        if not frame_origins.is_framed_path(path.removeprefix(prefix)):
            return
        try:
            origins = await frame_origins.allowed(redis)
        except (RedisError, OSError) as error:
            log.warning("LMS frame origins unavailable (%s): this page keeps 'self'", error)
            return
        self.frame_by_lms(origins)

    def frame_by_lms(self, origins: list[str] | tuple[str, ...]) -> None:
        """Let these LMS origins frame this answer (its error page too)."""
        self.lms_frame_origins = tuple(sorted({*self.lms_frame_origins, *origins}))
        self.set_header("Content-Security-Policy", self.content_security_policy())

    def content_security_policy(self) -> str:
        # Scripts only from CourseHub itself (or inline with this answer's nonce): markup that
        # slipped through the sanitiser still cannot run.
        ancestors = frame_origins.frame_ancestors(self.lms_frame_origins)
        return (
            f"script-src 'self' 'nonce-{self.csp_nonce}'; object-src 'none'; "
            f"base-uri 'self'; frame-ancestors {ancestors}"
        )

    def flush(self, include_footers: bool = False) -> Any:
        if self.lms_frame_origins and not self._headers_written:
            policy = self._headers.get("Content-Security-Policy")
            if policy:
                ancestors = frame_origins.frame_ancestors(self.lms_frame_origins)
                self.set_header(
                    "Content-Security-Policy",
                    _SELF_ANCESTORS.sub(f"frame-ancestors {ancestors}", policy),
                )
        return super().flush(include_footers)

    def set_default_headers(self) -> None:
        # Logs of this request, and of jobs it queues, carry its id (structured_logs).
        structured_logs.REQUEST_ID.set(self.request_id)
        self.set_header(structured_logs.HEADER, self.request_id)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Content-Security-Policy", self.content_security_policy())
        settings = self.application.settings.get("coursehub")
        if settings is not None and settings.public_url.startswith("https://"):
            self.set_header("Strict-Transport-Security", "max-age=31536000")

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        # A Refusal nobody caught is the answer itself, with its own status.
        refusal = refusal_for(kwargs.get("exc_info", (None, None, None))[1])
        if refusal is not None:
            status_code = refusal.status
        super().send_error(status_code, **kwargs)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        refusal = refusal_for(value)
        if refusal is not None and refusal.status < 500:
            # As Tornado logs an HTTPError: one line, no traceback.
            gen_log.warning(
                "%d %s %s: %s",
                refusal.status,
                self.request.method,
                self.request.uri,
                refusal.message,
            )
            return
        if refusal is not None:
            # A full disk: the operator must hear of it, once per request, without a traceback.
            gen_log.error("%s %s: %s", self.request.method, self.request.uri, value)
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = (
            refusal_for(kwargs.get("exc_info", (None, None, None))[1])
            or kwargs.get("exc_info", (None, None, None))[1]
        )
        field = ""
        if isinstance(error, Refusal):
            message, field = error.message, error.field
        elif isinstance(error, web.HTTPError) and error.log_message:
            message = error.log_message
        else:
            message = self._reason
        if status_code == 403 and "xsrf" in (message or "").lower():
            message = "This form expired or came from another site. Reload the page and try again."
        if self.is_api:
            self.finish(
                {"error": message, "status": status_code, **({"field": field} if field else {})}
            )
            return
        self.render_page("error.html", status_code=status_code, message=message)


class NotFoundHandler(BaseHandler):
    """Any address of the service that no handler serves: CourseHub's own 404 page (or JSON
    under ``/api/``), with the navigation, instead of Tornado's bare one."""

    public = True

    def check_xsrf_cookie(self) -> None:
        """Nothing happens here, whatever the method."""

    async def prepare(self) -> None:
        await super().prepare()  # who is signed in, for the page's navigation
        raise web.HTTPError(
            404,
            "There is no CourseHub page at this address. Check the link, or start again "
            "from the course catalog.",
        )
