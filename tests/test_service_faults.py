"""The course service when its processes are killed (issue 13, faults 13 and 14): one of its
worker processes killed costs a few requests, not the service (another takes its place at
once), and its parent killed outright takes its workers with it, so the hub's restart finds
the port free and the service comes back by itself."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.platform import (
    Platform,
    claim_redis_db,
    create_database,
    drop_database,
    platform_env,
    release_redis_db,
)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data_dir = tmp_path_factory.mktemp("service-faults")
    database, redis_db = create_database(), claim_redis_db()
    env = platform_env(data_dir, database, redis_db, COURSEHUB_SERVICE_PROCESSES="2")
    platform = Platform(url=env["COURSEHUB_BIND_URL"], data_dir=data_dir, env=env)
    platform.start(timeout=240)
    yield platform
    platform.stop()
    drop_database(database)
    release_redis_db(redis_db)


def service_processes(data_dir: Path) -> dict[int, int]:
    """The course service's processes of this platform: pid → parent pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if (
            b"coursehub.services.lms" in cmdline
            and f"COURSEHUB_DATA_DIR={data_dir}".encode() in environ
            and stat[0] != "Z"
        ):
            found[int(entry.name)] = int(stat[1])
    return found


def parent_and_workers(data_dir: Path) -> tuple[int, list[int]]:
    found = service_processes(data_dir)
    [parent] = [pid for pid, ppid in found.items() if ppid not in found]
    return parent, [pid for pid, ppid in found.items() if ppid == parent]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def healthy_within(platform: Platform, seconds: float) -> float:
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        try:
            if httpx.get(f"{platform.service_url}/health", timeout=2).status_code == 200:
                return time.monotonic() - began
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the service was not healthy within {seconds} s")


class Visitors:
    """People loading a course page through the proxy, without pause, in a few threads."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.answers: list[int] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.visit) for _ in range(threads)]

    def visit(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                try:
                    self.answers.append(client.get(self.url).status_code)
                except httpx.HTTPError:
                    self.answers.append(0)

    def __enter__(self) -> Visitors:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def test_one_killed_process_costs_a_few_requests_not_the_service(running: Platform):
    parent, workers = parent_and_workers(running.data_dir)
    assert len(workers) == 2
    with Visitors(f"{running.service_url}/courses") as visitors:
        time.sleep(3)
        before = len(visitors.answers)
        os.kill(workers[0], signal.SIGKILL)
        back_after = healthy_within(running, 5)
        time.sleep(5)
    after = visitors.answers[before:]
    failed = [status for status in after if status != 200]
    assert back_after < 5
    assert len(after) > 20, "the visitors kept loading pages"
    assert len(failed) / len(after) < 0.05, f"{len(failed)} of {len(after)} requests failed"
    same_parent, replaced = parent_and_workers(running.data_dir)
    assert same_parent == parent and len(replaced) == 2 and workers[0] not in replaced


def test_a_killed_parent_takes_its_workers_and_the_service_comes_back(running: Platform):
    parent, workers = parent_and_workers(running.data_dir)
    os.kill(parent, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers), "a worker outlived its killed parent"
    # The hub notices within its poll interval (30 s) and starts the service again.
    healthy_within(running, 90)
    new_parent, new_workers = parent_and_workers(running.data_dir)
    assert new_parent != parent and len(new_workers) == 2
    assert "Address already in use" not in running.log()
