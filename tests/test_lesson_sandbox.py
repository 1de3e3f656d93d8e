"""Lesson kernels run an instructor's code for every student: they must not see the platform's
secrets, its database, its data directory, other people's files, or other kernels.

The probe is a real lesson: an instructor's notebook that looks around, rendered for a
student through the player's path (course service -> lesson server -> sandboxed kernel)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import httpx
import pytest

from coursehub.hub.constants import Role
from coursehub.hub.sandbox import Sandbox
from coursehub.services.lessons.lesson_kernel import (
    course_files_of,
    kernel_environment,
    parse_args,
    unsandboxed_workdir,
)
from coursehub.services.models import LessonKind
from tests.conftest import PASSWORD
from tests.platform import sign_in
from tests.player_data import (
    LessonSpec,
    build_course,
    enroll,
    give_course_files,
    new_account,
    notebook,
)

PROBE = """
import glob, json, os, socket
data = {data_dir!r}
seen = {{"uid": os.getuid(), "cwd": os.getcwd(), "env": dict(os.environ)}}

def attempt(name, action):
    try:
        seen[name] = action()
    except Exception as error:
        seen[name] = "refused: " + type(error).__name__

attempt("secrets", lambda: open(os.path.join(data, "secrets.json")).read())
attempt("data_dir", lambda: sorted(os.listdir(data)))
attempt("other_home", lambda: open(os.path.join(data, "homes", "someone", "private.txt")).read())
attempt("pid1_environ", lambda: open("/proc/1/environ", "rb").read().decode(errors="replace"))
attempt("processes", lambda: sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
attempt("kernel_folders", lambda: sorted(glob.glob("/tmp/*/*/connection.json")))
attempt("course_files", lambda: open("data/weather.csv").readline().strip())
attempt("write_course_files", lambda: open("data/mine.txt", "w").write("x"))
def connect(port):
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    return "OPEN"

for name, port in {ports!r}.items():
    attempt("net_" + name, lambda: connect(port))
print("PROBE " + json.dumps(seen, default=str))
"""


def probe_report(page: str) -> dict:
    match = re.search(r"PROBE (\{.*?\})\n?</pre>", html.unescape(page), re.S)
    assert match, f"the probe printed nothing:\n{page[-2000:]}"
    return json.loads(match.group(1))


@pytest.fixture(scope="module")
def probe(platform, db):
    """What a lesson kernel sees, from a notebook lesson rendered for an enrolled student."""
    instructor = new_account(db, Role.INSTRUCTOR, "prober", PASSWORD)
    student = new_account(db, Role.STUDENT, "probed", PASSWORD)
    (platform.data_dir / "homes" / "someone").mkdir(parents=True, exist_ok=True)
    (platform.data_dir / "homes" / "someone" / "private.txt").write_text("someone's file")
    env = platform.env
    ports = {
        "postgres": 5432,
        "redis": 6379,
        "hub": int(env["COURSEHUB_HUB_PORT"]),
        "proxy": int(env["COURSEHUB_BIND_URL"].rsplit(":", 1)[1]),
        "course_service": int(env["COURSEHUB_SERVICE_PORT"]),
        "lesson_server": int(env["COURSEHUB_LESSON_PORT"]),
    }
    code = PROBE.format(data_dir=str(platform.data_dir), ports=ports)
    course = build_course(
        db,
        instructor,
        [LessonSpec("Look around", kind=LessonKind.NOTEBOOK, notebook=notebook(code))],
    )
    give_course_files(platform.data_dir, course)
    enroll(db, student, course)
    with httpx.Client(follow_redirects=True, timeout=120) as http:
        assert sign_in(http, platform.url, student.email, PASSWORD).status_code == 200
        frame = http.get(course.url(platform.service_url, "Look around", "/frame"))
    assert frame.status_code == 200, frame.text[:500]
    return probe_report(frame.text)


def platform_secrets(platform) -> list[str]:
    stored = json.loads((platform.data_dir / "secrets.json").read_text())
    database_url = platform.env["DATABASE_URL"]
    return [*stored.values(), database_url, database_url.rsplit("/", 1)[1]]


def test_a_lesson_kernel_runs_as_an_unprivileged_user(probe):
    assert probe["uid"] not in (0, None)
    # A process namespace of its own: bubblewrap's init and the kernel, nothing of the host.
    assert len(probe["processes"]) <= 4 and max(probe["processes"]) < 10


def test_a_lesson_kernel_cannot_read_the_platform_s_secrets_or_data(platform, probe):
    assert probe["secrets"].startswith("refused")
    assert "secrets.json" not in probe["data_dir"] and "homes" not in probe["data_dir"]
    assert probe["other_home"].startswith("refused")
    assert (
        probe["pid1_environ"].startswith("refused") or "DATABASE_URL" not in probe["pid1_environ"]
    )
    everything = json.dumps(probe)
    for secret in platform_secrets(platform):
        assert secret not in everything


def test_a_lesson_kernel_environment_holds_nothing_of_the_platform(probe):
    names = set(probe["env"])
    assert not {"DATABASE_URL", "REDIS_URL", "JUPYTERHUB_API_TOKEN"} & names
    assert not [name for name in names if name.startswith(("COURSEHUB_", "JUPYTERHUB_"))]


def test_a_lesson_kernel_has_no_network_not_even_loopback(probe):
    reachable = {name: value for name, value in probe.items() if name.startswith("net_")}
    assert len(reachable) == 6
    assert all(value.startswith("refused") for value in reachable.values()), reachable


def test_a_lesson_kernel_sees_only_its_own_connection_file_and_the_course_files(probe):
    assert len(probe["kernel_folders"]) == 1
    assert probe["course_files"] == "date,high_c,low_c,rain_mm,conditions"
    assert probe["write_course_files"].startswith("refused")


# -- the sandbox command itself -------------------------------------------------------------


def test_the_kernel_sandbox_hides_the_data_dir_and_isolates_the_network(tmp_path):
    data = tmp_path / "data"
    kernel_folder = "/tmp/voila_abc/kernel-1"  # noqa: S108
    workdir = f"{data}/lessons/3/7"
    course_files_arg = f"{data}/course-files/3"
    sandbox = Sandbox(
        uid=199_999,
        workdir=workdir,
        hidden_paths=(str(data),),
        writable=(kernel_folder,),
        readable=((course_files_arg, workdir),),
        environment={"HOME": "/tmp"},  # noqa: S108
        clear_environment=True,
        isolate_network=True,
    )
    args = sandbox.command_prefix()
    assert args[0].endswith("bwrap") and "--unshare-net" in args and "--clearenv" in args
    # Built from an allow-list: of the data dir, only the lesson's files, read-only, at the
    # kernel's working directory (coursehub.hub.sandbox; tests/test_sandbox_allowlist.py).
    assert ["--ro-bind", "/", "/"] not in [args[i : i + 3] for i in range(len(args))]
    course_files = args.index(f"{data}/course-files/3")
    assert args[course_files - 1 : course_files + 2] == ["--ro-bind", course_files_arg, workdir]
    sources = {args[i + 1] for i, arg in enumerate(args) if arg in ("--bind", "--ro-bind")}
    assert {source for source in sources if source.startswith(str(data))} == {course_files_arg}
    # Folders on the way to the kernel's folder and working directory stay passable.
    for folder in ("/tmp/voila_abc", f"{data}/lessons", f"{data}/lessons/3"):  # noqa: S108
        position = args.index(folder)
        assert args[position - 1] == "--dir" and args[position - 2] == "0755"
    assert args[args.index("--reuid") + 1] == "199999"


def test_the_kernel_launcher_keeps_only_harmless_variables_and_finds_the_course_files(tmp_path):
    environment = kernel_environment(
        {"DATABASE_URL": "postgresql://secret", "LANG": "C.UTF-8", "VOILA_BASE_URL": "/x/"},
        home="/tmp",  # noqa: S108
    )
    assert "DATABASE_URL" not in environment
    assert environment["LANG"] == "C.UTF-8" and environment["VOILA_BASE_URL"] == "/x/"
    lessons, files = tmp_path / "lessons", tmp_path / "course-files"
    (files / "3").mkdir(parents=True)
    assert course_files_of(lessons / "3" / "7", lessons, files) == files / "3"
    assert course_files_of(lessons / "4" / "7", lessons, files) is None
    assert course_files_of(Path("/elsewhere"), lessons, files) is None


def test_without_the_sandbox_a_kernel_works_in_the_course_files_folder_itself(tmp_path):
    lessons, files = tmp_path / "lessons", tmp_path / "course-files"
    (files / "3" / "data").mkdir(parents=True)
    args = parse_args(
        ["--uid", "1", "--lessons", str(lessons), "--course-files", str(files), "k.json"]
    )
    assert unsandboxed_workdir(args, lessons / "3" / "7") == files / "3"
    assert unsandboxed_workdir(args, lessons / "4" / "7") == lessons / "4" / "7"
