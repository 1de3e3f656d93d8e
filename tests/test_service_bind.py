"""The course service on an address other than loopback, as in the Kubernetes layout where the
hub's proxy reaches it from another pod: CourseHub started with ``COURSEHUB_SERVICE_BIND_IP``
set to this machine's network address and the hub told to reach the service there
(``COURSEHUB_SERVICE_CONNECT_URL``). The proxy routes to it, the hub's authenticator signs
people in through it, it answers on that address and not on loopback, and its internal
endpoints, now reachable by anyone on the network, refuse every caller without the hub's
token."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from coursehub.hub.constants import SERVICE_PREFIX
from coursehub.services.settings import Settings
from tests.platform import (
    Platform,
    claim_redis_db,
    create_database,
    drop_database,
    platform_env,
    release_redis_db,
    sign_in,
)

ADMIN_EMAIL = "bind-admin@coursehub.example"
ADMIN_PASSWORD = "a-long-admin-password-1"
INTERNAL = ("password-sign-in", "google-sign-in", "ticket-sign-in", "unread-count", "server-quotas")


def network_address() -> str:
    """This machine's address on its network (the one a route out leaves from)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: only the route is looked up
        address = probe.getsockname()[0]
    assert not address.startswith("127."), "this machine has no address besides loopback"
    return address


class Bound:
    def __init__(self, platform: Platform, address: str, port: int, token: str) -> None:
        self.platform, self.address, self.port, self.token = platform, address, port, token

    @property
    def direct(self) -> str:
        return f"http://{self.address}:{self.port}{SERVICE_PREFIX}"


@pytest.fixture(scope="module")
def bound(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bound]:
    address = network_address()
    data_dir = tmp_path_factory.mktemp("service-bind")
    database, redis_db = create_database(), claim_redis_db()
    env = platform_env(data_dir, database, redis_db)
    port = int(env["COURSEHUB_SERVICE_PORT"])
    env.update(
        COURSEHUB_SERVICE_BIND_IP=address,
        COURSEHUB_SERVICE_CONNECT_URL=f"http://{address}:{port}",
        COURSEHUB_ADMIN_EMAIL=ADMIN_EMAIL,
        COURSEHUB_ADMIN_PASSWORD=ADMIN_PASSWORD,
        COURSEHUB_WORKERS="0",
    )
    platform = Platform(url=env["COURSEHUB_BIND_URL"], data_dir=data_dir, env=env)
    platform.start(timeout=240)
    # The service's hub token, as `coursehub up` generated it for the hub to hand over.
    token = json.loads((data_dir / "secrets.json").read_text())["service_token"]
    yield Bound(platform, address, port, token)
    platform.stop()
    drop_database(database)
    release_redis_db(redis_db)


def test_the_service_answers_on_its_bind_address_and_not_on_loopback(bound: Bound) -> None:
    health = httpx.get(f"{bound.direct}/health", timeout=10)
    assert health.status_code in (200, 503) and "database" in health.json()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{bound.port}{SERVICE_PREFIX}/health", timeout=5)
    assert f"listening on {bound.address}:{bound.port}" in bound.platform.log()


def test_the_proxy_and_the_hub_reach_it_there(bound: Bound) -> None:
    """Through the proxy, as people use it: the hub's sign-in asks the service (internal
    call with the hub's token at the connect URL), then the course pages open."""
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        signed_in = sign_in(client, bound.platform.url, ADMIN_EMAIL, ADMIN_PASSWORD)
        assert signed_in.status_code == 200, signed_in.text[-2000:]
        courses = client.get(f"{bound.platform.service_url}/courses")
        assert courses.status_code == 200
        assert str(courses.url).startswith(bound.platform.url)


def test_internal_endpoints_refuse_callers_without_the_hubs_token(bound: Bound) -> None:
    """Anyone on the network reaches the service now; being near is no credential."""
    body = {"login": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "name": "x", "ticket": "x"}
    for endpoint in INTERNAL:
        url = f"{bound.direct}/api/internal/{endpoint}"
        for headers in (
            {},
            {"Authorization": "token not-the-hubs"},
            {"X-Forwarded-For": "127.0.0.1"},
        ):
            refused = httpx.post(url, json=body, headers=headers, timeout=10)
            assert refused.status_code == 403, (endpoint, headers, refused.text)
            assert ADMIN_EMAIL not in refused.text
    # The hub's token opens them: the refusals above were for the caller, not the route.
    hub = {"Authorization": f"token {bound.token}"}
    admitted = httpx.post(
        f"{bound.direct}/api/internal/password-sign-in",
        json={"login": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        headers=hub,
        timeout=10,
    )
    assert admitted.status_code == 200, admitted.text
    quotas = httpx.post(f"{bound.direct}/api/internal/server-quotas", json={}, headers=hub)
    assert quotas.status_code == 200 and set(quotas.json()) == {"memory_mb", "cpus"}


def test_a_bind_address_that_is_not_an_ip_stops_the_service_with_a_sentence() -> None:
    base = {
        "DATABASE_URL": "postgresql://x/y",
        "REDIS_URL": "redis://x",
        "COURSEHUB_COOKIE_SECRET": "s",
    }
    assert Settings.from_env(base).bind_ip == "127.0.0.1"
    everywhere = "0.0.0.0"  # noqa: S104 - what a pod of its own listens on
    assert (
        Settings.from_env({**base, "COURSEHUB_SERVICE_BIND_IP": everywhere}).bind_ip == everywhere
    )
    assert Settings.from_env({**base, "COURSEHUB_SERVICE_BIND_IP": "[::]"}).bind_ip == "::"
    with pytest.raises(RuntimeError, match="COURSEHUB_SERVICE_BIND_IP must be an IP address"):
        Settings.from_env({**base, "COURSEHUB_SERVICE_BIND_IP": "everywhere"})
