"""A person's notebook server has a network of its own (issue 13, finding 1): from the server
and from its kernels, Redis, PostgreSQL (TCP and its Unix socket), the course service's and
the lesson server's internal ports, the proxy's API and other people's servers do not answer,
while the hub's API (with the server's token) and the course service through the proxy do,
and JupyterLab still works through the proxy (HTTP, and a cell run over the kernel's
WebSocket). The relays are bounded and go away with the server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import psutil
import pytest
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from coursehub.hub.netbridge import Address, Relay, open_socket_of
from tests.test_lab_extension import Hub

POSTGRES_SOCKETS = ("/var/run/postgresql/.s.PGSQL.5432", "/run/postgresql/.s.PGSQL.5432")

# What the server's namespace must not reach, and what it must (printed as JSON).
PROBE = """
import json, os, socket, sys, urllib.request

def tcp(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        return "answers"
    except OSError as error:
        return type(error).__name__

def unix(path):
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(3)
            sock.connect(path)
        return "answers"
    except OSError as error:
        return type(error).__name__

def get(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=20) as answer:
        return json.load(answer)

ports, sockets, token = json.loads(globals().get("PROBE_INPUT") or sys.argv[1])
seen = {name: tcp(port) for name, port in ports.items()}
seen.update({path: unix(path) for path in sockets})
seen["interfaces"] = [name for _, name in socket.if_nameindex()]
if token:
    seen["hub user"] = get(os.environ["JUPYTERHUB_API_URL"] + "/user", token)["name"]
    seen["service me"] = get(os.environ["COURSEHUB_SERVICE_URL"] + "/api/me", token)["username"]
print(json.dumps(seen))
"""


def port_of(url: str) -> int:
    return urlparse(url).port or 80


def forbidden_ports(platform, other_server_port: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    env = platform.env
    return {
        "redis": port_of(env["REDIS_URL"]),
        "postgresql": port_of(env["DATABASE_URL"]),
        "course service": int(env["COURSEHUB_SERVICE_PORT"]),
        "lesson server": int(env["COURSEHUB_LESSON_PORT"]),
        "proxy api": port_of(env["COURSEHUB_PROXY_API_URL"]),
        "another server": other_server_port,
    }


def server_process(username: str) -> psutil.Process:
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if "jupyterhub.singleuser" in command and "coursehub.hub.netbridge" not in command:
            try:
                environ = Path(f"/proc/{process.pid}/environ").read_bytes()
            except OSError:
                continue
            if f"JUPYTERHUB_USER={username}\0".encode() in environ:
                return process
    raise AssertionError(f"no server process for {username}")


def environment_of(process: psutil.Process) -> dict[str, str]:
    raw = Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


async def run_cell(platform, username: str, token: str, kernel_id: str, code: str) -> str:  # type: ignore[no-untyped-def]
    """Execute ``code`` over the kernel's WebSocket through the proxy; its stdout."""
    url = (
        platform.url.replace("http", "ws", 1) + f"/user/{username}/api/kernels/{kernel_id}/channels"
    )
    connection = await websocket_connect(
        HTTPRequest(url, headers={"Authorization": f"token {token}"}, request_timeout=60)
    )
    msg_id = uuid.uuid4().hex
    connection.write_message(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "username": username,
                    "session": uuid.uuid4().hex,
                    "version": "5.3",
                    "date": "",
                },
                "parent_header": {},
                "metadata": {},
                "content": {"code": code, "silent": False, "store_history": False},
                "channel": "shell",
                "buffers": [],
            }
        )
    )
    out, deadline = [], time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            message = await asyncio.wait_for(connection.read_message(), 60)
            assert message is not None, "the kernel's WebSocket closed"
            reply = json.loads(message)
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if reply["msg_type"] == "stream":
                out.append(reply["content"]["text"])
            elif reply["msg_type"] == "error":
                raise AssertionError("\n".join(reply["content"]["traceback"]))
            elif reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
                return "".join(out)
    finally:
        connection.close()
    raise AssertionError("the cell did not finish")


@contextlib.contextmanager
def running_servers(platform, db, *stems: str):  # type: ignore[no-untyped-def]
    """Students with their servers started through the hub, stopped afterwards."""
    from coursehub.hub.constants import Role
    from tests.test_lab_extension import add_account, sign_in_as

    hub = Hub(platform)
    people = [sign_in_as(platform, hub, add_account(db, Role.STUDENT, stem)) for stem in stems]
    try:
        for person in people:
            hub.start(person.name)
        yield hub, people
    finally:
        for person in people:
            if hub.server(person.name):
                hub.stop(person.name)
            person.browser.close()
            person.server.close()
        hub.http.close()


@pytest.fixture(scope="module")
def two_servers(platform, db):  # type: ignore[no-untyped-def]
    with running_servers(platform, db, "net1", "net2") as running:
        yield running


def test_a_server_and_its_kernels_reach_only_the_hub_and_the_proxy(two_servers, platform):
    hub, (person, other) = two_servers
    token = hub.token_for(person.name)
    process = server_process(person.name)
    env = environment_of(process)
    assert env["JUPYTERHUB_API_URL"].startswith("http://127.0.0.1:")
    assert env["COURSEHUB_SERVICE_URL"].endswith("/services/coursehub")
    other_port = port_of(environment_of(server_process(other.name))["JUPYTERHUB_SERVICE_URL"])
    assert other_port != port_of(env["JUPYTERHUB_SERVICE_URL"])
    probe_input = json.dumps([forbidden_ports(platform, other_port), POSTGRES_SOCKETS, token])
    # On the host every one of them answers (so that "refused" below means something).
    on_host = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps([*json.loads(probe_input)[:2], ""])],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    answering = {name for name, seen in json.loads(on_host.stdout).items() if seen == "answers"}
    assert set(forbidden_ports(platform, 0)) <= answering, on_host.stdout
    assert json.loads(on_host.stdout)["interfaces"] != ["lo"]
    assert answering & set(POSTGRES_SOCKETS), "PostgreSQL has a Unix socket on the host"
    unreachable = {name: "ConnectionRefusedError" for name in forbidden_ports(platform, 0)}
    for path in POSTGRES_SOCKETS:  # not there at all: no /run or /var in the sandbox
        unreachable[path] = "FileNotFoundError"
    # Only a loopback of its own: no way to the host's other addresses or the internet.
    allowed = {"hub user": person.name, "service me": person.name, "interfaces": ["lo"]}

    # JupyterLab through the proxy, then a cell in a kernel over its WebSocket.
    lab = person.server.get("/lab")
    assert lab.status_code == 200 and "JupyterLab" in lab.text
    started = person.server.post("/api/kernels", json={"name": "python3"})
    assert started.status_code == 201, started.text
    kernel_id = started.json()["id"]
    try:
        code = f"PROBE_INPUT = {probe_input!r}\n{PROBE}"
        printed = asyncio.run(run_cell(platform, person.name, token, kernel_id, code))
        assert json.loads(printed) == unreachable | allowed
        kernels = [
            p for p in process.children(recursive=True) if "ipykernel" in " ".join(p.cmdline())
        ]
        assert kernels, "the kernel should be the server's child"
        assert os.readlink(f"/proc/{kernels[0].pid}/ns/net") == os.readlink(
            f"/proc/{process.pid}/ns/net"
        )
    finally:
        person.server.delete(f"/api/kernels/{kernel_id}")

    # From the server's own network namespace (root enters it; the host's file system).
    assert os.readlink(f"/proc/{process.pid}/ns/net") != os.readlink("/proc/self/ns/net")
    seen = subprocess.run(
        ["nsenter", f"--net=/proc/{process.pid}/ns/net", sys.executable, "-c", PROBE, probe_input],
        capture_output=True, text=True, timeout=120, env={**os.environ, **_inside_urls(env)},
    )  # fmt: skip
    assert seen.returncode == 0, seen.stderr
    reached = json.loads(seen.stdout)
    for path in POSTGRES_SOCKETS:  # the host's file system: the socket exists, not the route
        reached.pop(path)
    assert (
        reached
        == {name: "ConnectionRefusedError" for name in forbidden_ports(platform, 0)} | allowed
    )


def _inside_urls(env: dict[str, str]) -> dict[str, str]:
    return {key: env[key] for key in ("JUPYTERHUB_API_URL", "COURSEHUB_SERVICE_URL")}


def test_stopping_a_server_removes_its_sockets_and_relays(platform, db):  # type: ignore[no-untyped-def]
    with running_servers(platform, db, "netstop") as (hub, (person,)):
        process = server_process(person.name)
        port = port_of(environment_of(process)["JUPYTERHUB_SERVICE_URL"])
        bridges = [
            child
            for child in process.children()
            if "coursehub.hub.netbridge" in " ".join(child.cmdline())
        ]
        assert len(bridges) == 1
        folder = host_folder_of(process)
        assert (folder / "hub.sock").is_socket() and (folder / "server" / "lab.sock").is_socket()
        hub.stop(person.name)
        assert not process.is_running() and not bridges[0].is_running()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=3).close()
        assert not folder.exists()


def test_a_server_that_dies_takes_its_bridge_and_in_time_its_sockets_with_it(platform, db):  # type: ignore[no-untyped-def]
    with running_servers(platform, db, "netkill") as (hub, (person,)):
        process = server_process(person.name)
        port = port_of(environment_of(process)["JUPYTERHUB_SERVICE_URL"])
        (bridge,) = [
            child
            for child in process.children()
            if "coursehub.hub.netbridge" in " ".join(child.cmdline())
        ]
        folder = host_folder_of(process)
        process.kill()
        bridge.wait(timeout=10)  # at once: it dies with the server
        # The hub notices at its next poll of the server (every 30 s) and ends the relays.
        deadline = time.monotonic() + 90
        while folder.exists() or hub.server(person.name):
            assert time.monotonic() < deadline, "the dead server's relays stayed"
            time.sleep(1)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=3).close()


def host_folder_of(process: psutil.Process) -> Path:
    """The host folder bound at /coursehub-network in the server's sandbox."""
    for line in Path(f"/proc/{process.pid}/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == "/coursehub-network":
            for candidate in (Path("/run") / fields[3].lstrip("/"), Path(fields[3])):
                if (candidate / "hub.sock").exists():
                    return candidate
    raise AssertionError("the server has no network folder")


# -- the relays' bounds and the host side's care (no platform needed) ------------------------


async def _echo_server(path: Path) -> asyncio.base_events.Server:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
        writer.close()

    return await asyncio.start_unix_server(echo, path=str(path))


async def _said_back(port: int, words: bytes = b"hello") -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(words)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(1024), 5)
    except ConnectionResetError:
        return b""
    finally:
        writer.close()


def test_a_relay_refuses_connections_past_its_bound_and_closes_idle_ones(tmp_path):
    async def scenario() -> None:
        echo = await _echo_server(tmp_path / "echo.sock")
        target = Address(path=str(tmp_path / "echo.sock"))
        relay = Relay("test", target.connect, max_connections=2, idle_seconds=1.0)
        await relay.serve(Address("127.0.0.1", 0).listen())
        port = relay.server.sockets[0].getsockname()[1]
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        for reader, writer in held:
            writer.write(b"ping")
            assert await asyncio.wait_for(reader.read(1024), 5) == b"ping"
        assert await _said_back(port) == b""  # the third is closed at once
        await asyncio.sleep(1.5)  # both held connections idle past the bound
        for reader, _ in held:
            assert await asyncio.wait_for(reader.read(1024), 5) == b""
        assert await _said_back(port) == b"hello"  # room again
        await relay.close()
        echo.close()
        await echo.wait_closed()

    asyncio.run(scenario())


def test_the_host_side_never_follows_a_link_out_of_the_server_folder(tmp_path):
    async def scenario() -> None:
        echo = await _echo_server(tmp_path / "host-service.sock")
        (tmp_path / "lab.sock").symlink_to(tmp_path / "host-service.sock")
        with pytest.raises(ConnectionRefusedError):
            await open_socket_of(tmp_path / "lab.sock", os.geteuid())
        with pytest.raises(ConnectionRefusedError):  # a socket, but not the server's uid
            await open_socket_of(tmp_path / "host-service.sock", os.geteuid() + 1)
        reader, writer = await open_socket_of(tmp_path / "host-service.sock", os.geteuid())
        writer.write(b"ok")
        assert await asyncio.wait_for(reader.read(10), 5) == b"ok"
        writer.close()
        echo.close()

    asyncio.run(scenario())


def test_a_proxy_that_speaks_tls_itself_is_reached_over_tls_while_the_server_speaks_http(
    tmp_path,
):
    """With JupyterHub's ssl_cert the proxy listens with TLS for a public name; the server's
    side of the relay stays plain HTTP on 127.0.0.1 and the host's side speaks TLS."""
    import ssl

    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=courses.example.org", "-keyout", str(tmp_path / "key.pem"),
         "-out", str(tmp_path / "cert.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")

    async def scenario() -> None:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.read(1024))
            await writer.drain()
            writer.close()

        proxy = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=context)
        target = Address.parse(f"tls://127.0.0.1:{proxy.sockets[0].getsockname()[1]}")
        assert target.tls and Address.parse(str(target)) == target
        relay = Relay("platform", target.connect)
        await relay.serve(Address("127.0.0.1", 0).listen())
        assert await _said_back(relay.server.sockets[0].getsockname()[1]) == b"hello"
        await relay.close()
        proxy.close()

    asyncio.run(scenario())
