"""Joining and leaving courses: one click for free courses (twice is fine), paid courses are
refused plainly because CourseHub takes no payments yet, archived courses stay open to their
students but take no one new, drafts do not exist for students, and forms need their token."""

from __future__ import annotations

import httpx

from coursehub.hub.constants import Role
from coursehub.services.models import CourseStatus
from tests.course_builder import (
    change_course,
    complete_lessons,
    enroll,
    enrollment_count,
    enrollment_of,
    make_course,
)
from tests.platform import xsrf_from


def form_post(http: httpx.Client, platform, slug: str, action: str) -> httpx.Response:
    """Press the course page's button, as a browser does (the form carries its _xsrf)."""
    page = http.get(f"{platform.service_url}/courses/{slug}")
    return http.post(
        f"{platform.service_url}/courses/{slug}/{action}", data={"_xsrf": xsrf_from(page)}
    )


def api_post(http: httpx.Client, platform, slug: str, action: str) -> httpx.Response:
    """A script signed in with the browser's cookies sends the form token as a header."""
    token = xsrf_from(http.get(f"{platform.service_url}/register"))
    return http.post(
        f"{platform.service_url}/api/courses/{slug}/{action}", headers={"X-XSRFToken": token}
    )


def test_a_student_enrolls_in_a_free_course_with_one_click_and_a_second_click_is_harmless(
    platform, make_account, signed_in, db, database_url
):
    course = make_course(database_url, make_account(Role.INSTRUCTOR), title="Free astronomy")
    student = make_account(Role.STUDENT)
    http = signed_in(student)

    page = http.get(f"{platform.service_url}/courses/{course.slug}")
    assert 'id="enroll_button"' in page.text and "Enroll for free" in page.text
    joined = form_post(http, platform, course.slug, "enroll")
    assert joined.status_code == 200
    assert joined.url.path == f"/services/coursehub/courses/{course.slug}"
    assert "You are enrolled. Enjoy the course!" in joined.text
    assert 'id="enrolled_state"' in joined.text and 'id="unenroll_button"' in joined.text

    again = form_post(http, platform, course.slug, "enroll")
    assert "You are already enrolled in this course." in again.text
    by_api = api_post(http, platform, course.slug, "enroll")
    assert by_api.status_code == 200
    assert by_api.json() == {
        "enrolled": True,
        "changed": False,
        "message": "You are already enrolled in Free astronomy.",
    }
    assert enrollment_count(db, course) == 1


def test_the_json_api_enrolls_with_201_and_a_hub_token_needs_no_form_token(
    platform, make_account, signed_in, db, database_url
):
    course = make_course(database_url, make_account(Role.INSTRUCTOR), title="Token enrollment")
    student = make_account(Role.STUDENT)
    http = signed_in(student)

    created = api_post(http, platform, course.slug, "enroll")
    assert created.status_code == 201
    assert created.json()["message"] == "You are enrolled in Token enrollment. Enjoy!"
    assert enrollment_of(db, student, course) is not None

    without_token = http.post(f"{platform.service_url}/api/courses/{course.slug}/unenroll")
    assert without_token.status_code == 403  # a cookie-signed-in call needs X-XSRFToken
    assert enrollment_of(db, student, course) is not None


def test_a_paid_course_shows_its_price_and_refuses_enrollment_with_402_writing_nothing(
    platform, make_account, signed_in, db, database_url
):
    course = make_course(
        database_url, make_account(Role.INSTRUCTOR), title="Premium optics", price_cents=4900
    )
    http = signed_in(make_account(Role.STUDENT))

    page = http.get(f"{platform.service_url}/courses/{course.slug}")
    assert 'id="course_price">$49.00<' in page.text
    assert "Payment is not available in CourseHub yet" in page.text
    assert 'id="enroll_button"' not in page.text

    refused = api_post(http, platform, course.slug, "enroll")
    assert refused.status_code == 402
    assert refused.json()["error"] == (
        "Premium optics costs $49.00. Payment is not available in CourseHub yet, so this "
        "paid course cannot be joined for now. Free courses can be joined right away."
    )
    by_form = http.post(
        f"{platform.service_url}/courses/{course.slug}/enroll",
        data={"_xsrf": xsrf_from(http.get(f"{platform.service_url}/register"))},
    )
    assert by_form.status_code == 402
    assert 'id="course_problem"' in by_form.text and "Payment is not available" in by_form.text
    assert enrollment_count(db, course) == 0


def test_an_archived_course_stays_open_to_its_students_and_takes_no_one_new(
    platform, client, make_account, signed_in, db, database_url
):
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, instructor, title="Retired telescopes")
    student, newcomer = make_account(Role.STUDENT), make_account(Role.STUDENT)
    enroll(db, student, course)
    change_course(database_url, instructor, course, status="ARCHIVED")

    page = signed_in(student).get(f"{platform.service_url}/courses/{course.slug}")
    assert page.status_code == 200
    assert "archived and takes no new enrollments" in page.text
    assert "You are enrolled, so all of it stays open to you." in page.text
    for lesson_id in course.lesson_ids:
        assert f"/learn/{course.slug}/{lesson_id}" in page.text

    http = signed_in(newcomer)
    refused = api_post(http, platform, course.slug, "enroll")
    assert refused.status_code == 409
    assert "archived and takes no new enrollments" in refused.json()["error"]
    by_form = http.post(
        f"{platform.service_url}/courses/{course.slug}/enroll",
        data={"_xsrf": xsrf_from(http.get(f"{platform.service_url}/register"))},
    )
    assert by_form.status_code == 409 and 'id="course_problem"' in by_form.text
    assert enrollment_count(db, course) == 1

    catalog = client.get(f"{platform.service_url}/api/courses", params={"q": "Retired"}).json()
    assert course.slug not in [item["slug"] for item in catalog["items"]]


def test_a_draft_cannot_be_joined_even_by_its_address(
    platform, make_account, signed_in, db, database_url
):
    course = make_course(
        database_url, make_account(Role.INSTRUCTOR), title="Not yet", status=CourseStatus.DRAFT
    )
    http = signed_in(make_account(Role.STUDENT))
    refused = api_post(http, platform, course.slug, "enroll")
    assert refused.status_code == 404
    assert enrollment_count(db, course) == 0


def test_a_student_leaves_a_course_and_keeps_their_progress_for_a_return(
    platform, make_account, signed_in, db, database_url
):
    course = make_course(database_url, make_account(Role.INSTRUCTOR), title="Leaving course")
    student = make_account(Role.STUDENT)
    enroll(db, student, course)
    complete_lessons(db, student, course.lesson_ids[:2])
    http = signed_in(student)

    left = form_post(http, platform, course.slug, "unenroll")
    assert "You have left this course. Your progress is kept" in left.text
    assert 'id="enroll_button"' in left.text
    assert enrollment_of(db, student, course) is None
    again = api_post(http, platform, course.slug, "unenroll")
    assert again.status_code == 200 and again.json()["changed"] is False

    assert api_post(http, platform, course.slug, "enroll").status_code == 201
    dashboard = http.get(f"{platform.service_url}/api/me/dashboard").json()
    [mine] = [c for c in dashboard["courses"] if c["slug"] == course.slug]
    assert mine["lessons_completed"] == 2


def test_visitors_are_asked_to_sign_in_and_cannot_enroll(
    platform, client, make_account, database_url
):
    course = make_course(database_url, make_account(Role.INSTRUCTOR), title="Visitors welcome")
    page = client.get(f"{platform.service_url}/courses/{course.slug}")
    assert 'id="sign_in_to_enroll"' in page.text
    assert f"/hub/login?next=%2Fservices%2Fcoursehub%2Fcourses%2F{course.slug}" in page.text
    refused = client.post(f"{platform.service_url}/api/courses/{course.slug}/enroll")
    assert refused.status_code in (401, 403)


def test_the_instructor_previews_their_course_without_enrolling(
    platform, make_account, signed_in, database_url
):
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, instructor, title="My own course")
    page = signed_in(instructor).get(f"{platform.service_url}/courses/{course.slug}")
    assert "You teach this course: every lesson is open to you without enrolling." in page.text
    assert 'id="enroll_button"' not in page.text
    for lesson_id in course.lesson_ids:
        assert f"/learn/{course.slug}/{lesson_id}" in page.text
