"""``python -m benchmarks.lesson_open``: 20 students open the same notebook lesson at once.

Scenario ``lesson-open``, measured per student: the request that opens a notebook lesson,
its lesson frame ``/services/coursehub/learn/<slug>/<id>/frame``, through
configurable-http-proxy with the student's sign-in cookies: sign-in, enrollment check, the
progress write, then Voilà's page for the lesson streamed from the lesson server by the
course service. Each student first loads the player page around it, as a browser does; its
time is reported beside (``player page``, and ``page + frame`` for the whole).
Voilà's static assets are cached by a browser by then and the kernel's WebSocket comes
after the page, so neither is counted. Measured warm: the lesson server holds a pre-heated
kernel for each student (``COURSEHUB_LESSON_POOL_SIZE=20``), sign-ins are cached, the lesson
file is written; a warm-up round of the same 20 opens comes first.

Baselines, in the same run, on the same notebook (``04-summarising-data.ipynb`` of the demo
course, with its data file), 20 opens at once each:

- ``voila-cold``: plain ``voila lesson.ipynb``; every open starts a kernel and runs the
  notebook (no sign-in, no proxy, no progress);
- ``voila-preheat``: ``voila --preheat_kernel=True --pool_size=20 lesson.ipynb``; every open
  takes a pre-heated kernel (no sign-in, no proxy, no progress).

Between bursts the kernels handed out are shut down (as closing the page does) and the pools
refill; rounds alternate the order of the targets. Goal (reported): lesson-open p50 <= 50 ms
and p95 <= 300 ms. Results go to ``benchmarks/results/lesson-open-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

from benchmarks.classroom import (
    ClassRoom,
    LessonPlan,
    add_class,
    hub_sign_in_form,
    signed_in_or_fail,
)
from benchmarks.cpu_usage import CpuWindow
from benchmarks.platform_setup import running_coursehub
from benchmarks.report import RESULTS_DIR, percentile
from coursehub.hub.constants import SERVICE_PREFIX
from tests.platform import free_port

REPO = Path(__file__).resolve().parent.parent
DEMO_COURSE = REPO / "course_content" / "python-for-data"
LESSON = DEMO_COURSE / "04-summarising-data.ipynb"
GOAL_P50_MS, GOAL_P95_MS = 50.0, 300.0
KERNEL_ID = re.compile(rb'"kernelId": "([0-9a-f-]{36})"')


# -- the class ------------------------------------------------------------------------------


def add_lesson_class(database_url: str, size: int) -> ClassRoom:
    """A published course with the demo's slider lesson, and ``size`` enrolled students."""
    plan = LessonPlan(
        course_title="Python for Data Analysis",
        module_title="Working with data",
        lesson_title="Summarising data",
        notebook=json.loads(LESSON.read_text()),
    )
    return add_class(database_url, size, plan, stem="lesson-open")


def cookie_header(client: httpx.Client, path: str) -> str:
    """The Cookie header a browser sends for ``path`` (the course service's cookies)."""
    return "; ".join(
        f"{cookie.name}={cookie.value}"
        for cookie in client.cookies.jar
        if path.startswith(cookie.path or "/")
    )


def signed_in_cookies(base_url: str, email: str, password: str) -> str:
    with httpx.Client(follow_redirects=True, timeout=60) as client:
        xsrf = hub_sign_in_form(client.get(f"{base_url}/hub/login"))
        answer = client.post(
            f"{base_url}/hub/login", data={"username": email, "password": password, "_xsrf": xsrf}
        )
        signed_in_or_fail(answer, email, landing=SERVICE_PREFIX)
        return cookie_header(client, f"{SERVICE_PREFIX}/learn/")


# -- a light HTTP client: the load generator shares the two cores with everything else ------


@dataclass
class Answer:
    status: int
    body: bytes
    seconds: float


REQUEST_TIMEOUT_S = 60


async def http_get(url: str, cookie: str = "") -> Answer:
    """One GET on a fresh connection, the whole body read (chunked or not)."""
    parts = httpx.URL(url)
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection(parts.host, parts.port)
    try:
        target = parts.raw_path.decode()
        lines = [f"GET {target} HTTP/1.1", f"Host: {parts.host}:{parts.port}", "Connection: close"]
        if cookie:
            lines.append(f"Cookie: {cookie}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        # A request that never answers counts as a failure (TimeoutError is an OSError).
        raw = await asyncio.wait_for(reader.read(-1), REQUEST_TIMEOUT_S)
    finally:
        writer.close()
    seconds = time.perf_counter() - start
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    return Answer(status, body, seconds)


def dechunk(body: bytes) -> bytes:
    out, position = bytearray(), 0
    while True:
        end = body.find(b"\r\n", position)
        size = int(body[position:end].split(b";")[0] or b"0", 16)
        if size == 0:
            return bytes(out)
        out += body[end + 2 : end + 2 + size]
        position = end + 2 + size + 2


# -- targets --------------------------------------------------------------------------------


@dataclass
class Opening:
    student: int
    seconds: float | None = None
    page_seconds: float | None = None
    frame_seconds: float | None = None
    kernel_id: str = ""
    error: str = ""


def check_lesson_page(answer: Answer) -> str:
    """Why a Voilà page is not the rendered lesson (empty when it is)."""
    if answer.status != 200:
        return f"status {answer.status}: {answer.body[:200]!r}"
    if not KERNEL_ID.search(answer.body) or b"30 rows" not in answer.body:
        return f"not the rendered lesson: {answer.body[:200]!r}"
    return ""


@dataclass
class Target:
    name: str
    open: Callable[[int, Opening], Awaitable[None]]
    ready: Callable[[], Awaitable[None]]
    close: Callable[[list[Opening]], Awaitable[None]]
    processes: Callable[[], list[psutil.Process]] = list


def coursehub_target(base_url: str, room: ClassRoom, cookies: list[str], status_url: str,
                     token: str, pool_size: int) -> Target:  # fmt: skip
    page_url = f"{base_url}{SERVICE_PREFIX}/learn/{room.course_slug}/{room.lesson_id}"

    async def open_lesson(student: int, outcome: Opening) -> None:
        page = await http_get(page_url, cookies[student])
        if page.status != 200 or b'id="lesson_frame"' not in page.body:
            outcome.error = f"player: {page.status} {page.body[:200]!r}"
            return
        frame = await http_get(f"{page_url}/frame", cookies[student])
        outcome.page_seconds, outcome.frame_seconds = page.seconds, frame.seconds
        outcome.error = check_lesson_page(frame)
        if not outcome.error:
            outcome.seconds = frame.seconds
            outcome.kernel_id = KERNEL_ID.search(frame.body).group(1).decode()

    async def ready() -> None:
        await wait_until(
            lambda: pool_ready(status_url, token, pool_size), "the lesson server's pool"
        )

    async def close(openings: list[Opening]) -> None:
        async with httpx.AsyncClient(timeout=60) as client:
            for outcome in openings:
                if outcome.kernel_id:
                    await client.post(
                        f"{base_url}{SERVICE_PREFIX}/voila/voila/api/shutdown/{outcome.kernel_id}"
                    )

    return Target("lesson-open", open_lesson, ready, close)


async def pool_ready(status_url: str, token: str, size: int) -> bool:
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(status_url, headers={"Authorization": f"token {token}"})
    pools = answer.json()["pools"] if answer.status_code == 200 else {}
    return any(pool["ready"] >= size for pool in pools.values())


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, limit: float = 600) -> None:
    deadline = time.monotonic() + limit
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready within {limit:.0f} s")
        await asyncio.sleep(0.5)


@dataclass
class StockVoila:
    """A plain ``voila`` on the same notebook, in a folder of its own."""

    name: str
    folder: Path
    arguments: list[str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None
    # Voilà logs "Kernel pool ... is filled" once for the first fill, then once per refill.
    expected_fills: int = 1

    def start(self) -> None:
        log = (self.folder / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "voila", LESSON.name, "--no-browser", f"--port={self.port}",
             "--Voila.ip=127.0.0.1", *self.arguments],
            cwd=self.folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def stop(self) -> None:
        if self.process is not None:
            # Voilà and its kernels share a session of their own: stop them all.
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process = None

    def log(self) -> str:
        return (self.folder / f"{self.name}.log").read_text(errors="replace")

    def target(self, pool_size: int) -> Target:
        url = f"http://127.0.0.1:{self.port}/"

        async def open_lesson(_student: int, outcome: Opening) -> None:
            answer = await http_get(url)
            outcome.error = check_lesson_page(answer)
            if not outcome.error:
                outcome.seconds = answer.seconds
                outcome.kernel_id = KERNEL_ID.search(answer.body).group(1).decode()

        async def ready() -> None:
            async def answering() -> bool:
                try:
                    await http_get(f"http://127.0.0.1:{self.port}/voila/static/voila.js")
                except OSError:
                    return False
                filled = self.log().count("is filled with") >= self.expected_fills
                return not pool_size or filled or time.monotonic() > give_up

            give_up = time.monotonic() + 40
            await wait_until(answering, self.name)
            # Started is not yet pre-heated: let the kernels run the notebook.
            await quiet(processes)

        async def close(openings: list[Opening]) -> None:
            if pool_size:
                # The kernels handed out stay (idle once the notebook has run); the pool refills.
                self.expected_fills += sum(1 for outcome in openings if outcome.kernel_id)
            else:
                # Cold stays cold: a fresh Voilà, without the kernels of the last burst.
                self.stop()
                self.start()

        def processes() -> list[psutil.Process]:
            if self.process is None:
                return []
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]

        return Target(self.name, open_lesson, ready, close, processes)


async def quiet(processes: Callable[[], list[psutil.Process]], limit: float = 120) -> None:
    """Wait (at most ``limit`` s) until ``processes`` use under a fifth of a core for 2 s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        window = CpuWindow(lambda: {"target": processes()})
        window.start()
        await asyncio.sleep(2)
        window.stop()
        if window.used.get("target", 0) < 0.4:
            return
    print("    (the target never came to rest; measuring anyway)")


# -- running bursts -------------------------------------------------------------------------


@dataclass
class Burst:
    target: str
    round: int
    openings: list[Opening]
    wall_seconds: float
    machine_busy_percent: float
    summary: dict[str, float | int | None] = field(default_factory=dict)


def summarise(openings: list[Opening]) -> dict[str, float | int | None]:
    def ms(values: list[float], share: float) -> float | None:
        found = percentile(values, share)
        return None if found is None else round(1000 * found, 2)

    times = [o.seconds for o in openings if o.seconds is not None]
    pages = [o.page_seconds for o in openings if o.page_seconds is not None]
    both = [
        o.page_seconds + o.frame_seconds
        for o in openings
        if o.page_seconds is not None and o.frame_seconds is not None and o.seconds is not None
    ]
    return {
        "opens": len(openings),
        "failures": sum(o.seconds is None for o in openings),
        "p50_ms": ms(times, 0.50),
        "p95_ms": ms(times, 0.95),
        "max_ms": ms(times, 1.0),
        "mean_ms": round(1000 * statistics.fmean(times), 2) if times else None,
        "player_page_p50_ms": ms(pages, 0.50),
        "player_page_p95_ms": ms(pages, 0.95),
        "page_and_frame_p50_ms": ms(both, 0.50),
        "page_and_frame_p95_ms": ms(both, 0.95),
    }


async def burst(target: Target, students: int, round_number: int) -> Burst:
    await target.ready()
    openings = [Opening(student) for student in range(students)]
    cpu = CpuWindow(dict)
    cpu.start()
    begin = time.monotonic()

    async def one(outcome: Opening) -> None:
        try:
            await target.open(outcome.student, outcome)
        except (OSError, ValueError) as error:
            outcome.error = f"{type(error).__name__}: {error}"

    await asyncio.gather(*(one(outcome) for outcome in openings))
    wall = time.monotonic() - begin
    cpu.stop()
    await target.close(openings)
    result = Burst(target.name, round_number, openings, wall, cpu.machine_busy_percent)
    result.summary = summarise(openings)
    return result


def describe(result: Burst) -> str:
    s = result.summary
    if s["p50_ms"] is None:
        return f"no successes; {s['failures']} failures"
    parts = f"p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms, max {s['max_ms']:.1f} ms"
    if s["player_page_p50_ms"] is not None:
        page, both = s["player_page_p50_ms"], s["page_and_frame_p50_ms"]
        both95 = s["page_and_frame_p95_ms"]
        parts += f" (player page before it p50 {page:.1f}; page + frame p50 {both:.1f}"
        parts += f", p95 {both95:.1f})"
    return (
        f"{parts}; {s['failures']} failures; burst {1000 * result.wall_seconds:.0f} ms, "
        f"machine {result.machine_busy_percent:.0f}% busy"
    )


async def run(args: argparse.Namespace) -> int:
    token = secrets.token_hex(32)
    extra_env = {
        "COURSEHUB_LESSON_POOL_SIZE": str(args.students),
        "COURSEHUB_LESSON_TOKEN": token,
    }
    folder = Path(tempfile.mkdtemp(prefix="coursehub-lesson-open-"))
    shutil.copy(LESSON, folder / LESSON.name)
    shutil.copytree(DEMO_COURSE / "data", folder / "data")
    cold = StockVoila("voila-cold", folder, [])
    preheat = StockVoila(
        "voila-preheat", folder, ["--preheat_kernel=True", f"--pool_size={args.students}"]
    )
    bursts: list[Burst] = []
    try:
        with running_coursehub(courses=1, keep_data=args.keep_data, extra_env=extra_env) as bench:
            room = add_lesson_class(bench.database_url, args.students)
            files = bench.platform.data_dir / "course-files" / str(room.course_id) / "data"
            shutil.copytree(DEMO_COURSE / "data", files)
            print(f"CourseHub is up at {bench.url}; signing in {args.students} students ...")
            cookies = [signed_in_cookies(bench.url, email, room.password) for email in room.emails]
            lesson_port = bench.platform.env["COURSEHUB_LESSON_PORT"]
            status_url = f"http://127.0.0.1:{lesson_port}/coursehub/pools"
            ours = coursehub_target(bench.url, room, cookies, status_url, token, args.students)
            cold.start()
            preheat.start()
            targets = [ours, cold.target(0), preheat.target(args.students)]
            print("Warm-up: every target once (the lesson is written, the pools fill)")
            # Warm sign-ins: every service worker process has checked every student's cookie
            # with the hub once (as after a few minutes of a class), by loading the player.
            page = f"{bench.url}{SERVICE_PREFIX}/learn/{room.course_slug}/{room.lesson_id}"
            for _ in range(8):
                await asyncio.gather(*(http_get(page, cookie) for cookie in cookies))
            # The first visit of a lesson starts its pool (that visit runs a kernel of its own).
            first = Opening(0)
            await ours.open(0, first)
            await ours.close([first])
            for target in targets:
                warm = await burst(target, args.students, 0)
                print(f"  {target.name:<14} {describe(warm)}", flush=True)
            for round_number in range(1, args.rounds + 1):
                order = targets if round_number % 2 else list(reversed(targets))
                for target in order:
                    result = await burst(target, args.students, round_number)
                    bursts.append(result)
                    print(f"round {round_number} {target.name:<14} {describe(result)}", flush=True)
                    for outcome in result.openings:
                        if outcome.error:
                            print(f"    student {outcome.student}: {outcome.error[:300]}")
    finally:
        cold.stop()
        preheat.stop()
        if not args.keep_data:
            shutil.rmtree(folder, ignore_errors=True)
    return report(bursts, args)


def report(bursts: list[Burst], args: argparse.Namespace) -> int:
    names = ["lesson-open", "voila-cold", "voila-preheat"]
    pooled = {
        name: summarise([o for b in bursts if b.target == name for o in b.openings])
        for name in names
    }
    print(f"\n{args.students} students at once, {args.rounds} round(s), all rounds pooled:")
    for name in names:
        s = pooled[name]
        print(
            f"  {name:<14} p50 {s['p50_ms'] or 0:9.1f} ms  p95 {s['p95_ms'] or 0:9.1f} ms  "
            f"max {s['max_ms'] or 0:9.1f} ms  failures {s['failures']}"
        )
    ours = pooled["lesson-open"]
    if ours["page_and_frame_p50_ms"] is not None:
        print(
            f"  {'(with the player page before it)':<14} p50 {ours['page_and_frame_p50_ms']:9.1f} "
            f"ms  p95 {ours['page_and_frame_p95_ms']:9.1f} ms"
        )
    met = (
        ours["failures"] == 0
        and ours["p50_ms"] is not None
        and ours["p50_ms"] <= GOAL_P50_MS
        and (ours["p95_ms"] or math.inf) <= GOAL_P95_MS
    )
    print(
        f"lesson-open goal: p50 <= {GOAL_P50_MS:g} ms and p95 <= {GOAL_P95_MS:g} ms, no failures "
        f"-> {'MET' if met else 'MISSED'}"
    )
    if not args.no_json:
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = RESULTS_DIR / f"lesson-open-{stamp}.json"
        document = {
            "options": vars(args),
            "bursts": [asdict(b) for b in bursts],
            "pooled": pooled,
            "goal_met": met,
        }
        path.write_text(json.dumps(document, indent=2))
        print(f"Results: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.lesson_open",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--students", type=int, default=20, help="students opening at once (20)")
    parser.add_argument("--rounds", type=int, default=3, help="measured bursts per target (3)")
    parser.add_argument("--keep-data", action="store_true", help="keep the data dirs")
    parser.add_argument("--no-json", action="store_true", help="do not write results JSON")
    # A TERM (``timeout``, a supervisor) unwinds like Ctrl-C: the platform and Voilàs stop.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
