"""The catalog and dashboard scenarios (run by ``python -m benchmarks.learning``).

- ``catalog``: a catalog search (``GET /api/courses?q=<word>``, as a visitor) on 1,000
  courses with 10,000 lessons, against the empty Tornado handler.
- ``catalog-all``: the first catalog page without a search (newest first), the same way.
- ``dashboard``: a student's ``GET /api/me/dashboard`` on a database with 10,000 people,
  1,000 courses and ~1,000,000 lesson progress rows, against the same request for the same
  student (same courses, lessons and progress) on a small database. Both are served by a
  one-process twin of the course service (``benchmarks.service_twin``) behind the same proxy,
  so the database is the only difference.
"""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from benchmarks.scenarios import EMPTY_TORNADO, Goal, Scenario, Target
from coursehub.hub.constants import SERVICE_PREFIX

LARGE_DB_PREFIX = "/coursehub-bench/large-db"
SMALL_DB_PREFIX = "/coursehub-bench/small-db"
# Pseudo-word number 60,000 of benchmarks.learning_data: in about 1.5 % of the courses.
SEARCH_WORD_NUMBER = 60_000
DASHBOARD_COURSES = 10


def _catalog_ok(response: httpx.Response, _course_count: int) -> str | None:
    if response.status_code != 200:
        return f"status {response.status_code}: {response.text[:300]}"
    body = response.json()
    if not body.get("items") or not body.get("total"):
        return f"an empty catalog page: {response.text[:300]}"
    return None


def _dashboard_ok(response: httpx.Response, _course_count: int) -> str | None:
    if response.status_code != 200:
        return f"status {response.status_code}: {response.text[:300]}"
    courses = response.json().get("courses", [])
    if len(courses) != DASHBOARD_COURSES:
        return f"{len(courses)} courses instead of {DASHBOARD_COURSES}: {response.text[:300]}"
    if not all(course["lessons"] == 10 and course["continue"] for course in courses):
        return f"courses without lessons or a continue link: {response.text[:300]}"
    return None


def catalog_search(word: str) -> Target:
    return Target(
        name="catalog-search",
        path=f"{SERVICE_PREFIX}/api/courses?{urlencode({'q': word})}",
        description=f"GET /services/coursehub/api/courses?q={word} as a visitor (no token)",
        authorized=False,
        check=_catalog_ok,
    )


CATALOG_ALL = Target(
    name="catalog-all",
    path=f"{SERVICE_PREFIX}/api/courses",
    description="GET /services/coursehub/api/courses (page 1, newest first) as a visitor",
    authorized=False,
    check=_catalog_ok,
)
DASHBOARD_LARGE = Target(
    name="dash-large-db",
    path=f"{LARGE_DB_PREFIX}/api/me/dashboard",
    description="the student's GET /api/me/dashboard with their token, on the large database",
    check=_dashboard_ok,
)
DASHBOARD_SMALL = Target(
    name="dash-small-db",
    path=f"{SMALL_DB_PREFIX}/api/me/dashboard",
    description="the same request for the same student and courses, on a small database",
    check=_dashboard_ok,
)


def learning_scenarios(search_word: str) -> tuple[Scenario, ...]:
    return (
        Scenario(
            name="catalog",
            target=catalog_search(search_word),
            baselines=(EMPTY_TORNADO,),
            concurrencies=(1, 10),
            goal=Goal(concurrency=10, min_rps=1000, max_p99_ms=50),
        ),
        Scenario(
            name="catalog-all",
            target=CATALOG_ALL,
            baselines=(EMPTY_TORNADO,),
            concurrencies=(10,),
        ),
        Scenario(
            name="dashboard",
            target=DASHBOARD_LARGE,
            baselines=(DASHBOARD_SMALL,),
            concurrencies=(1, 10),
        ),
    )


SCENARIO_NAMES = ("catalog", "catalog-all", "dashboard")
