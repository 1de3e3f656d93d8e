"""What the benchmarks measure: each scenario, its baselines, concurrencies and goal.

Every URL is the platform's public one, so every request goes through
configurable-http-proxy exactly as a browser's or a script's would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from coursehub.hub.constants import SERVICE_PREFIX

EMPTY_APP_PATH = "/coursehub-bench/empty"


@dataclass(frozen=True)
class Target:
    """One endpoint under load. ``path`` may name ``{username}``, the benchmark student."""

    name: str
    path: str
    description: str
    authorized: bool = True  # sends the student's hub API token
    # Checks one response before any load, so a benchmark never measures an error page.
    check: Callable[[httpx.Response, int], str | None] | None = None

    def url(self, base_url: str, username: str) -> str:
        return base_url + self.path.format(username=username)


@dataclass(frozen=True)
class Goal:
    concurrency: int
    min_rps: float
    max_p99_ms: float

    def describe(self) -> str:
        return (
            f">= {self.min_rps:g} requests/s and p99 <= {self.max_p99_ms:g} ms "
            f"at concurrency {self.concurrency}"
        )


@dataclass(frozen=True)
class Scenario:
    name: str
    target: Target
    baselines: tuple[Target, ...]
    concurrencies: tuple[int, ...]
    goal: Goal | None = None
    # Count the hub's GET /hub/api/user requests while the target is under load.
    count_hub_token_checks: bool = False


def _my_courses_ok(response: httpx.Response, course_count: int) -> str | None:
    if response.status_code != 200:
        return f"status {response.status_code}: {response.text[:300]}"
    try:
        courses = response.json()["courses"]
    except (ValueError, KeyError):
        return f"not the course list: {response.text[:300]}"
    if len(courses) != course_count:
        return f"{len(courses)} courses instead of {course_count}: {json.dumps(courses)[:300]}"
    return None


def _status_ok(response: httpx.Response, _course_count: int) -> str | None:
    return None if response.status_code == 200 else f"status {response.status_code}"


MY_COURSES = Target(
    name="my-courses",
    path=f"{SERVICE_PREFIX}/api/me/courses",
    description="GET /services/coursehub/api/me/courses with the student's API token",
    check=_my_courses_ok,
)
EMPTY_TORNADO = Target(
    name="empty-tornado",
    path=EMPTY_APP_PATH,
    description="an empty Tornado handler in its own process, routed by the same proxy",
    authorized=False,
    check=_status_ok,
)
HUB_USER = Target(
    name="hub-user",
    path="/hub/api/users/{username}",
    description="the hub's GET /hub/api/users/{name} with the same token",
    check=_status_ok,
)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="my-courses",
        target=MY_COURSES,
        baselines=(EMPTY_TORNADO, HUB_USER),
        concurrencies=(1, 10),
        goal=Goal(concurrency=10, min_rps=1500, max_p99_ms=25),
        count_hub_token_checks=True,
    ),
)


def select_scenarios(only: list[str] | None) -> list[Scenario]:
    if not only:
        return list(SCENARIOS)
    known = {scenario.name: scenario for scenario in SCENARIOS}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise SystemExit(f"Unknown scenario {', '.join(unknown)}; choose from {', '.join(known)}.")
    return [known[name] for name in only]
