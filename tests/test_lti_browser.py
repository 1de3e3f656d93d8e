"""CourseHub launched from an LMS in Chromium: the LMS's link starts the OIDC login, CourseHub
sends the browser to the LMS's authorisation page, whose form posts the signed launch back
(built by ``lti1p3platform``), and the learner lands signed in on the course."""

from __future__ import annotations

import html
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import Enrollment, LtiIdentity, LtiPlatform
from tests.course_builder import make_course
from tests.platform import xsrf_from
from tests.test_lti import LEARNER, KeySetServer, Lms

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def key_server() -> Iterator[KeySetServer]:
    server = KeySetServer()
    yield server
    server.close()


def test_a_learner_follows_the_lms_link_and_lands_signed_in_on_the_course(
    platform, key_server, make_account, signed_in, database_url, db, page
):
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(
        database_url, instructor, title=f"Rivers {secrets.token_hex(3)}", modules={}
    )
    lms = Lms(key_server, platform.service_url, f"https://lms-{secrets.token_hex(3)}.example.edu")
    admin = signed_in(make_account(Role.ADMIN))
    headers = {"X-XSRFToken": xsrf_from(admin.get(f"{platform.service_url}/lti/platforms"))}
    created = admin.post(
        f"{platform.service_url}/api/lti/platforms",
        json=lms.registration_form(course.slug),
        headers=headers,
    )
    assert created.status_code == 201, created.text

    def authorisation_page(query: dict[str, str]) -> str:
        # The LMS checks its own session (the login hint), then posts the launch back.
        token = lms.sign(lms.launch_claims(query, query["login_hint"], LEARNER))
        return (
            f'<form method="post" action="{html.escape(query["redirect_uri"])}">'
            f'<input type="hidden" name="id_token" value="{html.escape(token)}">'
            f'<input type="hidden" name="state" value="{html.escape(query["state"])}">'
            '<button id="go">Continue to CourseHub</button></form>'
        )

    key_server.authorisation_page = authorisation_page
    page.goto(lms.login_url("river-student"))
    page.click("#go")
    page.wait_for_url(f"**/services/coursehub/courses/{course.slug}")
    assert course.title in page.content()
    with db() as session:
        identity = session.scalar(
            select(LtiIdentity)
            .join(LtiPlatform, LtiPlatform.id == LtiIdentity.platform_id)
            .where(LtiPlatform.issuer == lms.issuer, LtiIdentity.subject == "river-student")
        )
        assert identity is not None
        assert session.scalar(
            select(Enrollment).where(
                Enrollment.account_id == identity.account_id, Enrollment.course_id == course.id
            )
        )
    # The same link again, in the same browser: straight back in, no second account.
    page.goto(lms.login_url("river-student"))
    page.click("#go")
    page.wait_for_url(f"**/services/coursehub/courses/{course.slug}")
    with db() as session:
        assert (
            len(
                list(
                    session.scalars(
                        select(LtiIdentity).where(LtiIdentity.subject == "river-student")
                    )
                )
            )
            == 1
        )
