"""Bubblewrap sandboxes for code that CourseHub runs on people's behalf.

Two kinds of processes run code that CourseHub does not trust: each person's notebook server
(``coursehub.hub.spawner``) and the kernels of notebook lessons, which run an instructor's
code for every student who opens the lesson (``coursehub.services.lesson_kernel``). Both run
under bubblewrap as an unprivileged uid: the whole file system read-only, CourseHub's data
directory (databases, secrets, people's homes) replaced by an empty folder except what the
process needs, a private /tmp, and no sight of other processes. Lesson kernels also get no
network at all.

This module only builds command lines; it imports nothing from the rest of CourseHub.
"""

from __future__ import annotations

import shutil
import stat
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Every sandbox gets an empty /tmp of its own.
PRIVATE_TMP = Path("/tmp")  # noqa: S108


class SandboxUnavailable(RuntimeError):
    """bubblewrap or setpriv is missing."""


def sandbox_tools() -> tuple[str, str]:
    bwrap, setpriv = shutil.which("bwrap"), shutil.which("setpriv")
    if not (bwrap and setpriv):
        raise SandboxUnavailable(
            "CourseHub runs people's code under bubblewrap: install the Debian packages "
            "bubblewrap and util-linux (setpriv)."
        )
    return bwrap, setpriv


@dataclass(frozen=True)
class Sandbox:
    """What one sandboxed process may see and do.

    ``writable`` folders and ``readable`` (source, target) pairs may lie inside
    ``hidden_paths``; the folders leading down to them stay passable (mode 0755) but empty.
    """

    uid: int
    workdir: str
    hidden_paths: tuple[str, ...] = ()
    writable: tuple[str, ...] = ()
    readable: tuple[tuple[str, str], ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    # Start from an empty environment: only ``environment`` reaches the process.
    clear_environment: bool = False
    # No network namespace of the host: not even loopback services are reachable.
    isolate_network: bool = False

    def command_prefix(self) -> list[str]:
        """bwrap and setpriv arguments; append the command to run."""
        bwrap, setpriv = sandbox_tools()
        isolation = ["--unshare-pid", "--unshare-ipc"]
        if self.isolate_network:
            isolation += ["--unshare-net", "--unshare-uts"]
        environment: list[str] = ["--clearenv"] if self.clear_environment else []
        for name, value in self.environment.items():
            environment += ["--setenv", name, value]
        uid = str(self.uid)
        return [
            bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--perms", "1777", "--tmpfs", "/tmp",  # noqa: S108 - a private, empty /tmp
            *_software_views(),
            *self._mounts(),
            *isolation, "--die-with-parent", "--new-session",
            *environment, "--chdir", self.workdir,
            setpriv, "--reuid", uid, "--regid", uid, "--clear-groups", "--",
        ]  # fmt: skip

    def _mounts(self) -> list[str]:
        targets = [*self.writable, *(target for _, target in self.readable), self.workdir]
        # Folders bubblewrap makes on its own copy the modes of the host's (0700 where the
        # host's are private): make the ones leading to each target passable (0755) instead.
        unhidden = [target for target in map(Path, targets) if not self._hides(target)]
        args = _passable_folders(PRIVATE_TMP, unhidden)
        for hidden in self.hidden_paths:
            args += ["--perms", "0755", "--tmpfs", hidden]
            args += _passable_folders(Path(hidden), map(Path, targets))
        for folder in self.writable:
            args += ["--bind", folder, folder]
        for source, target in self.readable:
            args += ["--ro-bind", source, target]
        if self.workdir not in targets[:-1] and self._hides(Path(self.workdir)):
            args += ["--perms", "0755", "--dir", self.workdir]
        return args

    def _hides(self, path: Path) -> bool:
        return any(Path(hidden) in path.parents for hidden in self.hidden_paths)


def _software_views() -> list[str]:
    """Read-only views of the interpreter, its environment and CourseHub's own code wherever
    the sandboxed uid could not otherwise reach them: under /tmp (a checkout there), which the
    private /tmp hides, or below a folder closed to other users (an interpreter under
    ``/root/.pyenv``, say), which is replaced by an empty folder holding just that view."""
    wanted = {Path(sys.prefix), Path(sys.base_prefix), Path(__file__).resolve().parents[1]}
    wanted |= {Path(sys.executable).resolve().parent.parent}
    outermost = [path for path in wanted if not any(p in path.parents for p in wanted - {path})]
    args: list[str] = []
    emptied: set[Path] = set()
    for path in sorted(outermost):
        if PRIVATE_TMP in path.parents:
            args += ["--ro-bind", str(path), str(path)]
            continue
        closed = _first_closed_folder(path)
        if closed is None:
            continue
        if closed not in emptied:
            emptied.add(closed)
            args += ["--perms", "0755", "--tmpfs", str(closed)]
        args += _passable_folders(closed, [path])
        args += ["--ro-bind", str(path), str(path)]
    return args


def _first_closed_folder(path: Path) -> Path | None:
    """The outermost folder above ``path`` that other users may not pass through."""
    for folder in reversed(path.parents[:-1]):  # from the top down, without "/"
        if not folder.stat().st_mode & stat.S_IXOTH:
            return folder
    return None


def _passable_folders(hidden: Path, targets: Iterable[Path]) -> list[str]:
    """Empty folders from ``hidden`` down to each target inside it, so that it can be reached."""
    args: list[str] = []
    made: set[Path] = set()
    for target in targets:
        if hidden not in target.parents:
            continue
        for folder in reversed(target.relative_to(hidden).parents[:-1]):
            if folder not in made:
                made.add(folder)
                args += ["--perms", "0755", "--dir", str(hidden / folder)]
    return args
