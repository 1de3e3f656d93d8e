"""CourseHub's JupyterHub authenticator: email + password, and Google (OpenID Connect).

Accounts live in the course service. This authenticator holds no user data: it asks the
service, over loopback HTTP with the service's own hub token, whether a password is right or
which account a Google identity belongs to, and turns the answer into the hub's auth model
(name, admin flag, groups). Google goes through oauthenticator's OpenID Connect support; its
endpoints come from the issuer's discovery document, so a test provider and Google take the
same path.

A signed-in person links a Google identity to their account from Settings: the round trip
goes through the same callback, carrying a signed link request checked here
(``coursehub.hub.google_link``), and the service links the identity to *their* account.

Two more ways in, both decided by the service too: a *sign-in ticket* (a single-use secret the
service hands a browser in a short-lived cookie right after registering or changing a
password, redeemed at ``/hub/coursehub/welcome``), and the service's call that ends every
session of a person (``/hub/api/coursehub/users/<name>/end-sessions``) when their password
changes. Every sign-in starts a new session id, whatever the browser brought along.

A person's notebook server signs in (the hub's OAuth) only its owner: the hub's admins hold
``access:servers`` for every server, but an admin opening a student's server would carry their
platform session into a page that runs the student's code and extensions, so the hub's
authorization step refuses anyone but the owner (``OwnServerAuthorizeHandler``) before any
token or cookie for that server exists. Admins still start, stop and list servers.
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import json
import urllib.request
from functools import cached_property
from typing import Any

from jupyterhub import orm
from jupyterhub.apihandlers.auth import OAuthAuthorizeHandler
from jupyterhub.handlers.base import SESSION_COOKIE_NAME, BaseHandler
from jupyterhub.utils import new_token
from oauthenticator.generic import GenericOAuthenticator
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from traitlets import Unicode, default

from coursehub.hub.constants import SERVICE_PORT, SERVICE_PREFIX
from coursehub.hub.google_link import GoogleLoginHandler, LinkGoogleHandler, link_request
from coursehub.hub.health import HubHealthHandler, ServiceStartingHandler

_GROUPS_KEY = "coursehub_groups"
# The address of the sign-in being handled, for the service's sign-in history (the Google
# path reaches update_auth_model without the request).
_SIGN_IN_ADDRESS: contextvars.ContextVar[str] = contextvars.ContextVar(
    "coursehub_sign_in_address", default=""
)
# The hub name whose account a Google round trip links to (a checked link request from
# Settings, ``google_link``); "" for a plain Google sign-in.
_LINKING: contextvars.ContextVar[str] = contextvars.ContextVar("coursehub_linking", default="")


def sign_in_address(request: Any) -> str:
    """Where a sign-in came from as the platform's proxy saw it: the last hop of
    X-Forwarded-For (the proxy appends the address it was reached from), else the socket's.
    Never an earlier hop, which the visitor writes themselves (the rule of
    coursehub.services.lessons.lesson_kernels.visitor_address)."""
    forwarded = request.headers.get("X-Forwarded-For", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    return (hops[-1] if hops else request.remote_ip or "")[:45]


# The cookie the course service puts a sign-in ticket in, readable only by the welcome page.
WELCOME_COOKIE = "coursehub-welcome"
WELCOME_PATH = "/hub/coursehub/welcome"


class CourseAuthenticator(GenericOAuthenticator):
    # The Google button drops a link request left over from an abandoned link (google_link).
    login_handler = GoogleLoginHandler

    service_url = Unicode(
        f"http://127.0.0.1:{SERVICE_PORT}{SERVICE_PREFIX}",
        config=True,
        help="The course service's URL as the hub reaches it (loopback, not through the proxy).",
    )
    service_token = Unicode(
        config=True, help="The course service's hub API token; proves calls come from the hub."
    )
    oidc_issuer = Unicode(
        "https://accounts.google.com",
        config=True,
        help="OpenID Connect issuer whose discovery document names the endpoints.",
    )

    @cached_property
    def _discovery(self) -> dict[str, Any]:
        # Read once, the first time someone chooses Google; kept only when it worked.
        url = f"{self.oidc_issuer.rstrip('/')}/.well-known/openid-configuration"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - https
                return json.load(response)
        except (OSError, ValueError) as error:
            self.log.error("Cannot read the OpenID Connect discovery document %s: %s", url, error)
            raise web.HTTPError(
                503, "Google sign-in is unavailable right now; sign in with your password."
            ) from None

    @default("authorize_url")
    def _authorize_url_default(self) -> str:
        return self._discovery["authorization_endpoint"] if self.client_id else ""

    @default("token_url")
    def _token_url_default(self) -> str:
        return self._discovery["token_endpoint"] if self.client_id else ""

    @default("userdata_url")
    def _userdata_url_default(self) -> str:
        return self._discovery["userinfo_endpoint"] if self.client_id else ""

    @default("login_service")
    def _login_service_default(self) -> str:
        return "Google"

    @default("scope")
    def _scope_default(self) -> list[str]:
        return ["openid", "email", "profile"]

    @default("username_claim")
    def _username_claim_default(self) -> str:
        # Replaced by the CourseHub user name in update_auth_model.
        return "sub"

    @default("manage_groups")
    def _manage_groups_default(self) -> bool:
        return True

    @default("allow_all")
    def _allow_all_default(self) -> bool:
        # Who may sign in is decided by the course service: having an account is enough.
        return True

    @property
    def google_enabled(self) -> bool:
        # Only the client id: the sign-in page must not wait on the identity provider.
        return bool(self.client_id)

    async def authenticate(
        self, handler: web.RequestHandler, data: dict | None = None, **kwargs: Any
    ) -> dict[str, Any] | None:
        # The hub's login form posts here with a password; the OAuth callback comes with none.
        # Dispatching is all this override does: each path is handled by its own hook.
        _SIGN_IN_ADDRESS.set(sign_in_address(handler.request))
        if data is not None and "password" in data:
            return await self.authenticate_password(handler, data)
        if data is not None and "ticket" in data:
            return await self.authenticate_ticket(data["ticket"])
        if not self.google_enabled:
            raise web.HTTPError(404, "Google sign-in is not configured on this CourseHub.")
        # A link request from Settings is checked before Google is asked anything.
        linking = _LINKING.set(link_request(handler) or "")
        try:
            return await super().authenticate(handler, data, **kwargs)
        finally:
            _LINKING.reset(linking)

    async def authenticate_password(
        self, handler: web.RequestHandler, data: dict[str, str]
    ) -> dict[str, Any] | None:
        status, body = await self._ask_service(
            "password-sign-in",
            {
                "login": data.get("username", ""),
                "password": data.get("password", ""),
                "address": _SIGN_IN_ADDRESS.get(),
            },
        )
        if status == 401:
            return None  # the hub shows "Invalid username or password"
        if status != 200:
            raise web.HTTPError(status, body.get("error", "Sign-in is unavailable right now."))
        return body

    async def authenticate_ticket(self, ticket: str) -> dict[str, Any] | None:
        status, body = await self._ask_service(
            "ticket-sign-in", {"ticket": ticket, "address": _SIGN_IN_ADDRESS.get()}
        )
        if status == 401:
            return None
        if status != 200:
            raise web.HTTPError(status, body.get("error", "Sign-in is unavailable right now."))
        return body

    async def run_post_auth_hook(
        self, handler: web.RequestHandler, auth_model: dict[str, Any]
    ) -> dict[str, Any]:
        # A session id the browser brought from before signing in (planted by someone else,
        # perhaps) is dropped here, so the hub's set_login_cookie makes a new one.
        handler.request.cookies.pop(SESSION_COOKIE_NAME, None)
        if hasattr(handler, "_session_id"):
            del handler._session_id
        return await super().run_post_auth_hook(handler, auth_model)

    async def update_auth_model(self, auth_model: dict[str, Any]) -> dict[str, Any]:
        user_info = auth_model["auth_state"][self.user_auth_state_key]
        identity = {
            "sub": user_info.get("sub", ""),
            "email": user_info.get("email", ""),
            "email_verified": user_info.get("email_verified") is True,
            "name": user_info.get("name", ""),
            "address": _SIGN_IN_ADDRESS.get(),
        }
        if linking := _LINKING.get():
            # Linked to the signed-in person's account (the service refuses an identity that
            # is another account's); then they are signed in again as themselves.
            status, body = await self._ask_service("google-link", {**identity, "username": linking})
        else:
            status, body = await self._ask_service("google-sign-in", identity)
        if status != 200:
            raise web.HTTPError(status, body.get("error", "Google sign-in failed."))
        auth_model["name"] = body["name"]
        auth_model["admin"] = body["admin"]
        auth_model["auth_state"][_GROUPS_KEY] = body["groups"]
        return auth_model

    def get_user_groups(self, auth_state: dict[str, Any]) -> set[str]:
        return set(auth_state.get(_GROUPS_KEY, []))

    async def _ask_service(self, endpoint: str, payload: dict[str, Any]) -> tuple[int, dict]:
        try:
            response = await AsyncHTTPClient().fetch(
                f"{self.service_url}/api/internal/{endpoint}",
                method="POST",
                headers={
                    "Authorization": f"token {self.service_token}",
                    "Content-Type": "application/json",
                },
                body=json.dumps(payload),
                request_timeout=15,
            )
        except HTTPClientError as error:
            if error.response is None:
                raise web.HTTPError(
                    503, "CourseHub's course service is not answering; try again in a minute."
                ) from None
            return error.code, json.loads(error.response.body or b"{}")
        except OSError:
            raise web.HTTPError(
                503, "CourseHub's course service is not answering; try again in a minute."
            ) from None
        return response.code, json.loads(response.body)

    def get_handlers(self, app: Any) -> list[tuple[str, type]]:
        # Authenticator handlers come before the hub's own, so this /hub/health reports the
        # hub database and Redis instead of a bare 200.
        return [
            *super().get_handlers(app),
            (r"/health$", HubHealthHandler),
            (rf"{SERVICE_PREFIX}/health$", ServiceStartingHandler),
            (r"/coursehub/welcome$", WelcomeHandler),
            (r"/coursehub/unread$", UnreadCountHandler),
            (r"/coursehub/link-google$", LinkGoogleHandler),
            (r"/api/coursehub/users/([^/]+)/end-sessions$", EndSessionsHandler),
            # Before the hub's own: only a server's owner signs in to it.
            (r"/api/oauth2/authorize", OwnServerAuthorizeHandler),
        ]


class WelcomeHandler(BaseHandler):
    """Signs a browser in with the ticket the course service just gave it (after registering
    or changing a password), then sends it on; without a usable ticket, to the sign-in page."""

    async def get(self) -> None:
        ticket = self.get_cookie(WELCOME_COOKIE, "")
        self.clear_cookie(WELCOME_COOKIE, path=WELCOME_PATH)
        user = await self.login_user({"ticket": ticket}) if ticket else None
        if user is None:
            self.redirect(self.settings["login_url"])
            return
        self.redirect(self.get_next_url(user))


class UnreadCountHandler(BaseHandler):
    """``GET /hub/coursehub/unread``: the signed-in person's unread notifications, for the bell
    on the hub's pages (the course service holds the notifications)."""

    @web.authenticated
    async def get(self) -> None:
        status, body = await self.authenticator._ask_service(
            "unread-count", {"name": self.current_user.name}
        )
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps({"unread": int(body.get("unread", 0)) if status == 200 else 0}))


class EndSessionsHandler(BaseHandler):
    """For the course service only: end every session of a person whose password changed.

    Every sign-in cookie of theirs stops working (a new cookie id), every token of theirs is
    deleted (API tokens, the services' sign-in tokens, their servers' tokens) and their
    servers are stopped, since whoever held a session may have used them.
    """

    def check_xsrf_cookie(self) -> None:
        """Called with the service's token, never by a browser."""

    async def post(self, name: str) -> None:
        given = self.request.headers.get("Authorization", "")
        expected = f"token {self.authenticator.service_token}"
        if not self.authenticator.service_token or not hmac.compare_digest(given, expected):
            raise web.HTTPError(403, "Only the course service may end a person's sessions.")
        user = self.find_user(name)
        if user is None:
            self.set_status(204)  # never signed in: nothing to end
            return
        for server_name, spawner in list(user.spawners.items()):
            if spawner.active and not spawner.pending:
                task = asyncio.ensure_future(self.stop_single_user(user, server_name))
                task.add_done_callback(lambda done: done.exception())
        user.orm_user.cookie_id = new_token()
        tokens = self.db.query(orm.APIToken).filter_by(user_id=user.orm_user.id).all()
        for token in tokens:
            self.db.delete(token)
        self.db.commit()
        self.log.info("Ended every session of %s (%d tokens revoked)", name, len(tokens))
        self.set_status(204)


class OwnServerAuthorizeHandler(OAuthAuthorizeHandler):
    """The hub's OAuth authorization, refusing a person's notebook server to everyone but its
    owner (admins and anyone else holding ``access:servers`` included), with a page that says
    why, before a code, a token or a cookie for that server is made."""

    @web.authenticated
    async def get(self) -> None:
        if not await self.refused_as_not_the_owner():
            await super().get()

    @web.authenticated
    async def post(self) -> None:
        if not await self.refused_as_not_the_owner():
            super().post()

    async def refused_as_not_the_owner(self) -> bool:
        client_id = self.get_argument("client_id", "")
        client = self.db.query(orm.OAuthClient).filter_by(identifier=client_id).one_or_none()
        spawner = client.spawner if client is not None else None
        if spawner is None or spawner.user is None:
            return False  # a service (the course service), or not a client: the hub decides
        owner = spawner.user.name
        if owner == self.current_user.name:
            return False
        self.log.warning(
            "%s was refused sign-in to %s's server: servers open only for their owner",
            self.current_user.name,
            owner,
        )
        self.set_status(403)
        self.set_header("Cache-Control", "no-store")
        self.finish(await self.render_template("not_your_server.html", owner=owner))
        return True
