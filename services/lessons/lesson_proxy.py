"""The course service's side of the lesson server: how it reaches Voilà, and who may use a kernel.

The browser never talks to the lesson server. The course service forwards three kinds of
requests to it on loopback, with the lesson server's token:

- a lesson's page (after checking who may open the lesson; ``learning/handlers/lesson_frames.py``);
- Voilà's static assets (scripts, styles, widget bundles, themes): the same for every lesson
  and every person, so anyone may fetch them;
- a kernel's WebSocket and shutdown: only with a kernel ticket.

A kernel ticket says which person's lesson page a kernel was handed to. The course service
issues one (in Redis, so every service process sees it) when it forwards a lesson page, for
the kernel id in that page. The page runs in a sandboxed frame of its own origin, whose
requests carry no CourseHub cookie, so the kernel id itself — 122 random bits only that page
received — is the credential, and a kernel nobody was handed cannot be reached.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from tornado.httpclient import AsyncHTTPClient, HTTPRequest, HTTPResponse
from tornado.simple_httpclient import SimpleAsyncHTTPClient

from coursehub.services.lessons.lesson_exports import LessonExports
from coursehub.services.settings import Settings

KERNEL_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_KERNEL_IN_PAGE = re.compile(rb'"kernelId": "(' + KERNEL_ID.encode() + rb')"')
# How long a lesson page waits for a lesson server that is starting.
STARTING_SECONDS = 20
# Longer than a lesson stays open in a tab; the lesson server stops idle kernels much sooner.
TICKET_SECONDS = 12 * 3600
# Paths under Voilà's base URL that are the same for everyone (assets, no lesson content).
ASSET_PATHS = (
    r"voila/static/.*",
    r"voila/templates/[\w-]+/static/.*",
    r"voila/labextensions/.*",
    r"voila/api/themes/.*",
)
# Request and response headers that pass the proxy; cookies and credentials never do.
FORWARDED_REQUEST_HEADERS = ("Accept", "Accept-Language", "If-None-Match", "If-Modified-Since")
FORWARDED_RESPONSE_HEADERS = ("Content-Type", "Cache-Control", "ETag", "Last-Modified", "Expires")
# The lesson page's own rules: scripts (Voilà's, from this site, plus its inline ones), and
# an origin of its own (``sandbox`` without allow-same-origin), so the notebook's HTML cannot
# read or script CourseHub's pages whatever it contains. The player's <iframe> has the same
# sandbox; the header keeps it when the page is opened on its own. Its ``frame-ancestors 'self'``
# gains the registered LMSs' origins when the player sits in an LMS's iframe after an LTI
# launch (``BaseHandler`` adds them to the pages a launch leads to: lti.frame_origins).
FRAME_SANDBOX = "allow-scripts allow-popups allow-popups-to-escape-sandbox allow-downloads"
FRAME_CONTENT_SECURITY_POLICY = (
    f"sandbox {FRAME_SANDBOX}; "
    "default-src 'none'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self'; media-src 'self' data: blob:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'"
)


def ticket_key(kernel_id: str) -> str:
    return f"coursehub:lesson-kernel:{kernel_id}"


async def issue_ticket(redis: Redis, kernel_id: str, person: str, lesson_id: int) -> None:
    """``person`` is whose share the kernel counts against (``lesson_kernels.person_of``)."""
    await redis.set(ticket_key(kernel_id), f"{person}:{lesson_id}", ex=TICKET_SECONDS)


def ticket_parts(holder: str) -> tuple[str, int]:
    """The person and the lesson id a ticket names."""
    person, _, lesson_id = holder.rpartition(":")
    return person, int(lesson_id)


async def ticket_holder(redis: Redis, kernel_id: str) -> str | None:
    value = await redis.get(ticket_key(kernel_id))
    return value.decode() if isinstance(value, bytes) else value


async def revoke_ticket(redis: Redis, kernel_id: str) -> None:
    await redis.delete(ticket_key(kernel_id))


@dataclass
class KernelIdFinder:
    """Finds the kernel id in a lesson page as it streams past (it is near the top)."""

    limit: int = 512 * 1024
    _head: bytes = b""
    found: str | None = None

    def feed(self, chunk: bytes) -> str | None:
        """The kernel id, the first time a chunk completes it; otherwise None."""
        if self.found is not None or len(self._head) > self.limit:
            return None
        self._head += chunk
        match = _KERNEL_IN_PAGE.search(self._head)
        if match:
            self.found = match.group(1).decode()
            self._head = b""
            return self.found
        return None


@dataclass
class LessonServerClient:
    """Requests to the lesson server on loopback, with its token; one per service process."""

    settings: Settings
    exports: LessonExports = field(init=False)
    _http: AsyncHTTPClient = field(init=False)

    def __post_init__(self) -> None:
        self.exports = LessonExports(self.settings.lessons_dir, self.settings.course_files_dir)
        # A client of its own: AsyncHTTPClient's shared one allows 10 requests at a time.
        self._http = SimpleAsyncHTTPClient(force_instance=True, max_clients=100)

    @property
    def websocket_url(self) -> str:
        return "ws" + self.settings.lesson_server_url.removeprefix("http")

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"token {self.settings.lesson_server_token}", **(extra or {})}

    def url(self, path: str) -> str:
        return f"{self.settings.lesson_server_url}/{path.lstrip('/')}"

    async def fetch(self, path: str, **options: Any) -> HTTPResponse | None:
        """The lesson server's answer, or None when it cannot be reached.

        A lesson server that refuses connections may be starting (the hub starts it with the
        platform) or restarting; it is asked again for up to ``STARTING_SECONDS``.
        """
        request = HTTPRequest(
            self.url(path),
            headers=self.headers(options.pop("headers", None)),
            follow_redirects=False,
            connect_timeout=5,
            request_timeout=options.pop("request_timeout", 30),
            **options,
        )
        deadline = time.monotonic() + STARTING_SECONDS
        while True:
            try:
                return await self._http.fetch(request, raise_error=False)
            except ConnectionRefusedError:
                if time.monotonic() > deadline:
                    return None
                await asyncio.sleep(0.5)
            except OSError:
                return None

    async def kernel_alive(self, kernel_id: str) -> bool:
        """Whether the lesson server still runs this kernel (an unreachable server: no)."""
        response = await self.fetch(f"api/kernels/{kernel_id}", request_timeout=10)
        return response is not None and response.code == 200

    async def kernel_connections(self, kernel_id: str) -> int:
        """How many pages are connected to the kernel (0 when it is gone)."""
        response = await self.fetch(f"api/kernels/{kernel_id}", request_timeout=10)
        if response is None or response.code != 200:
            return 0
        try:
            return int(json.loads(response.body).get("connections", 0))
        except (ValueError, TypeError, AttributeError):
            return 0

    async def shut_down(self, kernel_id: str) -> None:
        await self.fetch(
            f"voila/api/shutdown/{kernel_id}", method="POST", body=b"", request_timeout=30
        )

    def close(self) -> None:
        self._http.close()
