"""The two-machine layout (README "Many machines"): web on one machine, workers on others,
one PostgreSQL and one Redis. Here two ``coursehub worker`` processes, each with a data
directory of its own (as on two machines), share the job queue of one database: thirty
notification emails queued by one request are sent once each, some by each worker, into
their own outboxes, and each worker's JSON log names the request for every job it ran."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from coursehub.hub.constants import Role
from coursehub.services import structured_logs
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.migrate import upgrade
from coursehub.services.models import Account
from coursehub.services.notifications import notifications
from coursehub.services.notifications.notification_email import EMAIL_TASK
from coursehub.services.settings import sqlalchemy_url
from tests.platform import claim_redis_db, create_database, drop_database, release_redis_db

PEOPLE = 30


@pytest.fixture
def shared_stores() -> Iterator[tuple[str, str]]:
    database = create_database("coursehub_two_machines")
    upgrade(sqlalchemy_url(database))
    redis_url = claim_redis_db()
    yield database, redis_url
    release_redis_db(redis_url)
    drop_database(database)


def start_worker(data_dir: Path, database: str, redis_url: str, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSEHUB_")}
    env.update(
        DATABASE_URL=database,
        REDIS_URL=redis_url,
        COURSEHUB_DATA_DIR=str(data_dir),
        COURSEHUB_LOG_FORMAT="json",
    )
    data_dir.mkdir()
    return subprocess.Popen(
        [sys.executable, "-m", "coursehub.services.cli", "worker", "--warm-sandboxes", "0"],
        env=env,
        cwd=data_dir,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def log_lines(log: Path) -> list[dict]:
    lines = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def wait_for(condition, what: str, seconds: float = 180):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {seconds} s")


async def announce_to_everyone(database: str, request_id: str) -> list[int]:
    """What a request of the course service does: notifications in one transaction, their
    emails queued in it, while the request's id is current."""
    engine = make_engine(sqlalchemy_url(database))
    token = structured_logs.REQUEST_ID.set(request_id)
    try:
        async with make_sessionmaker(engine)() as session:
            people = [
                Account(
                    username=f"m{n}-{secrets.token_hex(3)}",
                    email=f"student{n}@two-machines.example",
                    name=f"Student {n}",
                    role=Role.STUDENT,
                )
                for n in range(PEOPLE)
            ]
            session.add_all(people)
            await session.flush()
            rows = [
                notifications.add(session, person.id, "announcement", {"title": "Lab moved"})
                for person in people
            ]
            await session.commit()
            return [row.id for row in rows]
    finally:
        structured_logs.REQUEST_ID.reset(token)
        await engine.dispose()


def test_two_workers_with_their_own_data_dirs_share_one_queue_and_send_each_email_once(
    shared_stores: tuple[str, str], tmp_path: Path
) -> None:
    database, redis_url = shared_stores
    machines = {name: tmp_path / name for name in ("machine-a", "machine-b")}
    logs = {name: tmp_path / f"{name}.log" for name in machines}
    workers = [start_worker(machines[n], database, redis_url, logs[n]) for n in machines]
    try:
        for name in machines:
            wait_for(
                lambda name=name: "takes 1 job(s) at a time" in logs[name].read_text(),
                f"{name}'s worker start",
            )
        trace = f"announce-{secrets.token_hex(6)}"
        ids = asyncio.run(announce_to_everyone(database, trace))

        def sent() -> int:
            return sum(len(list((d / "outbox").glob("*.eml"))) for d in machines.values())

        wait_for(lambda: sent() >= PEOPLE, "every email's sending")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=60)

    outboxes = {
        name: {p.read_text().split("To: ")[1].split("\n")[0] for p in (d / "outbox").glob("*.eml")}
        for name, d in machines.items()
    }
    a, b = outboxes.values()
    assert len(a) + len(b) == PEOPLE and not a & b  # each email once, on one machine
    assert a and b  # both machines took jobs from the one queue

    with create_engine(sqlalchemy_url(database)).connect() as conn:
        starts = conn.execute(
            text(
                "SELECT j.id, count(*) FROM procrastinate_jobs j JOIN procrastinate_events e "
                "ON e.job_id = j.id AND e.type = 'started' WHERE j.task_name = :task "
                "GROUP BY j.id"
            ),
            {"task": EMAIL_TASK},
        ).all()
    assert len(starts) == PEOPLE and {count for _job, count in starts} == {1}

    ran = {
        name: [line for line in log_lines(logs[name]) if line.get("task") == EMAIL_TASK]
        for name in logs
    }
    assert all(ran.values())
    for lines in ran.values():
        assert {line["request_id"] for line in lines} == {trace}
        assert {line["process"] for line in lines} == {"coursehub-worker"}
    assert len(ids) == PEOPLE
