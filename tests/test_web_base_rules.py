"""The rules of ``web.base``'s handler that need no server: which hub scope a request needs,
what counts as the API, the JSON bodies accepted, and the headers every answer carries."""

from __future__ import annotations

import contextvars

import pytest
from tornado import httputil, web

from coursehub.hub.constants import SCOPE_READ, SCOPE_WRITE
from coursehub.services.web.base import MAX_JSON_BODY, BaseHandler


class Connection:
    """Tornado's side of a request that is never answered over a socket."""

    def set_close_callback(self, callback: object) -> None:
        pass


def handler(method: str = "POST", uri: str = "/services/coursehub/api/x", body: bytes = b""):
    request = httputil.HTTPServerRequest(
        start_line=httputil.RequestStartLine(method, uri, "HTTP/1.1"),
        headers=httputil.HTTPHeaders({"Host": "coursehub.example"}),
        body=body,
        connection=Connection(),
    )
    # in a context of its own: a handler keeps its request id in a context variable
    return contextvars.copy_context().run(BaseHandler, web.Application(), request)


@pytest.mark.parametrize(
    ("method", "scope"),
    [("GET", SCOPE_READ), ("HEAD", SCOPE_READ), ("OPTIONS", SCOPE_READ)]
    + [(m, SCOPE_WRITE) for m in ("POST", "PUT", "PATCH", "DELETE")],
)
def test_reading_needs_the_read_scope_and_anything_else_the_write_scope(method, scope):
    assert handler(method).hub_scopes == {scope}


def test_the_api_is_any_path_with_an_api_segment():
    assert handler(uri="/services/coursehub/api/courses").is_api
    assert not handler(uri="/services/coursehub/courses/api-design").is_api


def test_a_json_body_is_an_object_and_no_body_is_an_empty_one():
    assert handler(body=b'{"title": "Cells"}').json_body() == {"title": "Cells"}
    assert handler(body=b"").json_body() == {}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b'"text"', 400, "must be a JSON object"),
        (b" " * (MAX_JSON_BODY + 1), 413, "larger than 1 MiB"),
    ],
    ids=["not json", "a list", "a string", "too large"],
)
def test_other_bodies_are_refused_with_the_reason(body, status, message):
    with pytest.raises(web.HTTPError) as refused:
        handler(body=body).json_body()
    assert refused.value.status_code == status and message in refused.value.log_message


def test_a_body_of_exactly_1_mib_is_read():
    body = b'{"a": "' + b"x" * (MAX_JSON_BODY - 9) + b'"}'
    assert len(body) == MAX_JSON_BODY
    assert len(handler(body=body).json_body()["a"]) == MAX_JSON_BODY - 9


def test_every_answer_forbids_sniffing_foreign_framing_and_cross_site_referrers():
    headers = handler()._headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in policy and "script-src 'self' 'nonce-" in policy


def test_answers_carry_no_etag():
    assert handler("GET").compute_etag() is None
