"""Linking a Google identity to the account of the person signed in, from their Settings.

Settings links to ``/hub/coursehub/link-google``, a hub page for signed-in people that says
what will happen. Its form (with the hub's XSRF token) starts Google's OAuth flow as the
Google button does, and also sets a *link request*: a cookie signed with the hub's cookie
secret, holding the person's hub name and the id of this OAuth flow's state, kept
``LINK_MINUTES`` and sent only to the hub's own pages.

When Google sends the browser back, the authenticator asks ``link_request``: without the
cookie the callback is a plain Google sign-in, as it always was. With it, the request holds
only when its signature is the hub's, it is younger than ``LINK_MINUTES``, it belongs to this
very OAuth flow and the browser is still signed in as the person it names; anything else is
refused before Google is asked anything, so nothing is linked or created. The Google button
(``/hub/oauth_login``) drops a link request left over from an abandoned link, so a later plain
sign-in is never taken for one.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from oauthenticator.oauth2 import OAuthLoginHandler
from tornado import web

from coursehub.hub.constants import SERVICE_PREFIX

LINK_COOKIE = "coursehub-google-link"
LINK_MINUTES = 10
SETTINGS_URL = f"{SERVICE_PREFIX}/account/settings"
LINKED_URL = f"{SETTINGS_URL}?notice=google_linked"
LINK_REFUSED = (
    "This request to link a Google account is not valid or has expired, so nothing was "
    "linked. Start again from your Settings page while signed in to CourseHub."
)
LINK_SIGNED_OUT = (
    "Linking a Google account needs you signed in to CourseHub as the person who asked for "
    "it, in this browser, so nothing was linked. Sign in, then start again from Settings."
)
BACK_TO_SETTINGS = f'<a id="back_to_settings" href="{SETTINGS_URL}">Back to your Settings</a>'


def _state_id(serialized_state: str) -> str:
    """The ``state_id`` of oauthenticator's state (base64url JSON); "" when unreadable."""
    try:
        state = json.loads(base64.urlsafe_b64decode(serialized_state.encode("ascii")))
    except (ValueError, UnicodeError):
        return ""
    return str(state.get("state_id", "")) if isinstance(state, dict) else ""


def link_request(handler: Any) -> str | None:
    """The hub name of the person whose account this OAuth callback links a Google identity
    to; None for a plain Google sign-in. A link request that does not hold raises 403, with a
    way back to Settings on the error page."""
    if handler.get_cookie(LINK_COOKIE) is None:
        return None
    handler.extra_error_html = BACK_TO_SETTINGS
    signed = handler.get_secure_cookie(LINK_COOKIE, max_age_days=LINK_MINUTES / (24 * 60))
    handler.clear_cookie(LINK_COOKIE, path=handler.hub.base_url)
    try:
        intent = json.loads(signed) if signed else {}
    except ValueError:
        intent = {}
    name = intent.get("name") if isinstance(intent, dict) else None
    state = intent.get("state") if isinstance(intent, dict) else None
    if not isinstance(name, str) or not name or not isinstance(state, str) or not state:
        handler.log.warning("Refused a Google link request that is forged or expired")
        raise web.HTTPError(403, LINK_REFUSED)
    if state != _state_id(handler.get_state_cookie()):
        handler.log.warning("Refused %s's Google link request: made for another flow", name)
        raise web.HTTPError(403, LINK_REFUSED)
    user = handler.current_user
    if user is None or user.name != name:
        handler.log.warning("Refused %s's Google link request in a browser not theirs", name)
        raise web.HTTPError(403, LINK_SIGNED_OUT)
    return name


class GoogleLoginHandler(OAuthLoginHandler):
    """``/hub/oauth_login``, the Google button: a plain sign-in, so no link request stays."""

    def get(self) -> None:
        self.clear_cookie(LINK_COOKIE, path=self.hub.base_url)
        super().get()


class LinkGoogleHandler(OAuthLoginHandler):
    """``/hub/coursehub/link-google``: GET says what linking does; POST (the hub's XSRF
    check, signed in) starts Google's OAuth flow with a link request for this person."""

    _link_for = ""

    def _require_google(self) -> None:
        if not self.authenticator.google_enabled:
            raise web.HTTPError(404, "Google sign-in is not configured on this CourseHub.")

    @web.authenticated
    async def get(self) -> None:
        self._require_google()
        self.set_header("Cache-Control", "no-store")
        self.finish(
            await self.render_template(
                "link_google.html", settings_url=SETTINGS_URL, minutes=LINK_MINUTES
            )
        )

    @web.authenticated
    def post(self) -> None:
        self._require_google()
        self._link_for = self.current_user.name
        OAuthLoginHandler.get(self)

    def _generate_state_id(self) -> str:
        # oauthenticator's hook for the flow's state id: the link request is bound to it.
        state_id = super()._generate_state_id()
        if self._link_for:
            self._set_cookie(
                LINK_COOKIE,
                json.dumps({"name": self._link_for, "state": state_id}),
                encrypted=True,
                path=self.hub.base_url,
                expires_days=None,
                max_age=LINK_MINUTES * 60,
            )
        return state_id

    def _get_next_url(self) -> str:
        return LINKED_URL
