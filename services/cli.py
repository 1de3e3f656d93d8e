"""The ``coursehub`` command: up, migrate, seed, create-admin, set-role, worker,
import-nbgrader."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from pathlib import Path

from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services import migrate
from coursehub.services.accounts import accounts
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.models import Account
from coursehub.services.settings import sqlalchemy_url

log = logging.getLogger("coursehub")


def data_dir_from_env() -> Path:
    return Path(os.environ.get("COURSEHUB_DATA_DIR", ".coursehub")).resolve()


def database_url_from_env() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("Set DATABASE_URL to the course database (coursehub up sets it for you).")
    return sqlalchemy_url(url)


async def _with_session(database_url: str, work):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


async def seed_and_print(database_url: str, data_dir: Path) -> None:
    from coursehub.services.seed import seed_demo

    logins = await _with_session(database_url, lambda s: seed_demo(s, data_dir))
    print("\nCourseHub demo sign-ins (passwords kept in", data_dir / "demo-logins.json", "):")
    for login in logins:
        print(f"  {login.role.value:<10} {login.email:<28} {login.password}")
    print()


async def create_admin(database_url: str, email: str, name: str, password: str) -> str:
    async def work(session):  # type: ignore[no-untyped-def]
        account = await accounts.find_by_email(session, accounts.normalise_email(email))
        if account is None:
            account = await accounts.register(
                session, email=email, password=password, name=name, role=Role.ADMIN
            )
        else:
            account.role = Role.ADMIN
        return account.username

    return await _with_session(database_url, work)


async def bootstrap_admin_from_env(database_url: str) -> None:
    """COURSEHUB_ADMIN_EMAIL + COURSEHUB_ADMIN_PASSWORD make (or promote) the first admin."""
    email = os.environ.get("COURSEHUB_ADMIN_EMAIL")
    password = os.environ.get("COURSEHUB_ADMIN_PASSWORD")
    if email and password:
        username = await create_admin(database_url, email, "Administrator", password)
        log.info("Administrator %s is ready", username)


async def set_role(database_url: str, login: str, role: Role) -> None:
    async def work(session):  # type: ignore[no-untyped-def]
        column = Account.email if "@" in login else Account.username
        account = await session.scalar(select(Account).where(column == login.lower()))
        if account is None:
            sys.exit(f"No CourseHub account has the email or user name {login!r}.")
        account.role = role

    await _with_session(database_url, work)


WORKER_NICENESS = 10


def run_grading_worker(
    database_url: str, concurrency: int, heartbeat: float, warm: int | None = None
) -> None:
    from coursehub.services.assessment.grading_jobs import run_worker

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


def import_nbgrader_course(database_url: str, args: argparse.Namespace) -> None:
    try:
        from coursehub.services.assessment.nbgrader_import import ImportRefused, run_import
    except ModuleNotFoundError as error:
        sys.exit(f"import-nbgrader needs {error.name}: install coursehub[grader] and run it again.")
    try:
        lines = run_import(
            database_url,
            args.path,
            course_slug=args.course,
            instructor=args.instructor,
            release=args.release,
            dry_run=args.dry_run,
        )
    except ImportRefused as error:
        sys.exit(str(error))
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s"
    )
    parser = argparse.ArgumentParser(prog="coursehub", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run CourseHub at http://127.0.0.1:8000")
    up.add_argument("--no-demo", action="store_true", help="do not seed the demo course and people")
    commands.add_parser("migrate", help="bring the course database to the newest schema")
    commands.add_parser("seed", help="add the demo course and demo people")
    admin = commands.add_parser("create-admin", help="create or promote an administrator")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default="Administrator")
    role = commands.add_parser("set-role", help="set someone's role (STUDENT, INSTRUCTOR, ADMIN)")
    role.add_argument("login", help="email or user name")
    role.add_argument("role", choices=[r.value for r in Role])
    worker = commands.add_parser("worker", help="grade submissions from the job queue")
    worker.add_argument(
        "--concurrency", type=int, default=1, help="jobs this process grades at once (default 1)"
    )
    worker.add_argument(
        "--warm-sandboxes",
        type=int,
        help="grading sandboxes kept started ahead of jobs (default: as many as --concurrency)",
    )
    worker.add_argument(
        "--heartbeat",
        type=float,
        default=10.0,
        help="seconds between heartbeats; jobs of a worker silent for 3 heartbeats run again",
    )
    nbgrader = commands.add_parser(
        "import-nbgrader", help="import an nbgrader course directory into a CourseHub course"
    )
    nbgrader.add_argument("path", type=Path, help="the nbgrader course directory")
    nbgrader.add_argument("--course", required=True, help="the CourseHub course's slug")
    nbgrader.add_argument(
        "--instructor", help="user name the assignments are made by (default: the course's)"
    )
    nbgrader.add_argument("--release", action="store_true", help="release the assignments now")
    nbgrader.add_argument(
        "--dry-run", action="store_true", help="print what would happen and write nothing"
    )
    args = parser.parse_args(argv)

    if args.command == "up":
        from coursehub.services.launcher import up as run_up

        return run_up(data_dir_from_env(), demo=not args.no_demo)
    database_url = database_url_from_env()
    if args.command == "migrate":
        migrate.upgrade(database_url)
    elif args.command == "seed":
        asyncio.run(seed_and_print(database_url, data_dir_from_env()))
    elif args.command == "create-admin":
        password = os.environ.get("COURSEHUB_ADMIN_PASSWORD") or getpass.getpass("Password: ")
        try:
            username = asyncio.run(create_admin(database_url, args.email, args.name, password))
        except accounts.AccountError as error:
            sys.exit(error.message)
        print(f"{username} is an administrator.")
    elif args.command == "set-role":
        asyncio.run(set_role(database_url, args.login, Role(args.role)))
    elif args.command == "worker":
        run_grading_worker(database_url, args.concurrency, args.heartbeat, args.warm_sandboxes)
    elif args.command == "import-nbgrader":
        import_nbgrader_course(database_url, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
