"""Run a notebook top to bottom with papermill in the grading sandbox, and say what happened.

``run_notebook`` is the one way CourseHub executes an instructor's notebook as a whole (a
lesson's publish check, an assignment source's check): papermill injects the parameters
after the cell tagged ``parameters`` (or at the top) and runs every cell with the nbclient
engine in a kernel, inside ``coursehub.hub.sandbox.Sandbox`` on the grading sandbox's terms:
an unprivileged uid of its own (``run_slot``), no network, the run's folder (a size-limited
tmpfs) the only writable place with the data files in it read-only (root's, in a sticky
folder), the folder of other runs hidden, and the memory, CPU and process limits of a
grading job's cgroup (``coursehub.graders.job_cgroup``; prlimit without cgroups). Each cell
has ``cell_timeout_seconds``; the whole run ``timeout_seconds`` (plus the kernel's start-up),
after which everything of it is killed. Nothing of the run is left running when it returns.

The notebook's own failures (a cell that raises, a time limit, a dead kernel, a parameters
cell that does not parse) come back in the ``NotebookRun``; only the platform's faults raise
(``SandboxUnavailable`` when no sandbox can start, ``RunSlotsBusy``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat

from coursehub.graders.job_cgroup import CGROUP_ROOT, CPU_PERIOD_US, JobCgroup, prlimit_prefix
from coursehub.graders.job_cgroup import PARENT as GRADING_CGROUP_PARENT
from coursehub.graders.limits import GradingLimits
from coursehub.graders.sandbox_job import kill_uid
from coursehub.hub.sandbox import (
    Sandbox,
    SandboxSlotsBusy,
    SandboxUnavailable,
    mount_size_limited,
    uid_slot,
    unmount_size_limited,
)
from coursehub.services.notebook_runs import sandbox_runner

# Notebook runs have uids of their own, beside grading's (300000 + slot) and the lesson
# kernels' (199999): one per run at a time on this machine, held as an flock'ed slot file.
RUN_UID_BASE = 302_000
RUN_SLOTS = 200
SLOT_DIR = Path(tempfile.gettempdir()) / "coursehub-notebook-run-slots"
RUNS_DIR = Path(tempfile.gettempdir()) / "coursehub-notebook-runs"
STARTUP_SECONDS = 120  # a kernel starts in seconds, but a busy machine is slow
PRIVATE_HOME = "/tmp/home"  # noqa: S108 - the sandbox's own /tmp
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_MISSING = re.compile(r"No such file or directory: '([^']+)'")
STDERR_KEPT = 5000
RUN_CGROUP_PARENT = "coursehub-notebook-runs"
PAPERMILL_TAGS = {"injected-parameters", "papermill-error-cell-tag"}


# Every notebook-run uid of this machine is in use.
RunSlotsBusy = SandboxSlotsBusy


@dataclass
class CellRun:
    """One code cell as it ran. ``index`` is the cell's position in the author's notebook
    (``notebook.cells`` as given to ``run_notebook``); papermill's own cells in the executed
    copy (injected parameters, error markers) are not counted and not reported."""

    index: int
    seconds: float
    error_name: str | None = None
    error_text: str | None = None


@dataclass
class NotebookRun:
    ok: bool
    notebook: nbformat.NotebookNode
    cells: list[CellRun]
    failed_cell: int | None
    timed_out: bool
    missing_files: list[str]
    widgets: bool
    seconds: float
    problem: str | None
    # Code cells that never ran (after the failing one), by index in the author's notebook.
    not_run: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """What a page or the API shows of the run (the executed notebook aside)."""
        return {
            "ok": self.ok,
            "cells": [vars(cell) for cell in self.cells],
            "failed_cell": self.failed_cell,
            "timed_out": self.timed_out,
            "missing_files": self.missing_files,
            "widgets": self.widgets,
            "seconds": round(self.seconds, 3),
            "problem": self.problem,
            "not_run": self.not_run,
        }


@dataclass(frozen=True)
class _Finished:
    report: dict
    killed: bool
    stderr: str
    seconds: float
    executed: str | None


async def run_notebook(
    notebook: nbformat.NotebookNode,
    *,
    parameters: Mapping[str, object] | None = None,
    files: Mapping[str, bytes] | None = None,
    timeout_seconds: float = 120,
    cell_timeout_seconds: float = 60,
    keep_going: bool = False,
    background: bool = False,
) -> NotebookRun:
    """Execute ``notebook`` with papermill in a sandbox (see the module's docstring).

    ``keep_going``: run every cell even after one raises (nbclient's ``allow_errors``), as
    checking which test cells fail in an assignment's released version needs; ``failed_cell``
    is then the first that raised. ``background``: nobody waits on a page for this run (a
    worker's job): it weighs on the CPU as little as a grading job, not as an author's."""
    return await asyncio.to_thread(
        _run_blocking,
        nbformat.from_dict(notebook),
        dict(parameters or {}),
        dict(files or {}),
        timeout_seconds,
        cell_timeout_seconds,
        keep_going,
        background,
    )


def _run_blocking(
    notebook: nbformat.NotebookNode,
    parameters: dict[str, object],
    files: dict[str, bytes],
    timeout_seconds: float,
    cell_timeout_seconds: float,
    keep_going: bool = False,
    background: bool = False,
) -> NotebookRun:
    if os.geteuid() != 0:
        raise SandboxUnavailable(
            "CourseHub is not running as root, so it cannot run notebooks in a sandbox."
        )
    limits = GradingLimits(
        cell_timeout_s=cell_timeout_seconds,
        notebook_timeout_s=timeout_seconds,
        startup_grace_s=STARTUP_SECONDS,
    )
    with run_slot() as uid:
        RUNS_DIR.mkdir(mode=0o711, parents=True, exist_ok=True)
        _sweep(uid)
        workdir = RUNS_DIR / f"run-{uid}-{uuid.uuid4().hex}"
        workdir.mkdir(mode=0o700)
        try:
            with contextlib.suppress(OSError):
                mount_size_limited(workdir, uid, limits.disk_mb)
            os.chown(workdir, 0, uid)
            workdir.chmod(0o1770)
            _place(workdir, notebook, parameters, files, limits, keep_going)
            finished = _execute(workdir, uid, limits, background)
        finally:
            with contextlib.suppress(OSError):
                unmount_size_limited(workdir)
            shutil.rmtree(workdir, ignore_errors=True)
    return read_run(notebook, finished, cell_timeout_seconds, timeout_seconds)


def _sweep(uid: int) -> None:
    """Folders of this slot's uid left by a process that died mid-run (the slot is ours now,
    so nothing uses them): unmounted and removed."""
    for stale in RUNS_DIR.glob(f"run-{uid}-*"):
        with contextlib.suppress(OSError):
            unmount_size_limited(stale)
        shutil.rmtree(stale, ignore_errors=True)


def run_slot() -> contextlib.AbstractContextManager[int]:
    """A notebook-run uid no other run on this machine holds while the block runs (a killed
    process's slot is free again at once: the lock is an flock)."""
    return uid_slot(SLOT_DIR, RUN_UID_BASE, RUN_SLOTS, what="notebook sandboxes", mode=0o700)


def _place(
    workdir: Path,
    notebook: nbformat.NotebookNode,
    parameters: dict[str, object],
    files: dict[str, bytes],
    limits: GradingLimits,
    keep_going: bool = False,
) -> None:
    """The notebook, the run's settings and the data files, all root's and read-only."""
    for name, content in sorted(files.items()):
        relative = PurePosixPath(name.replace("\\", "/"))
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise ValueError(f"{name!r} is not a path inside the run's folder")
        target = workdir.joinpath(*relative.parts)
        for folder in reversed(target.relative_to(workdir).parents[:-1]):
            (workdir / folder).mkdir(mode=0o755, exist_ok=True)
        target.write_bytes(content)
        target.chmod(0o444)
    settings = {
        "parameters": parameters,
        "cell_timeout_seconds": limits.cell_timeout_s,
        "startup_seconds": limits.startup_grace_s,
        "keep_going": keep_going,
    }
    (workdir / sandbox_runner.PARAMETERS).write_text(json.dumps(settings, default=str))
    nbformat.write(notebook, workdir / sandbox_runner.INPUT)
    for name in (sandbox_runner.PARAMETERS, sandbox_runner.INPUT):
        (workdir / name).chmod(0o444)


def _environment() -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": PRIVATE_HOME,
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "IPYTHONDIR": f"{PRIVATE_HOME}/.ipython",
        "JUPYTER_RUNTIME_DIR": f"{PRIVATE_HOME}/runtime",
        "JUPYTER_PLATFORM_DIRS": "1",
        "MPLCONFIGDIR": f"{PRIVATE_HOME}/.matplotlib",
        "MPLBACKEND": "agg",
    }


def _execute(workdir: Path, uid: int, limits: GradingLimits, background: bool = False) -> _Finished:
    sandbox = Sandbox(
        uid=uid,
        workdir=str(workdir),
        hidden_paths=(str(RUNS_DIR),),
        writable=(str(workdir),),
        environment=_environment(),
        clear_environment=True,
        isolate_network=True,
        user_name="notebook",
    )
    prefix = sandbox.command_prefix()
    kill_uid(uid)  # a process that died mid-run may have left this uid's processes
    parent = GRADING_CGROUP_PARENT if background else RUN_CGROUP_PARENT
    group = run_cgroup(f"uid{uid}-{os.getpid()}-{uuid.uuid4().hex[:8]}", limits, parent)
    enter = group.enter_prefix() if group else prlimit_prefix(limits)
    command = [*enter, *prefix, sys.executable, "-m", sandbox_runner.__name__]
    started = time.monotonic()
    killed = False
    stderr = tempfile.TemporaryFile()
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=workdir,
            start_new_session=True,
        )
        killed = not _wait(process, workdir / sandbox_runner.EXECUTED, limits)
        if killed:
            _kill(process, group, uid)
            process.wait()
    finally:
        _kill(None, group, uid)
        if group:
            group.remove()
        stderr.seek(0, os.SEEK_END)
        stderr.seek(max(0, stderr.tell() - STDERR_KEPT))
        stderr_text = stderr.read().decode(errors="replace")
        stderr.close()
    seconds = time.monotonic() - started
    return _Finished(
        report=_read_json(workdir / sandbox_runner.REPORT),
        killed=killed,
        stderr=stderr_text,
        seconds=seconds,
        executed=_read_text(workdir / sandbox_runner.EXECUTED),
    )


def _wait(process: subprocess.Popen, executed: Path, limits: GradingLimits) -> bool:
    """Wait for the run to end by itself (True) or its deadline (False): the kernel's start
    gets ``startup_grace_s``, the cells ``notebook_timeout_s`` from when the first started
    (papermill saves the executed copy as each cell starts)."""
    now = time.monotonic()
    deadline = now + limits.startup_grace_s + limits.notebook_timeout_s
    cells_started = False
    seen: list[float] = [0.0]
    while True:
        try:
            process.wait(timeout=0.25)
            return True
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if now >= deadline:
            return False
        if not cells_started and _changed(executed, seen) and _a_cell_started(executed):
            cells_started = True
            deadline = min(deadline, now + limits.notebook_timeout_s)


def _changed(path: Path, seen: list[float]) -> bool:
    try:
        modified = path.stat().st_mtime
    except OSError:
        return False
    if modified == seen[0]:
        return False
    seen[0] = modified
    return True


def _a_cell_started(executed: Path) -> bool:
    """Whether papermill's saved copy shows a cell that started (the kernel is up)."""
    text = _read_text(executed)
    try:
        cells = json.loads(text).get("cells", []) if text else []
    except ValueError:  # being written
        return False
    return any(
        isinstance(cell, dict) and cell.get("metadata", {}).get("papermill", {}).get("start_time")
        for cell in cells
    )


def run_cgroup(
    name: str, limits: GradingLimits, parent: str = RUN_CGROUP_PARENT
) -> JobCgroup | None:
    """A grading job's cgroups and limits (memory, processes, one CPU's quota), by default
    under a parent of their own at the ordinary CPU weight: an author waits for this run,
    whereas grading's parent weighs as little as a nice-15 process so queues drain in the
    background (a background run takes ``parent=GRADING_CGROUP_PARENT``, beside grading).
    None without cgroup v1 (prlimit then limits memory and processes)."""
    folders: dict[str, Path] = {}
    try:
        for controller in ("memory", "pids", "cpu", "freezer"):
            if (CGROUP_ROOT / controller / "cgroup.procs").exists():
                folder = CGROUP_ROOT / controller / parent / name
                folder.mkdir(parents=True, exist_ok=True)
                folders[controller] = folder
        if not {"memory", "pids"} <= folders.keys():
            raise OSError("no cgroup v1 memory and pids controllers")
        (folders["memory"] / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
        (folders["pids"] / "pids.max").write_text(str(limits.max_processes + 32))
        if "cpu" in folders:
            (folders["cpu"] / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
            quota = int(limits.cpus * CPU_PERIOD_US)
            (folders["cpu"] / "cpu.cfs_quota_us").write_text(str(quota))
        return JobCgroup(name, folders)
    except OSError:
        JobCgroup(name, folders).remove()
        return None


def _kill(process: subprocess.Popen | None, group: JobCgroup | None, uid: int) -> None:
    if group:
        with contextlib.suppress(OSError):
            group.kill_all()
    if process is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    kill_uid(uid)


def _read_json(path: Path) -> dict:
    text = _read_text(path)
    try:
        loaded = json.loads(text) if text else {}
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _read_text(path: Path, limit: int = 64 << 20) -> str | None:
    """A file the run's uid wrote: a regular file only, read up to ``limit`` bytes."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as handle:
        if not os.path.isfile(f"/proc/self/fd/{handle.fileno()}"):
            return None
        return handle.read(limit).decode(errors="replace")


def read_run(
    source: nbformat.NotebookNode,
    finished: _Finished,
    cell_timeout_seconds: float,
    timeout_seconds: float,
) -> NotebookRun:
    """The ``NotebookRun`` of a finished (or killed) sandbox run."""
    notebook = _executed_notebook(finished.executed) or nbformat.from_dict(source)
    cells, started = _cell_runs(notebook)
    stop = finished.report.get("stop")
    failed = next((cell.index for cell in cells if cell.error_name), None)
    timed_out = finished.killed or stop == "cell_timeout"
    problem: str | None = None
    if timed_out:
        failed = started[-1] if started else None
        limit = cell_timeout_seconds if stop == "cell_timeout" else timeout_seconds
        where = _cell_name(source, failed) if failed is not None else "the notebook"
        problem = f"The run was stopped at its time limit ({limit:g} s) in {where}."
        for cell in cells:
            if cell.index == failed and not cell.error_name:
                cell.error_name = "TimeoutError"
                cell.error_text = f"Stopped after {limit:g} s."
    elif stop in ("error", "finished") and failed is not None:
        error = next(cell for cell in cells if cell.index == failed)
        problem = f"{_cell_name(source, failed).capitalize()} raised {error.error_name}."
    elif stop == "dead_kernel":
        failed = started[-1] if started else None
        problem = (
            f"The kernel died in {_cell_name(source, failed)} (the sandbox's memory or "
            "process limit)."
            if failed is not None
            else "The kernel died before any cell ran."
        )
    elif stop != "finished":
        problem = str(finished.report.get("problem") or "") or _last_line(finished.stderr)
        problem = f"The notebook could not run: {problem}"
    code = [index for index, cell in enumerate(source.cells) if cell.cell_type == "code"]
    ran = {cell.index for cell in cells}
    return NotebookRun(
        ok=problem is None,
        notebook=notebook,
        cells=cells,
        failed_cell=failed,
        timed_out=timed_out,
        missing_files=_missing_files(cells),
        widgets=_has_widgets(notebook),
        seconds=finished.seconds,
        problem=problem,
        not_run=[index for index in code if index not in ran],
    )


def _executed_notebook(text: str | None) -> nbformat.NotebookNode | None:
    if not text:
        return None
    try:
        return nbformat.reads(text, as_version=4)
    except Exception:  # half-written when the run was killed mid-save
        return None


def _cell_runs(notebook: nbformat.NotebookNode) -> tuple[list[CellRun], list[int]]:
    """Per code cell of the author's that started: its run time and its error; and the
    started cells (indexes in the author's notebook)."""
    runs: list[CellRun] = []
    started: list[int] = []
    for index, cell in enumerate(authors_cells(notebook)):
        meta = cell.get("metadata", {}).get("papermill", {})
        if cell.cell_type != "code" or not meta.get("start_time"):
            continue
        started.append(index)
        error = next((out for out in cell.get("outputs", []) if out.output_type == "error"), None)
        runs.append(
            CellRun(
                index=index,
                seconds=float(meta.get("duration") or 0.0),
                error_name=error.get("ename") if error else None,
                error_text=_plain("\n".join(error.get("traceback", []))) if error else None,
            )
        )
    return runs, started


def authors_cells(notebook: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The executed copy's cells without papermill's own (injected parameters, error
    markers): in the author's order, so positions match the notebook as written."""
    return [
        cell
        for cell in notebook.cells
        if not set(cell.get("metadata", {}).get("tags", [])) & PAPERMILL_TAGS
    ]


def _cell_name(source: nbformat.NotebookNode, index: int) -> str:
    """'cell 4 (`1/0`)': 1-based, as people count, with its first line."""
    lines = source.cells[index].source.strip().splitlines() if index < len(source.cells) else []
    first = lines[0][:60] if lines else ""
    return f"cell {index + 1}" + (f" (`{first}`)" if first else "")


def _plain(text: str) -> str:
    return _ANSI.sub("", text)


def _missing_files(cells: list[CellRun]) -> list[str]:
    found: list[str] = []
    for cell in cells:
        if cell.error_name in ("FileNotFoundError", "OSError", "IOError") and cell.error_text:
            found += _MISSING.findall(cell.error_text)
    return list(dict.fromkeys(found))


def _has_widgets(notebook: nbformat.NotebookNode) -> bool:
    return any(
        WIDGET_MIME in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "the sandbox ended without a report."
