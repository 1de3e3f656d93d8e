"""The hub's cookies inside an LMS's iframe (after an LTI launch, course service's ``lti``).

The hub signs the person in (the sign-in ticket's welcome page, then the course service's
OAuth) inside the LMS's frame, where a ``SameSite=Lax`` cookie is never sent: the hub would
ask them to sign in again, in a frame that may not show its page. Cookies the hub sets while
the browser loads it into a frame (``Sec-Fetch-Dest: iframe``) are ``SameSite=None`` when
they are ``Secure`` (over https; browsers take ``None`` only with ``Secure``), and
``Partitioned`` (CHIPS: kept for CourseHub inside the LMS's site even where a browser blocks
unpartitioned third-party cookies); everywhere else
they stay as configured (Lax). The course service does the same (``web.hub_oauth``).
"""

from __future__ import annotations

from typing import Any

from jupyterhub.handlers.base import BaseHandler

from coursehub.services.web.hub_oauth import partition

FRAME_DESTINATIONS = ("iframe", "frame")


def cookies_survive_lms_frames() -> None:
    """Make the hub's cookies set inside a frame over https ``SameSite=None; Partitioned``.
    Idempotent."""
    if getattr(BaseHandler, "_coursehub_framed_cookies", False):
        return
    set_cookie = BaseHandler.set_cookie

    def framed_set_cookie(self: BaseHandler, name: str, value: Any, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        framed = self.request.headers.get("Sec-Fetch-Dest", "") in FRAME_DESTINATIONS
        framed = framed and bool(kwargs.get("secure"))
        if framed:
            kwargs["samesite"] = "None"
        answer = set_cookie(self, name, value, *args, **kwargs)
        if framed:
            partition(self._new_cookie, name)
        return answer

    BaseHandler.set_cookie = framed_set_cookie  # type: ignore[method-assign]
    BaseHandler._coursehub_framed_cookies = True  # type: ignore[attr-defined]
