"""Signing in through the hub (OAuth) with a course service that runs as several processes.

jupyterhub's ``HubOAuth`` keeps each pending sign-in (where to go next, the PKCE code
verifier, the state cookie's name) in the memory of the process that started it, and the
hub sends the browser back to ``/oauth_callback``, which the shared listening socket may hand
to another process: that one finds no verifier, and the sign-in fails (seen with 10 people
signing in at once). Here the pending sign-in travels inside the OAuth state itself,
encrypted and authenticated with a key derived from the service's API token (which every
process has and nobody else), and expires like jupyterhub's own record does.

Its cookies carry ``SameSite=Lax`` (and ``Secure`` when the public URL is https), except
those set while CourseHub is inside an LMS's iframe over https (``FramedCookies``: there they
are ``SameSite=None; Secure; Partitioned``), and a
visitor's OAuth-state cookies stay few: jupyterhub adds a new randomly named one for every
sign-in started while another is pending, so a signed-out visitor who opened ~25 pages sent
headers too large for any course page (431).
"""

from __future__ import annotations

import base64
import hashlib
import http.cookies
import json
import os
import secrets
from functools import cached_property
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler
from tornado.httputil import HTTPServerRequest
from tornado.web import RequestHandler
from traitlets import default

KEY_PURPOSE = b"coursehub oauth state v1\x00"
# Sign-ins a browser may have pending at once (tabs opened while signed out); older ones are
# dropped when a newer one starts, and their tab simply asks to sign in again.
MAX_PENDING_SIGN_INS = 3


def cookie_options(public_url: str) -> dict[str, Any]:
    """Options for every cookie CourseHub sets: SameSite=Lax, and Secure over https."""
    options: dict[str, Any] = {"samesite": "Lax"}
    if public_url.startswith("https://"):
        options["secure"] = True
    return options


def in_frame(request: HTTPServerRequest) -> bool:
    """Whether the browser loads this into a frame (an LMS's iframe, after an LTI launch)."""
    return request.headers.get("Sec-Fetch-Dest", "") in ("iframe", "frame")


class PartitionedMorsel(http.cookies.Morsel):  # type: ignore[type-arg]
    """A cookie whose ``Set-Cookie`` also says ``Partitioned`` (CHIPS), which Python 3.11's
    ``http.cookies`` does not know: the browser keeps it for CourseHub inside this top-level
    site (the LMS's) only, and so keeps it even where unpartitioned third-party cookies are
    blocked."""

    def OutputString(self, attrs: Any = None) -> str:
        return f"{super().OutputString(attrs)}; Partitioned"


def partition(cookies: http.cookies.SimpleCookie, name: str) -> None:
    """Mark the cookie ``name`` about to be set (a Tornado handler's ``_new_cookie``) as
    ``Partitioned``; only for cookies that are ``Secure`` (browsers require it)."""
    morsel = cookies.get(name)
    if morsel is None or isinstance(morsel, PartitionedMorsel) or not morsel["secure"]:
        return
    marked = PartitionedMorsel()
    marked.set(morsel.key, morsel.value, morsel.coded_value)
    marked.update({key: value for key, value in morsel.items() if value})
    cookies[name] = marked


class FramedCookies:
    """Cookies set while the page is inside an LMS's iframe (the browser says so in
    ``Sec-Fetch-Dest``) are ``SameSite=None; Partitioned`` over https: a Lax cookie is never
    sent to a third-party frame, and the hub sign-in would go round in circles; a partitioned
    one is kept even by browsers that block unpartitioned third-party cookies. Browsers take
    ``SameSite=None`` and ``Partitioned`` only with ``Secure``, so over http (and outside
    frames) they stay Lax, as they were.
    A mixin placed before the handler's other bases (it is no RequestHandler itself, so the
    hub's mixins keep their place before Tornado's)."""

    request: HTTPServerRequest

    def set_cookie(self, name: str, value: str | bytes, **kwargs: Any) -> None:
        framed = bool(kwargs.get("secure")) and in_frame(self.request)
        if framed:
            kwargs["samesite"] = "None"
        super().set_cookie(name, value, **kwargs)  # type: ignore[misc]
        if framed:
            partition(self._new_cookie, name)  # type: ignore[attr-defined]


class SharedStateHubOAuth(HubOAuth):
    """``HubOAuth`` whose OAuth state any of the service's processes can read."""

    @default("cache_max_age")
    def _default_cache_max_age(self) -> int:
        # How long a process trusts a sign-in token without asking the hub again: a session
        # the hub ended (a password changed) stops working here within this time.
        return 30

    @default("cookie_options")
    def _default_cookie_options(self) -> dict[str, Any]:
        public_url = os.environ.get("COURSEHUB_PUBLIC_URL") or os.environ.get(
            "JUPYTERHUB_PUBLIC_URL", ""
        )
        return cookie_options(public_url)

    def forget_user(self, name: str) -> None:
        """Stop trusting sign-ins of ``name`` this process checked with the hub (their
        sessions were just ended); other processes stop within ``cache_max_age``."""
        for key, model in list(self.cache.values.items()):
            if isinstance(model, dict) and model.get("name") == name:
                self.cache.pop(key, None)

    def set_state_cookie(
        self, handler: RequestHandler, next_url: str | None = None, **kwargs: Any
    ) -> str:
        pending = sorted(
            name
            for name in handler.request.cookies
            if name.startswith(f"{self.state_cookie_name}-")
        )
        if len(pending) >= MAX_PENDING_SIGN_INS - 1:
            for name in pending:
                self._clear_cookie(handler, name, path=self.cookie_path)
                # Gone for this request too, so jupyterhub names the new one afresh.
                del handler.request.cookies[name]
        return super().set_state_cookie(handler, next_url, **kwargs)

    @cached_property
    def _state_box(self) -> Fernet:
        secret = hashlib.sha256(KEY_PURPOSE + self.api_token.encode()).digest()
        return Fernet(base64.urlsafe_b64encode(secret))

    def generate_state(self, next_url: str | None = None, **extra_state: Any) -> str:
        state = {"next_url": next_url, "nonce": secrets.token_urlsafe(8), **extra_state}
        return self._state_box.encrypt(json.dumps(state).encode()).decode("ascii")

    def _decode_state(self, state_id: str, /) -> dict[str, Any]:
        try:
            plain = self._state_box.decrypt(
                state_id.encode("ascii"), ttl=int(self.oauth_state_max_age)
            )
            state = json.loads(plain)
        except (InvalidToken, UnicodeError, ValueError, TypeError, AttributeError):
            return {}
        return state if isinstance(state, dict) else {}

    def clear_oauth_state(self, state_id: str) -> None:
        """Nothing is kept to clear: the hub accepts each code once, and states expire."""


class SharedStateOAuthCallback(FramedCookies, HubOAuthCallbackHandler):
    hub_auth_class = SharedStateHubOAuth
