"""``coursehub worker``: the process that runs every domain's background tasks.

Each domain declares its tasks on a procrastinate ``Blueprint`` (``assessment.grading_jobs``,
``quizzes.quiz_jobs``, ``notifications.notification_jobs``) given one ``WorkerContext``
(database sessions, Redis, the grading sandboxes); this module hosts them on one App and
runs it. Workers scale by running more of them, on more machines, against the same
PostgreSQL; jobs of a worker that died are found by their stale heartbeat and run again.
This module imports neither Tornado nor the hub.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import procrastinate
import redis.asyncio as redis

from coursehub.services.assessment import grading_jobs
from coursehub.services.assessment.submissions import GRADING_QUEUE
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.jobs.context import WorkerContext
from coursehub.services.jobs.queue import make_app
from coursehub.services.notifications import notification_jobs
from coursehub.services.notifications.notification_email import NOTIFICATION_QUEUE
from coursehub.services.quizzes import quiz_jobs
from coursehub.services.settings import data_dir_from_env

log = logging.getLogger("coursehub.worker")

WORKER_QUEUES = (GRADING_QUEUE, NOTIFICATION_QUEUE)
WORKER_NICENESS = 10


def host(app: procrastinate.App, blueprint: procrastinate.Blueprint) -> None:
    """Every task of ``blueprint`` on ``app`` under the name it was declared with.

    (procrastinate's ``add_tasks_from`` would prefix a namespace to each name, and the names
    are stored in the job rows: jobs already queued would find no task.)"""
    for name, task in blueprint.tasks.items():
        task.blueprint = app
        app.add_task_alias(task, name)
    for scheduled in blueprint.periodic_registry.periodic_tasks.values():
        app.periodic_registry.register_task(
            task=scheduled.task,
            cron=scheduled.cron,
            periodic_id=scheduled.periodic_id,
            configure_kwargs=scheduled.configure_kwargs,
        )


def host_every_task(app: procrastinate.App, context: WorkerContext) -> None:
    host(app, grading_jobs.tasks(context))
    host(app, quiz_jobs.tasks(context))
    host(app, notification_jobs.tasks(context))


async def retry_stalled_jobs(app: procrastinate.App, stalled_after: float) -> int:
    """Put jobs of workers without a heartbeat for ``stalled_after`` seconds back in their
    queue (procrastinate's documented recipe), for every queue a worker serves: gradings,
    and emails, digests and due-date scans; returns how many."""
    count = 0
    for queue in WORKER_QUEUES:
        stalled = await app.job_manager.get_stalled_jobs(
            queue=queue, seconds_since_heartbeat=stalled_after
        )
        for job in stalled:
            try:
                await app.job_manager.retry_job(job)
                count += 1
            except procrastinate.exceptions.ProcrastinateException as error:
                log.info("Stalled job %s was taken care of elsewhere: %s", job.id, error)
    if count:
        log.warning("Requeued %d job(s) of stalled workers", count)
    return count


async def _watch_stalled(app: procrastinate.App, stalled_after: float) -> None:
    while True:
        try:
            await retry_stalled_jobs(app, stalled_after)
        except Exception:
            log.exception("Could not look for stalled jobs")
        await asyncio.sleep(stalled_after / 3)


async def run_worker(
    database_url: str,
    redis_url: str,
    *,
    concurrency: int = 1,
    warm_sandboxes: int = 1,
    heartbeat: float = 10.0,
    hidden_paths: tuple[str, ...] = (),
) -> None:
    engine = make_engine(database_url, pool_size=max(2, concurrency + 1))
    client = redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    pool = grading_jobs.warm_pool(warm_sandboxes, hidden_paths)
    pool.refill()
    context = WorkerContext(make_sessionmaker(engine), client, hidden_paths, pool)
    app = make_app(database_url)
    host_every_task(app, context)
    stalled_after = heartbeat * 3
    try:
        async with app.open_async():
            watcher = asyncio.create_task(_watch_stalled(app, stalled_after))
            try:
                log.info(
                    "CourseHub grading worker (pid %d) takes %d job(s) at a time",
                    os.getpid(),
                    concurrency,
                )
                await app.run_worker_async(
                    queues=list(WORKER_QUEUES),
                    concurrency=concurrency,
                    name=f"grading-{os.uname().nodename}-{os.getpid()}",
                    update_heartbeat_interval=heartbeat,
                    stalled_worker_timeout=stalled_after,
                    # On SIGTERM running jobs get this long; a job cut off runs again later.
                    shutdown_graceful_timeout=20,
                )
            finally:
                watcher.cancel()
    finally:
        await asyncio.to_thread(pool.close)
        await client.aclose()
        await engine.dispose()


def main(database_url: str, concurrency: int, heartbeat: float, warm: int | None = None) -> None:
    """``coursehub worker``, with the options the command line gave."""
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        sys.exit("Set REDIS_URL for the grading worker's notifications (coursehub up sets it).")
    if concurrency < 1 or heartbeat <= 0 or (warm is not None and warm < 0):
        sys.exit(
            "--concurrency must be 1 or more, --warm-sandboxes 0 or more and --heartbeat "
            "more than 0 seconds."
        )
    # Grading yields the CPU to the hub and the course service (people waiting on pages);
    # the sandboxes it starts inherit this.
    os.nice(WORKER_NICENESS)
    # Grading jobs must not see the platform's data (databases, secrets, people's homes).
    hidden = (str(data_dir_from_env()),) if os.environ.get("COURSEHUB_DATA_DIR") else ()
    # procrastinate stops the worker gracefully on SIGINT and SIGTERM.
    asyncio.run(
        run_worker(
            database_url,
            redis_url,
            concurrency=concurrency,
            warm_sandboxes=concurrency if warm is None else warm,
            heartbeat=heartbeat,
            hidden_paths=hidden,
        )
    )
