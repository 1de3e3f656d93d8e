"""``coursehub up``: everything CourseHub needs on one machine, started in order, stopped on Ctrl-C.

Steps: the proxy's npm package, PostgreSQL (``DATABASE_URL`` or embedded), Redis
(``REDIS_URL`` or embedded), migrations, demo data, the grading workers (``COURSEHUB_WORKERS``,
default 1), then JupyterHub, which starts the proxy and the course service itself.

The terminal shows what a person needs: one line per component when it is ready, then the
address and the demo sign-ins. Everything else (initdb, npm, the hub's and the workers' logs)
goes to ``coursehub.log`` in the data directory, or to the terminal with ``--verbose``.

While CourseHub runs, the grading workers are supervised (one that ends is started again, up
to ``WORKER_RESTARTS`` times in ``WORKER_RESTART_WINDOW`` seconds). Ctrl-C (or SIGTERM) stops
everything within ``STOP_SECONDS``: the hub and the workers are asked to stop, and whatever is
still running then, down to kernels whose servers went first, is killed. Children run in
process groups of their own, so the terminal's Ctrl-C reaches only this process, and they
die with it (``PR_SET_PDEATHSIG``) if it is killed outright.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlparse

from coursehub.hub.constants import LESSON_SERVER_PORT, SERVICE_PORT, SERVICE_PREFIX
from coursehub.hub.sandbox import check_sandbox
from coursehub.services import migrate, processes
from coursehub.services.bootstrap import bootstrap_admin_from_env, seed_and_print
from coursehub.services.embedded import EmbeddedUnavailable, embedded_postgres, embedded_redis
from coursehub.services.seed import DEMO_PEOPLE
from coursehub.services.settings import sqlalchemy_url

log = logging.getLogger("coursehub.up")
REPO = Path(__file__).resolve().parent.parent
PROXY_DIR = REPO / "hub" / "proxy"
HUB_CONFIG = REPO / "jupyterhub_config.py"
LOG_NAME = "coursehub.log"

STOP_SECONDS = 4  # asked nicely for this long, then killed: Ctrl-C ends everything in < 10 s
WORKER_RESTARTS = 5
WORKER_RESTART_WINDOW = 600.0
READY_SECONDS = 300  # past this, a component not yet ready is reported


class Console:
    """The terminal's few lines; with ``verbose`` the details share the terminal."""

    def __init__(self, out: IO[str], err: IO[str], log_path: Path | None) -> None:
        self.out, self.err, self.log_path = out, err, log_path

    def say(self, line: str = "") -> None:
        self.out.write(line + "\n")
        self.out.flush()
        if line and self.log_path:  # the log tells the same story, with the details
            log.info(line.strip())

    def error(self, line: str) -> None:
        self.err.write(line + "\n")
        self.err.flush()
        if self.log_path:
            log.error(line.strip())


@contextlib.contextmanager
def terminal(data_dir: Path | None, verbose: bool) -> Iterator[Console]:
    """The console; unless ``verbose``, this process' and its children's output (file
    descriptors 1 and 2) goes to ``coursehub.log`` in ``data_dir`` meanwhile."""
    if verbose or data_dir is None:
        yield Console(sys.stdout, sys.stderr, None)
        return
    log_path = data_dir / LOG_NAME
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    out = os.fdopen(os.dup(1), "w", buffering=1, errors="replace")
    err = os.fdopen(os.dup(2), "w", buffering=1, errors="replace")
    with log_path.open("a") as details:
        details.write(f"\n===== coursehub up, {time.strftime('%Y-%m-%d %H:%M:%S')} =====\n")
        details.flush()
        os.dup2(details.fileno(), 1)
        os.dup2(details.fileno(), 2)
        try:
            yield Console(out, err, log_path)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            out.close()
            err.close()


# -- what is needed before anything starts -------------------------------------------------


def pinned_proxy_version() -> str:
    return json.loads((PROXY_DIR / "package.json").read_text())["dependencies"][
        "configurable-http-proxy"
    ]


def installed_proxy_version() -> str | None:
    """The installed proxy's version; None when none is installed (or it cannot be told)."""
    package = PROXY_DIR / "node_modules" / "configurable-http-proxy" / "package.json"
    try:
        return str(json.loads(package.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def ensure_proxy(console: Console | None = None) -> Path:
    """configurable-http-proxy from npm, installed from the pinned lock file once (and again
    when the pin moves)."""
    binary = PROXY_DIR / "node_modules" / ".bin" / "configurable-http-proxy"

    def current() -> bool:
        installed = installed_proxy_version()
        return binary.exists() and (installed is None or installed == pinned_proxy_version())

    if current():
        return binary
    # Two `coursehub up` of one checkout starting at once (two data directories) install it
    # once: the second waits for the first's `npm ci` (which empties node_modules first), then
    # finds it done.
    with (PROXY_DIR / "package-lock.json").open("rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if current():
            return binary
        pinned = pinned_proxy_version()
        if console is not None:
            console.say(f"  Installing the proxy (configurable-http-proxy {pinned}) from npm …")
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PROXY_DIR, check=True)
    return binary


def load_secrets(data_dir: Path) -> dict[str, str]:
    """Tokens the hub and service share, made once per data directory (mode 0600)."""
    path = data_dir / "secrets.json"
    values = json.loads(path.read_text()) if path.exists() else {}
    missing = {name for name in ("service_token", "cookie_secret") if name not in values}
    if missing:
        values.update({name: secrets.token_hex(32) for name in missing})
        path.touch(mode=0o600)
        path.write_text(json.dumps(values))
    return values


def hub_environment(data_dir: Path, database_url: str, redis_url: str) -> dict[str, str]:
    env = dict(os.environ)
    shared = load_secrets(data_dir)
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        COURSEHUB_DATA_DIR=str(data_dir),
        COURSEHUB_SERVICE_TOKEN=shared["service_token"],
        COURSEHUB_COOKIE_SECRET=shared["cookie_secret"],
        COURSEHUB_PROXY_COMMAND=str(ensure_proxy()),
    )
    return env


def prepare_database(database_url: str, data_dir: Path, demo: bool) -> None:
    migrate.upgrade(sqlalchemy_url(database_url))
    if demo:
        asyncio.run(seed_and_print(sqlalchemy_url(database_url), data_dir))
    asyncio.run(bootstrap_admin_from_env(sqlalchemy_url(database_url)))


def worker_count(env: dict[str, str]) -> int:
    raw = env.get("COURSEHUB_WORKERS", "1").strip() or "1"
    if not raw.isdigit():
        raise SystemExit(f"COURSEHUB_WORKERS must be a number of grading workers, not {raw!r}.")
    return int(raw)


def worker_options(env: dict[str, str]) -> list[str]:
    """``coursehub worker`` options from COURSEHUB_WORKER_CONCURRENCY (jobs per worker at
    once) and COURSEHUB_WARM_SANDBOXES (sandboxes each keeps started ahead of jobs)."""
    options = []
    for variable, option in (
        ("COURSEHUB_WORKER_CONCURRENCY", "--concurrency"),
        ("COURSEHUB_WARM_SANDBOXES", "--warm-sandboxes"),
    ):
        raw = env.get(variable, "").strip()
        if raw:
            if not raw.isdigit():
                raise SystemExit(f"{variable} must be a whole number, not {raw!r}.")
            options += [option, raw]
    return options


@dataclass(frozen=True)
class Listener:
    port: int
    what: str
    variable: str
    host: str = "127.0.0.1"


def listeners(env: dict[str, str]) -> list[Listener]:
    """The ports CourseHub's processes will listen on, as the environment sets them."""
    public = urlparse(env.get("COURSEHUB_BIND_URL", "http://127.0.0.1:8000"))
    proxy_api = urlparse(env.get("COURSEHUB_PROXY_API_URL", "http://127.0.0.1:8001"))
    return [
        Listener(
            public.port or (443 if public.scheme == "https" else 80),
            "the proxy's public address",
            "COURSEHUB_BIND_URL",
            public.hostname or "127.0.0.1",
        ),
        Listener(proxy_api.port or 8001, "the proxy's API", "COURSEHUB_PROXY_API_URL"),
        Listener(int(env.get("COURSEHUB_HUB_PORT", "8081")), "the hub", "COURSEHUB_HUB_PORT"),
        Listener(
            int(env.get("COURSEHUB_SERVICE_PORT", str(SERVICE_PORT))),
            "the course service",
            "COURSEHUB_SERVICE_PORT",
            env.get("COURSEHUB_SERVICE_BIND_IP") or "127.0.0.1",
        ),
        Listener(
            int(env.get("COURSEHUB_LESSON_PORT", str(LESSON_SERVER_PORT))),
            "the lesson server",
            "COURSEHUB_LESSON_PORT",
        ),
    ]


def port_problem(env: dict[str, str]) -> str | None:
    """A sentence when a port CourseHub needs is taken (None when all are free)."""
    for listener in listeners(env):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((listener.host, listener.port))
            except OSError as error:
                if error.errno != errno.EADDRINUSE:
                    continue  # not an address of this machine's, say: the hub will tell
                return (
                    f"port {listener.port} ({listener.what}) is already in use; is CourseHub "
                    f"already running? Stop it, or set {listener.variable} to a free port."
                )
    return None


def sandbox_problem() -> str | None:
    """Why people's code could not run sandboxed here (None when it can, or when CourseHub
    does not run as root and so runs it unsandboxed, with a warning where it starts)."""
    if os.geteuid() != 0:
        return None
    return check_sandbox()


# -- the processes CourseHub runs -----------------------------------------------------------


def _child_setup() -> None:
    """In a child before it runs: a process group of its own (the terminal's Ctrl-C is this
    process' to handle) and death with this process."""
    os.setpgid(0, 0)
    processes.die_with_parent(os.getppid())


def start_child(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        env=env,
        cwd=env["COURSEHUB_DATA_DIR"],
        preexec_fn=_child_setup,  # this process runs no threads of its own here
    )


@dataclass
class Worker:
    """One grading worker slot: its process, and when it had to be started again."""

    number: int
    process: subprocess.Popen
    restarts: deque[float] = field(default_factory=deque)
    given_up: bool = False


def worker_command(env: dict[str, str]) -> list[str]:
    return [sys.executable, "-m", "coursehub.services.cli", "worker", *worker_options(env)]


def start_workers(env: dict[str, str]) -> list[Worker]:
    """Grading workers (``coursehub worker``); more can run on other machines."""
    return [
        Worker(number, start_child(worker_command(env), env))
        for number in range(1, worker_count(env) + 1)
    ]


def supervise_workers(workers: list[Worker], env: dict[str, str], console: Console) -> None:
    """A worker that ended is started again, at most ``WORKER_RESTARTS`` times within
    ``WORKER_RESTART_WINDOW`` seconds; each time with one line saying so."""
    for worker in workers:
        code = worker.process.poll()
        if code is None or worker.given_up:
            continue
        now = time.monotonic()
        while worker.restarts and now - worker.restarts[0] > WORKER_RESTART_WINDOW:
            worker.restarts.popleft()
        if len(worker.restarts) >= WORKER_RESTARTS:
            worker.given_up = True
            console.error(
                f"  Grading worker {worker.number} ended (exit status {code}) "
                f"{WORKER_RESTARTS + 1} times within {WORKER_RESTART_WINDOW / 60:.0f} minutes; "
                "it is not started again. Submissions wait until you restart CourseHub; the "
                "log says why it ends."
            )
            continue
        worker.restarts.append(now)
        worker.process = start_child(worker_command(env), env)
        console.error(
            f"  Grading worker {worker.number} ended (exit status {code}); started it again "
            f"(pid {worker.process.pid}, restart {len(worker.restarts)} of {WORKER_RESTARTS})."
        )


# A component that answers but reports a problem is reported as such after this long (a
# worker registering, say, settles sooner), so the address and sign-ins still appear.
DEGRADED_GRACE = 30.0

Check = Callable[[], str | None]  # None: not ready yet; otherwise the line's ending


@dataclass
class Readiness:
    """The components the hub starts, each reported once when it answers."""

    checks: list[tuple[str, Check]]
    started: float = field(default_factory=time.monotonic)
    reported_late: bool = False

    def report(self, console: Console) -> bool:
        """Report what became ready; True once everything is."""
        while self.checks:
            name, check = self.checks[0]
            state = check()
            if state is None:
                break
            console.say(f"  {name}: {state}")
            self.checks.pop(0)
        if self.checks and not self.reported_late:
            if time.monotonic() - self.started > READY_SECONDS:
                self.reported_late = True
                console.error(
                    f"  {self.checks[0][0]} is not ready after {READY_SECONDS // 60} minutes; "
                    "see the log for why."
                )
        return not self.checks


def health(url: str, grace: float = DEGRADED_GRACE, host: str | None = None) -> Check:
    """Ready when ``url`` (a /health) answers ok; after ``grace`` seconds of answering with
    a problem, "running, but" the problem. ``host`` is the Host header to send: with per-user
    subdomains the proxy routes by host name, and the platform's pages live on the public
    host, not on the address the launcher reaches it by."""
    first_answer: list[float] = []
    request = urllib.request.Request(url, headers={"Host": host} if host else {})  # noqa: S310

    def check() -> str | None:
        try:
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - our URL
                return "ready" if response.status == 200 else None
        except urllib.error.HTTPError as answer:
            try:
                report = json.loads(answer.read() or b"{}")
            except ValueError:
                return None
            if not isinstance(report, dict) or report.get("status") != "degraded":
                return None  # starting: not answering by itself yet
            first_answer.append(time.monotonic())
            if first_answer[-1] - first_answer[0] < grace:
                return None
            problems = [
                f"{part} {value}"
                for part, value in report.items()
                if part != "status" and value != "ok" and not str(value).startswith("off")
            ]
            return "running, but " + "; ".join(problems)
        except (OSError, urllib.error.URLError):
            return None

    return check


def listening(port: int) -> Check:
    def check() -> str | None:
        with socket.socket() as probe:
            probe.settimeout(1)
            return "ready" if probe.connect_ex(("127.0.0.1", port)) == 0 else None

    return check


def readiness(env: dict[str, str]) -> Readiness:
    bind = env.get("COURSEHUB_BIND_URL", "http://127.0.0.1:8000").rstrip("/")
    bind = bind.replace("://0.0.0.0", "://127.0.0.1")
    lesson_port = int(env.get("COURSEHUB_LESSON_PORT", str(LESSON_SERVER_PORT)))
    # With per-user subdomains the course service answers on the platform's own host name.
    platform_host = urlparse(env.get("COURSEHUB_SUBDOMAIN_HOST", "")).netloc or None
    return Readiness(
        [
            ("Hub and proxy", health(f"{bind}/hub/health", host=platform_host)),
            ("Course service", health(f"{bind}{SERVICE_PREFIX}/health", host=platform_host)),
            ("Lesson server", listening(lesson_port)),
        ]
    )


def welcome(console: Console, env: dict[str, str], data_dir: Path, demo: bool) -> None:
    """The address, the demo sign-ins and how to stop: the last lines, so they stay in sight."""
    url = env.get("COURSEHUB_PUBLIC_URL") or env.get("COURSEHUB_BIND_URL", "http://127.0.0.1:8000")
    console.say("")
    console.say(f"CourseHub is running at {url.rstrip('/')}/")
    logins = data_dir / "demo-logins.json"
    if demo and logins.exists():
        passwords = json.loads(logins.read_text())
        console.say(f"Demo sign-ins (kept in {logins}):")
        for role, email, _name in DEMO_PEOPLE:
            if email in passwords:
                console.say(f"  {role.value:<10} {email:<28} {passwords[email]}")
    details = f" Details: {console.log_path}" if console.log_path else ""
    console.say(f"Stop it with Ctrl-C.{details}")


# -- running and stopping ------------------------------------------------------------------


class StopRequest:
    """Ctrl-C or SIGTERM asks for a stop; a second Ctrl-C does not wait for anything."""

    def __init__(self) -> None:
        self.asked = 0

    def __call__(self, _signum: int, _frame: object) -> None:
        self.asked += 1

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self)


def run(
    env: dict[str, str], data_dir: Path, demo: bool, console: Console, stop: StopRequest
) -> int:
    """The hub and the workers until a stop is asked or the hub ends; the hub's exit code."""
    processes.adopt_orphans()
    workers = start_workers(env)
    if workers:
        console.say(f"  Grading workers: {len(workers)} started")
    hub = start_child([sys.executable, "-m", "jupyterhub", "-f", str(HUB_CONFIG)], env)
    ready = readiness(env)
    welcomed = False
    code = 0
    try:
        while not stop.asked:
            code = hub.poll()
            if code is not None:
                console.error(f"The hub ended by itself (exit status {code}); see the log.")
                break
            supervise_workers(workers, env, console)
            if not welcomed and ready.report(console):
                welcome(console, env, data_dir, demo)
                welcomed = True
            time.sleep(0.5)
    finally:
        if stop.asked:
            console.say("Stopping CourseHub …")
        stop_everything(hub, [worker.process for worker in workers], stop)
    return code or 0


def stop_everything(
    hub: subprocess.Popen, workers: list[subprocess.Popen], stop: StopRequest
) -> None:
    """SIGTERM to the hub and the workers (a worker finishes or hands back its jobs, the hub
    stops the servers and services it started); whatever is left after ``STOP_SECONDS`` (or
    at a second Ctrl-C) is killed, down to the last kernel."""
    asked = stop.asked
    for process in (hub, *workers):
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline and stop.asked <= max(asked, 1):
        if all(process.poll() is not None for process in (hub, *workers)):
            break
        time.sleep(0.1)
    killed = processes.kill_descendants()
    if killed:
        log.info("Killed %d process(es) still running after the stop", killed)
    for process in (hub, *workers):
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=1)


def up(data_dir: Path, demo: bool = True, verbose: bool = False) -> int:
    stop = StopRequest()
    problem = sandbox_problem() or port_problem(dict(os.environ))
    if problem:
        # Lessons would spin forever and every grading job would fail: say so once, now.
        print(f"CourseHub cannot start: {problem}", file=sys.stderr)
        return 1
    data_dir.mkdir(parents=True, exist_ok=True)
    with terminal(data_dir, verbose) as console:
        try:
            return start_and_run(data_dir, demo, console, stop)
        except KeyboardInterrupt:
            console.say("Stopped before CourseHub was running.")
            return 130
        except Exception as error:
            log.exception("coursehub up failed")
            console.error(f"CourseHub stopped on an unexpected error: {error}. See the log.")
            return 1


def start_and_run(data_dir: Path, demo: bool, console: Console, stop: StopRequest) -> int:
    details = f" (details: {console.log_path}; --verbose shows them here)"
    console.say(f"Starting CourseHub{details if console.log_path else ''}")
    with contextlib.ExitStack() as stack:
        database_url = os.environ.get("DATABASE_URL")
        if database_url:
            console.say("  PostgreSQL: using DATABASE_URL")
        else:
            try:
                database_url = stack.enter_context(embedded_postgres(data_dir))
            except EmbeddedUnavailable as error:
                console.error(f"CourseHub cannot start: {error}")
                return 1
            console.say(f"  PostgreSQL: ready (embedded, data in {data_dir / 'pgdata'})")
        redis_url = os.environ.get("REDIS_URL")
        if redis_url:
            console.say("  Redis: using REDIS_URL")
        else:
            redis_url = stack.enter_context(embedded_redis(data_dir))
            console.say(f"  Redis: ready (embedded, data in {data_dir / 'redis'})")
        prepare_database(database_url, data_dir, demo)
        console.say("  Database: schema up to date" + (", demo course ready" if demo else ""))
        ensure_proxy(console)
        env = hub_environment(data_dir, database_url, redis_url)
        # From here on, Ctrl-C is a request to stop, answered in order.
        stop.install()
        code = run(env, data_dir, demo, console, stop)
    # The embedded servers (if any) have stopped too by now.
    console.say("CourseHub stopped.")
    return code
