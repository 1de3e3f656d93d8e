"""Run one submission inside the sandbox: ``python -m coursehub.graders.runner``.

The grader (``coursehub.graders.sandbox_job``) starts this module under bubblewrap as the
job's unprivileged uid, in the job folder, possibly before the job exists (a warm pool,
``coursehub.graders.warm_pool``). The runner makes itself non-dumpable, so the kernel (same
uid) can neither ptrace it nor read its memory or file descriptors through /proc, starts its
judge thread and socket and then the kernel (whose processes are limited to the job's
budget minus a reserve for the runner), and says ``ready`` on its standard output. Then the
grader puts ``submission.ipynb`` in the folder and sends the plan on stdin: the complete
test cells (hidden tests included), the instructor's cells, the key that signs the results,
and the limits. The runner never writes the plan anywhere, and the kernel holds neither of
those pipes.

It executes the notebook with nbclient in a grading kernel (``coursehub.graders.
grading_kernel``): student and locked cells as they are. For a test cell the kernel only
runs its serve loop while the judge (``coursehub.graders.judge``, in this process) executes
the instructor's test code and decides pass or fail (see ``judge`` for the threat model).
When it stops (end, timeout, too much output, dead kernel) it shuts the kernel down, kills
every process left in the sandbox, and only then writes ``executed.ipynb`` and
``replies.json`` (per cell: the execute_reply status and the judge's record), signed with
the key, so that nothing student code left behind can rewrite them.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import ctypes
import hashlib
import hmac
import json
import os
import queue
import re
import secrets
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
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

from coursehub.graders.grading_kernel import ENTRY_NAME, NPROC_VARIABLE  # noqa: E402
from coursehub.graders.judge import Judge, ThreadOutput  # noqa: E402

SUBMISSION, EXECUTED, REPLIES = "submission.ipynb", "executed.ipynb", "replies.json"
KERNEL_NAME = "coursehub-grading"
PR_SET_DUMPABLE = 4
READY_LINE = b"ready\n"  # the same line as sandbox_job.READY_LINE
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
    # Everything the judge needs exists before the kernel runs a single line of the
    # student's: its thread, its socket (an abstract address in the sandbox's own network
    # namespace) and the imports it uses.
    judges = JudgeThread()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    address = f"coursehub-judge-{os.getpid()}-{secrets.token_hex(4)}"
    listener.bind("\0" + address)
    listener.listen(8)
    listener.settimeout(0.1)
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
            judge = Judge(plan.get("instructor_code", []), workdir)
            run = _Run(client, notebook, tests, plan, report, judge, judges, listener, address)
            await run.cells()
    except Exception as error:
        if not started:
            raise KernelStartFailed(str(error)) from error
        raise
    finally:
        listener.close()
    return notebook, report, plan


@dataclass
class _Run:
    client: GradingClient
    notebook: nbformat.NotebookNode
    tests: dict
    plan: dict
    report: dict
    judge: Judge
    judges: JudgeThread
    listener: socket.socket
    address: str

    async def cells(self) -> None:
        limits, cells, notebook = self.plan["limits"], self.report["cells"], self.notebook
        deadline = time.monotonic() + limits["notebook_timeout_s"]
        sent: list[tuple[int, list[str]]] = []
        sampler = asyncio.ensure_future(self.sample_tasks())
        try:
            await self.each_cell(notebook, cells, limits, deadline, sent)
        finally:
            sampler.cancel()
        self.report["spying"] = spied_cells(notebook, sent)

    async def sample_tasks(self) -> None:
        while True:
            self.count_tasks()
            await asyncio.sleep(0.25)

    async def each_cell(
        self, notebook: Any, cells: dict, limits: dict, deadline: float, sent: list
    ) -> None:
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code" or (index not in self.tests and not cell.source.strip()):
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.report["stop"], self.report["stopped_at"] = "notebook_timeout", index
                break
            self.client.timeout = max(1, int(min(limits["cell_timeout_s"], remaining)))
            record: dict[str, Any] = {"status": None}
            cells[str(index)] = record
            if index in self.tests:
                stop = await self.test(index, cell, record, deadline)
                sent.append((index, record.pop("sent", [])))
            else:
                stop = await self.student_cell(index, cell, record, deadline)
            self.count_tasks()
            if stop:
                break

    def count_tasks(self) -> None:
        """The most threads the job had after a cell (what RLIMIT_NPROC counts): the
        grader tells a fork bomb by it, since the kernel's limit keeps the cgroup's away."""
        self.report["most_tasks"] = max(self.report.get("most_tasks", 0), tasks_now())

    async def student_cell(self, index: int, cell: Any, record: dict, deadline: float) -> bool:
        try:
            ran = await self.client.async_execute_cell(cell, index)
        except (CellTimeoutError, DeadKernelError, asyncio.CancelledError) as error:
            self.stopped(index, error, deadline)
            return True
        record.update(ran.metadata.pop("coursehub_reply", {}))
        return False

    async def test(self, index: int, cell: Any, record: dict, deadline: float) -> bool:
        """Run a test cell: the judge executes it while the kernel runs its serve loop."""
        check, judge = self.tests[index], self.judge
        serve = nbformat.v4.new_code_cell(f"{ENTRY_NAME}({self.address!r})")
        judge.aborted.clear()
        judge.finished.clear()
        judged = self.judges.submit(judge_test, self.listener, judge, check)
        executing = asyncio.ensure_future(self.client.async_execute_cell(serve, index))
        stop = False
        try:
            await asyncio.wait({judged, executing}, return_when=asyncio.FIRST_COMPLETED)
            if not judged.done() and not judge.finished.is_set():
                # The serve loop ended before the verdict: it never connected, or it was
                # replaced, or it gave up.
                await asyncio.wait({judged}, timeout=0.5)
                if not judge.finished.is_set():
                    abort(judge)
            ran = await executing
            record.update(ran.metadata.pop("coursehub_reply", {}))
        except (CellTimeoutError, DeadKernelError, asyncio.CancelledError) as error:
            abort(judge)
            self.stopped(index, error, deadline)
            stop = True
        self.notebook.cells[index] = cell  # never the serve cell, even in the job folder
        cell.outputs = list(serve.get("outputs", []))
        cell.execution_count = serve.get("execution_count")
        try:
            verdict = await asyncio.wait_for(asyncio.shield(judged), timeout=5)
        except TimeoutError:  # the judge is stuck in the test's own code
            verdict = {"status": "aborted", "flags": [], "printed": ""}
            if not stop:
                self.report["stop"], self.report["stopped_at"] = "cell_timeout", index
                stop = True
        record["judge"] = {k: v for k, v in verdict.items() if k not in ("printed", "sent")}
        record["sent"] = verdict.get("sent", [])
        if verdict["status"] == "aborted" and not stop:
            record["judge"]["flags"].append("serve-loop-missing")
        judge_outputs = judge_made_outputs(verdict)
        cell.outputs.extend(judge_outputs)
        cell.metadata["coursehub_judge_outputs"] = len(judge_outputs)
        return stop

    def stopped(self, index: int, error: BaseException, deadline: float) -> None:
        self.count_tasks()
        report = self.report
        report["stopped_at"] = index
        if self.client.output_exceeded:
            report["stop"] = "output_limit"
        elif isinstance(error, CellTimeoutError):
            late = time.monotonic() >= deadline - 1
            report["stop"] = "notebook_timeout" if late else "cell_timeout"
        else:
            report["stop"] = "kernel_died"


def tasks_now() -> int:
    """Threads of every process in the sandbox's pid namespace."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                count += len(os.listdir(f"/proc/{entry}/task"))
    return count


def judge_made_outputs(verdict: dict) -> list:
    """The test's own outputs: what it printed, its last value, its failure."""
    outputs = []
    if verdict.get("printed"):
        outputs.append(nbformat.v4.new_output("stream", name="stdout", text=verdict["printed"]))
    if verdict["status"] == "ok" and verdict.get("value") is not None:
        outputs.append(
            nbformat.v4.new_output(
                "execute_result", data={"text/plain": verdict["value"]}, execution_count=None
            )
        )
    if verdict["status"] == "fail":
        outputs.append(
            nbformat.v4.new_output(
                "error",
                ename=verdict["ename"],
                evalue=verdict["evalue"],
                traceback=verdict.get("traceback", []),
            )
        )
    return outputs


def spied_cells(notebook: nbformat.NotebookNode, sent: list[tuple[int, list[str]]]) -> list[int]:
    """Cells whose notebook-made output shows a value that a hidden test passed to the
    notebook's code earlier (argument spying)."""
    found: list[int] = []
    for first, values in sent:
        if not values:
            continue
        pattern = re.compile(
            "|".join(rf"(?<![\w.]){re.escape(value)}(?![\w.])" for value in values)
        )
        for index, cell in enumerate(notebook.cells):
            if index < first or cell.cell_type != "code" or index in found:
                continue
            mine = len(cell.outputs) - cell.metadata.get("coursehub_judge_outputs", 0)
            if pattern.search(json.dumps(cell.outputs[:mine])):
                found.append(index)
    return found


class JudgeThread:
    """The one thread that runs the judge, started before any student code runs (so that a
    fork bomb cannot keep it from starting) and never joined (a test stuck in the judge
    cannot keep the runner from writing its results)."""

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._work, name="coursehub-judge", daemon=True).start()

    def _work(self) -> None:
        while True:
            future, function, args = self.jobs.get()
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(function(*args))
                except BaseException as error:
                    future.set_exception(error)

    def submit(self, function: Callable, *args: Any) -> asyncio.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self.jobs.put((future, function, args))
        return asyncio.wrap_future(future)


def judge_test(listener: socket.socket, judge: Judge, check: dict) -> dict:
    """In the judge's thread: wait for the kernel's serve loop, then run the test."""
    connection = None
    while not judge.aborted.is_set():
        try:
            connection, _ = listener.accept()
            break
        except TimeoutError:
            continue
    if connection is not None:
        connection.settimeout(None)
    try:
        return judge.run_test(connection, check["code"], set(check["hidden_lines"]))
    finally:
        if connection is not None:
            connection.close()


def abort(judge: Judge) -> None:
    """Stop the judge's current test (from the event loop's thread)."""
    judge.aborted.set()
    sock = judge.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


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
    options.add_argument("--kernel-processes", type=int, default=0)
    parsed = options.parse_args(argv)
    startup_timeout = parsed.startup_timeout
    if parsed.kernel_processes:
        os.environ[NPROC_VARIABLE] = str(parsed.kernel_processes)
    # The job folder is the student's: nothing the judge imports may come from it.
    here = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", ".", here)]
    from IPython.core.inputtransformer2 import TransformerManager  # noqa: F401 - loaded now

    # Only this process may tell the grader the kernel is ready: the kernel gets /dev/null
    # as its standard output and input, never the grader's pipes.
    ready, plan_input = os.dup(1), os.dup(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    sys.stdout = ThreadOutput(sys.stdout)
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
    sys.stdout.flush()
    os._exit(0)  # a judge stuck in a test's own loop must not keep the runner alive


if __name__ == "__main__":
    main()
