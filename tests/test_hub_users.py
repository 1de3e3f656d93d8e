"""``accounts.hub_users``: when an administrator changes someone's role, the hub hears of it
at once (its admin flag, the instructors group). Against a stand-in hub API that records the
calls: someone who never signed in is left for their first sign-in; a missing instructors
group is made with them in it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tornado import httpserver, web
from tornado.httpclient import HTTPClientError

from coursehub.hub.constants import INSTRUCTORS_GROUP, Role
from coursehub.services.accounts.hub_users import push_role
from coursehub.services.settings import Settings
from tests.platform import free_port

TOKEN = "service-token"


@dataclass
class FakeHub:
    users: set[str]
    has_group: bool = True
    calls: list[tuple[str, str, object]] = field(default_factory=list)


class Api(web.RequestHandler):
    SUPPORTED_METHODS = ("PATCH", "POST", "DELETE")

    def initialize(self, hub: FakeHub) -> None:
        self.hub = hub

    def _answer(self, path: str) -> None:
        if self.request.headers.get("Authorization") != f"token {TOKEN}":
            raise web.HTTPError(403)
        body = json.loads(self.request.body) if self.request.body else None
        self.hub.calls.append((self.request.method, path, body))
        if path.startswith("users/") and path.removeprefix("users/") not in self.hub.users:
            raise web.HTTPError(404)
        if path.endswith("/users") and not self.hub.has_group:
            raise web.HTTPError(404)
        if path == f"groups/{INSTRUCTORS_GROUP}":
            self.hub.has_group = True
        self.finish("{}")

    patch = post = delete = _answer


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[FakeHub, Settings]]:
    state = FakeHub(users={"ada", "bob"})
    port = free_port()
    server = httpserver.HTTPServer(web.Application([(r"/hub/api/(.*)", Api, {"hub": state})]))
    server.listen(port, "127.0.0.1")
    settings = Settings(
        database_url="",
        redis_url="",
        data_dir=tmp_path,
        hub_api_url=f"http://127.0.0.1:{port}/hub/api/",
        hub_api_token=TOKEN,
    )
    yield state, settings
    server.stop()


async def test_a_new_instructor_joins_the_group_and_loses_admin(hub):
    state, settings = hub
    assert await push_role(settings, "ada", Role.INSTRUCTOR)
    assert state.calls == [
        ("PATCH", "users/ada", {"admin": False}),
        ("POST", f"groups/{INSTRUCTORS_GROUP}/users", {"users": ["ada"]}),
    ]


async def test_an_administrator_is_an_admin_of_the_hub_and_a_student_leaves_the_group(hub):
    state, settings = hub
    assert await push_role(settings, "ada", Role.ADMIN)
    assert await push_role(settings, "bob", Role.STUDENT)
    assert state.calls[0] == ("PATCH", "users/ada", {"admin": True})
    assert state.calls[2:] == [
        ("PATCH", "users/bob", {"admin": False}),
        ("DELETE", f"groups/{INSTRUCTORS_GROUP}/users", {"users": ["bob"]}),
    ]


async def test_someone_who_never_signed_in_is_left_for_their_first_sign_in(hub):
    state, settings = hub
    assert await push_role(settings, "newcomer", Role.INSTRUCTOR) is False
    assert [method for method, *_ in state.calls] == ["PATCH"]


async def test_the_first_instructor_makes_the_instructors_group(hub):
    state, settings = hub
    state.has_group = False
    assert await push_role(settings, "ada", Role.INSTRUCTOR)
    assert state.calls[-1] == ("POST", f"groups/{INSTRUCTORS_GROUP}", {"users": ["ada"]})
    # A student removed from a group that does not exist is fine too.
    state.has_group = False
    assert await push_role(settings, "bob", Role.STUDENT)


async def test_other_hub_failures_are_raised(hub):
    _state, settings = hub
    wrong = Settings(
        database_url="",
        redis_url="",
        data_dir=settings.data_dir,
        hub_api_url=settings.hub_api_url,
        hub_api_token="not-the-token",
    )
    with pytest.raises(HTTPClientError) as error:
        await push_role(wrong, "ada", Role.ADMIN)
    assert error.value.code == 403
