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
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable

import procrastinate
import psycopg
import redis.asyncio as redis

from coursehub.services.administration import admin_report_jobs
from coursehub.services.analytics import analytics_jobs
from coursehub.services.analytics.rollups import ANALYTICS_QUEUE
from coursehub.services.assessment import grading_jobs, nbgrader_export_jobs
from coursehub.services.assessment.nbgrader_export_jobs import EXPORT_QUEUE
from coursehub.services.assessment.submissions import GRADING_QUEUE
from coursehub.services.certificates import certificate_jobs
from coursehub.services.certificates.issuing import CERTIFICATE_QUEUE
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.jobs import job_runs
from coursehub.services.jobs.context import WorkerContext
from coursehub.services.jobs.queue import make_app
from coursehub.services.lti import lti_jobs, roster_jobs
from coursehub.services.lti.scores import PASSBACK_QUEUE
from coursehub.services.notebook_runs import source_check_jobs
from coursehub.services.notebook_runs.run_queue import NOTEBOOK_RUNS_QUEUE
from coursehub.services.notifications import notification_jobs
from coursehub.services.notifications.notification_email import NOTIFICATION_QUEUE, mail_settings
from coursehub.services.operations import backup_jobs
from coursehub.services.privacy import export_jobs
from coursehub.services.privacy.exports import PRIVACY_QUEUE
from coursehub.services.quizzes import quiz_jobs
from coursehub.services.reports import report_jobs
from coursehub.services.settings import data_dir_from_env
from coursehub.services.variants import variant_jobs

log = logging.getLogger("coursehub.worker")

# Queues a worker's main loop serves (``concurrency`` jobs at a time) ...
MAIN_QUEUES = (GRADING_QUEUE, NOTIFICATION_QUEUE, ANALYTICS_QUEUE, CERTIFICATE_QUEUE)
MAIN_QUEUES += (PRIVACY_QUEUE,)  # data exports (privacy.export_jobs)
MAIN_QUEUES += (backup_jobs.OPERATIONS_QUEUE,)  # scheduled backups (operations.backup_jobs)
MAIN_QUEUES += (PASSBACK_QUEUE,)  # LTI grade passback (lti.lti_jobs)
MAIN_QUEUES += (EXPORT_QUEUE,)  # courses exported for nbgrader (assessment.nbgrader_export_jobs)
# ... and the queue of whole-notebook runs (reports, calculated-question variants), served by
# a loop of its own (``NOTEBOOK_RUNS_AT_ONCE`` at a time) so a report that runs for minutes
# never holds the slot a submission waits for.
NOTEBOOK_QUEUES = (NOTEBOOK_RUNS_QUEUE,)
NOTEBOOK_RUNS_AT_ONCE = 1
WORKER_QUEUES = MAIN_QUEUES + NOTEBOOK_QUEUES
WORKER_NICENESS = 10
# Seconds running jobs get to finish when the worker is asked to stop (Ctrl-C of coursehub up
# gives everything 10 s); a job cut off is requeued by the next worker without losing a run.
SHUTDOWN_SECONDS = 3


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
    host(app, analytics_jobs.tasks(context))
    host(app, certificate_jobs.tasks(context, mail_settings()))
    host(app, report_jobs.tasks(context))
    host(app, backup_jobs.tasks(backup_jobs.BackupSchedule.from_env()))
    host(app, export_jobs.tasks(context, mail_settings()))
    host(app, source_check_jobs.tasks(context))
    host(app, variant_jobs.tasks(context))
    host(app, admin_report_jobs.tasks(context))
    host(app, lti_jobs.tasks(context))
    host(app, nbgrader_export_jobs.tasks(context))
    host(app, roster_jobs.tasks(context))


async def retry_stalled_jobs(app: procrastinate.App, stalled_after: float) -> int:
    """Put jobs of workers without a heartbeat for ``stalled_after`` seconds back in their
    queue (procrastinate's documented recipe), for every queue a worker serves: gradings,
    and emails, digests and due-date scans; returns how many. A run cut off so is not a
    failed run: the job keeps its retry budget (``jobs.job_runs.requeue_interrupted``)."""
    count = 0
    for queue in WORKER_QUEUES:
        stalled = await app.job_manager.get_stalled_jobs(
            queue=queue, seconds_since_heartbeat=stalled_after
        )
        for job in stalled:
            if job.id is None:
                continue
            try:
                await job_runs.requeue_interrupted(app, job.id)
                count += 1
            except psycopg.Error as error:
                log.info("Stalled job %s was taken care of elsewhere: %s", job.id, error)
    if count:
        log.warning("Requeued %d job(s) of stalled workers", count)
    return count


async def _watch_stalled(app: procrastinate.App, stalled_after: float) -> None:
    while True:
        try:
            await retry_stalled_jobs(app, stalled_after)
        except Exception as error:
            log.warning("Could not look for stalled jobs (%s); trying again shortly", error)
        await asyncio.sleep(stalled_after / 3)


class Backoff:
    """Seconds to wait before the next try: 1, 2, 4 … up to ``ceiling``; back to 1 after a
    run that lasted ``healthy_after`` seconds."""

    def __init__(self, ceiling: float = 30.0, healthy_after: float = 60.0) -> None:
        self.ceiling = ceiling
        self.healthy_after = healthy_after
        self.delay = 1.0

    def next(self, ran_for: float) -> float:
        if ran_for >= self.healthy_after:
            self.delay = 1.0
        delay, self.delay = self.delay, min(self.ceiling, self.delay * 2)
        return delay


async def serve_queues(
    app: procrastinate.App,
    *,
    concurrency: int,
    heartbeat: float,
    stalled_after: float,
    stop: asyncio.Event,
    reconnected: Callable[[], Awaitable[None]] | None = None,
    queues: tuple[str, ...] = MAIN_QUEUES,
    role: str = "grading",
) -> None:
    """procrastinate's worker, run again whenever it ends without being asked to: after a
    PostgreSQL restart (its listener or a fetch fails) and after a freeze in which another
    worker removed this one's registration (its next fetch fails; a new run registers
    anew). Waits with backoff between runs, then calls ``reconnected`` (the tasks' own
    connections are stale too); only ``stop`` ends it."""
    backoff = Backoff()
    name = f"{role}-{os.uname().nodename}-{os.getpid()}"
    while not stop.is_set():
        began = time.monotonic()
        run = asyncio.ensure_future(
            app.run_worker_async(
                queues=list(queues),
                concurrency=concurrency,
                name=name,
                update_heartbeat_interval=heartbeat,
                stalled_worker_timeout=stalled_after,
                # On SIGTERM running jobs get this long; a job cut off runs again later.
                shutdown_graceful_timeout=SHUTDOWN_SECONDS,
                install_signal_handlers=False,
            )
        )
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({run, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            run.cancel()  # procrastinate's graceful stop: running jobs get their time
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run
            return
        stopping.cancel()
        problem = "it stopped by itself"
        if run.exception() is not None:
            problem = f"{type(run.exception()).__name__}: {run.exception()}"
        delay = backoff.next(time.monotonic() - began)
        log.error(
            "The %s worker lost its database connection or registration (%s); "
            "connecting again in %.0f s",
            role,
            problem,
            delay,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        if reconnected is not None:
            await reconnected()


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
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with app.open_async():
            watcher = asyncio.create_task(_watch_stalled(app, stalled_after))
            try:
                log.info(
                    "CourseHub grading worker (pid %d) takes %d job(s) at a time",
                    os.getpid(),
                    concurrency,
                )
                # Two loops on one App: grading and the rest, and notebook runs beside them.
                await asyncio.gather(
                    serve_queues(
                        app,
                        concurrency=concurrency,
                        heartbeat=heartbeat,
                        stalled_after=stalled_after,
                        stop=stop,
                        reconnected=engine.dispose,
                    ),
                    serve_queues(
                        app,
                        concurrency=NOTEBOOK_RUNS_AT_ONCE,
                        heartbeat=heartbeat,
                        stalled_after=stalled_after,
                        stop=stop,
                        queues=NOTEBOOK_QUEUES,
                        role="notebook-runs",
                    ),
                )
            finally:
                watcher.cancel()
    finally:
        await asyncio.to_thread(pool.close)
        await client.aclose()
        await engine.dispose()
    log.info("CourseHub grading worker (pid %d) stopped", os.getpid())


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
    # SIGINT and SIGTERM stop the worker gracefully (run_worker's handlers).
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
