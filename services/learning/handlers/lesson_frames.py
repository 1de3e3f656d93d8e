"""The lesson server behind the course service: notebook lessons' pages, assets and kernels.

- ``/learn/<slug>/<lesson id>/frame``: the lesson's Voilà page, for the player's sandboxed
  frame; the same rules as the player decide who may open it (signed-out visitors: preview
  lessons), and each person's kernels stay within their share (``lessons.lesson_kernels``).
- ``/voila/...``: what that page loads. Voilà's assets are public; a kernel's WebSocket and
  shutdown need its kernel ticket (``coursehub.services.lessons.lesson_proxy``). Nothing else of the
  lesson server can be reached.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from tornado import httputil, web, websocket
from tornado.escape import xhtml_escape
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection

from coursehub.services.learning import progress
from coursehub.services.lessons import lesson_kernels, lesson_proxy
from coursehub.services.lessons.lesson_access import LessonAccessError, OpenLesson, open_lesson
from coursehub.services.lessons.lesson_proxy import KERNEL_ID, LessonServerClient
from coursehub.services.web.base import BaseHandler

UNAVAILABLE = (
    "Notebook lessons cannot be shown right now: the lesson server does not answer. "
    "Try again in a minute; if it keeps happening, tell an administrator."
)
# How long a kernel's WebSocket waits for the ticket of a page still being forwarded.
TICKET_WAIT_SECONDS = 2.0
# How long a kernel's shutdown waits for the closing page's own WebSocket to go.
CLOSING_PAGE_SECONDS = 1.5


def lesson_server(application: web.Application) -> LessonServerClient:
    """This process's client of the lesson server (made at start-up, ``lms.init_lesson_server``)."""
    return application.settings["lesson_server"]


class LessonFrameHandler(BaseHandler):
    """The Voilà page of a notebook lesson, streamed from the lesson server.

    Serving it is what opens a notebook lesson, so this is where the visit is recorded for
    enrolled students (the player page records the other kinds). Signed-out visitors open
    preview lessons too (``lesson_access``); everyone's kernels are within their share
    (``lessons.lesson_kernels``): the same lesson opened again reuses its kernel and page.
    """

    public = True  # preview lessons; any other lesson sends a signed-out visitor to sign in

    async def get(self, slug: str, lesson_id: str) -> None:
        client = lesson_server(self.application)
        async with self.db() as session:
            account = await self.account(session) if self.current_user else None
            try:
                opened = await open_lesson(session, account, slug, int(lesson_id))
            except LessonAccessError as refused:
                if account is None and refused.status != 404:
                    self.redirect(self.get_login_url())
                    return
                raise
            if opened.notebook_path is None:
                raise web.HTTPError(404, "This lesson has no published notebook yet.")
            path = await client.exports.ensure(session, opened)
            if opened.records_progress:
                await progress.record_open(
                    session, opened.account_id, opened.course.id, opened.lesson.id
                )
                await session.commit()
        self.set_header("Content-Security-Policy", lesson_proxy.FRAME_CONTENT_SECURITY_POLICY)
        self.set_header("Cache-Control", "no-store")
        redis = self.application.settings["redis"]
        socket_address = getattr(self.request.connection.context, "address", None)  # type: ignore[union-attr]
        person = lesson_kernels.person_of(
            account,
            lesson_kernels.visitor_address(
                self.request.headers.get("X-Forwarded-For"),
                socket_address[0] if isinstance(socket_address, tuple) else None,
            ),
        )
        async with lesson_kernels.turn_of(redis, person):
            try:
                share = await lesson_kernels.share_for(
                    redis,
                    person,
                    opened.lesson.id,
                    path,
                    self.settings_obj.lesson_kernels_per_person,
                    client.kernel_alive,
                )
            except lesson_kernels.TooManyLessonKernels as refused:
                self.set_status(429)
                self.set_header("Content-Type", "text/html; charset=UTF-8")
                self.finish(refusal_page(refused.message))
                return
            page = (
                await lesson_kernels.kept_page(redis, share.reuse.kernel_id)
                if share.reuse
                else None
            )
            if page is not None:
                self.set_header("Content-Type", "text/html; charset=UTF-8")
                self.finish(page)
                return
            for old in [*share.replace, *([share.reuse] if share.reuse else [])]:
                await stop_kernel(self.application, person, old.lesson_id, old.kernel_id)
            await self._relay(client, path, opened, person)

    async def _relay(
        self, client: LessonServerClient, path: str, opened: OpenLesson, person: str
    ) -> None:
        redis = self.application.settings["redis"]
        finder = lesson_proxy.KernelIdFinder()
        tickets: list[asyncio.Future[None]] = []
        sent: list[bytes] = []
        kept = [0]

        def on_header(line: str) -> None:
            if line.startswith("HTTP/"):
                self.set_status(int(line.split(" ", 2)[1]))
            elif line.lower().startswith("content-type:"):
                self.set_header("Content-Type", line.split(":", 1)[1].strip())

        def on_chunk(chunk: bytes) -> None:
            kept[0] += len(chunk)
            sent.append(chunk if kept[0] <= lesson_kernels.PAGE_LIMIT_BYTES else b"")
            kernel_id = finder.feed(chunk)
            if kernel_id is not None:
                ticket = lesson_proxy.issue_ticket(redis, kernel_id, person, opened.lesson.id)
                tickets.append(asyncio.ensure_future(ticket))
            self.write(chunk)
            self.flush()

        response = await client.fetch(
            f"voila/render/{quote(path)}",
            header_callback=on_header,
            streaming_callback=on_chunk,
            request_timeout=600,
        )
        await asyncio.gather(*tickets)
        if (response is None or response.code == 599) and not sent:
            raise web.HTTPError(503, UNAVAILABLE)
        if finder.found is not None and response is not None and response.code == 200:
            seconds = lesson_proxy.TICKET_SECONDS
            await lesson_kernels.record(
                redis, person, opened.lesson.id, finder.found, path, seconds
            )
            if kept[0] <= lesson_kernels.PAGE_LIMIT_BYTES:
                await lesson_kernels.keep_page(redis, finder.found, b"".join(sent), seconds)
        self.finish()


async def stop_kernel(
    application: web.Application, person: str, lesson_id: int, kernel_id: str
) -> None:
    """Stop a lesson kernel and forget it: its ticket, its place in the person's share."""
    redis = application.settings["redis"]
    await lesson_server(application).shut_down(kernel_id)
    await lesson_proxy.revoke_ticket(redis, kernel_id)
    await lesson_kernels.forget(redis, person, lesson_id, kernel_id)


def refusal_page(sentence: str) -> str:
    """The frame's page when no kernel may be started: the sentence, and word to the player
    (which shows its own sentence with "Try again")."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Lesson</title></head>'
        '<body style="font-family: system-ui, sans-serif; margin: 1rem;">'
        f'<p id="lesson_refused">{xhtml_escape(sentence)}</p>'
        "<script>window.parent.postMessage({coursehub: 'lesson-frame', refused: 'kernel-share',"
        " height: 120, shown: false, failed: false, kernelId: ''}, '*');</script>"
        "</body></html>"
    )


class LessonServerProxy(web.RequestHandler):
    """Forwards one kind of request to the lesson server; never sends cookies either way."""

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        # Lesson pages have an origin of their own (the sandbox), so their requests here are
        # cross-origin; what these handlers answer is public or needs the kernel ticket.
        self.set_header("Access-Control-Allow-Origin", "*")

    def check_xsrf_cookie(self) -> None:
        """No cookie authenticates these requests (assets, or a kernel ticket), so no XSRF."""

    async def forward(self, path: str, method: str = "GET") -> None:
        headers = {
            name: self.request.headers[name]
            for name in lesson_proxy.FORWARDED_REQUEST_HEADERS
            if name in self.request.headers
        }
        body = self.request.body if method in ("POST", "PUT", "PATCH") else None
        response = await lesson_server(self.application).fetch(
            path + (f"?{self.request.query}" if self.request.query else ""),
            method=method,
            headers=headers,
            body=body,
            allow_nonstandard_methods=True,
        )
        if response is None or response.code == 599:
            raise web.HTTPError(503, UNAVAILABLE)
        self.set_status(response.code)
        for name in lesson_proxy.FORWARDED_RESPONSE_HEADERS:
            if name in response.headers:
                self.set_header(name, response.headers[name])
        if response.code not in (204, 304) and response.body:
            self.write(response.body)
        self.finish()


class VoilaAssetHandler(LessonServerProxy):
    async def get(self, path: str) -> None:
        if {"", ".", ".."} & set(path.split("/")) or "\\" in path:
            raise web.HTTPError(404)  # ``..%2F``: nothing outside the assets is asked for
        await self.forward(path)


class KernelTicketed:
    """Mixin: the request's kernel id must have a ticket (a page that was handed the kernel)."""

    async def require_ticket(self, kernel_id: str, wait: float = 0) -> str:
        redis = self.application.settings["redis"]  # type: ignore[attr-defined]
        deadline = asyncio.get_running_loop().time() + wait
        while True:
            holder = await lesson_proxy.ticket_holder(redis, kernel_id)
            if holder is not None:
                return holder
            if asyncio.get_running_loop().time() >= deadline:
                raise web.HTTPError(404, "There is no such lesson kernel.")
            await asyncio.sleep(0.1)


class KernelShutdownHandler(KernelTicketed, LessonServerProxy):
    """The lesson page asks to stop its kernel when it is closed (the player's beacon).

    The same lesson open in another tab of the person runs on the same kernel
    (``lesson_kernels``): once the closing page's connection has gone, a kernel that another
    page is still connected to is kept."""

    async def post(self, kernel_id: str) -> None:
        holder = await self.require_ticket(kernel_id)
        client = lesson_server(self.application)
        await asyncio.sleep(CLOSING_PAGE_SECONDS)
        if await client.kernel_connections(kernel_id) > 0:
            self.set_status(204)
            self.finish()
            return
        person, lesson_id = lesson_proxy.ticket_parts(holder)
        redis = self.application.settings["redis"]
        # Forgotten first: a reload's new page must not be handed this kernel while it stops.
        await lesson_kernels.forget(redis, person, lesson_id, kernel_id)
        await self.forward(f"voila/api/shutdown/{kernel_id}", method="POST")
        await lesson_proxy.revoke_ticket(redis, kernel_id)


class KernelModelHandler(KernelTicketed, LessonServerProxy):
    async def get(self, kernel_id: str) -> None:
        await self.require_ticket(kernel_id)
        await self.forward(f"api/kernels/{kernel_id}")


class KernelSocketProxy(KernelTicketed, websocket.WebSocketHandler):
    """A kernel's WebSocket (or Voilà's pre-heat request-info socket), relayed both ways."""

    upstream: WebSocketClientConnection | None = None

    def initialize(self, upstream_path: str) -> None:
        self.upstream_path = upstream_path
        self._early: list[str | bytes] = []
        self._open = False

    def check_origin(self, origin: str) -> bool:
        # The sandboxed lesson page's origin is "null"; a page of this site is fine too.
        return origin == "null" or super().check_origin(origin)

    async def get(self, *args: Any, **kwargs: Any) -> None:
        kernel_id = args[0]
        await self.require_ticket(kernel_id, wait=TICKET_WAIT_SECONDS)
        client = lesson_server(self.application)
        path = self.upstream_path.format(kernel_id=kernel_id)
        query = f"?{self.request.query}" if self.request.query else ""
        wanted = self.request.headers.get("Sec-WebSocket-Protocol", "")
        try:
            self.upstream = await websocket.websocket_connect(
                HTTPRequest(
                    f"{client.websocket_url}/{path}{query}",
                    headers=client.headers(),
                    connect_timeout=5,
                ),
                on_message_callback=self._from_kernel,
                subprotocols=[p.strip() for p in wanted.split(",") if p.strip()] or None,
                max_message_size=64 * 1024 * 1024,
            )
        except (OSError, web.HTTPError, httputil.HTTPInputError, websocket.WebSocketError):
            raise web.HTTPError(503, UNAVAILABLE) from None
        await super().get(*args, **kwargs)

    def select_subprotocol(self, subprotocols: list[str]) -> str | None:
        chosen = self.upstream.selected_subprotocol if self.upstream else None
        return chosen if chosen in subprotocols else None

    def open(self, *args: Any, **kwargs: Any) -> None:
        self._open = True
        for message in self._early:
            self._to_browser(message)
        self._early.clear()

    def on_message(self, message: str | bytes) -> None:
        if self.upstream is not None:
            self.upstream.write_message(message, binary=isinstance(message, bytes))

    def _from_kernel(self, message: str | bytes | None) -> None:
        if message is None:
            self.close()
        elif self._open:
            self._to_browser(message)
        else:
            self._early.append(message)

    def _to_browser(self, message: str | bytes) -> None:
        try:
            self.write_message(message, binary=isinstance(message, bytes))
        except websocket.WebSocketClosedError:
            pass

    def on_close(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
            self.upstream = None


def default_handlers(prefix: str) -> list[tuple[Any, ...]]:
    voila = f"{prefix}/voila"
    return [
        (rf"{prefix}/learn/([\w-]+)/(\d+)/frame", LessonFrameHandler),
        *[(rf"{voila}/({path})", VoilaAssetHandler) for path in lesson_proxy.ASSET_PATHS],
        (
            rf"{voila}/api/kernels/({KERNEL_ID})/channels",
            KernelSocketProxy,
            {"upstream_path": "api/kernels/{kernel_id}/channels"},
        ),
        (
            rf"{voila}/voila/query/({KERNEL_ID})",
            KernelSocketProxy,
            {"upstream_path": "voila/query/{kernel_id}"},
        ),
        (rf"{voila}/api/kernels/({KERNEL_ID})", KernelModelHandler),
        (rf"{voila}/voila/api/shutdown/({KERNEL_ID})", KernelShutdownHandler),
    ]
