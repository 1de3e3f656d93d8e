"""``python -m benchmarks.learning``: the catalog and dashboard scenarios beside their baselines.

The same harness as ``python -m benchmarks`` (one real CourseHub, the empty Tornado app, wrk
through the proxy, alternating rounds, the same table and results file), plus the data these
scenarios need, which the plain run does not make:

1. the platform's database gets the large catalog of ``benchmarks.learning_data`` (10,000
   people, 1,000 courses, 10,000 lessons with notebook text, ~100,000 enrollments, ~1,000,000
   lesson progress rows), and the benchmark student 10 of its courses with progress;
2. a second, small database gets the same kind of courses (20 of them) and the same
   student with the same 10 courses and progress;
3. two one-process twins of the course service, one on each database, get routes on the
   proxy, so the dashboard is compared with only the database differing.

``--recommended-index`` adds ``enrollments (course_id)``, which the migrations lack (the
catalog counts each course's students with it); run with and without to see what it does.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from contextlib import ExitStack

import psutil
import psycopg

from benchmarks import learning_data
from benchmarks.cpu_usage import ProcessGroups, platform_groups
from benchmarks.database_activity import database_backends
from benchmarks.empty_app import running_empty_app
from benchmarks.learning_data import CatalogSize
from benchmarks.learning_scenarios import (
    DASHBOARD_COURSES,
    LARGE_DB_PREFIX,
    SCENARIO_NAMES,
    SEARCH_WORD_NUMBER,
    SMALL_DB_PREFIX,
    learning_scenarios,
)
from benchmarks.platform_setup import BenchPlatform, running_coursehub
from benchmarks.report import RunRecord, goal_verdict, summarise, table
from benchmarks.run import check_targets, load_average, print_goal, run_scenario
from benchmarks.scenarios import EMPTY_APP_PATH, Scenario
from benchmarks.service_twin import running_twin
from benchmarks.wrk import WrkMissing, wrk_binary
from coursehub.services.learning import dashboard
from coursehub.services.migrate import upgrade
from coursehub.services.settings import sqlalchemy_url
from tests.platform import create_database, drop_database, free_port

LARGE = CatalogSize()
SMALL = CatalogSize(people=120, instructors=5, courses=20, courses_per_student=10)
DASHBOARD_RATIO_GOAL = 1.2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.learning",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--duration", type=int, default=10, help="measured seconds (10)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured seconds first (2)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds, alternating order (1)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument(
        "--only", action="append", choices=SCENARIO_NAMES, help="run only this scenario"
    )
    parser.add_argument(
        "--concurrency",
        type=lambda text: tuple(int(part) for part in text.split(",")),
        help="override every scenario's concurrencies, e.g. 1,10,50",
    )
    parser.add_argument(
        "--recommended-index",
        action="store_true",
        help="create enrollments (course_id) in the benchmark database first",
    )
    parser.add_argument("--keep-data", action="store_true", help="keep the platform's data dir")
    parser.add_argument("--no-json", action="store_true", help="do not write results JSON")
    args = parser.parse_args(argv)
    if args.duration < 1 or args.warmup < 0 or args.rounds < 1:
        parser.error("--duration and --rounds must be at least 1, --warmup at least 0")
    return args


def prepare_large(bench: BenchPlatform, recommended_index: bool) -> None:
    print(f"Filling the platform's database: {LARGE}", flush=True)
    learning_data.add_catalog(bench.database_url, LARGE)
    learning_data.only_bench_enrollments(bench.database_url, bench.student.username)
    learning_data.enroll_with_progress(
        bench.database_url, bench.student.username, DASHBOARD_COURSES
    )
    if recommended_index:
        print("Adding the recommended index enrollments (course_id)", flush=True)
        learning_data.add_recommended_index(bench.database_url)
    learning_data.vacuum_analyze(bench.database_url)


def prepare_small(cleanup: ExitStack, username: str) -> str:
    database_url = create_database("coursehub_bench_small")
    cleanup.callback(drop_database, database_url)
    upgrade(sqlalchemy_url(database_url))
    print(f"Filling the small database: {SMALL}", flush=True)
    learning_data.add_catalog(database_url, SMALL, log=lambda _line: None)
    learning_data.add_student(database_url, username)
    learning_data.enroll_with_progress(database_url, username, DASHBOARD_COURSES)
    learning_data.vacuum_analyze(database_url)
    return database_url


def _psycopg_sql(statement: object) -> str:
    """A SQLAlchemy ``text()`` statement with psycopg's placeholders."""
    return re.sub(r"(?<!:):(\w+)", r"%(\1)s", str(statement))


def statement_times(
    database_urls: dict[str, str], username: str, repeats: int = 300
) -> dict[str, list[float]]:
    """Milliseconds per run of the dashboard's two statements (prepared, as the service's
    driver runs them) on each database, alternating between them in blocks of 10 so that
    both see the same machine."""
    statements = [_psycopg_sql(dashboard.MY_COURSES), _psycopg_sql(dashboard.RECENTLY_COMPLETED)]
    connections = {name: psycopg.connect(url) for name, url in database_urls.items()}
    times: dict[str, list[float]] = {name: [] for name in database_urls}
    try:
        params = {}
        for name, conn in connections.items():
            row = conn.execute(
                "SELECT id FROM accounts WHERE username = %s", (username,)
            ).fetchone()
            params[name] = {"account_id": row[0], "limit": dashboard.RECENT_LIMIT}
        for block in range(-2, repeats // 10):  # two unmeasured blocks first
            for name, conn in connections.items():
                for _ in range(10):
                    started = time.perf_counter()
                    for sql in statements:
                        conn.execute(sql, params[name], prepare=True).fetchall()
                    if block >= 0:
                        times[name].append(1000 * (time.perf_counter() - started))
    finally:
        for conn in connections.values():
            conn.close()
    return times


def print_statement_times(times: dict[str, list[float]]) -> None:
    def pick(values: list[float], share: float) -> float:
        return sorted(values)[min(len(values) - 1, int(share * len(values)))]

    large, small = times["large"], times["small"]
    ratio = statistics.median(large) / statistics.median(small)
    print(
        "Dashboard SQL (both statements, prepared, one connection, median / p95 of "
        f"{len(large)}): large database {statistics.median(large):.3f} / "
        f"{pick(large, 0.95):.3f} ms, small database {statistics.median(small):.3f} / "
        f"{pick(small, 0.95):.3f} ms -> ratio {ratio:.2f}"
    )


def print_dashboard_verdict(measurements: list, concurrencies: tuple[int, ...]) -> None:
    for concurrency in concurrencies:
        large = summarise(measurements, "dash-large-db", concurrency)
        small = summarise(measurements, "dash-small-db", concurrency)
        p50, p99 = large.p50_ms / small.p50_ms, large.p99_ms / small.p99_ms
        met = p50 <= DASHBOARD_RATIO_GOAL and p99 <= DASHBOARD_RATIO_GOAL
        print(
            f"dashboard goal at c={concurrency}: latency on the large database <= "
            f"{DASHBOARD_RATIO_GOAL}x the small one: p50 {p50:.2f}x, p99 {p99:.2f}x -> "
            f"{'MET' if met else 'MISSED'}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        wrk_binary()
    except WrkMissing as missing:
        print(missing, file=sys.stderr)
        return 2
    search_word = learning_data.word(SEARCH_WORD_NUMBER)
    scenarios = [
        scenario
        for scenario in learning_scenarios(search_word)
        if not args.only or scenario.name in args.only
    ]
    if args.concurrency:
        scenarios = [
            Scenario(**{**scenario.__dict__, "concurrencies": args.concurrency})
            for scenario in scenarios
        ]
    record = RunRecord(options={k: v for k, v in vars(args).items() if k != "only"})
    record.options["scenarios"] = [s.name for s in scenarios]
    record.load_average_before = os.getloadavg()
    print(f"Machine: {os.cpu_count()} cores, load average {load_average()}.", flush=True)

    empty_port, large_port, small_port = free_port(), free_port(), free_port()
    with ExitStack() as cleanup:
        bench = cleanup.enter_context(running_coursehub(courses=1, keep_data=args.keep_data))
        started = time.monotonic()
        prepare_large(bench, args.recommended_index)
        small_url = prepare_small(cleanup, bench.student.username)
        print(f"Data ready in {time.monotonic() - started:.0f}s.", flush=True)
        if not args.only or "dashboard" in args.only:
            dashboard_sql = statement_times(
                {"large": bench.database_url, "small": small_url}, bench.student.username
            )
            print_statement_times(dashboard_sql)
        print(
            f"The search word {search_word!r} is in "
            f"{learning_data.matching_courses(bench.database_url, search_word)} published "
            "courses.",
            flush=True,
        )
        empty_app = cleanup.enter_context(running_empty_app(empty_port, EMPTY_APP_PATH))
        cleanup.enter_context(bench.proxy.route(EMPTY_APP_PATH, f"http://127.0.0.1:{empty_port}"))
        twins = {}
        for prefix, port, database_url in (
            (LARGE_DB_PREFIX, large_port, bench.database_url),
            (SMALL_DB_PREFIX, small_port, small_url),
        ):
            twins[prefix] = cleanup.enter_context(
                running_twin(bench.platform, database_url, port, prefix)
            )
            cleanup.enter_context(bench.proxy.route(prefix, f"http://127.0.0.1:{port}"))

        fixed = platform_groups(bench.processes)
        fixed["empty-app"] = [psutil.Process(empty_app.pid)]
        fixed["twin-large"] = [psutil.Process(twins[LARGE_DB_PREFIX].pid)]
        fixed["twin-small"] = [psutil.Process(twins[SMALL_DB_PREFIX].pid)]

        def processes() -> ProcessGroups:
            return {
                **fixed,
                "postgres": database_backends(bench.database_url) + database_backends(small_url),
            }

        for scenario in scenarios:
            check_targets(bench, [scenario.target, *scenario.baselines])
            print(f"\n{scenario.name}: {scenario.target.description}; baselines:")
            for baseline in scenario.baselines:
                print(f"  {baseline.name}: {baseline.description}")
            record.measurements.extend(run_scenario(bench, scenario, args, processes))
        print("\nStopping CourseHub ...", flush=True)

    print(f"\n{table(scenarios, record.measurements)}\n")
    print(f"Load average after the run: {load_average()} (others' work shares these cores).")
    for scenario in scenarios:
        if scenario.goal:
            verdict = goal_verdict(scenario.goal, record.measurements, scenario.target.name)
            record.goals[scenario.name] = verdict
            print_goal(scenario, verdict)
        if scenario.name == "dashboard":
            print_dashboard_verdict(record.measurements, scenario.concurrencies)
    if not args.only or "dashboard" in args.only:
        print_statement_times(dashboard_sql)
    if not args.no_json:
        print(f"\nResults: {record.write(scenarios)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
