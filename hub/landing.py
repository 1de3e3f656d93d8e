"""Where the hub sends people who open the platform's root (``c.JupyterHub.default_url``, a
callable the hub calls for visitors too, and after a sign-in without ``?next=``): visitors to
the front door's landing page (what CourseHub is, its courses, sign in and register),
instructors to *Teaching*, everyone else to *My learning* (administrators too: their work is
on *Users & roles* and the hub's admin panel; *Teaching* is one click away for them)."""

from __future__ import annotations

from typing import Any

from coursehub.hub.constants import INSTRUCTORS_GROUP, SERVICE_PREFIX

TEACHING_URL = f"{SERVICE_PREFIX}/teach"
LEARNING_URL = f"{SERVICE_PREFIX}/dashboard"
WELCOME_URL = f"{SERVICE_PREFIX}/welcome"


def is_instructor(user: Any) -> bool:
    """Whether the hub's user is an instructor: in the ``instructors`` group and not an
    administrator (the hub follows CourseHub's roles: ``hub.constants.hub_groups_for``)."""
    if user is None or user.admin:
        return False
    return any(group.name == INSTRUCTORS_GROUP for group in user.groups)


def landing_url(handler: Any) -> str:
    """The hub's default URL for the person ``handler`` serves (a callable default_url);
    for a visitor (no current user), the landing page."""
    user = handler.current_user
    if user is None:
        return WELCOME_URL
    return TEACHING_URL if is_instructor(user) else LEARNING_URL
