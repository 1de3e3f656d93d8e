"""Byte relays between a notebook server's network namespace and the host, through Unix sockets.

A sandboxed notebook server (``coursehub.hub.spawner``) runs with a network namespace of its
own (``Sandbox.isolate_network``): its loopback is its own, so Redis, PostgreSQL, the course
service's and the lesson server's internal ports, and other people's servers do not answer
there. What it must reach crosses over through Unix sockets in a folder shared with the host,
one per destination, and nothing else exists to connect to:

    host: the hub's process (``ServerNetwork``)   the server's namespace (this module)
    the hub's API  ← <folder>/hub.sock            ← 127.0.0.1:<hub port> (JUPYTERHUB_API_URL)
    the proxy      ← <folder>/platform.sock       ← 127.0.0.1:<platform port>
                                                    (COURSEHUB_SERVICE_URL, through the proxy)
    127.0.0.1:<port> → <folder>/server/lab.sock   → 127.0.0.1:<port>, the server itself

The hub's side owns the host end: it listens on ``hub.sock`` and ``platform.sock`` (the folder
is the hub's, read-only in the sandbox) and on the server's loopback port that the proxy
targets, relaying that port to ``server/lab.sock`` (the one folder the sandbox's uid writes),
which it opens without following links and only when it is a socket of the server's uid. The
sandbox's side is this module run as the sandboxed command: it binds its listeners, forks a
relay process that dies with the server, and execs the server in its place, so the server is
the sandbox's main process as before and its kernels inherit the same namespace.

Every relay is bounded: at most ``max_connections`` at once (more are closed at once) and a
connection idle in both directions for ``idle_seconds`` is closed. configurable-http-proxy
can target a Unix socket (``http+unix://``, in 5.3) but JupyterHub records a server's address
as protocol, ip and port only, so the proxy gets a loopback port.

This module imports nothing from the rest of CourseHub (it runs inside the sandbox).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
import logging
import os
import signal
import socket
import ssl
import stat
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("coursehub.netbridge")

CHUNK = 64 * 1024
CONNECT_TIMEOUT_S = 10.0
# A connection idle both ways this long is closed: the servers' own keep-alive bound
# (tornado's idle_connection_timeout), far above every heartbeat that crosses (kernel
# WebSocket pings every 30 s, the notification stream's keep-alive every 15 s).
IDLE_SECONDS = 3600.0
# Connections at once: into a server (browsers' requests and WebSockets through the proxy) and
# out of it, to each of the hub's API and the platform (the hub's process holds two files for
# each, so one server may not take the hub's file descriptors).
MAX_CONNECTIONS = 128
MAX_CONNECTIONS_OUT = 32
PR_SET_PDEATHSIG = 1
TLS_PREFIX = "tls://"

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass(frozen=True)
class Address:
    """A TCP ``host:port`` (``tls://host:port``: reached over TLS) or a Unix socket ``path``
    (written with a leading ``/``)."""

    host: str = ""
    port: int = 0
    path: str = ""
    tls: bool = False

    @classmethod
    def parse(cls, text: str) -> Address:
        if text.startswith("/"):
            return cls(path=text)
        tls = text.startswith(TLS_PREFIX)
        host, _, port = text.removeprefix(TLS_PREFIX).rpartition(":")
        return cls(host=host.strip("[]") or "127.0.0.1", port=int(port), tls=tls)

    def __str__(self) -> str:
        return self.path or f"{TLS_PREFIX if self.tls else ''}{self.host}:{self.port}"

    async def connect(self) -> Stream:
        if self.path:
            return await asyncio.open_unix_connection(self.path, limit=CHUNK)
        if self.tls:
            return await asyncio.open_connection(
                self.host, self.port, limit=CHUNK, ssl=_loopback_tls(), server_hostname=""
            )
        return await asyncio.open_connection(self.host, self.port, limit=CHUNK)

    def listen(self, mode: int = 0o600) -> socket.socket:
        """A listening socket at this address (a stale Unix socket file is replaced)."""
        if self.path:
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISSOCK(os.lstat(self.path).st_mode):
                    os.unlink(self.path)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(self.path)
            os.chmod(self.path, mode)
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
        listener.listen(128)
        listener.setblocking(False)
        return listener


@functools.cache
def _loopback_tls() -> ssl.SSLContext:
    """TLS to a proxy that terminates it itself (JupyterHub's ``ssl_cert``), on this machine:
    the server's side stays plain HTTP (its certificate names the public host, not
    127.0.0.1). Not verified, as this hop is no more exposed than the plain-HTTP default."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class Relay:
    """Accepts connections and splices each to a new connection made by ``connect``."""

    def __init__(
        self,
        name: str,
        connect: Callable[[], Awaitable[Stream]],
        max_connections: int = MAX_CONNECTIONS,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.name = name
        self.connect = connect
        self.max_connections = max_connections
        self.idle_seconds = idle_seconds
        self.connections: set[asyncio.Task[None]] = set()
        self.server: asyncio.base_events.Server | None = None
        self._warned = 0.0

    async def serve(self, listener: socket.socket) -> None:
        """Start accepting on ``listener`` (a bound, listening socket)."""
        if listener.family == socket.AF_UNIX:
            self.server = await asyncio.start_unix_server(self.handle, sock=listener, limit=CHUNK)
        else:
            self.server = await asyncio.start_server(self.handle, sock=listener, limit=CHUNK)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or len(self.connections) >= self.max_connections:
            self._warn(f"{self.name}: {self.max_connections} connections already, one refused")
            writer.close()
            return
        self.connections.add(task)
        try:
            try:
                far = await asyncio.wait_for(self.connect(), CONNECT_TIMEOUT_S)
            except (OSError, TimeoutError):
                return
            await splice((reader, writer), far, self.idle_seconds)
        except asyncio.CancelledError:
            pass  # the relay is closing: the connection ends here, quietly
        finally:
            self.connections.discard(task)
            writer.close()

    def _warn(self, message: str) -> None:
        if time.monotonic() - self._warned > 60:  # once a minute at most
            self._warned = time.monotonic()
            log.warning(message)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for task in list(self.connections):
            task.cancel()
        await asyncio.gather(*self.connections, return_exceptions=True)


async def splice(near: Stream, far: Stream, idle_seconds: float) -> None:
    """Copy bytes both ways until both sides have finished, either fails, or nothing has
    moved for ``idle_seconds``; then close both."""
    loop = asyncio.get_running_loop()
    last = [loop.time()]
    pumps = {
        asyncio.ensure_future(_pump(near[0], far[1], last)),
        asyncio.ensure_future(_pump(far[0], near[1], last)),
    }
    try:
        while pumps:
            wait_s = last[0] + idle_seconds - loop.time()
            if wait_s <= 0:
                break
            done, pumps = await asyncio.wait(pumps, timeout=wait_s)
            if any(not task.result() for task in done):
                break  # one side failed: end both
    finally:
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        for _, writer in (near, far):
            writer.close()


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, last: list[float]
) -> bool:
    """Copy until end of file (passed on as a half-close): True, or False when a side fails."""
    loop = asyncio.get_running_loop()
    try:
        while data := await reader.read(CHUNK):
            last[0] = loop.time()
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        return True
    except (OSError, RuntimeError):
        return False


async def open_socket_of(path: Path, uid: int) -> Stream:
    """Connect to the Unix socket at ``path`` only if it is one (not a link to elsewhere)
    owned by ``uid``: the folder holding it is writable by that uid, and the host's side of a
    relay must never be steered to the host's own sockets."""
    descriptor = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISSOCK(info.st_mode) or info.st_uid != uid:
            raise ConnectionRefusedError(f"{path} is not the server's socket")
        return await asyncio.open_unix_connection(f"/proc/self/fd/{descriptor}", limit=CHUNK)
    finally:
        os.close(descriptor)


# -- inside the sandbox ---------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m coursehub.hub.netbridge [--forward LISTEN=TARGET] [--serve LISTEN=TARGET]
    ... -- server command``: ``--forward`` listens before the server starts (its way out),
    ``--serve`` only once TARGET (the server) accepts connections (the way in: until then
    the hub's "is it up yet?" checks find nothing listening, as with any starting server)."""
    parser = argparse.ArgumentParser(prog="python -m coursehub.hub.netbridge")
    parser.add_argument("--forward", action="append", default=[], metavar="LISTEN=TARGET")
    parser.add_argument("--serve", action="append", default=[], metavar="LISTEN=TARGET")
    parser.add_argument("--max-in", type=int, default=MAX_CONNECTIONS)
    parser.add_argument("--max-out", type=int, default=MAX_CONNECTIONS_OUT)
    parser.add_argument("--idle-seconds", type=float, default=IDLE_SECONDS)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args(argv)
    ways_out = [_route(text) for text in args.forward]
    ways_in = [_route(text) for text in args.serve]
    listeners = [listen.listen() for listen, _ in ways_out]  # ready before the server starts
    server_pid = os.getpid()
    if os.fork() == 0:
        _die_with(server_pid)
        logging.basicConfig(level=logging.WARNING, format="[netbridge] %(message)s")
        relays = {
            (listen, target): Relay(f"{listen} → {target}", target.connect, most, args.idle_seconds)
            for routes, most in ((ways_out, args.max_out), (ways_in, args.max_in))
            for listen, target in routes
        }
        asyncio.run(_serve_forever(relays, ways_out, listeners, ways_in))
        os._exit(0)
    for listener in listeners:
        listener.close()
    os.execvp(args.command[0], args.command)  # noqa: S606 - the spawner's own command


def _route(text: str) -> tuple[Address, Address]:
    listen, _, target = text.partition("=")
    return Address.parse(listen), Address.parse(target)


def _die_with(parent: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the server is gone already
        os._exit(0)
    os.setsid()  # not in the server's process group: its Ctrl-C is not ours
    with contextlib.suppress(OSError):
        fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(fd, 0)


async def _serve_forever(
    relays: dict[tuple[Address, Address], Relay],
    ways_out: list[tuple[Address, Address]],
    listeners: list[socket.socket],
    ways_in: list[tuple[Address, Address]],
) -> None:
    for route, listener in zip(ways_out, listeners, strict=True):
        await relays[route].serve(listener)
    for listen, target in ways_in:
        await _answering(target)
        await relays[listen, target].serve(listen.listen())
    await asyncio.Event().wait()


async def _answering(target: Address, every_s: float = 0.2) -> None:
    """Return once ``target`` accepts a connection."""
    while True:
        try:
            _, writer = await target.connect()
        except OSError:
            await asyncio.sleep(every_s)
            continue
        writer.close()
        return


if __name__ == "__main__":
    main(sys.argv[1:])
