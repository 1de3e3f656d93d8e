"""Start one notebook-lesson kernel in its sandbox.

``python -m coursehub.services.lessons.lesson_kernel``.

The lesson server's kernelspec (``coursehub-lesson``, written by
``lessons.lesson_server``) runs this launcher instead of ipykernel. It runs as the
lesson server's user, hands the kernel's own folder (its connection file and the IPC sockets
the lesson server talks to it through) to the unprivileged kernel uid, and replaces itself with
bubblewrap, which starts ipykernel with:

- the file system read-only, /tmp private, CourseHub's data directory hidden;
- as its working directory, the course's files (``<course files>/<course id>``, read-only), so
  that a lesson reads ``data/weather.csv`` next to it as it did on the instructor's machine;
- no network at all (ZeroMQ runs over IPC sockets in the kernel's folder), so not even
  PostgreSQL, Redis or the lesson server on loopback are reachable;
- an environment holding nothing but a few harmless variables.

Without root (a developer's laptop) there is no uid to switch to: the kernel then runs
unsandboxed, still with the cleaned environment, in the course's files folder itself (so
``data/weather.csv`` still opens), and the launcher says so on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from coursehub.hub.sandbox import Sandbox

# Variables a kernel may inherit: locale, time zone, and what Voilà tells kernels about the
# request (base URLs, whether it was pre-heated). Nothing else, whatever the server holds.
PASSED_VARIABLES = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "JPY_SESSION_NAME")
PASSED_PREFIXES = ("VOILA_",)
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"


def kernel_environment(inherited: Mapping[str, str], home: str) -> dict[str, str]:
    kept = {
        name: value
        for name, value in inherited.items()
        if name in PASSED_VARIABLES or name.startswith(PASSED_PREFIXES)
    }
    return {**kept, "PATH": SAFE_PATH, "HOME": home, "MPLCONFIGDIR": f"{home}/.matplotlib"}


def course_files_of(workdir: Path, lessons_root: Path, course_files_root: Path) -> Path | None:
    """The course's files folder for a kernel started in ``<lessons>/<course id>/<lesson id>``."""
    try:
        course_id = workdir.relative_to(lessons_root).parts[0]
    except (ValueError, IndexError):
        return None
    folder = course_files_root / course_id
    return folder if course_id.isdigit() and folder.is_dir() else None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="coursehub-lesson-kernel", description=__doc__)
    parser.add_argument("--uid", type=int, required=True, help="the unprivileged kernel uid")
    parser.add_argument("--hide", action="append", default=[], help="a folder to hide")
    parser.add_argument("--lessons", required=True, help="the lesson export folder")
    parser.add_argument("--course-files", required=True, help="the courses' files folder")
    parser.add_argument("connection_file")
    return parser.parse_args(argv)


def kernel_command(args: argparse.Namespace, workdir: Path) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start the kernel."""
    connection = Path(args.connection_file).resolve()
    ipykernel = [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection)]
    environment = kernel_environment(os.environ, home="/tmp")  # noqa: S108 - private /tmp
    if os.geteuid() != 0:
        print(
            "CourseHub lesson kernel: not running as root, so this kernel runs WITHOUT the "
            "sandbox (it can read what the lesson server's user can read).",
            file=sys.stderr,
        )
        return ipykernel, {**environment, "HOME": str(Path.home())}
    folder = connection.parent
    for path, mode in ((folder, 0o700), (connection, 0o600)):
        os.chown(path, args.uid, args.uid)
        path.chmod(mode)
    files = course_files_of(workdir, Path(args.lessons), Path(args.course_files))
    sandbox = Sandbox(
        uid=args.uid,
        workdir=str(workdir),
        hidden_paths=tuple(args.hide),
        writable=(str(folder),),
        readable=((str(files), str(workdir)),) if files else (),
        environment=environment,
        clear_environment=True,
        isolate_network=True,
    )
    return [*sandbox.command_prefix(), *ipykernel], environment


def unsandboxed_workdir(args: argparse.Namespace, workdir: Path) -> Path:
    """Without the sandbox nothing is bound over the lesson's folder: a kernel works in the
    course's files folder itself when the course has one."""
    files = course_files_of(workdir, Path(args.lessons), Path(args.course_files))
    return files or workdir


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    workdir = Path.cwd()
    command, environment = kernel_command(args, workdir)
    if os.geteuid() != 0:
        os.chdir(unsandboxed_workdir(args, workdir))
    os.execve(command[0], command, environment)  # noqa: S606 - replaces this launcher


if __name__ == "__main__":
    main()
