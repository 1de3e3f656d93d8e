"""The rules of ``web.teach_base`` that need no server: an id from the address names a row
only within the database's integers, and a streamed upload past its limit is read and dropped,
then refused with a 413."""

from __future__ import annotations

import contextvars

import pytest
from tornado import httputil, web

from coursehub.hub.constants import Role
from coursehub.services.web.teach_base import (
    MAX_ROW_ID,
    BodyStreamHandler,
    TeachHandler,
    row_id,
)


def test_an_id_from_the_address_is_a_number():
    assert row_id("42") == 42
    assert row_id("007") == 7
    assert row_id(str(MAX_ROW_ID)) == 2**31 - 1


@pytest.mark.parametrize("raw", [str(MAX_ROW_ID + 1), "9" * 40])
def test_an_id_beyond_the_databases_integers_names_nothing(raw):
    with pytest.raises(web.HTTPError) as refused:
        row_id(raw)
    assert refused.value.status_code == 404
    assert "no such item" in refused.value.log_message


class Connection:
    """Tornado's side of a request that is never answered over a socket."""

    def set_close_callback(self, callback: object) -> None:
        pass


class Upload(BodyStreamHandler):
    """The smallest upload handler: it keeps what it is given."""

    def too_large(self, size: int) -> str:
        return f"{size} bytes is too large."

    def chunk(self, data: bytes) -> None:
        self.kept.append(data)


def upload(limit: int) -> Upload:
    request = httputil.HTTPServerRequest(
        start_line=httputil.RequestStartLine("POST", "/services/coursehub/api/x", "HTTP/1.1"),
        headers=httputil.HTTPHeaders({"Host": "coursehub.example"}),
        connection=Connection(),
    )
    # in a context of its own: a handler keeps its request id in a context variable
    handler = contextvars.copy_context().run(Upload, web.Application(), request)
    handler.kept, handler.body_limit = [], limit
    return handler


def test_an_upload_within_its_limit_is_taken_piece_by_piece():
    handler = upload(10)
    handler.data_received(b"12345")
    handler.data_received(b"67890")
    handler.raise_refusal()  # nothing to refuse
    assert handler.kept == [b"12345", b"67890"]


def test_a_body_past_its_limit_is_read_and_dropped_then_refused():
    handler = upload(10)
    handler.data_received(b"123456")
    handler.data_received(b"789012")
    handler.data_received(b"more")
    assert handler.kept == [b"123456"]
    with pytest.raises(web.HTTPError) as refused:
        handler.raise_refusal()
    assert refused.value.status_code == 413
    assert refused.value.log_message == "12 bytes is too large."


def test_instructor_pages_are_for_instructors():
    assert TeachHandler.min_role is Role.INSTRUCTOR
