"""Sampling a process with py-spy while it is under load, and summarising where time goes.

py-spy writes collapsed stacks (``--format raw``); this module counts, per function, the
samples where it was running (self) and where it was on the stack (inclusive), and groups
self time by library. Only the main thread (the event loop) is summarised: py-spy counts a
thread blocked in a C call (pycares' shutdown thread waiting on its queue) as busy, so other
threads are listed apart, beside the CPU time each thread really used.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

INSTALL_HINT = "py-spy is not installed; install it with: .venv/bin/pip install py-spy"
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy_binary() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    binary = str(beside) if beside.exists() else shutil.which("py-spy")
    if binary is None:
        raise RuntimeError(INSTALL_HINT)
    return binary


COURSEHUB_FOLDERS = ("services", "hub", "extensions", "graders", "coursehub")


def _library(path: str) -> str:
    """``sqlalchemy`` for (.../site-packages/)sqlalchemy/..., ``asyncio`` for the stdlib's.

    py-spy shortens file names to the part below sys.path unless told otherwise.
    """
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif "/python3." in path:
        path = re.sub(r"^.*/python3\.\d+/", "", path)
    elif path.startswith("/"):
        path = path.rsplit("/", 1)[1]
    top = path.split("/", 1)[0].removesuffix(".py")
    return "coursehub" if top in COURSEHUB_FOLDERS else top or "?"


def _short(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    return re.sub(r"^.*/python3\.\d+/", "", path)


# Stacks of threads started with threading.Thread; the rest are the event loop's (a greenlet
# SQLAlchemy runs a query in may show without the loop's frames under it).
OTHER_THREAD_ROOT = "Thread._bootstrap "
# The event loop runs every callback under this frame; frames below it (runpy, asyncio.run,
# run_forever) are on every stack and say nothing, so inclusive counts start above it.
CALLBACK_FRAME = "Handle._run "


@dataclass
class Profile:
    samples: int = 0
    self_by_function: Counter[str] = field(default_factory=Counter)
    inclusive_by_function: Counter[str] = field(default_factory=Counter)
    self_by_library: Counter[str] = field(default_factory=Counter)
    other_threads: Counter[str] = field(default_factory=Counter)  # by leaf function
    thread_cpu_seconds: dict[str, float] = field(default_factory=dict)

    def add(self, stack: list[str], count: int) -> None:
        functions = []
        for frame in stack:
            match = FRAME.match(frame)
            if match is None:  # "process ..." and "thread ..." pseudo-frames
                continue
            functions.append(
                (f"{match['function']} ({_short(match['file'])})", _library(match["file"]))
            )
        if not functions:
            return
        if functions[0][0].startswith(OTHER_THREAD_ROOT):
            self.other_threads[functions[-1][0]] += count
            return
        self.samples += count
        leaf, library = functions[-1]
        self.self_by_function[leaf] += count
        self.self_by_library[library] += count
        callbacks = [i for i, (name, _) in enumerate(functions) if name.startswith(CALLBACK_FRAME)]
        above_loop = functions[callbacks[-1] + 1 :] if callbacks else functions
        for name in {name for name, _ in above_loop}:
            self.inclusive_by_function[name] += count

    def as_dict(self, top: int = 25) -> dict[str, Any]:
        def share(counter: Counter[str]) -> list[dict[str, Any]]:
            return [
                {"name": name, "samples": n, "percent": round(100 * n / self.samples, 1)}
                for name, n in counter.most_common(top)
            ]

        return {
            "samples": self.samples,
            "other_thread_samples": dict(self.other_threads),
            "thread_cpu_seconds": self.thread_cpu_seconds,
            "self_by_library": share(self.self_by_library),
            "self_by_function": share(self.self_by_function),
            "inclusive_by_function": share(self.inclusive_by_function),
        }

    def text(self, top: int = 15) -> str:
        if not self.samples:
            return "py-spy recorded no busy samples."
        lines = [f"{self.samples} busy samples of the service's event-loop thread"]
        if self.other_threads:
            lines.append(
                "  other threads (py-spy counts some blocked C calls as busy): "
                + ", ".join(f"{name}: {n}" for name, n in self.other_threads.most_common(3))
            )
        if self.thread_cpu_seconds:
            lines.append(
                "  CPU seconds per thread over the window: "
                + ", ".join(f"{name} {sec:.2f}" for name, sec in self.thread_cpu_seconds.items())
            )
        for title, counter in (
            ("self time by library", self.self_by_library),
            ("self time by function", self.self_by_function),
            ("inclusive time by function", self.inclusive_by_function),
        ):
            lines.append(f"\n  {title}:")
            lines.extend(
                f"    {100 * n / self.samples:5.1f}%  {name}"
                for name, n in counter.most_common(top)
            )
        return "\n".join(lines)


def read_collapsed(path: Path) -> Profile:
    profile = Profile()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            profile.add(stack.split(";"), int(count))
    return profile


def _thread_cpu(pid: int) -> dict[int, float]:
    return {t.id: t.user_time + t.system_time for t in psutil.Process(pid).threads()}


def record_while(pid: int, seconds: int, output: Path, load: Callable[[], object]) -> Profile:
    """Sample ``pid`` with py-spy for ``seconds`` while ``load()`` runs; the load should last
    a little less than ``seconds`` so that every sample falls inside it."""
    threads_before = _thread_cpu(pid)
    recorder = subprocess.Popen(
        [
            py_spy_binary(),
            "record",
            f"--pid={pid}",
            f"--duration={seconds}",
            "--rate=200",
            "--format=raw",
            f"--output={output}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        load()
        threads_after = _thread_cpu(pid)
        _, errors = recorder.communicate(timeout=seconds + 60)
    except BaseException:
        recorder.kill()
        recorder.wait()
        raise
    if recorder.returncode != 0 or not output.exists():
        raise RuntimeError(f"py-spy failed (exit {recorder.returncode}): {errors[-2000:]}")
    profile = read_collapsed(output)
    for tid, cpu in sorted(threads_after.items()):
        used = cpu - threads_before.get(tid, 0.0)
        if used >= 0.01:
            name = "main" if tid == pid else f"thread {tid}"
            profile.thread_cpu_seconds[name] = round(used, 2)
    return profile
