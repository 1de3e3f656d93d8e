"""The warm pool of grading sandboxes: a job finds its kernel already running, gets the
same scores as a sandbox started for it, and nothing of it outlives the job.

Real bubblewrap, cgroups and kernels; uids come from a slot source of the test's own, the
way the worker takes them from the machine's pool."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from coursehub.graders.autograde import GradeResult, grade
from coursehub.graders.job_cgroup import GRADING_CPU_SHARES, PARENT
from coursehub.graders.sandbox_job import processes_of
from coursehub.graders.warm_pool import WarmPool
from tests.test_grading_engine import FILES, answered, next_uid, scores, squares_assignment

_slots = itertools.count(330_000 + (os.getpid() % 1000) * 50)


@contextlib.contextmanager
def own_slot() -> Iterator[int]:
    yield next(_slots)


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[WarmPool]:
    pool = WarmPool(slot=own_slot, jobs_dir=tmp_path / "jobs", hidden_paths=(str(FILES),))
    yield pool
    pool.close()


def graded_in(pool: WarmPool, notebook: nbformat.NotebookNode) -> tuple[int, GradeResult]:
    sandbox = pool.take()
    try:
        return sandbox.uid, grade(
            squares_assignment(),
            notebook,
            workdir=sandbox.workdir,
            uid=sandbox.uid,
            limits=sandbox.job.limits,
            started=sandbox.job,
        )
    finally:
        sandbox.close()


def ready_within(pool: WarmPool, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pool._ready and pool._starting == 0:
            return True
        time.sleep(0.1)
    return False


def test_a_warm_sandbox_grades_like_a_cold_one_and_leaves_nothing_behind(pool, tmp_path):
    squares = squares_assignment()
    notebook = answered(squares, squares="def squares(n):\n    return [1, 4]")
    cold_uid = next_uid()
    cold = grade(squares, notebook, workdir=tmp_path / "cold", uid=cold_uid)

    pool.refill()
    assert ready_within(pool, 60), "the pool never got a sandbox ready"
    prepared = pool._ready[0]
    assert prepared.job.wait_ready(60), "the prepared sandbox's kernel never became ready"
    time.sleep(1)
    assert prepared.job.alive(), "the prepared sandbox died while it waited"
    uid, warm = graded_in(pool, notebook)

    assert uid == prepared.uid, "the job did not get the sandbox prepared for it"

    assert warm.outcome == cold.outcome == "graded"
    assert scores(warm) == scores(cold)
    assert warm.feedback_notebook == cold.feedback_notebook
    assert processes_of(uid) == [] and processes_of(cold_uid) == []
    assert not list((tmp_path / "jobs").glob(f"job-{uid}-*")), "the job folder was kept"


def test_the_next_sandbox_is_started_while_a_job_runs_and_each_job_gets_its_own_uid(pool):
    squares = squares_assignment()
    first_uid, first = graded_in(pool, answered(squares))
    assert pool._ready or pool._starting, "no sandbox is being prepared for the next job"
    second_uid, second = graded_in(pool, answered(squares))

    assert first_uid != second_uid
    assert scores(first) == scores(second)
    assert first.outcome == second.outcome == "graded"


def test_a_sandbox_that_died_while_waiting_is_replaced(pool):
    pool.refill()
    assert ready_within(pool, 60)
    doomed = pool._ready[0]
    os.killpg(doomed.job.process.pid, signal.SIGKILL)
    doomed.job.process.wait(timeout=10)

    uid, result = graded_in(pool, answered(squares_assignment()))

    assert uid != doomed.uid
    assert result.outcome == "graded"
    assert processes_of(doomed.uid) == []


def test_the_kernel_holds_neither_of_the_runners_pipes(pool):
    """The plan (hidden tests, the signing key) travels on the runner's stdin and the ready
    line on its stdout; student code in the kernel must hold neither pipe."""
    notebook = answered(squares_assignment())
    notebook.cells.insert(
        1,
        nbformat.v4.new_code_cell(
            "import os\n"
            "for fd in os.listdir('/proc/self/fd'):\n"
            "    try:\n"
            "        print('fd', os.readlink(f'/proc/self/fd/{fd}'))\n"
            "    except OSError:\n"
            "        pass"
        ),
    )
    sandbox = pool.take()
    runner_pipes = {
        f"pipe:[{os.fstat(stream.fileno()).st_ino}]"
        for stream in (sandbox.job.process.stdin, sandbox.job.process.stdout)
    }
    try:
        result = grade(
            squares_assignment(),
            notebook,
            workdir=sandbox.workdir,
            uid=sandbox.uid,
            started=sandbox.job,
        )
    finally:
        sandbox.close()

    shown = nbformat.writes(nbformat.from_dict(result.feedback_notebook))
    assert "fd pipe:[" in shown, "the cell did not list the kernel's descriptors"
    assert not [pipe for pipe in runner_pipes if pipe in shown]


def test_closing_the_pool_stops_every_waiting_sandbox(tmp_path):
    pool = WarmPool(slot=own_slot, jobs_dir=tmp_path / "jobs", size=2)
    pool.refill()
    assert ready_within(pool, 60)
    uids = [sandbox.uid for sandbox in pool._ready]

    pool.close()

    assert len(uids) == 2
    assert all(processes_of(uid) == [] for uid in uids)
    assert not list((tmp_path / "jobs").iterdir())


def test_grading_as_a_whole_yields_the_cpu_to_people_waiting_on_pages(pool):
    graded_in(pool, answered(squares_assignment()))

    shares = Path("/sys/fs/cgroup/cpu") / PARENT / "cpu.shares"
    if not shares.parent.exists():
        pytest.skip("this machine has no cgroup v1 cpu controller")
    assert int(shares.read_text()) == GRADING_CPU_SHARES < 1024
