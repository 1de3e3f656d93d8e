"""The host's side of a network-isolated notebook server: its folder of sockets and its relays,
owned by the spawner in the hub's process (see ``coursehub.hub.netbridge`` for the picture).

One ``ServerNetwork`` per running server:

- a folder of the hub's (root, 0755, read-only in the sandbox) holding ``hub.sock`` and
  ``platform.sock``, relayed to the hub's API and to the proxy (the platform's public address),
  and ``server/`` (the server's uid, 0700) where the sandbox's bridge listens as ``lab.sock``;
- the server's loopback port on the host, the address the hub hands to the proxy, relayed to
  ``server/lab.sock``. It is bound when the network starts (so no other server is handed the
  same port) but listens only once the server's socket exists, so that the hub's "is it up
  yet?" checks see a refused connection, as with any server that is still starting.

``stop`` closes every relay and connection and removes the folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from coursehub.hub.netbridge import (
    IDLE_SECONDS,
    MAX_CONNECTIONS,
    MAX_CONNECTIONS_OUT,
    Address,
    Relay,
    open_socket_of,
)

# Where servers' folders are made on the host (CourseSpawner.network_dir): short, since a Unix
# socket's path has at most 107 bytes.
NETWORK_DIR = "/run/coursehub-servers"
# Where the folder is seen inside the sandbox, whatever its path on the host.
INSIDE_FOLDER = "/coursehub-network"
SERVER_SOCKET = "server/lab.sock"
SOCKET_WAIT_S = 0.2


@dataclass(frozen=True)
class Route:
    """A destination the server may reach: a socket ``name`` in the folder, relayed on the
    host to ``target``, and seen in the server's namespace at 127.0.0.1:``inside_port``."""

    name: str
    target: Address
    inside_port: int
    max_connections: int = MAX_CONNECTIONS_OUT


@dataclass
class ServerNetwork:
    folder: Path
    uid: int
    port: int  # the server's loopback port, on the host and inside its namespace alike
    routes: tuple[Route, ...]
    max_connections: int = MAX_CONNECTIONS  # into the server; each route has its own
    idle_seconds: float = IDLE_SECONDS
    _relays: list[Relay] = field(default_factory=list, repr=False)
    _waiting: asyncio.Task[None] | None = field(default=None, repr=False)

    @classmethod
    def create(cls, parent: Path, uid: int, port: int, routes: tuple[Route, ...], **limits):  # type: ignore[no-untyped-def]
        """A fresh folder under ``parent`` (made root-only-writable if missing)."""
        parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f"{uid}-", dir=parent))
        folder.chmod(0o755)
        (folder / "server").mkdir(mode=0o700)
        os.chown(folder / "server", uid, uid)
        return cls(folder=folder, uid=uid, port=port, routes=routes, **limits)

    @property
    def running(self) -> bool:
        return bool(self._relays)

    async def start(self) -> None:
        """Listen on the routes' sockets and reserve the server's port on the host."""
        try:
            for route in self.routes:
                relay = self._relay(
                    f"{route.name} → {route.target}", route.target.connect, route.max_connections
                )
                await relay.serve(
                    Address(path=str(self.folder / f"{route.name}.sock")).listen(0o666)
                )
            port = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        except BaseException:
            await self.stop()
            raise
        try:
            port.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            port.bind(("127.0.0.1", self.port))
        except BaseException:
            port.close()
            await self.stop()
            raise
        self._waiting = asyncio.ensure_future(self._listen_when_the_server_does(port))

    def _relay(self, name: str, connect, most: int) -> Relay:  # type: ignore[no-untyped-def]
        relay = Relay(name, connect, most, self.idle_seconds)
        self._relays.append(relay)
        return relay

    async def _listen_when_the_server_does(self, port: socket.socket) -> None:
        lab = self.folder / SERVER_SOCKET
        try:
            while not lab.is_socket():  # noqa: ASYNC110 - another process makes it
                await asyncio.sleep(SOCKET_WAIT_S)
            port.listen(128)
            port.setblocking(False)
            relay = self._relay(
                f"port {self.port} → {lab}",
                lambda: open_socket_of(lab, self.uid),
                self.max_connections,
            )
            await relay.serve(port)
        except BaseException:
            port.close()
            raise

    async def stop(self) -> None:
        if self._waiting is not None:
            self._waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await self._waiting
        relays, self._relays = self._relays, []
        for relay in relays:
            await relay.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def bridge_command(self) -> list[str]:
        """The arguments of ``python -m coursehub.hub.netbridge`` in the sandbox (the server's
        command follows), with the folder at ``INSIDE_FOLDER``."""
        forwards = [
            f"--forward=127.0.0.1:{route.inside_port}={INSIDE_FOLDER}/{route.name}.sock"
            for route in self.routes
        ]
        return [
            "-m", "coursehub.hub.netbridge",
            *forwards,
            f"--serve={INSIDE_FOLDER}/{SERVER_SOCKET}=127.0.0.1:{self.port}",
            f"--max-in={self.max_connections}",
            f"--max-out={max((route.max_connections for route in self.routes), default=0)}",
            f"--idle-seconds={self.idle_seconds:g}",
            "--",
        ]  # fmt: skip

    def inside_url(self, name: str) -> str:
        """The route's address in the server's namespace (plain HTTP, whatever the host's
        side speaks)."""
        route = next(route for route in self.routes if route.name == name)
        return f"http://127.0.0.1:{route.inside_port}"
