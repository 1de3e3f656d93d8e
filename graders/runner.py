"""Run one submission inside the sandbox: ``python -m coursehub.graders.runner``.

The grader (``coursehub.graders.sandbox_job``) starts this module under bubblewrap as the
job's unprivileged uid, in the job folder, possibly before the job exists (a warm pool,
``coursehub.graders.warm_pool``). The runner makes itself non-dumpable, so the kernel (same
uid) can neither ptrace it nor read its memory or file descriptors through /proc, starts the
kernel and says ``ready`` on its standard output. Then the grader puts ``submission.ipynb``
in the folder and sends the plan on stdin: the complete test cells (hidden tests included),
the run's secret nonce, the key that signs the results, and the limits. The runner never
writes the plan anywhere, and the kernel holds neither of those pipes.

It executes the notebook with nbclient in a grading kernel (``coursehub.graders.
grading_kernel``): student cells as they are, test cells through the kernel's own executor.
When it stops (end, timeout, too much output, dead kernel) it shuts the kernel down, kills
every process left in the sandbox, and only then writes ``executed.ipynb`` and
``replies.json`` (per cell: the execute_reply status, the error, the test's proof line),
signed with the key, so that nothing student code left behind can rewrite them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import ctypes
import hashlib
import hmac
import json
import os
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

# jsonschema (under nbformat) imports rfc3987_syntax when it is installed, and that module
# builds a grammar at import time: about a second of CPU in every job, for URI formats that
# notebook validation never checks. Marking it absent makes jsonschema skip it.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

import nbformat  # noqa: E402
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402
from jupyter_client.manager import AsyncKernelManager  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from nbclient.exceptions import CellTimeoutError, DeadKernelError  # noqa: E402

from coursehub.graders.grading_kernel import ENTRY_NAME  # noqa: E402

SUBMISSION, EXECUTED, REPLIES = "submission.ipynb", "executed.ipynb", "replies.json"
KERNEL_NAME = "coursehub-grading"
PR_SET_DUMPABLE = 4
READY_LINE = b"ready\n"  # the same line as sandbox_job.READY_LINE
PROOF_LINE = re.compile(r"^([0-9a-f]{32}) (ok|fail) (\{.*\})$")
EXIT_KERNEL_FAILED, EXIT_RUNNER_FAILED = 70, 71  # the platform's fault: the job is retried


class KernelStartFailed(RuntimeError):
    """The grading kernel did not start (before any student code ran)."""


class GradingClient(NotebookClient):
    """nbclient that counts output bytes and stops the cell once there are too many."""

    def __init__(self, nb: nbformat.NotebookNode, max_output_bytes: int, **kw: Any) -> None:
        super().__init__(nb, **kw)
        self.output_budget = max_output_bytes
        self.output_exceeded = False

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
        if self.output_exceeded:
            return None
        self.output_budget -= len(json.dumps(msg.get("content", {})))
        if self.output_budget < 0:
            self.output_exceeded = True
            if self.task_poll_for_reply is not None:
                self.task_poll_for_reply.cancel()
            return None
        return super().output(outs, msg, display_id, cell_index)


def forbid_tracing() -> None:
    """Same-uid processes (the kernel) may not ptrace us or open /proc/<our pid>/*."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")


def kernel_spec_dir(root: Path) -> Path:
    folder = root / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "coursehub.graders.grading_kernel", "-f", "{connection_file}"]
    argv += ["--HistoryManager.enabled=False", "--IPKernelApp.parent_handle=0"]
    spec = {"argv": argv, "display_name": "CourseHub grading", "language": "python"}
    (folder / "kernel.json").write_text(json.dumps(spec))
    return root / "kernels"


def take_proof(cell: nbformat.NotebookNode, nonce: str) -> tuple[dict | None, list[str]]:
    """Remove proof lines from a cell's output: (ours, if any; flags about forged ones)."""
    proof, flags = None, []
    for output in cell.get("outputs", []):
        if output.get("output_type") != "stream":
            continue
        kept = []
        for line in output.text.split("\n"):
            match = PROOF_LINE.match(line.strip())
            if match and match.group(1) == nonce:
                proof = {"status": match.group(2), **json.loads(match.group(3))}
            elif match:
                flags.append("forged-proof")
            else:
                kept.append(line)
        output.text = "\n".join(kept).strip("\n") + ("\n" if kept and any(kept) else "")
    cell.outputs = [o for o in cell.outputs if o.get("output_type") != "stream" or o.text]
    return proof, flags


async def execute(
    workdir: Path, startup_timeout: int, ready: int, read_plan: Callable[[], bytes]
) -> tuple[nbformat.NotebookNode, dict, dict]:
    """Start the kernel, say so on the ``ready`` descriptor, then wait for the plan and run
    the submission the grader has put in ``workdir`` by then: (notebook, report, plan)."""
    specs = KernelSpecManager(kernel_dirs=[str(kernel_spec_dir(Path("/tmp/coursehub-kernel")))])  # noqa: S108
    manager = AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
    client = GradingClient(
        nbformat.v4.new_notebook(),
        0,
        km=manager,
        allow_errors=True,
        interrupt_on_timeout=False,
        record_timing=False,
        startup_timeout=startup_timeout,
        shutdown_kernel="immediate",
        on_cell_executed=record_reply,
        resources={"metadata": {"path": str(workdir)}},
    )
    cells: dict[str, dict] = {}
    report: dict[str, Any] = {"stop": "finished", "stopped_at": None, "cells": cells}
    started = False
    try:
        async with client.async_setup_kernel():
            started = True
            os.write(ready, READY_LINE)
            os.close(ready)
            plan = json.loads(await asyncio.to_thread(read_plan))
            tests = {int(index): test for index, test in plan["tests"].items()}
            notebook = nbformat.read(workdir / SUBMISSION, as_version=4)
            client.nb = notebook
            client.output_budget = plan["limits"]["max_output_bytes"]
            await _run_cells(client, notebook, tests, plan, report)
    except Exception as error:
        if not started:
            raise KernelStartFailed(str(error)) from error
        raise
    return notebook, report, plan


async def _run_cells(
    client: GradingClient, notebook: nbformat.NotebookNode, tests: dict, plan: dict, report: dict
) -> None:
    limits, nonce, cells = plan["limits"], plan["nonce"], report["cells"]
    deadline = time.monotonic() + limits["notebook_timeout_s"]
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or (index not in tests and not cell.source.strip()):
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            report["stop"], report["stopped_at"] = "notebook_timeout", index
            break
        client.timeout = max(1, int(min(limits["cell_timeout_s"], remaining)))
        record: dict[str, Any] = {"status": None}
        cells[str(index)] = record
        running = cell
        if index in tests:
            payload = base64.b64encode(json.dumps({**tests[index], "nonce": nonce}).encode())
            running = nbformat.v4.new_code_cell(f"{ENTRY_NAME}({payload.decode()!r})")
        try:
            ran = await client.async_execute_cell(running, index)
        except (CellTimeoutError, DeadKernelError, asyncio.CancelledError) as error:
            notebook.cells[index] = cell
            cell.outputs = running.get("outputs", [])
            report["stopped_at"] = index
            if client.output_exceeded:
                report["stop"] = "output_limit"
            elif isinstance(error, CellTimeoutError):
                late = time.monotonic() >= deadline - 1
                report["stop"] = "notebook_timeout" if late else "cell_timeout"
            else:
                report["stop"] = "kernel_died"
            break
        notebook.cells[index] = cell  # never the payload, even in the job folder
        cell.outputs, cell.execution_count = ran.outputs, ran.get("execution_count")
        proof, flags = take_proof(cell, nonce)
        record.update(ran.metadata.pop("coursehub_reply", {}), proof=proof, flags=flags)
        if index not in tests and proof is not None:
            record["flags"].append("nonce-outside-test")


def record_reply(cell: Any = None, execute_reply: Any = None, **_: Any) -> None:
    """nbclient's on_cell_executed hook: keep what the kernel replied."""
    content = (execute_reply or {}).get("content", {})
    keys = ("status", "ename", "evalue")
    cell.metadata["coursehub_reply"] = {key: content.get(key) for key in keys}


def sign(key: bytes, *parts: bytes) -> str:
    digest = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def kill_everything_else() -> None:
    """Kill every process of this uid in the sandbox's pid namespace except ourselves, and
    collect our own dead children, until none is left (at most about a second)."""
    for _ in range(200):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        time.sleep(0.005)


def write_results(workdir: Path, key: bytes, notebook: nbformat.NotebookNode, report: dict) -> None:
    executed = nbformat.writes(notebook).encode()
    body = json.dumps(report, sort_keys=True).encode()
    replies = json.dumps({"report": report, "signature": sign(key, executed, body)}).encode()
    for name, data in ((EXECUTED, executed), (REPLIES, replies)):
        temporary = workdir / f".{name}.{os.getpid()}"
        temporary.write_bytes(data)
        os.replace(temporary, workdir / name)


def main(argv: list[str] | None = None) -> None:
    forbid_tracing()
    options = argparse.ArgumentParser(prog="coursehub.graders.runner")
    options.add_argument("--startup-timeout", type=int, default=30)
    startup_timeout = options.parse_args(argv).startup_timeout
    # Only this process may tell the grader the kernel is ready: the kernel gets /dev/null
    # as its standard output and input, never the grader's pipes.
    ready, plan_input = os.dup(1), os.dup(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    workdir = Path.cwd()
    Path(os.environ.get("HOME", "/tmp")).mkdir(parents=True, exist_ok=True)  # noqa: S108

    def read_plan() -> bytes:
        with os.fdopen(plan_input, "rb") as source:
            return source.read()

    try:
        notebook, report, plan = asyncio.run(execute(workdir, startup_timeout, ready, read_plan))
    except KernelStartFailed:
        traceback.print_exc()
        sys.exit(EXIT_KERNEL_FAILED)
    except Exception:
        traceback.print_exc()
        sys.exit(EXIT_RUNNER_FAILED)
    kill_everything_else()
    write_results(workdir, bytes.fromhex(plan["key"]), notebook, report)


if __name__ == "__main__":
    main()
