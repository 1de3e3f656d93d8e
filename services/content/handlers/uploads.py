"""Uploading thumbnails and videos, and serving them back with byte ranges.

``POST /api/uploads?purpose=thumbnail|video&filename=…`` takes the file itself as the body,
streamed to disk as it arrives (never held in memory); role and declared size are checked
before the body is read, the type from its first bytes. ``GET /media/<upload id>`` serves a
file: thumbnails to anyone, videos to the people of a course that uses them, with HTTP Range
support (206 Partial Content) so the browser can seek in a video.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tornado import iostream, web

from coursehub.services.content import uploads
from coursehub.services.models import Upload
from coursehub.services.web.base import BaseHandler
from coursehub.services.web.teach_base import BodyStreamHandler, row_id

# Read and send a file in pieces this big, so a video never sits in memory whole.
SEND_CHUNK = 256 * 1024


@web.stream_request_body
class UploadsAPI(BodyStreamHandler):
    incoming: uploads.IncomingFile | None = None
    purpose = ""

    async def check_upload(self) -> int:
        settings = self.settings_obj
        self.purpose = uploads.check_purpose(self.get_query_argument("purpose", ""))
        async with self.db() as session:
            await self.account(session)
        limit = uploads.size_limit(settings, self.purpose)
        self.incoming = uploads.IncomingFile(settings.uploads_dir, self.purpose, limit)
        return limit

    def too_large(self, size: int) -> str:
        return uploads.too_large(self.purpose, self.body_limit).message

    def chunk(self, data: bytes) -> Any:
        assert self.incoming is not None
        return self.incoming.write(data)

    async def post(self) -> None:
        self.raise_refusal()
        assert self.incoming is not None
        await self.incoming.complete()
        async with self.db() as session:
            account = await self.account(session)
            upload = await uploads.record(
                session, self.incoming, account, self.get_query_argument("filename", "")
            )
            await session.commit()
        self.write_json(uploads.upload_json(upload, self.settings_obj.service_prefix), 201)

    def on_connection_close(self) -> None:
        super().on_connection_close()
        if self.incoming is not None:
            self.incoming.discard()

    def on_finish(self) -> None:
        # A kept file has left the part-file name already; anything else goes.
        if self.incoming is not None:
            self.incoming.discard()


class MediaHandler(BaseHandler):
    """An uploaded file; videos only for those who may watch them."""

    public = True

    async def get(self, upload_id: str) -> None:
        await self.serve(upload_id, include_body=True)

    async def head(self, upload_id: str) -> None:
        await self.serve(upload_id, include_body=False)

    async def serve(self, upload_id: str, include_body: bool) -> None:
        upload = await self.permitted_upload(row_id(upload_id))
        path = uploads.stored_path(self.settings_obj, upload)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise web.HTTPError(
                404, "This file is missing from the server's storage; upload it again."
            ) from None
        etag = f'"{upload.storage_name}"'
        self.set_header("Accept-Ranges", "bytes")
        self.set_header("ETag", etag)
        self.set_header(
            "Cache-Control",
            "public, max-age=86400"
            if upload.purpose == uploads.THUMBNAIL
            else "private, max-age=3600",
        )
        self.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
        if etag in self.request.headers.get("If-None-Match", ""):
            self.set_status(304)
            self.finish()
            return
        range_header = self.request.headers.get("Range")
        if_range = self.request.headers.get("If-Range")
        if if_range is not None and if_range != etag:
            range_header = None  # the file changed since the client's copy: send it whole
        try:
            byte_range = uploads.parse_byte_range(range_header, size)
        except uploads.RangeNotSatisfiable as error:
            self.set_status(416)
            self.set_header("Content-Range", f"bytes */{size}")
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish(f"{error} Ask for bytes between 0 and {size - 1}.\n")
            return
        self.set_header("Content-Type", upload.content_type)
        first, last = byte_range if byte_range else (0, size - 1)
        if byte_range:
            self.set_status(206)
            self.set_header("Content-Range", f"bytes {first}-{last}/{size}")
        length = max(0, last - first + 1)
        self.set_header("Content-Length", str(length))
        if include_body:
            await self.send_file(path, first, length)
        self.finish()

    async def permitted_upload(self, upload_id: int) -> Upload:
        async with self.db() as session:
            upload = await session.get(Upload, upload_id)
            if upload is None:
                raise web.HTTPError(404, "There is no such file.")
            account = await self.account(session) if self.current_user else None
            allowed = await uploads.may_download(session, account, upload)
            await session.commit()  # the account row of someone new to the service
        if upload.purpose == uploads.QUIZ_IMAGE and not allowed:
            raise web.HTTPError(
                401 if account is None else 403,
                "This image belongs to a course's quiz questions: it is for the course's "
                "students and staff.",
            )
        if not allowed and account is None:
            raise web.HTTPError(401, "Sign in to watch this video.")
        if not allowed:
            raise web.HTTPError(
                403,
                "This video is for the students and staff of its course. Enroll in the "
                "course to watch it.",
            )
        return upload

    async def send_file(self, path: Path, first: int, length: int) -> None:
        with path.open("rb") as stored:
            stored.seek(first)
            remaining = length
            while remaining > 0:
                chunk = await asyncio.to_thread(stored.read, min(SEND_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                self.write(chunk)
                try:
                    await self.flush()
                except iostream.StreamClosedError:
                    return  # the viewer seeked elsewhere or left


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/api/uploads", UploadsAPI),
        (rf"{prefix}/media/(\d+)", MediaHandler),
    ]
