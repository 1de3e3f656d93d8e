"""Nobody can make other people's requests fail: while anonymous visitors hammer the
streaming-upload routes through the platform's public URL (the hub's proxy) with refused
GETs, oversized uploads and uploads cut off half way, a signed-in student's 300 ordinary
requests through the same proxy all succeed; none of them answers 503 because the proxy
reused a connection the course service had dropped."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx

from coursehub.hub.constants import Role

STREAMING_ROUTES = ("/api/uploads", "/api/lessons/1/versions")
ORDINARY_REQUESTS = 300
ATTACKERS = 4
# The student's pace: their requests spread over a few seconds of attack.
PAUSE = 0.03


def raw(host: str, port: int, request: bytes, wait: float = 0.0) -> None:
    """Send bytes on a fresh socket, maybe read what comes back for a moment, then hang up
    (mid-upload, as a visitor who closes the tab)."""
    try:
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(request)
            if wait:
                sock.settimeout(wait)
                try:
                    sock.recv(4096)
                except OSError:
                    pass
    except OSError:
        pass


def attacks(base: str) -> list[object]:
    """The ways an anonymous visitor tried to break the shared connections, one per call."""
    parts = urlsplit(base)
    host, port, prefix = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
    head = f"Host: {host}:{port}\r\n"

    def anonymous_get(route: str) -> None:
        with httpx.Client(timeout=10) as http:
            http.get(f"{base}{route}")

    def oversized_then_cut_off(route: str) -> None:
        raw(
            host,
            port,
            (
                f"POST {prefix}{route} HTTP/1.1\r\n{head}Content-Type: application/octet-stream"
                f"\r\nContent-Length: {5 * 1024**3}\r\n\r\n"
            ).encode()
            + b"x" * 65536,
        )

    def chunked_then_cut_off(route: str) -> None:
        chunk = b"x" * 32768
        raw(
            host,
            port,
            (f"POST {prefix}{route} HTTP/1.1\r\n{head}Transfer-Encoding: chunked\r\n\r\n").encode()
            + b"%x\r\n" % len(chunk)
            + chunk
            + b"\r\n",
        )

    def headers_only(route: str) -> None:
        raw(
            host,
            port,
            f"PUT {prefix}{route} HTTP/1.1\r\n{head}Content-Length: 1000000\r\n\r\n".encode(),
            wait=0.2,
        )

    return [
        lambda route=route, attack=attack: attack(route)
        for route in STREAMING_ROUTES
        for attack in (anonymous_get, oversized_then_cut_off, chunked_then_cut_off, headers_only)
    ]


def test_anonymous_attacks_on_upload_routes_do_not_fail_a_students_requests(
    platform, make_account, signed_in
):
    student = signed_in(make_account(Role.STUDENT))
    stop = threading.Event()
    attempted = [0]

    def attacker(offset: int) -> None:
        moves = attacks(platform.service_url)
        step = offset
        while not stop.is_set() and attempted[0] < 3000:
            try:
                moves[step % len(moves)]()
            except httpx.HTTPError:
                pass
            attempted[0] += 1
            step += 1

    def ordinary(number: int) -> tuple[int, int | str]:
        path = "/api/me/courses" if number % 2 else "/courses"
        time.sleep(PAUSE)
        try:
            return number, student.get(f"{platform.service_url}{path}").status_code
        except httpx.HTTPError as error:
            return number, f"{type(error).__name__}: {error}"

    started = time.monotonic()
    with ThreadPoolExecutor(ATTACKERS) as attack_pool:
        for offset in range(ATTACKERS):
            attack_pool.submit(attacker, offset)
        try:
            with ThreadPoolExecutor(3) as pool:
                answers = list(pool.map(ordinary, range(ORDINARY_REQUESTS)))
        finally:
            stop.set()

    failed = [(number, status) for number, status in answers if status != 200]
    assert attempted[0] > 200, (
        f"only {attempted[0]} attacks ran in {time.monotonic() - started:.0f} s"
    )
    assert failed == [], f"{len(failed)} of the student's {ORDINARY_REQUESTS} failed: {failed[:10]}"
