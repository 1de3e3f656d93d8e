"""A refusal never breaks the connection it came on without saying so: the hub's proxy keeps
connections to the course service open and reuses them for other people's requests, so a
socket dropped silently after an answer turns someone else's next request into a 503."""

from __future__ import annotations

import socket

import pytest

STREAMING_ROUTES = (
    "/services/coursehub/api/uploads",
    "/services/coursehub/api/lessons/1/versions",
)


def exchange(sock: socket.socket, request: bytes) -> bytes | None:
    """Send one request and read one whole answer (headers and a Content-Length body);
    None if the server closed the connection instead of answering."""
    data = b""
    try:
        sock.sendall(request)
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
    except ConnectionError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head


@pytest.mark.parametrize("path", STREAMING_ROUTES)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_anonymous_request_to_a_streaming_route_is_refused_and_the_connection_stays_sound(
    platform, method, path
):
    port = int(platform.env["COURSEHUB_SERVICE_PORT"])
    body = b"x" * 10 if method == "POST" else b""
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    health = b"GET /services/coursehub/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = exchange(sock, request)
        assert head is not None, "the service dropped the connection without an answer"
        status = head.split(b"\r\n", 1)[0]
        assert status.split()[1] in (b"302", b"401", b"403"), status
        says_close = b"connection: close" in head.lower()
        following = exchange(sock, health)
    # Either the connection carries the next request, or the refusal said it would close.
    assert following is not None or says_close, (
        "the service closed the connection after its answer without Connection: close"
    )
