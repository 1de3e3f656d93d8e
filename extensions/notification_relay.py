"""The owner's CourseHub notifications inside their Jupyter server, for JupyterLab's bell.

JupyterLab cannot use the course service's sign-in cookie, so the server extension asks
the service as the server's owner, with the server's hub token (``course_service.py``):

- ``GET  <base url>/coursehub/api/notifications``: the newest 50 and the unread count.
- ``POST <base url>/coursehub/api/notifications/read``: ``{"ids": [...]}`` or ``{}`` for all.
- ``GET  <base url>/coursehub/api/notifications/stream?after=<id>``: the service's
  notification stream (server-sent events), relayed as it arrives. A relay lasts at most
  ``STREAM_SECONDS``; the page then reconnects with the last id it saw, so nothing is lost.
  A closed page closes the relay's call to the service at the next event or keep-alive.

Nothing here decides who sees what: the service answers each owner their own.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from coursehub.extensions.course_service import CourseServiceError

STREAM_SECONDS = 300.0
# Streams hold their connection for minutes: they get a client of their own, so they never
# queue the server's other calls to the service (publishing, lesson copies).
_STREAM_CLIENTS: dict[str, AsyncHTTPClient] = {}


class PageGone(Exception):
    """The page that asked for the stream has closed it."""


class CourseHubAPI(APIHandler):
    auth_resource = "coursehub"

    async def relay_call(self, method: str, path: str, body: bytes | None = None) -> None:
        try:
            answer = await self.settings["coursehub_service"].call(method, path, body=body)
        except CourseServiceError as error:
            raise web.HTTPError(error.status, error.message) from None
        self.finish(json.dumps(answer))


class NotificationsRelay(CourseHubAPI):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.relay_call("GET", "api/me/notifications")


class ReadNotificationsRelay(CourseHubAPI):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.get_json_body() or {}
        await self.relay_call("POST", "api/me/notifications/read", json.dumps(body).encode())


class NotificationStreamRelay(CourseHubAPI):
    page_gone = False

    def on_connection_close(self) -> None:
        self.page_gone = True

    @web.authenticated
    @authorized
    async def get(self) -> None:
        after = self.get_argument("after", "0")
        if not after.isdigit() or len(after) > 10:
            raise web.HTTPError(400, "after must be the number of a notification.")
        service = self.settings["coursehub_service"]
        if not (service.url and service.token):
            raise web.HTTPError(503, "This Jupyter server was not started by CourseHub.")
        status: dict[str, Any] = {"code": 0, "error": b""}
        request = HTTPRequest(
            f"{service.url}/api/me/notifications/stream?{urlencode({'after': after})}",
            headers=service.headers(),
            connect_timeout=10,
            request_timeout=STREAM_SECONDS,
            header_callback=lambda line: self._status_line(line, status),
            streaming_callback=lambda chunk: self._relay(chunk, status),
        )
        try:
            await _stream_client().fetch(request)
        except PageGone:
            return
        except HTTPClientError as error:
            if self.page_gone:
                return
            if status["code"] != 200:
                raise self._refusal(status, error.code) from None
            # 599 after streaming: the relay's time is up or the service went away; the page
            # reconnects with the last id it saw.
        except OSError:
            if not status["code"]:
                raise web.HTTPError(502, "The course service cannot be reached.") from None
        if not self.page_gone:
            self.finish()

    def _status_line(self, line: str, status: dict[str, Any]) -> None:
        if line.startswith("HTTP/") and not status["code"]:
            status["code"] = int(line.split()[1])
            if status["code"] == 200:
                self.set_header("Content-Type", "text/event-stream; charset=utf-8")
                self.set_header("Cache-Control", "no-store")
                self.set_header("X-Accel-Buffering", "no")

    def _relay(self, chunk: bytes, status: dict[str, Any]) -> None:
        if self.page_gone:
            raise PageGone
        if status["code"] != 200:
            status["error"] += chunk[:2000]
            return
        self.write(chunk)
        # A page that closed meanwhile shows up as on_connection_close, before the next chunk.
        self.flush().add_done_callback(lambda done: done.exception())

    @staticmethod
    def _refusal(status: dict[str, Any], code: int) -> web.HTTPError:
        try:
            message = json.loads(status["error"] or b"{}").get("error") or ""
        except (ValueError, AttributeError):
            message = ""
        if status["code"] in (0, 401) or status["code"] >= 500 or not message:
            return web.HTTPError(502, "The course service could not send your notifications.")
        return web.HTTPError(status["code"] or code, message)


def _stream_client() -> AsyncHTTPClient:
    if "client" not in _STREAM_CLIENTS:
        _STREAM_CLIENTS["client"] = AsyncHTTPClient(force_instance=True, max_clients=100)
    return _STREAM_CLIENTS["client"]


def notification_handlers(base: str) -> list[tuple[str, Any]]:
    """Routes under ``<base url>/coursehub`` (``base``)."""
    return [
        (f"{base}/api/notifications", NotificationsRelay),
        (f"{base}/api/notifications/read", ReadNotificationsRelay),
        (f"{base}/api/notifications/stream", NotificationStreamRelay),
    ]
