"""Keeping JupyterHub's view of a person (admin flag, instructor group) in step with their role.

The course database holds roles; the hub learns them at every sign-in through the
authenticator. When an admin changes a role, this pushes it to the hub at once so that the
hub admin panel and scopes agree without waiting for the next sign-in.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from coursehub.hub.constants import INSTRUCTORS_GROUP, Role, hub_groups_for
from coursehub.services.settings import Settings

log = logging.getLogger(__name__)


async def _call(settings: Settings, method: str, path: str, body: Any = None) -> None:
    await AsyncHTTPClient().fetch(
        f"{settings.hub_api_url.rstrip('/')}/{path}",
        method=method,
        headers={"Authorization": f"token {settings.hub_api_token}"},
        body=None if body is None else json.dumps(body),
        allow_nonstandard_methods=True,
        request_timeout=10,
    )


async def push_role(settings: Settings, username: str, role: Role) -> bool:
    """Tell the hub about ``username``'s role; False when the hub has no such user yet."""
    try:
        await _call(settings, "PATCH", f"users/{username}", {"admin": role is Role.ADMIN})
    except HTTPClientError as error:
        if error.code == 404:
            return False  # they have never signed in; their first sign-in carries the role
        raise
    in_group = INSTRUCTORS_GROUP in hub_groups_for(role)
    members = {"users": [username]}
    path = f"groups/{INSTRUCTORS_GROUP}/users"
    try:
        await _call(settings, "POST" if in_group else "DELETE", path, members)
    except HTTPClientError as error:
        if error.code != 404:
            raise
        if in_group:  # the group is made at the first instructor's sign-in; make it now
            await _call(settings, "POST", f"groups/{INSTRUCTORS_GROUP}", members)
    log.info("Hub now sees %s as %s", username, role.value)
    return True


async def end_sessions(settings: Settings, username: str) -> None:
    """End every hub session of ``username``: sign-in cookies, API and service tokens, servers.

    Called when a password changes, before the change is committed: if the hub cannot be
    told, the change fails too, rather than leaving a thief signed in.
    """
    await AsyncHTTPClient().fetch(
        f"{settings.hub_api_url.rstrip('/')}/coursehub/users/{quote(username, safe='')}"
        "/end-sessions",
        method="POST",
        headers={"Authorization": f"token {settings.hub_api_token}"},
        body=b"",
        request_timeout=10,
    )
    log.info("Ended every session of %s", username)


async def delete_user(settings: Settings, username: str) -> bool:
    """Remove ``username`` from JupyterHub: the hub stops their servers first and forgets
    their tokens. False when the hub never knew them (they never signed in)."""
    try:
        await _call(settings, "DELETE", f"users/{quote(username, safe='')}")
    except HTTPClientError as error:
        if error.code == 404:
            return False
        raise
    log.info("Removed %s from the hub", username)
    return True
