"""Grading workers ride out what happens to real machines (issue 13, faults 10 and 11):
PostgreSQL restarts under them, a worker frozen past its heartbeat comes back after another
took its place, and /health says so when jobs wait with no worker to run them.

The restarts happen on a PostgreSQL cluster of the test's own (pgserver's binaries, data in a
temporary folder), never on the machine's shared server.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from pgserver import get_server, pg_ctl  # type: ignore[attr-defined]
from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import create_async_engine

from coursehub.services import migrate
from coursehub.services.assessment.submissions import GRADE_TASK, GRADING_QUEUE
from coursehub.services.db import make_sessionmaker
from coursehub.services.embedded import postgres_url
from coursehub.services.jobs import queue, worker_health
from coursehub.services.settings import sqlalchemy_url
from tests.platform import claim_redis_db, release_redis_db

A_GONE_SUBMISSION = 2_000_000_000  # grading it finds nothing and ends well at once


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster only this test uses, which it may stop and start."""

    pgdata: Path
    socket_dir: str
    url: str

    def restart(self, down_for: float) -> None:
        """Stopped (fast: sessions cut), left down ``down_for`` seconds, started again."""
        user = "pgserver" if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user)
        time.sleep(down_for)
        pg_ctl(
            [
                "-w",
                "-o",
                '-h ""',
                "-o",
                f"-k {self.socket_dir}",
                "-l",
                str(self.pgdata / "log"),
                "start",
            ],
            pgdata=self.pgdata,
            user=user,
            timeout=30,
        )

    def query(self, sql: str, *params: object) -> list[tuple]:
        with psycopg.connect(queue.libpq_url(self.url), autocommit=True) as connection:
            cursor = connection.execute(sql, params)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture(scope="module")
def private_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePostgres]:
    pgdata = tmp_path_factory.mktemp("private-postgres") / "pgdata"
    server = get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir)
    with psycopg.connect(user="postgres", dbname="postgres", host=socket_dir) as admin:
        admin.autocommit = True
        admin.execute("CREATE DATABASE coursehub")
    url = sqlalchemy_url(postgres_url("coursehub", socket_dir, None, None))
    migrate.upgrade(url)
    yield PrivatePostgres(pgdata, socket_dir, url)
    server.cleanup()
    # A cluster restarted by the test is no longer the one pgserver started: stop it too.
    if (pgdata / "postmaster.pid").exists():
        user = "pgserver" if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=pgdata, user=user)


@pytest.fixture(scope="module")
def redis_db() -> Iterator[str]:
    url = claim_redis_db()
    yield url
    release_redis_db(url)


@pytest.fixture
def start_worker(
    private_postgres: PrivatePostgres, redis_db: str, tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen]]:
    """``coursehub worker`` on the private cluster, as coursehub up starts it (one heartbeat a
    second, so a silent worker counts as stalled after 3 s)."""
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        env = {
            **os.environ,
            "DATABASE_URL": private_postgres.url,
            "REDIS_URL": redis_db,
            "COURSEHUB_DATA_DIR": str(tmp_path),
        }
        log = (tmp_path / f"worker-{len(started)}.log").open("ab")
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "coursehub.services.cli",
                "worker",
                "--heartbeat",
                "1",
                "--warm-sandboxes",
                "0",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.poll() is None:
            worker.send_signal(signal.SIGCONT)
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def queue_a_grading(database: PrivatePostgres) -> int:
    engine = create_engine(database.url)
    try:
        with engine.begin() as connection:
            return queue.defer(
                connection, GRADE_TASK, GRADING_QUEUE, submission_id=A_GONE_SUBMISSION
            )
    finally:
        engine.dispose()


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except psycopg.OperationalError:
            pass  # the cluster is still starting
        time.sleep(0.25)
    raise AssertionError(f"after {seconds:.0f} s: {what}")


def job_status(database: PrivatePostgres, job_id: int) -> str:
    return database.query("SELECT status::text FROM procrastinate_jobs WHERE id = %s", job_id)[0][0]


# Each `coursehub worker` process registers two procrastinate workers: grading's loop (with the
# other main queues) and the notebook runs' loop beside it (services.worker.run_worker).
REGISTRATIONS_PER_PROCESS = 2


def registered_workers(database: PrivatePostgres) -> int:
    fresh = (
        "SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat > NOW() - '3 s'::interval"
    )
    return database.query(fresh)[0][0]


def test_a_worker_rides_out_a_postgresql_restart(private_postgres, start_worker):
    worker = start_worker()
    wait_for(
        lambda: registered_workers(private_postgres) == REGISTRATIONS_PER_PROCESS,
        60,
        "the worker registered",
    )
    first = queue_a_grading(private_postgres)
    wait_for(lambda: job_status(private_postgres, first) == "succeeded", 30, "a job ran")

    private_postgres.restart(down_for=5)

    assert worker.poll() is None, "the worker exited when PostgreSQL went away"
    after = queue_a_grading(private_postgres)
    wait_for(
        lambda: job_status(private_postgres, after) == "succeeded",
        45,
        "a job queued after the restart was run by the same worker",
    )
    assert worker.poll() is None
    wait_for(
        lambda: registered_workers(private_postgres) == REGISTRATIONS_PER_PROCESS,
        10,
        "it heart-beats again",
    )


def test_a_frozen_worker_replaced_meanwhile_comes_back_and_carries_on(
    private_postgres, start_worker
):
    frozen = start_worker()
    wait_for(lambda: registered_workers(private_postgres) >= 1, 60, "the first worker registered")
    frozen.send_signal(signal.SIGSTOP)
    time.sleep(5)  # silent past 3 heartbeats: stalled
    newcomer = start_worker()  # removes the frozen worker's registration as it starts
    wait_for(
        lambda: registered_workers(private_postgres) == REGISTRATIONS_PER_PROCESS,
        60,
        "the newcomer registered",
    )
    frozen.send_signal(signal.SIGCONT)

    # Only the worker that was frozen is left to take the next job.
    newcomer.terminate()
    assert newcomer.wait(timeout=20) == 0
    job = queue_a_grading(private_postgres)
    wait_for(
        lambda: job_status(private_postgres, job) == "succeeded",
        45,
        "the resumed worker registered again and ran the job",
    )
    assert frozen.poll() is None, "the resumed worker exited"


def test_health_names_jobs_waiting_without_a_worker_to_run_them(private_postgres, start_worker):
    async def status() -> str:
        engine = create_async_engine(private_postgres.url)
        try:
            async with make_sessionmaker(engine)() as session:
                return await worker_health.workers_status(session)
        finally:
            await engine.dispose()

    assert asyncio.run(status()) == "ok", "nothing waits: nothing to report"
    job = queue_a_grading(private_postgres)
    private_postgres.query("DELETE FROM procrastinate_workers")  # every worker is gone
    assert asyncio.run(status()) == "error: 1 job(s) wait and no worker is registered"

    start_worker()
    wait_for(lambda: job_status(private_postgres, job) == "succeeded", 60, "a worker ran it")
    assert asyncio.run(status()) == "ok"
