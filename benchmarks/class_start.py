"""``python -m benchmarks.class_start``: a class starts, and 50 students press "Open in
JupyterLab" on the same lesson within 25 seconds.

Measured per student: from pressing the button (``GET /services/coursehub/lab/open/<lesson>``)
to a ready notebook (the JupyterLab page of ``~/courses/<course>/<lesson>.ipynb`` answered 200,
every redirect and sign-in to the server included). Baseline, in the same run on the same
platform: stock JupyterHub spawning of the same 50 servers through the hub's API, as the hub's
own home page does it (``POST /hub/api/users/<name>/server`` with the student's session, the
progress stream until ready, then ``/user/<name>/lab`` until 200). Both see the same arrival
times; rounds alternate which goes first, after one unmeasured warm-up burst (a student's
very first server start also makes their home's runtime files). Every server is stopped and
every copy removed between bursts, so each burst starts its servers cold.

Goal (reported, not asserted): p95 of the scenario <= 1.15 x p95 of the baseline, 0 failures.
Results go to ``benchmarks/results/class-start-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import httpx
import nbformat

from benchmarks.classroom import (
    ClassRoom,
    LessonPlan,
    add_class,
    hub_sign_in_form,
    signed_in_or_fail,
)
from benchmarks.cpu_usage import CpuWindow
from benchmarks.platform_setup import BenchPlatform, running_coursehub
from benchmarks.report import RESULTS_DIR, percentile
from coursehub.hub.constants import SERVICE_PREFIX

GOAL_RATIO = 1.15
LESSON_FILE = "first-steps-with-lists.ipynb"


def add_lab_class(database_url: str, size: int) -> ClassRoom:
    """A published course with one small notebook lesson, and ``size`` enrolled students."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# First steps with lists"),
        nbformat.v4.new_code_cell("numbers = [3, 1, 2]\nsorted(numbers)"),
    ]
    plan = LessonPlan(
        course_title="Class start",
        module_title="Week 1",
        lesson_title="First steps with lists",
        notebook=json.loads(nbformat.writes(nb)),
    )
    return add_class(database_url, size, plan, stem="class-start")


async def signed_in(base_url: str, email: str, password: str) -> httpx.AsyncClient:
    """A student's browser: signed in through the hub's form and to the course pages (the
    player they press the button on), not yet to their own server."""
    client = httpx.AsyncClient(follow_redirects=True, timeout=httpx.Timeout(600, connect=30))
    xsrf = hub_sign_in_form(await client.get(f"{base_url}/hub/login"))
    answer = await client.post(
        f"{base_url}/hub/login", data={"username": email, "password": password, "_xsrf": xsrf}
    )
    signed_in_or_fail(answer, email)
    return client


def hub_xsrf(client: httpx.AsyncClient) -> str:
    for cookie in client.cookies.jar:
        if cookie.name == "_xsrf" and cookie.path.startswith("/hub"):
            return cookie.value or ""
    return ""


@dataclass
class Outcome:
    username: str
    arrived_after: float
    seconds: float | None = None  # to a ready notebook; None: failed
    server_ready_seconds: float | None = None  # baseline only: the hub's ready event
    error: str = ""


def is_lab_page(response: httpx.Response) -> bool:
    return response.status_code == 200 and "jupyter-config-data" in response.text


async def open_in_jupyterlab(
    base_url: str, client: httpx.AsyncClient, username: str, room: ClassRoom, outcome: Outcome
) -> None:
    start = time.monotonic()
    answer = await client.get(f"{base_url}{SERVICE_PREFIX}/lab/open/{room.lesson_id}")
    expected = f"/user/{username}/lab/tree/courses/{room.course_slug}/{LESSON_FILE}"
    if is_lab_page(answer) and answer.url.path == expected:
        outcome.seconds = time.monotonic() - start
    else:
        said = re.search(r'id="error_message">(.*?)</p>', answer.text, re.S)
        reason = said.group(1).strip() if said else answer.text[:200]
        outcome.error = f"{answer.status_code} at {answer.url.path}: {reason}"


async def stock_spawn(
    base_url: str, client: httpx.AsyncClient, username: str, room: ClassRoom, outcome: Outcome
) -> None:
    start = time.monotonic()
    api = f"{base_url}/hub/api/users/{username}/server"
    headers = {"X-XSRFToken": hub_xsrf(client)}
    started = await client.post(api, headers=headers)
    if started.status_code not in (201, 202):
        outcome.error = f"start: {started.status_code} {started.text[:200]}"
        return
    progress = await client.get(f"{api}/progress", headers=headers)
    events = [
        json.loads(line[5:]) for line in progress.text.splitlines() if line.startswith("data:")
    ]
    if not any(event.get("ready") for event in events):
        outcome.error = f"progress: {progress.status_code} {events[-1:] or progress.text[:200]}"
        return
    outcome.server_ready_seconds = time.monotonic() - start
    lab = await client.get(f"{base_url}/user/{username}/lab")
    if is_lab_page(lab):
        outcome.seconds = time.monotonic() - start
    else:
        outcome.error = f"lab: {lab.status_code} at {lab.url.path}"


Press = Callable[[str, httpx.AsyncClient, str, ClassRoom, Outcome], Awaitable[None]]


@dataclass
class Burst:
    target: str
    round: int
    outcomes: list[Outcome]
    wall_seconds: float
    machine_busy_percent: float
    summary: dict[str, float | int | None] = field(default_factory=dict)


def summarise(outcomes: list[Outcome]) -> dict[str, float | int | None]:
    times = [o.seconds for o in outcomes if o.seconds is not None]
    ready = [o.server_ready_seconds for o in outcomes if o.server_ready_seconds is not None]
    return {
        "students": len(outcomes),
        "failures": sum(o.seconds is None for o in outcomes),
        "p50_s": percentile(times, 0.50),
        "p95_s": percentile(times, 0.95),
        "max_s": max(times) if times else None,
        "mean_s": statistics.fmean(times) if times else None,
        "server_ready_p95_s": percentile(ready, 0.95),
    }


async def burst(
    bench: BenchPlatform,
    room: ClassRoom,
    clients: dict[str, httpx.AsyncClient],
    arrivals: list[float],
    press: Press,
) -> tuple[list[Outcome], float, float]:
    outcomes = [
        Outcome(username, arrived_after=delay)
        for (username, _), delay in zip(room.students, arrivals, strict=True)
    ]
    cpu = CpuWindow(dict)
    cpu.start()
    begin = time.monotonic()

    async def student(outcome: Outcome) -> None:
        await asyncio.sleep(max(0.0, begin + outcome.arrived_after - time.monotonic()))
        try:
            await press(bench.url, clients[outcome.username], outcome.username, room, outcome)
        except httpx.HTTPError as error:
            outcome.error = f"{type(error).__name__}: {error}"

    await asyncio.gather(*(student(outcome) for outcome in outcomes))
    wall = time.monotonic() - begin
    cpu.stop()
    return outcomes, wall, cpu.machine_busy_percent


async def reset_class(bench: BenchPlatform, room: ClassRoom, service_token: str) -> None:
    """Stop every student's server and remove their lesson copies: the next burst is cold."""
    async with httpx.AsyncClient(
        base_url=f"{bench.url}/hub/api",
        headers={"Authorization": f"token {service_token}"},
        timeout=60,
    ) as hub:
        for username, _ in room.students:
            await hub.delete(f"/users/{username}/server")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            users = (await hub.get("/users", params={"state": "active"})).json()
            if not any(u["name"] in dict(room.students) for u in users):
                break
            await asyncio.sleep(1)
        else:
            raise RuntimeError("the students' servers did not stop within 5 minutes")
    for username, _ in room.students:
        shutil.rmtree(bench.platform.data_dir / "homes" / username / "courses", ignore_errors=True)


async def run(args: argparse.Namespace) -> int:
    with running_coursehub(courses=1, keep_data=args.keep_data) as bench:
        room = add_lab_class(bench.database_url, args.students)
        service_token = json.loads((bench.platform.data_dir / "secrets.json").read_text())[
            "service_token"
        ]
        print(
            f"CourseHub is up at {bench.url}; signing in {args.students} students ...", flush=True
        )
        clients = {}
        for username, email in room.students:
            clients[username] = await signed_in(bench.url, email, room.password)
            # The player's page: the student is signed in to the course pages already.
            await clients[username].get(f"{bench.url}/hub/")
        rng = random.Random(args.seed)
        arrivals = sorted(rng.uniform(0, args.window) for _ in room.students)
        targets: dict[str, Press] = {
            "open-in-jupyterlab": open_in_jupyterlab,
            "stock-spawn": stock_spawn,
        }
        bursts: list[Burst] = []
        try:
            for _ in range(args.warmup):
                # Unmeasured: every student's first server start ever makes their home's
                # runtime files, which would weigh on whichever burst came first.
                await reset_class(bench, room, service_token)
                print("warm-up: stock-spawn (not measured)", flush=True)
                await burst(bench, room, clients, arrivals, stock_spawn)
            for round_number in range(1, args.rounds + 1):
                order = list(targets) if round_number % 2 else list(reversed(targets))
                for name in order:
                    await reset_class(bench, room, service_token)
                    who = f"{args.students} students in {args.window:g} s"
                    print(f"round {round_number}: {name}, {who}", flush=True)
                    outcomes, wall, busy = await burst(
                        bench, room, clients, arrivals, targets[name]
                    )
                    result = Burst(name, round_number, outcomes, wall, busy, summarise(outcomes))
                    bursts.append(result)
                    print(f"  {describe(result)}", flush=True)
                    for outcome in outcomes:
                        if outcome.error:
                            print(f"    {outcome.username}: {outcome.error}")
            await reset_class(bench, room, service_token)
        finally:
            for client in clients.values():
                await client.aclose()
    return report(bursts, args)


def describe(result: Burst) -> str:
    s = result.summary
    ready = f", hub ready p95 {s['server_ready_p95_s']:.1f} s" if s["server_ready_p95_s"] else ""
    timing = (
        f"p50 {s['p50_s']:.1f} s, p95 {s['p95_s']:.1f} s, max {s['max_s']:.1f} s"
        if s["p95_s"] is not None
        else "no successes"
    )
    return (
        f"{timing}{ready}; {s['failures']} failures; burst took {result.wall_seconds:.0f} s, "
        f"machine {result.machine_busy_percent:.0f}% busy"
    )


def report(bursts: list[Burst], args: argparse.Namespace) -> int:
    def pooled(name: str) -> dict[str, float | int | None]:
        return summarise([o for b in bursts if b.target == name for o in b.outcomes])

    scenario, baseline = pooled("open-in-jupyterlab"), pooled("stock-spawn")
    ratio = (
        scenario["p95_s"] / baseline["p95_s"] if scenario["p95_s"] and baseline["p95_s"] else None
    )
    met = ratio is not None and ratio <= GOAL_RATIO and scenario["failures"] == 0
    rounds = sorted({b.round for b in bursts})
    per_round = {}
    for number in rounds:
        own = {b.target: b.summary["p95_s"] for b in bursts if b.round == number}
        if own.get("open-in-jupyterlab") and own.get("stock-spawn"):
            per_round[number] = own["open-in-jupyterlab"] / own["stock-spawn"]
            print(f"round {number}: p95 ratio {per_round[number]:.3f}")
    print("\nAll rounds pooled:")
    for name, s in (("open-in-jupyterlab", scenario), ("stock-spawn", baseline)):
        print(
            f"  {name:<20} p50 {s['p50_s'] or 0:6.1f} s  p95 {s['p95_s'] or 0:6.1f} s  "
            f"max {s['max_s'] or 0:6.1f} s  failures {s['failures']}"
        )
    print(
        f"class-start goal: p95 <= {GOAL_RATIO} x stock spawning and 0 failures -> ratio "
        f"{ratio if ratio is None else round(ratio, 3)}, {'MET' if met else 'MISSED'}"
    )
    if not args.no_json:
        RESULTS_DIR.mkdir(exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = RESULTS_DIR / f"class-start-{stamp}.json"
        path.write_text(
            json.dumps(
                {
                    "options": vars(args),
                    "bursts": [asdict(b) for b in bursts],
                    "pooled": {"open-in-jupyterlab": scenario, "stock-spawn": baseline},
                    "p95_ratio": ratio,
                    "p95_ratio_per_round": per_round,
                    "goal_met": met,
                },
                indent=2,
            )
        )
        print(f"Results: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.class_start",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--students", type=int, default=50, help="students in the class (50)")
    parser.add_argument("--window", type=float, default=25, help="seconds they arrive in (25)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="bursts of each kind, alternating (1)"
    )
    parser.add_argument(
        "--warmup", type=int, default=1, help="unmeasured bursts before the rounds (1)"
    )
    parser.add_argument("--seed", type=int, default=2026, help="seed of the arrival times")
    parser.add_argument("--keep-data", action="store_true", help="keep the platform's data dir")
    parser.add_argument("--no-json", action="store_true", help="do not write results JSON")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
