"""The single-machine spawner: each person's JupyterLab in a sandbox with a home of its own.

Student code runs in these servers, so on one machine each server runs under bubblewrap as
an unprivileged uid of its own (``uid_base`` + the hub's user id), in a file system built from
``coursehub.hub.sandbox``'s allow-list: the system's software, the Python environment and
CourseHub's code read-only, a minimal /etc, a private /tmp, and this person's home, the only
writable folder that lasts. Nothing else of the host is there (no /run or /var with their
sockets, no /home, /srv or /root, no CourseHub data directory or other people's homes), and
other processes are not visible.

Nor does the host's network exist there (``isolate_network``, on by default): the server has a
network namespace of its own, so Redis, PostgreSQL, the course service's and the lesson
server's internal ports and other people's servers do not answer from it or its kernels. It
reaches what it must, the hub's API and the platform's public address (the proxy, which
leads to the course service's API), through relays the spawner owns (``coursehub.hub.
server_network`` on the host, ``coursehub.hub.netbridge`` in the sandbox), and the proxy
reaches it on a loopback port of the host relayed to a Unix socket of the server's. Its
JUPYTERHUB_API_URL and COURSEHUB_SERVICE_URL name those relays' addresses in its namespace.

What a server offers depends on whether its owner teaches (a hub admin, or in one of
``teaching_groups``): a student's JupyterLab gets students' tools, nbgrader's Assignment List
without Formgrader, "Create assignment", the course list or "Validate", set through a config
folder first on the server's JUPYTER_CONFIG_PATH (``coursehub.hub.lab_tools``).

Production uses SystemdSpawner (one big machine, a Unix user per person) or KubeSpawner
through Zero to JupyterHub (many machines); see README.
"""

from __future__ import annotations

import asyncio
import collections
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlparse

from jupyterhub.spawner import SimpleLocalProcessSpawner
from jupyterhub.utils import random_port
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from traitlets import Bool, Float, Integer, List, Unicode, default

from coursehub.hub import lab_tools
from coursehub.hub.constants import SERVICE_PREFIX
from coursehub.hub.netbridge import IDLE_SECONDS, MAX_CONNECTIONS, MAX_CONNECTIONS_OUT, Address
from coursehub.hub.sandbox import (
    TMP_SIZE_MB,
    Sandbox,
    SandboxUnavailable,
    recent_sandbox_check,
)
from coursehub.hub.server_limits import ServerCgroup
from coursehub.hub.server_network import INSIDE_FOLDER, NETWORK_DIR, Route, ServerNetwork
from coursehub.hub.subdomains import service_host


class ServerDiedWhileStarting(RuntimeError):
    """The server process ended before it answered; the message is for its owner."""

    @property
    def jupyterhub_message(self) -> str:
        """What the hub's REST API answers (instead of "Internal Server Error")."""
        return str(self)


class CourseSpawner(SimpleLocalProcessSpawner):
    homes_dir = Unicode(config=True, help="Folder that holds one home folder per user.")
    hidden_paths = List(
        Unicode(),
        config=True,
        help="Folders never shown inside the sandbox (CourseHub's data dir), even where an "
        "allowed folder holds them.",
    )
    sandbox = Bool(
        True, config=True, help="Run servers under bubblewrap as an unprivileged uid (root only)."
    )
    uid_base = Integer(200_000, config=True, help="Servers run as uid_base + the hub user id.")
    tmp_size_mb = Integer(
        TMP_SIZE_MB,
        config=True,
        help="Size of a sandboxed server's private /tmp and /dev/shm (each a tmpfs, in MiB).",
    )
    isolate_network = Bool(
        True,
        config=True,
        help="Give each sandboxed server a network namespace of its own, reaching only the hub's "
        "API and the proxy through relays (off: the server shares the host's loopback).",
    )
    network_dir = Unicode(
        NETWORK_DIR,
        config=True,
        help="Host folder for the servers' relay sockets (one folder per running server; keep "
        "the path short, a Unix socket's path has at most 107 bytes).",
    )
    platform_url = Unicode(
        "",
        config=True,
        help="Where the proxy listens (JupyterHub.bind_url): isolated servers reach the platform "
        "(the course service's API) there. Default: the proxy's public URL.",
    )
    network_max_connections = Integer(
        MAX_CONNECTIONS,
        config=True,
        help="Connections at once into an isolated server (through the proxy); more are refused.",
    )
    network_max_connections_out = Integer(
        MAX_CONNECTIONS_OUT,
        config=True,
        help="Connections at once from an isolated server to each of the hub's API and the "
        "platform; more are refused.",
    )
    network_idle_seconds = Float(
        IDLE_SECONDS,
        config=True,
        help="A relayed connection idle both ways this long is closed.",
    )
    server_cmd = List(
        Unicode(),
        config=True,
        help="The single-user server's command (default: jupyterhub.singleuser with the hub's "
        "own interpreter, so it starts without an activated environment).",
    )

    teaching_groups = List(
        Unicode(),
        list(lab_tools.TEACHING_GROUPS),
        config=True,
        help="Hub groups whose members teach: their JupyterLab keeps nbgrader's instructor "
        "tools (formgrader, Create assignment, Validate); hub admins always do. Everyone "
        "else gets students' tools (coursehub.hub.lab_tools).",
    )

    _network: ServerNetwork | None = None
    # mem_limit and cpu_limit as configured: where the site settings leave a quota empty.
    _configured_limits: tuple[Any, Any] | None = None
    # The server's last lines of output, for the message when it dies while starting.
    _output: collections.deque[str] | None = None
    _output_fd: int | None = None

    @property
    def teaches(self) -> bool:
        """Whether this server's owner teaches (as the hub knows them when it starts)."""
        groups = [group.name for group in self.user.groups]
        return lab_tools.teaches(bool(self.user.admin), groups, self.teaching_groups)

    @property
    def sandboxed(self) -> bool:
        if self.sandbox and os.geteuid() != 0:
            self.log.warning(
                "The hub is not running as root, so %s's server runs without the sandbox.",
                self.user.name,
            )
        return self.sandbox and os.geteuid() == 0

    @property
    def server_uid(self) -> int:
        return self.uid_base + self.user.id

    @default("home_dir_template")
    def _home_dir_template_default(self) -> str:
        return str(Path(self.homes_dir) / "{username}")

    @default("default_url")
    def _default_url_default(self) -> str:
        return "/lab"

    @property
    def network_isolated(self) -> bool:
        return self.sandboxed and self.isolate_network

    @default("server_cmd")
    def _server_cmd_default(self) -> list[str]:
        return [sys.executable, "-m", "jupyterhub.singleuser"]

    @default("cmd")
    def _cmd_default(self) -> list[str]:
        return self.launch_command()

    def launch_command(self) -> list[str]:
        """The server's command, in its sandbox and behind its network's bridge if any."""
        if not self.sandboxed:
            return list(self.server_cmd)
        bridge = [sys.executable, *self._network.bridge_command()] if self._network else []
        return [*self.sandbox_prefix(self._network), *bridge, *self.server_cmd]

    @default("args")
    def _args_default(self) -> list[str]:
        # Outside the sandbox a root hub's server would refuse to start without this.
        return ["--allow-root"] if os.geteuid() == 0 and not self.sandboxed else []

    def sandbox_prefix(self, network: ServerNetwork | None = None) -> list[str]:
        """bwrap + setpriv: this person's home writable, nothing else of the data dir, and
        with ``network`` its folder of sockets (at ``INSIDE_FOLDER``; ``server/`` writable)."""
        home = self.home_dir
        folder = str(network.folder) if network else ""
        try:
            return Sandbox(
                uid=self.server_uid,
                workdir=home,
                hidden_paths=tuple(self.hidden_paths),
                writable=(home,),
                readable=((folder, INSIDE_FOLDER),) if network else (),
                bound=((f"{folder}/server", f"{INSIDE_FOLDER}/server"),) if network else (),
                environment={"HOME": home},
                isolate_network=self.network_isolated,
                tmp_size_mb=self.tmp_size_mb,
                user_name=self.user.name,
            ).command_prefix()
        except SandboxUnavailable as missing:
            raise RuntimeError(f"{missing} Or set CourseSpawner.sandbox = False.") from None

    async def refuse_without_a_working_sandbox(self) -> None:
        """Fail at once, saying why, when no sandbox can start on this machine (JupyterHub
        shows the message on the person's page), instead of a server that never answers."""
        problem = await asyncio.to_thread(recent_sandbox_check)
        if problem:
            self.log.error(
                "%s's server cannot start, its sandbox fails: %s", self.user.name, problem
            )
            raise RuntimeError(
                "Your server cannot start because CourseHub's sandbox does not work on this "
                f"machine; please tell your administrator. ({problem})"
            )

    def prepare_home(self) -> None:
        home = Path(self.home_dir)
        home.mkdir(parents=True, exist_ok=True)
        if self.sandboxed:
            os.chown(home, self.server_uid, self.server_uid)
            home.chmod(0o700)

    # Ports handed to this hub's servers. JupyterHub picks a free port by binding port 0 and
    # closing it, and a server listens only seconds later, so when a class starts its servers
    # at once two of them can be handed the same port; the hub then finds the other person's
    # server answering there and routes to it (benchmarks/class_start.py ran into this).
    _claimed_ports: ClassVar[set[int]] = set()

    def claim_port(self) -> int:
        port = random_port()
        while port in CourseSpawner._claimed_ports:
            port = random_port()
        CourseSpawner._claimed_ports.add(port)
        return port

    def release_port(self) -> None:
        CourseSpawner._claimed_ports.discard(self.port)

    async def start(self) -> tuple[str, int]:
        if self.sandboxed:
            await self.refuse_without_a_working_sandbox()
        self.prepare_home()
        if self.port == 0:
            self.port = self.claim_port()
        try:
            await self.apply_site_quotas()
            if self.network_isolated:
                await self.start_network()
            self.cmd = self.launch_command()
            if self.sandboxed:
                group = ServerCgroup.create(self.cgroup_name, self.mem_limit, self.cpu_limit)
                self.cmd = [*group.enter_prefix(), *self.cmd] if group else self.cmd
            # Its output comes through the hub (to the hub's log), keeping the last lines.
            self.popen_kwargs = {
                **self.popen_kwargs,
                "stdout": subprocess.PIPE,
                "stderr": subprocess.STDOUT,
            }
            address = await super().start()
            self.forward_output()
            await self.wait_until_answering_or_dead(*address)
            return address
        except BaseException:
            await self.stop_network()
            self.release_port()
            self.remove_cgroup()
            raise

    # -- memory and CPU: the site settings' quotas (coursehub.hub.server_limits) --------------

    @property
    def cgroup_name(self) -> str:
        return f"uid{self.server_uid}" + (f"-{self.name}" if self.name else "")

    async def apply_site_quotas(self) -> None:
        """mem_limit and cpu_limit from the site settings as they are now (asked of the
        course service at every start, so a change needs no restart); an empty setting, or a
        service that does not answer, leaves the configured value."""
        if self._configured_limits is None:
            self._configured_limits = (self.mem_limit, self.cpu_limit)
        memory, cpus = self._configured_limits
        ask = getattr(self.authenticator, "_ask_service", None)
        if ask is not None:
            try:
                status, quotas = await ask("server-quotas", {})
            except web.HTTPError as error:
                status, quotas = error.status_code, {}
            if status == 200:
                memory = quotas["memory_mb"] * 1024 * 1024 if quotas.get("memory_mb") else memory
                cpus = float(quotas["cpus"]) if quotas.get("cpus") else cpus
            else:
                self.log.warning(
                    "%s's server starts with the configured quotas: the course service did not "
                    "give the site's (%s).",
                    self.user.name,
                    status,
                )
        self.mem_limit, self.cpu_limit = memory, cpus

    def remove_cgroup(self) -> None:
        if self.sandbox and os.geteuid() == 0:  # as ``sandboxed``, without its warning
            ServerCgroup(self.cgroup_name, ServerCgroup.folders_of(self.cgroup_name)).remove()

    # -- a server that dies while starting is reported at once ------------------------------

    def forward_output(self) -> None:
        """The server's output, line by line, into the hub's log; the last 20 kept."""
        lines: collections.deque[str] = collections.deque(maxlen=20)
        self._output = lines
        stream = self.proc.stdout
        if stream is None:
            return
        fd = stream.fileno()
        self._output_fd = fd
        os.set_blocking(fd, False)
        loop = asyncio.get_running_loop()
        pending = b""
        name = self.user.name

        def readable() -> None:
            nonlocal pending
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self.stop_forwarding()
                stream.close()
                chunk, pending = pending, b""
                if not chunk:
                    return
            *complete, pending = (pending + chunk).split(b"\n")
            for raw in complete:
                line = raw.decode(errors="replace").rstrip()
                lines.append(line)
                self.log.info("[%s's server] %s", name, line)

        loop.add_reader(fd, readable)

    def stop_forwarding(self) -> None:
        """Before the process' pipe is closed (JupyterHub closes it once the process ended)."""
        fd, self._output_fd = self._output_fd, None
        if fd is not None:
            asyncio.get_running_loop().remove_reader(fd)

    async def wait_until_answering_or_dead(self, ip: str, port: int) -> None:
        """Back from ``start`` once the server answers; at once, with its exit status and last
        lines, if it ends first. After most of ``start_timeout`` the hub's own wait (up to
        ``http_timeout``) takes over."""
        base = self.server.base_url if self.server is not None else "/"
        url = f"http://{ip}:{port}{base}api"
        client = AsyncHTTPClient()
        deadline = time.monotonic() + max(5.0, self.start_timeout * 0.8)
        while time.monotonic() < deadline:
            status = self.proc.poll()
            if status is not None:
                await asyncio.sleep(0.2)  # the last lines still in the pipe
                raise ServerDiedWhileStarting(self.died_while_starting(status))
            try:
                await client.fetch(url, request_timeout=2, connect_timeout=1)
                return
            except HTTPClientError as answer:
                if answer.code != 599:  # it answered, if not with 200
                    return
            except Exception as error:  # not listening yet: refused, reset, closed
                self.log.debug("%s's server is not answering yet: %s", self.user.name, error)
            await asyncio.sleep(0.25)

    def died_while_starting(self, status: int) -> str:
        how = f"was killed by signal {-status}" if status < 0 else f"ended with status {status}"
        last = [line for line in (self._output or ()) if line.strip()][-5:]
        self.log.error(
            "%s's server %s while starting; its last lines:\n%s",
            self.user.name,
            how,
            "\n".join(self._output or ()),
        )
        tail = " | ".join(last) if last else "it printed nothing"
        return (
            f"Your server stopped while starting (it {how}); please try again, and tell your "
            f"administrator if it happens again. Its last words: {tail}"
        )

    async def stop(self, now: bool = False) -> None:
        try:
            await super().stop(now=now)
        finally:
            self.stop_forwarding()
            await self.stop_network()
            self.release_port()
            self.remove_cgroup()

    async def poll(self) -> int | None:
        if self.proc is not None and self.proc.poll() is not None:
            self.stop_forwarding()
        status = await super().poll()
        if status is not None:
            await self.stop_network()  # a server that ended by itself: its relays go too
            self.remove_cgroup()  # and its cgroups
        elif self._network and not self._network.running:
            # Restored after a hub restart with its server alive (bwrap's --die-with-parent
            # ends servers with the hub, but a server must never be left without its relays).
            await self._network.start()
        return status

    # -- the network of an isolated server (coursehub.hub.server_network) --------------------

    async def start_network(self) -> None:
        """The server's folder of sockets and the host's relays; its environment then names
        the relays' addresses in its namespace."""
        hub, platform = self.hub_address(), self.platform_address()
        routes = (
            Route("hub", hub, self._inside_port(hub, 18081), self.network_max_connections_out),
            Route(
                "platform",
                platform,
                self._inside_port(platform, 18000),
                self.network_max_connections_out,
            ),
        )
        self._network = ServerNetwork.create(
            Path(self.network_dir),
            self.server_uid,
            self.port,
            routes,
            max_connections=self.network_max_connections,
            idle_seconds=self.network_idle_seconds,
        )
        await self._network.start()
        self.hub_connect_url = self._network.inside_url("hub")

    async def stop_network(self) -> None:
        network, self._network = self._network, None
        if network is not None:
            await network.stop()

    def hub_address(self) -> Address:
        """Where the hub's API listens, as the hub's process reaches it."""
        if self.hub.proto == "http+unix":
            return Address(path=unquote(urlparse(self.hub.url).netloc))
        url = urlparse(self.hub.url)
        return Address(host=url.hostname or "127.0.0.1", port=url.port or 80)

    def platform_address(self) -> Address:
        """Where the proxy listens (all interfaces: its loopback address); over TLS when the
        proxy terminates TLS itself, while the server's side stays plain HTTP."""
        url = urlparse(self.platform_url or self.user.settings["proxy"].public_url)
        host = url.hostname or "127.0.0.1"
        host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        tls = url.scheme == "https"
        return Address(host=host, port=url.port or (443 if tls else 80), tls=tls)

    def _inside_port(self, address: Address, fallback: int) -> int:
        """The same port as on the host where a server's uid may listen on it."""
        port = address.port if address.port >= 1024 else fallback
        return port + 1 if port == self.port else port

    def get_env(self) -> dict[str, Any]:
        env = super().get_env()
        # Students' tools in a student's JupyterLab: Jupyter's own configuration, per server.
        config_path = lab_tools.jupyter_config_path(
            self.teaches, env.get("JUPYTER_CONFIG_PATH", "")
        )
        if config_path:
            env["JUPYTER_CONFIG_PATH"] = config_path
        if self._network is not None:
            platform = self._network.inside_url("platform")
            env["COURSEHUB_SERVICE_URL"] = f"{platform}{SERVICE_PREFIX}"
            # With per-user subdomains the proxy routes by host name: the server's calls
            # name the service's host, as a browser's do (coursehub.hub.subdomains).
            host = service_host(self.user.settings)
            if host:
                env["COURSEHUB_SERVICE_HOST"] = host
        return env

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        if self._network is not None:
            network = self._network
            state["network"] = {
                "folder": str(network.folder),
                "port": network.port,
                "routes": [[r.name, str(r.target), r.inside_port] for r in network.routes],
            }
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        saved = state.get("network")
        if saved and self._network is None:
            self._network = ServerNetwork(
                folder=Path(saved["folder"]),
                uid=self.server_uid,
                port=saved["port"],
                routes=tuple(
                    Route(name, Address.parse(target), port, self.network_max_connections_out)
                    for name, target, port in saved["routes"]
                ),
                max_connections=self.network_max_connections,
                idle_seconds=self.network_idle_seconds,
            )
            self.port = saved["port"]
            CourseSpawner._claimed_ports.add(self.port)
