"""The rules of ``lessons.user_servers`` against a small stand-in for the hub's REST API (no
hub started): a person's server URL comes from the progress stream's ready event, the hub's
refusals and failures become sentences for the person, and a hub that is down is said so."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tornado import httpserver, web

from coursehub.services.lessons import user_servers
from coursehub.services.lessons.user_servers import (
    HubClient,
    ServerStartError,
    running_server_url,
)
from coursehub.services.settings import Settings


def test_progress_events_are_the_data_lines_that_are_json():
    body = b'data: {"progress": 50}\n\n: keepalive\ndata: not json\ndata:{"ready": true}\n'
    assert user_servers._events(body) == [{"progress": 50}, {"ready": True}]
    assert user_servers._events(None) == []
    assert user_servers._events(b"data: \xff\n") == []


def settings(api_url: str) -> Settings:
    return Settings(
        database_url="postgresql://unused",
        redis_url="redis://unused",
        data_dir=Path("/nonexistent"),
        hub_api_url=api_url,
        hub_api_token="secret-token",
    )


def test_hub_requests_carry_the_services_token_and_posts_an_empty_body():
    hub = HubClient(settings("http://hub.example/hub/api/"))
    try:
        post = hub.request("POST", "users/ada/server")
        get = hub.request("GET", "users/ada/server/progress", timeout=5)
    finally:
        hub.close()
    assert post.url == "http://hub.example/hub/api/users/ada/server"
    assert post.headers["Authorization"] == "token secret-token"
    assert post.body == b"{}" and get.body is None
    assert get.request_timeout == 5


class FakeHub:
    """What the stand-in answers: the status of "start the server", then the progress events."""

    def __init__(self) -> None:
        self.start_status = 202
        self.events: list[dict] = []
        self.paths: list[str] = []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
async def hub() -> AsyncIterator[tuple[FakeHub, Settings]]:
    fake = FakeHub()

    class Server(web.RequestHandler):
        def post(self, name: str) -> None:
            fake.paths.append(self.request.path)
            assert self.request.headers["Authorization"] == "token secret-token"
            self.set_status(fake.start_status)

    class Progress(web.RequestHandler):
        def get(self, name: str) -> None:
            for event in fake.events:
                self.write(f"data: {json.dumps(event)}\n\n")

    app = web.Application(
        [
            (r"/hub/api/users/([^/]+)/server", Server),
            (r"/hub/api/users/([^/]+)/server/progress", Progress),
        ]
    )
    port = free_port()
    server = httpserver.HTTPServer(app)
    server.listen(port, "127.0.0.1")
    yield fake, settings(f"http://127.0.0.1:{port}/hub/api")
    server.stop()


async def test_the_servers_url_is_the_ready_events(hub):
    fake, hub_settings = hub
    fake.events = [{"progress": 10}, {"progress": 100, "ready": True, "url": "/user/a b/"}]
    assert await running_server_url(hub_settings, "a b", seconds=10) == "/user/a b/"
    assert fake.paths == ["/hub/api/users/a%20b/server"]  # the name is quoted


async def test_an_account_the_hub_does_not_know_is_told_to_sign_in_again(hub):
    fake, hub_settings = hub
    fake.start_status = 404
    with pytest.raises(ServerStartError, match="does not know your account"):
        await running_server_url(hub_settings, "ada", seconds=10)


async def test_a_failed_start_gives_the_hubs_reason(hub):
    fake, hub_settings = hub
    fake.events = [{"failed": True, "message": "no space left"}]
    with pytest.raises(ServerStartError, match=r"could not start \(no space left\)"):
        await running_server_url(hub_settings, "ada", seconds=10)


async def test_a_server_that_never_gets_ready_is_too_long_to_start(hub):
    fake, hub_settings = hub
    fake.events = [{"progress": 10}]
    with pytest.raises(ServerStartError, match="taking too long"):
        await running_server_url(hub_settings, "ada", seconds=0.2)


async def test_a_hub_that_is_down_is_said_so():
    with pytest.raises(ServerStartError, match="cannot reach the hub"):
        await running_server_url(settings(f"http://127.0.0.1:{free_port()}/hub/api"), "ada", 5)
