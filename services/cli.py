"""The ``coursehub`` command: up, migrate, seed, create-admin, set-role, worker,
import-nbgrader, export-nbgrader, grade."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from pathlib import Path

from coursehub.hub.constants import Role
from coursehub.services import bootstrap, launcher, migrate, structured_logs, worker
from coursehub.services.accounts import accounts
from coursehub.services.assessment import nbgrader_export
from coursehub.services.operations import commands as operation_commands
from coursehub.services.settings import data_dir_from_env, sqlalchemy_url

log = logging.getLogger("coursehub")


def database_url_from_env() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("Set DATABASE_URL to the course database (coursehub up sets it for you).")
    return sqlalchemy_url(url)


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


def export_nbgrader_course(database_url: str, args: argparse.Namespace) -> None:
    try:
        lines = nbgrader_export.run_export(
            database_url, args.path, course_slug=args.course, force=args.force
        )
    except nbgrader_export.ExportRefused as error:
        sys.exit(error.message)
    except ModuleNotFoundError as error:  # nbgrader is imported when the directory is written
        sys.exit(f"export-nbgrader needs {error.name}: install coursehub[grader] and run it again.")
    print("\n".join(lines))


def grade_one_submission(arguments: list[str]) -> int:
    """``coursehub grade SOURCE.ipynb SUBMISSION.ipynb [--json]``: see
    ``coursehub.graders.command``."""
    try:
        from coursehub.graders import command
    except ModuleNotFoundError as error:
        sys.exit(f"coursehub grade needs {error.name}: install coursehub[grader] and run it again.")
    return command.main(arguments)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="[%(levelname)1.1s %(asctime)s %(name)s] %(message)s"
    )
    parser = argparse.ArgumentParser(prog="coursehub", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="run CourseHub at http://127.0.0.1:8000")
    up.add_argument("--no-demo", action="store_true", help="do not seed the demo course and people")
    up.add_argument(
        "--verbose",
        action="store_true",
        help="show every component's log here (otherwise it goes to coursehub.log in the data "
        "directory)",
    )
    commands.add_parser("migrate", help="bring the course database to the newest schema")
    commands.add_parser("seed", help="add the demo course and demo people")
    admin = commands.add_parser("create-admin", help="create or promote an administrator")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default="Administrator")
    role = commands.add_parser("set-role", help="set someone's role (STUDENT, INSTRUCTOR, ADMIN)")
    role.add_argument("login", help="email or user name")
    role.add_argument("role", choices=[r.value for r in Role])
    work = commands.add_parser("worker", help="grade submissions from the job queue")
    work.add_argument(
        "--concurrency", type=int, default=1, help="jobs this process grades at once (default 1)"
    )
    work.add_argument(
        "--warm-sandboxes",
        type=int,
        help="grading sandboxes kept started ahead of jobs (default: as many as --concurrency)",
    )
    work.add_argument(
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
    exporting = commands.add_parser(
        "export-nbgrader", help="write a CourseHub course out as an nbgrader course directory"
    )
    exporting.add_argument("path", type=Path, help="a new or empty folder to write it in")
    exporting.add_argument("--course", required=True, help="the CourseHub course's slug")
    exporting.add_argument(
        "--force", action="store_true", help="replace what an earlier export wrote in the folder"
    )
    commands.add_parser(
        "grade",
        add_help=False,
        help="grade one submission with the production engine and sandbox "
        "(coursehub grade SOURCE.ipynb SUBMISSION.ipynb [--json]; see coursehub grade --help)",
    )
    backup = commands.add_parser(
        "backup", help="write one archive of both databases, lesson versions and uploads"
    )
    backup.add_argument(
        "--with-secrets", action="store_true", help="keep the hub's and service's keys too"
    )
    backup.add_argument(
        "--output", type=Path, help="the archive (default: backups/ in the data directory)"
    )
    restore = commands.add_parser(
        "restore", help="bring an empty database and data directory back to a backup's state"
    )
    restore.add_argument("archive", type=Path, help="a coursehub backup archive")
    restore.add_argument(
        "--force", action="store_true", help="replace what the database and data directory hold"
    )
    args, rest = parser.parse_known_args(argv)
    structured_logs.configure(f"coursehub-{args.command}")  # COURSEHUB_LOG_FORMAT=json
    if args.command == "grade":
        return grade_one_submission(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")

    if args.command == "up":
        code = launcher.up(data_dir_from_env(), demo=not args.no_demo, verbose=args.verbose)
        # Everything is stopped and said: end now, without seconds of interpreter clean-up of
        # a process that imported the whole platform (Ctrl-C must be done within 10 s).
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    if args.command == "backup":
        return operation_commands.backup_main(args.output, args.with_secrets)
    if args.command == "restore":
        return operation_commands.restore_main(args.archive, args.force)
    database_url = database_url_from_env()
    if args.command == "migrate":
        migrate.upgrade(database_url)
    elif args.command == "seed":
        asyncio.run(bootstrap.seed_and_print(database_url, data_dir_from_env()))
    elif args.command == "create-admin":
        password = os.environ.get("COURSEHUB_ADMIN_PASSWORD") or getpass.getpass("Password: ")
        try:
            username = asyncio.run(
                bootstrap.create_admin(database_url, args.email, args.name, password)
            )
        except accounts.AccountError as error:
            sys.exit(error.message)
        print(f"{username} is an administrator.")
    elif args.command == "set-role":
        asyncio.run(bootstrap.set_role(database_url, args.login, Role(args.role)))
    elif args.command == "worker":
        worker.main(database_url, args.concurrency, args.heartbeat, args.warm_sandboxes)
    elif args.command == "import-nbgrader":
        import_nbgrader_course(database_url, args)
    elif args.command == "export-nbgrader":
        export_nbgrader_course(database_url, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
