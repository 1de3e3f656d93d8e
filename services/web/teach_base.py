"""What every instructor page and endpoint shares: the role, hub-token calls without XSRF,
large request bodies, and turning the authoring functions' errors into answers.

Not mounted by itself (no ``default_handlers``); ``teach``, ``teach_api``, ``lesson_versions``,
``categories`` and ``uploads`` derive from it.
"""

from __future__ import annotations

from typing import Any

from tornado import web

from coursehub.hub.constants import Role
from coursehub.services.settings import MB
from coursehub.services.web.base import BaseHandler

MAX_ROW_ID = 2**31 - 1
# How much of a refused upload is read (and dropped) so that the refusal reaches the client.
REFUSED_BODY_ALLOWANCE = 32 * MB


class TeachHandler(BaseHandler):
    min_role: Role | None = Role.INSTRUCTOR

    # Handlers taking large bodies check XSRF themselves, inside ``prepare()`` (the base
    # handler already defers the check for requests with a hub token).
    _xsrf_in_prepare = False

    def check_xsrf_cookie(self) -> None:
        if self._xsrf_in_prepare and not self._resolving_user:
            return
        super().check_xsrf_cookie()

    # -- errors -----------------------------------------------------------------------------

    def page_context(self) -> dict[str, Any]:
        context = super().page_context()
        token = self.xsrf_token
        # The page's script sends it as X-XSRFToken with its JSON calls.
        context["xsrf_token"] = token.decode() if isinstance(token, bytes) else token
        return context


class BodyStreamHandler(TeachHandler):
    """Takes a large raw POST body as it arrives (subclasses add ``@web.stream_request_body``).

    Everything that can refuse the upload (sign-in, XSRF, role, ownership, type, declared
    size) is decided before the body is read. The refusal is sent once the body has been read
    and dropped, when that body is not much larger than allowed: answering mid-upload makes
    Tornado close the connection, and the hub's proxy then reports a 503 instead of the
    refusal. A body far beyond that is refused at once, connection and all.
    """

    _xsrf_in_prepare = True
    refusal: web.HTTPError | None = None
    body_limit = 0
    received = 0

    async def check_upload(self) -> int:
        """Raise an HTTPError to refuse the upload, or return the largest body allowed."""
        raise NotImplementedError

    def too_large(self, size: int) -> str:
        raise NotImplementedError

    def chunk(self, data: bytes) -> Any:
        """Take one piece of an accepted body (may return an awaitable)."""
        raise NotImplementedError

    async def prepare(self) -> None:
        if self.request.method != "POST":
            await super().prepare()
            return
        declared = int(self.request.headers.get("Content-Length") or 0)
        try:
            self._resolving_user = True
            if "Authorization" not in self.request.headers:
                super().check_xsrf_cookie()
            await super().prepare()
            self.body_limit = await self.check_upload()
            if declared > self.body_limit:
                raise web.HTTPError(413, self.too_large(declared))
        except web.HTTPError as error:
            allowance = self.body_limit + min(self.body_limit, REFUSED_BODY_ALLOWANCE)
            if declared > max(allowance, REFUSED_BODY_ALLOWANCE):
                raise
            self.refusal = error
            self.request.connection.set_max_body_size(declared or REFUSED_BODY_ALLOWANCE)
            return
        # A body without Content-Length (chunked) is read and dropped past the limit, up to
        # the refusal allowance, so that it is answered with a 413 (``data_received``); one
        # beyond that is cut off, connection and all.
        allowance = min(self.body_limit, REFUSED_BODY_ALLOWANCE)
        self.request.connection.set_max_body_size(self.body_limit + allowance + 1)

    def finish(self, chunk: Any = None) -> Any:
        # Tornado drops the connection of a streaming request answered before its body was
        # read (a refusal in ``prepare``, even of a GET). Say so in the answer: the hub's proxy
        # would otherwise reuse the dropped socket for someone else's request, which then
        # fails with 503.
        body = getattr(self.request, "_body_future", None)
        if not self._headers_written and (body is None or not body.done()):
            self.set_header("Connection", "close")
        return super().finish(chunk)

    def data_received(self, data: bytes) -> Any:
        self.received += len(data)
        if self.refusal is None and self.received > self.body_limit:
            self.refusal = web.HTTPError(413, self.too_large(self.received))
        if self.refusal is not None:
            return None  # read and dropped
        return self.chunk(data)

    def raise_refusal(self) -> None:
        """At the start of ``post()``: send the refusal decided earlier, if any."""
        if self.refusal is not None:
            raise self.refusal


def row_id(raw: str) -> int:
    """A numeric id from the URL (the patterns let only digits through); ids beyond the
    database's integers name nothing."""
    number = int(raw)
    if number > MAX_ROW_ID:
        raise web.HTTPError(404, "There is no such item; check the address.")
    return number
