"""A class signing in at the same moment: every sign-in completes, whichever of the course
service's processes the hub sends each person back to."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from coursehub.hub.constants import Role
from tests.conftest import PASSWORD
from tests.platform import sign_in


def test_ten_students_signing_in_at_once_all_reach_their_courses(platform, make_account):  # type: ignore[no-untyped-def]
    students = [make_account(Role.STUDENT) for _ in range(10)]

    def signs_in(student) -> tuple[int, str]:  # type: ignore[no-untyped-def]
        with httpx.Client(follow_redirects=True, timeout=60) as browser:
            landed = sign_in(browser, platform.url, student.email, PASSWORD)
            courses = browser.get(f"{platform.service_url}/courses")
            return courses.status_code, f"{landed.status_code} {landed.url}"

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(signs_in, students))

    assert [status for status, _ in outcomes] == [200] * 10, outcomes


def test_an_oauth_state_that_was_tampered_with_is_refused(platform, client):  # type: ignore[no-untyped-def]
    answer = client.get(
        f"{platform.service_url}/oauth_callback", params={"code": "x", "state": "forged"}
    )
    assert answer.status_code in (400, 403)
