"""Making sure a person's notebook server runs, through the hub's REST API.

The course service is a hub admin (``load_roles`` in jupyterhub_config.py), so it may start
anyone's default server. Waiting uses the hub's progress stream, the same one the hub's own
"server starting" page listens to, so a server is reported ready the moment the hub has
routed it, without polling. Works with any spawner.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from coursehub.services.settings import Settings

DEFAULT_START_SECONDS = 300.0
# Opening a lesson at class start means dozens of servers starting at once; each waiting
# request holds one connection to the hub, so do not queue them behind Tornado's default 10.
MAX_HUB_CONNECTIONS = 500


class ServerStartError(RuntimeError):
    """The server did not start; the message is a sentence for the person."""


class HubClient:
    """JSON calls to the hub's REST API with the course service's token."""

    def __init__(self, settings: Settings) -> None:
        self.api_url = settings.hub_api_url.rstrip("/")
        self.token = settings.hub_api_token
        self.http = AsyncHTTPClient(force_instance=True, max_clients=MAX_HUB_CONNECTIONS)

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, timeout: float = 60) -> HTTPRequest:
        return HTTPRequest(
            f"{self.api_url}/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
            body="{}" if method == "POST" else None,
            request_timeout=timeout,
        )

    async def status_of(self, method: str, path: str) -> int:
        """The answer's status; a request that timed out or lost its connection is 599."""
        try:
            response = await self.http.fetch(self.request(method, path))
        except HTTPClientError as error:
            return error.code if error.response is not None else 599
        return response.code


async def running_server_url(
    settings: Settings, username: str, seconds: float = DEFAULT_START_SECONDS
) -> str:
    """The URL path of ``username``'s default server (``/user/<name>/``), started if needed,
    once the hub reports it ready."""
    hub = HubClient(settings)
    try:
        return await _wait_until_running(hub, username, time.monotonic() + seconds)
    except OSError:  # connection refused: the hub is down or restarting
        raise ServerStartError(
            "CourseHub cannot reach the hub to start your JupyterLab right now. Try again in "
            "a minute."
        ) from None
    finally:
        hub.close()


async def _wait_until_running(hub: HubClient, username: str, deadline: float) -> str:
    # Ask the hub to start the server straight away (it answers at once when the server runs
    # already), then follow its progress stream, whose ready event names the server's URL:
    # two hub requests per person, as the hub's own "Start my server" button makes.
    server_path = f"users/{quote(username, safe='')}/server"
    while time.monotonic() < deadline:
        status = await hub.status_of("POST", server_path)
        if status == 404:
            raise ServerStartError(
                "The hub does not know your account yet. Sign out and in again, then retry."
            )
        if status in (429, 502, 503, 504):
            await asyncio.sleep(1)  # too many starting at once, or the hub is struggling
            continue
        # 201 ready, 202 starting, 400 running already (or stopping), 599 no answer in time,
        # 500 a start that failed at once: its progress stream says why.
        url = await _follow_progress(hub, server_path, deadline - time.monotonic())
        if url:
            return url
    raise ServerStartError(
        "Your JupyterLab is taking too long to start; many servers may be starting at once. "
        "Try again in a minute."
    )


async def _follow_progress(hub: HubClient, server_path: str, remaining: float) -> str | None:
    """The server's URL once the hub's progress stream says it is ready; None when the
    stream ends without a verdict (the server is stopping, or the hub is struggling)."""
    if remaining <= 0:
        return None
    try:
        response = await hub.http.fetch(
            hub.request("GET", f"{server_path}/progress", timeout=remaining)
        )
    except HTTPClientError:
        # 400: not starting (it is stopping, say). 599: our deadline, or a lost connection.
        # Anything else: the hub is struggling. In every case the caller tries again.
        await asyncio.sleep(1)
        return None
    for event in _events(response.body):
        if event.get("ready") and event.get("url"):
            return str(event["url"])
        if event.get("failed"):
            message = event.get("message") or "the hub gave no reason"
            raise ServerStartError(
                f"Your JupyterLab could not start ({message}). Try again; if it keeps "
                "failing, tell your instructor."
            )
    await asyncio.sleep(0.5)
    return None


def _events(body: bytes | None) -> list[dict[str, Any]]:
    events = []
    for line in (body or b"").decode(errors="replace").splitlines():
        if line.startswith("data:"):
            try:
                events.append(json.loads(line[5:]))
            except ValueError:
                continue
    return events
