"""Submissions that take too much: time, memory, processes, output. Each ends with a final
result and a sentence for the student, and nothing of the job is left running afterwards."""

from __future__ import annotations

import subprocess
import time

import pytest

from coursehub.graders.job_cgroup import CGROUP_ROOT, PARENT
from tests.test_grading_engine import (
    add_cell,
    answered,
    next_uid,
    processes_of,
    run,
    scores,
    squares_assignment,
)


@pytest.fixture(scope="module")
def squares():
    return squares_assignment()


def test_an_infinite_loop_times_out(squares, tmp_path):
    uid = next_uid()
    notebook = answered(squares, mean="def mean(values):\n    while True:\n        pass")

    result = run(squares, notebook, tmp_path, uid=uid, cell_timeout_s=3)

    assert result.outcome == "timeout"
    assert "ran longer than 3 seconds" in result.message
    assert scores(result)["correct_squares"] == 2  # it ran before the loop
    assert scores(result)["correct_mean"] == 0
    assert processes_of(uid) == []


def test_many_slow_cells_run_out_of_the_notebooks_time(squares, tmp_path):
    notebook = answered(squares)
    for _ in range(3):
        add_cell(notebook, "import time\ntime.sleep(1.5)", at=len(notebook.cells))

    result = run(squares, notebook, tmp_path, notebook_timeout_s=3)

    assert result.outcome == "timeout"
    assert "the notebook's 3 seconds" in result.message
    assert result.score == 5  # every test had run before the slow cells at the end


def test_a_frozen_runner_is_killed_at_the_notebook_deadline(squares, tmp_path):
    uid = next_uid()
    notebook = add_cell(
        answered(squares), "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)"
    )

    result = run(squares, notebook, tmp_path, uid=uid, notebook_timeout_s=3, startup_grace_s=3)

    assert result.outcome == "timeout"
    assert "in all" in result.message
    assert result.score == 0
    assert processes_of(uid) == []


def test_a_fork_bomb_is_contained(squares, tmp_path):
    uid = next_uid()
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    notebook = add_cell(answered(squares), bomb, at=len(answered(squares).cells))

    result = run(squares, notebook, tmp_path, uid=uid, cell_timeout_s=4)

    assert result.outcome == "crashed"
    assert "more than 128 processes" in result.message
    assert processes_of(uid) == []


def test_allocating_5_gb_runs_out_of_memory(squares, tmp_path):
    uid = next_uid()
    notebook = add_cell(answered(squares), "hog = bytearray(5 * 1024 ** 3)")

    result = run(squares, notebook, tmp_path, uid=uid)

    assert result.outcome == "memory"
    assert "more than 1 GiB of memory" in result.message
    assert processes_of(uid) == []


def test_printing_50_mb_hits_the_output_limit(squares, tmp_path):
    notebook = add_cell(answered(squares), "print('x' * 50_000_000)")

    result = run(squares, notebook, tmp_path)

    assert result.outcome == "output_limit"
    assert "printed more than 1,000,000 bytes" in result.message
    assert len(str(result.feedback_notebook)) < 2_000_000


def test_background_processes_do_not_outlive_the_job(squares, tmp_path):
    uid = next_uid()
    notebook = add_cell(
        answered(squares),
        "import os, subprocess\n"
        "subprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        import time\n"
        "        time.sleep(1000)\n"
        "    os._exit(0)",
    )

    result = run(squares, notebook, tmp_path, uid=uid)

    assert result.outcome == "graded" and result.score == 5
    assert processes_of(uid) == []


def test_without_cgroups_prlimit_still_limits_memory_and_says_so(
    squares, tmp_path, monkeypatch, caplog
):
    # A machine whose cgroup folders cannot be used (here: a folder with no controllers).
    monkeypatch.setattr("coursehub.graders.job_cgroup.CGROUP_ROOT", tmp_path / "no-cgroups")
    uid = next_uid()
    hog = add_cell(answered(squares), "hog = bytearray(5 * 1024 ** 3)")

    fine = run(squares, answered(squares), tmp_path)
    greedy = run(squares, hog, tmp_path, uid=uid)

    assert fine.outcome == "graded" and fine.score == 5
    assert greedy.outcome == "memory"
    assert "WITHOUT cgroups" in caplog.text
    assert processes_of(uid) == []


def test_the_next_job_of_a_uid_cleans_up_after_a_worker_that_died(squares, tmp_path):
    # A worker died mid-job: its cgroup and a process of the uid are still there.
    uid = next_uid()
    stale = {c: CGROUP_ROOT / c / PARENT / f"uid{uid}-dead" for c in ("memory", "pids")}
    for folder in stale.values():
        folder.mkdir(parents=True)
    enter = " && ".join(f"echo $$ > {folder}/cgroup.procs" for folder in stale.values())
    leftover = subprocess.Popen(
        ["/bin/sh", "-c", f"{enter} && exec setpriv --reuid {uid} --regid {uid} "
         "--clear-groups sleep 1000"]
    )  # fmt: skip
    while not processes_of(uid):
        time.sleep(0.05)

    result = run(squares, answered(squares), tmp_path, uid=uid)

    assert result.outcome == "graded"
    assert leftover.wait(timeout=5) == -9
    assert processes_of(uid) == []
    assert not any(folder.exists() for folder in stale.values())
