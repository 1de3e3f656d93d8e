"""``python -m benchmarks``: each scenario side by side with its baselines, in one run.

Starts a real CourseHub (hub, configurable-http-proxy, course service) on free ports with a
fresh database and Redis DB, an empty Tornado app routed by the same proxy, then loads every
target through the proxy's public URL with wrk, interleaving scenario and baselines so that
they see the same machine. Prints the table, writes benchmarks/results/<time>.json, and
undoes everything it set up.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import psutil

from benchmarks.cpu_usage import CpuWindow, ProcessGroups, platform_groups
from benchmarks.database_activity import database_backends, sessions_opened
from benchmarks.empty_app import running_empty_app
from benchmarks.hot_spots import py_spy_binary, record_while
from benchmarks.hub_calls import HubCallWindow
from benchmarks.platform_setup import BenchPlatform, running_coursehub
from benchmarks.report import RESULTS_DIR, Measurement, RunRecord, goal_verdict, table
from benchmarks.scenarios import EMPTY_APP_PATH, SCENARIOS, Scenario, Target, select_scenarios
from benchmarks.wrk import WrkMissing, run_wrk, wrk_binary
from tests.platform import free_port


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds of measured load per target (10)"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="seconds of unmeasured load before each (2)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every target this many times, alternating the order; the table shows "
        "medians (1)",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="SCENARIO",
        help=f"run only this scenario (repeatable): {', '.join(s.name for s in SCENARIOS)}",
    )
    parser.add_argument(
        "--concurrency",
        type=lambda text: tuple(int(part) for part in text.split(",")),
        help="override every scenario's concurrencies, e.g. 1,10,50",
    )
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="afterwards, sample the course service with py-spy under the goal's load and "
        "print its hot spots (not part of the table)",
    )
    parser.add_argument("--courses", type=int, default=4, help="courses the student takes (4)")
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the platform's data dir (and its log)"
    )
    parser.add_argument("--no-json", action="store_true", help="do not write results JSON")
    args = parser.parse_args(argv)
    if args.duration < 1 or args.warmup < 0 or args.rounds < 1:
        parser.error("--duration and --rounds must be at least 1, --warmup at least 0")
    return args


def check_targets(bench: BenchPlatform, targets: list[Target]) -> None:
    """One request to each target before any load: a benchmark of error pages is worthless."""
    for target in targets:
        response = httpx.get(
            target.url(bench.url, bench.student.username),
            headers=authorization(bench, target),
            timeout=10,
        )
        problem = target.check(response, bench.student.course_count) if target.check else None
        if problem:
            raise SystemExit(f"{target.name} does not answer as expected: {problem}")


def authorization(bench: BenchPlatform, target: Target) -> dict[str, str]:
    return {"Authorization": f"token {bench.student_token}"} if target.authorized else {}


def warm_auth_cache(bench: BenchPlatform, target: Target) -> None:
    """Let the service ask the hub about the token once, so that its cache holds the answer."""
    with httpx.Client(headers=authorization(bench, target), timeout=10) as client:
        for _ in range(20):
            client.get(target.url(bench.url, bench.student.username)).raise_for_status()


def measure(
    bench: BenchPlatform,
    scenario: Scenario,
    target: Target,
    concurrency: int,
    round_number: int,
    args: argparse.Namespace,
    processes: Callable[[], ProcessGroups],
) -> Measurement:
    url = target.url(bench.url, bench.student.username)
    header = authorization(bench, target).get("Authorization", "")
    if args.warmup:
        run_wrk(
            url,
            concurrency=concurrency,
            seconds=args.warmup,
            threads=args.threads,
            authorization=header,
        )
    count_hub = scenario.count_hub_token_checks and target is scenario.target
    hub_window = HubCallWindow(bench.url, bench.metrics_token, bench.log_path)
    cpu = CpuWindow(processes)
    if count_hub:
        hub_window.start()
    sessions_before = sessions_opened(bench.database_url)
    cpu.start()
    load = run_wrk(
        url,
        concurrency=concurrency,
        seconds=args.duration,
        threads=args.threads,
        authorization=header,
    )
    cpu.stop()
    sessions_after = sessions_opened(bench.database_url)
    if count_hub:
        hub_window.stop()
    measurement = Measurement(
        scenario=scenario.name,
        target=target.name,
        concurrency=concurrency,
        round=round_number,
        load=load,
        cpu_seconds={**cpu.used, "wrk": load.wrk_cpu_seconds},
        machine_busy_percent=cpu.machine_busy_percent,
        db_sessions_opened=(
            sessions_after - sessions_before
            if sessions_after is not None and sessions_before is not None
            else None
        ),
        hub_token_checks=hub_window.self_calls if count_hub else None,
        hub_token_checks_in_log=hub_window.self_calls_in_log if count_hub else None,
        hub_requests=hub_window.all_calls if count_hub else None,
    )
    print(progress_line(measurement), flush=True)
    return measurement


def progress_line(m: Measurement) -> str:
    """The run's numbers, then where the CPU went per request and what else happened."""
    line = (
        f"  {m.target:<14} c={m.concurrency:<3} round {m.round}: {m.load.rps:8.1f} rps  "
        f"p50 {m.load.p50_ms:6.2f}  p95 {m.load.p95_ms:6.2f}  p99 {m.load.p99_ms:6.2f} ms"
    )
    requests = max(m.load.requests, 1)
    cpu = "  ".join(
        f"{name} {1000 * seconds / requests:.2f}"
        for name, seconds in sorted(m.cpu_seconds.items(), key=lambda item: -item[1])
        if seconds >= 0.05
    )
    details = [f"CPU ms/request: {cpu}", f"machine {m.machine_busy_percent:.0f}% busy"]
    if m.db_sessions_opened is not None:
        details.append(f"new db connections {m.db_sessions_opened}")
    if m.hub_token_checks is not None:
        details.append(
            f"hub GET /hub/api/user {m.hub_token_checks} (log {m.hub_token_checks_in_log})"
        )
    if m.load.bad_status or m.load.socket_errors:
        details.append(
            f"ERRORS: {m.load.bad_status} bad status, {m.load.socket_errors} socket errors"
        )
    return f"{line}\n      " + "; ".join(details)


def run_scenario(
    bench: BenchPlatform,
    scenario: Scenario,
    args: argparse.Namespace,
    processes: Callable[[], ProcessGroups],
) -> list[Measurement]:
    measurements = []
    targets = [scenario.target, *scenario.baselines]
    for concurrency in scenario.concurrencies:
        for round_number in range(1, args.rounds + 1):
            # Alternate the order so neither side always runs on a machine warmed by the other.
            order = targets if round_number % 2 else list(reversed(targets))
            for target in order:
                if target is scenario.target:
                    warm_auth_cache(bench, target)
                measurements.append(
                    measure(bench, scenario, target, concurrency, round_number, args, processes)
                )
    return measurements


def profile_service(
    bench: BenchPlatform, scenario: Scenario, args: argparse.Namespace
) -> dict[str, Any]:
    concurrency = scenario.goal.concurrency if scenario.goal else max(scenario.concurrencies)
    target = scenario.target
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    output = RESULTS_DIR / f"profile-{scenario.name}-{stamp}.collapsed"
    RESULTS_DIR.mkdir(exist_ok=True)
    warm_auth_cache(bench, target)
    seconds = max(args.duration, 5)
    # One of the worker processes the service forked (the parent only waits for them).
    service = platform_groups(bench.processes)["service"][-1]
    print(f"\nProfiling the course service (pid {service.pid}) for {seconds}s at c={concurrency}")
    profile = record_while(
        service.pid,
        seconds + 1,
        output,
        lambda: run_wrk(
            target.url(bench.url, bench.student.username),
            concurrency=concurrency,
            seconds=seconds,
            threads=args.threads,
            authorization=authorization(bench, target)["Authorization"],
        ),
    )
    print(profile.text())
    print(f"\nCollapsed stacks (for flamegraph.pl or speedscope): {output}")
    return {"scenario": scenario.name, "stacks": str(output), **profile.as_dict()}


def print_hub_checks(
    scenario: Scenario, measurements: list[Measurement], cold_checks: int | None
) -> None:
    if not scenario.count_hub_token_checks:
        return
    own = [m for m in measurements if m.target == scenario.target.name]
    total = sum(m.load.requests for m in own)
    checks = sum(m.hub_token_checks or 0 for m in own)
    in_log = sum(m.hub_token_checks_in_log or 0 for m in own)
    others = sum(m.hub_requests or 0 for m in own)
    verdict = "no round trip to the hub per request" if checks == 0 else "NOT cached"
    print(
        f"{scenario.name}: the hub served {checks} GET /hub/api/user (its log shows {in_log}) "
        f"and {others} requests in all during {total} measured requests with a warm auth "
        f"cache: {verdict} (the first request, cold, made {cold_checks})."
    )


def print_goal(scenario: Scenario, verdict: dict[str, Any]) -> None:
    met = verdict["rps_met"] and verdict["p99_met"]
    print(
        f"{scenario.name} goal {verdict['goal']}: {verdict['rps']:.0f} rps "
        f"({'met' if verdict['rps_met'] else 'missed'}), p99 {verdict['p99_ms']:.2f} ms "
        f"({'met' if verdict['p99_met'] else 'missed'}) -> {'MET' if met else 'MISSED'}"
    )


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        wrk_binary()
        if args.profile:
            py_spy_binary()
    except (WrkMissing, RuntimeError) as missing:
        print(missing, file=sys.stderr)
        return 2
    scenarios = select_scenarios(args.only)
    if args.concurrency:
        scenarios = [replace(scenario, concurrencies=args.concurrency) for scenario in scenarios]
    record = RunRecord(options={k: v for k, v in vars(args).items() if k != "only"})
    record.options["scenarios"] = [s.name for s in scenarios]

    print(
        f"Machine: {os.cpu_count()} cores, load average {load_average()} before the run. "
        "Starting CourseHub (hub, proxy, course service) on free ports ...",
        flush=True,
    )
    record.load_average_before = os.getloadavg()
    empty_port = free_port()
    with (
        running_coursehub(courses=args.courses, keep_data=args.keep_data) as bench,
        running_empty_app(empty_port, EMPTY_APP_PATH) as empty_app,
        bench.proxy.route(EMPTY_APP_PATH, f"http://127.0.0.1:{empty_port}"),
    ):
        print(f"CourseHub is up at {bench.url}; student {bench.student.username}", flush=True)
        if args.keep_data:
            print(f"Platform log: {bench.log_path}")
        fixed = platform_groups(bench.processes)
        fixed["empty-app"] = [psutil.Process(empty_app.pid)]

        def processes() -> ProcessGroups:
            return {**fixed, "postgres": database_backends(bench.database_url)}

        for scenario in scenarios:
            print(f"\n{scenario.name}: {scenario.target.description}; baselines:")
            for baseline in scenario.baselines:
                print(f"  {baseline.name}: {baseline.description}")
            # The first request with the token finds the service's auth cache cold: the hub
            # counts must show its check, or they could not show one under load either.
            cold = HubCallWindow(bench.url, bench.metrics_token, bench.log_path)
            cold.start()
            check_targets(bench, [scenario.target])
            cold.stop()
            record.cold_cache_checks[scenario.name] = cold.self_calls
            print(
                f"  first request with a cold auth cache: the hub served {cold.self_calls} "
                f"GET /hub/api/user (its log shows {cold.self_calls_in_log})"
            )
            check_targets(bench, list(scenario.baselines))
            record.measurements.extend(run_scenario(bench, scenario, args, processes))
        if args.profile:
            record.profile = profile_service(bench, scenarios[0], args)
        print("\nStopping CourseHub ...", flush=True)

    print(f"\n{table(scenarios, record.measurements)}\n")
    print(f"Load average after the run: {load_average()} (others' work shares these cores).")
    for scenario in scenarios:
        print_hub_checks(scenario, record.measurements, record.cold_cache_checks.get(scenario.name))
        if scenario.goal:
            verdict = goal_verdict(scenario.goal, record.measurements, scenario.target.name)
            record.goals[scenario.name] = verdict
            print_goal(scenario, verdict)
    if not args.no_json:
        path = record.write(scenarios)
        print(f"\nResults: {path}")
    return 0
