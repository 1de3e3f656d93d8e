"""The memory and CPU a notebook server may use, enforced with a cgroup (v1) per server.

The limits come from the site settings (``server_memory_mb``, ``server_cpus``), read from the
course service each time a server starts (``CourseSpawner.apply_site_quotas``), so a change
takes effect at the next start, without restarting the hub. Every process of the server is in
its cgroups from its first instruction: the command starts through a tiny shell that moves
itself in before it execs bubblewrap. Without writable cgroup v1 controllers (not root, cgroup
v2 only) nothing is enforced and the hub's log says so; the server still learns its limits
through JupyterHub's MEM_LIMIT and CPU_LIMIT.

This module imports nothing from the rest of CourseHub.
"""

from __future__ import annotations

import logging
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "coursehub-servers"
CPU_PERIOD_US = 100_000


@dataclass(frozen=True)
class ServerCgroup:
    name: str
    folders: dict[str, Path]

    @classmethod
    def folders_of(cls, name: str) -> dict[str, Path]:
        return {
            controller: CGROUP_ROOT / controller / PARENT / name
            for controller in ("memory", "cpu")
            if (CGROUP_ROOT / controller / "cgroup.procs").exists()
        }

    @classmethod
    def create(cls, name: str, memory_bytes: int | None, cpus: float | None) -> ServerCgroup | None:
        """The server's cgroups with these limits (None: unlimited), or None if not possible."""
        folders = cls.folders_of(name)
        wanted = {"memory"} if memory_bytes else set()
        wanted |= {"cpu"} if cpus else set()
        if not wanted:
            return None
        try:
            if not wanted <= folders.keys():
                raise OSError(f"no cgroup v1 controller for {', '.join(sorted(wanted))}")
            group = cls(name, {c: f for c, f in folders.items() if c in wanted})
            for folder in group.folders.values():
                folder.mkdir(parents=True, exist_ok=True)
            if memory_bytes:
                # Swap counts too where the kernel accounts it (memory+swap never below memory).
                memsw = group.folders["memory"] / "memory.memsw.limit_in_bytes"
                if memsw.exists():
                    memsw.write_text("-1")
                group._write("memory", "memory.limit_in_bytes", memory_bytes)
                if memsw.exists():
                    memsw.write_text(str(memory_bytes))
            if cpus:
                group._write("cpu", "cpu.cfs_period_us", CPU_PERIOD_US)
                group._write("cpu", "cpu.cfs_quota_us", int(cpus * CPU_PERIOD_US))
            return group
        except OSError as error:
            cls(name, folders).remove()
            log.warning(
                "Notebook server %s runs WITHOUT its memory/CPU limits (%s); run the hub as "
                "root on a machine with cgroup v1 controllers.",
                name,
                error,
            )
            return None

    def _write(self, controller: str, file: str, value: object) -> None:
        (self.folders[controller] / file).write_text(str(value))

    def read(self, controller: str, file: str) -> str:
        return (self.folders[controller] / file).read_text().strip()

    def enter_prefix(self) -> list[str]:
        """A command prefix that moves itself into the cgroups, then execs the rest."""
        moves = " && ".join(
            f"echo $$ > {shlex.quote(str(folder / 'cgroup.procs'))}"
            for folder in self.folders.values()
        )
        return ["/bin/sh", "-c", f'{moves} && exec "$@"', "coursehub-server"]

    def remove(self) -> None:
        """Remove the cgroups (once the server's processes have ended)."""
        for folder in self.folders.values():
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
            else:
                log.warning("Could not remove the cgroup %s", folder)
