"""The single-machine spawner: each person's JupyterLab in a sandbox with a home of its own.

Student code runs in these servers, so on one machine each server runs under bubblewrap as
an unprivileged uid of its own (``uid_base`` + the hub's user id), in a file system built from
``coursehub.hub.sandbox``'s allow-list: the system's software, the Python environment and
CourseHub's code read-only, a minimal /etc, a private /tmp, and this person's home, the only
writable folder that lasts. Nothing else of the host is there (no /run or /var with their
sockets, no /home, /srv or /root, no CourseHub data directory or other people's homes), and
other processes are not visible. The server still reaches the hub over loopback, as every
JupyterHub server must.

Production uses SystemdSpawner (one big machine, a Unix user per person) or KubeSpawner
through Zero to JupyterHub (many machines); see README.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import ClassVar

from jupyterhub.spawner import SimpleLocalProcessSpawner
from jupyterhub.utils import random_port
from traitlets import Bool, Integer, List, Unicode, default

from coursehub.hub.sandbox import (
    TMP_SIZE_MB,
    Sandbox,
    SandboxUnavailable,
    recent_sandbox_check,
)


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

    @default("cmd")
    def _cmd_default(self) -> list[str]:
        # The hub's own interpreter, so the server starts without an activated environment.
        server = [sys.executable, "-m", "jupyterhub.singleuser"]
        return [*self.sandbox_prefix(), *server] if self.sandboxed else server

    @default("args")
    def _args_default(self) -> list[str]:
        # Outside the sandbox a root hub's server would refuse to start without this.
        return ["--allow-root"] if os.geteuid() == 0 and not self.sandboxed else []

    def sandbox_prefix(self) -> list[str]:
        """bwrap + setpriv: this person's home writable, nothing else of the data dir."""
        home = self.home_dir
        try:
            return Sandbox(
                uid=self.server_uid,
                workdir=home,
                hidden_paths=tuple(self.hidden_paths),
                writable=(home,),
                environment={"HOME": home},
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
            return await super().start()
        except BaseException:
            self.release_port()
            raise

    async def stop(self, now: bool = False) -> None:
        try:
            await super().stop(now=now)
        finally:
            self.release_port()
