"""An LMS administrator registers CourseHub by LTI Dynamic Registration: the LMS opens
CourseHub's registration URL with its OpenID configuration and a registration token,
CourseHub sends its tool configuration to the LMS's registration endpoint and keeps the
client id and deployment id it answers with; the LMS's launches then work. Only a CourseHub
administrator (signed in, or with a one-time link) completes it, and every refusal leaves
nothing registered.

The LMS is ``tests.lti_platform_standin`` (a real HTTP server speaking the spec's JSON), its
launches built and signed by ``lti1p3platform``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coursehub.hub.constants import Role
from coursehub.services.lti import dynamic_registration
from coursehub.services.lti.platforms import LtiError
from coursehub.services.models import Enrollment, LtiIdentity, LtiPlatform
from tests.course_builder import make_course
from tests.lti_platform_standin import (
    LEARNER,
    NRPS_SCOPE,
    TOOL_CONFIGURATION,
    Launcher,
    StandinPlatform,
)
from tests.platform import xsrf_from

AGS_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


@pytest.fixture
def lms() -> Iterator[StandinPlatform]:
    server = StandinPlatform()
    server.registration_token = secrets.token_urlsafe(12)
    yield server
    server.close()


def initiation(lms: StandinPlatform, path: str) -> str:
    query = {
        "openid_configuration": f"{lms.url}/.well-known/openid-configuration",
        "registration_token": lms.registration_token,
    }
    return f"{path}?{urlencode(query)}"


def registrations_of(db: Callable[[], Session], issuer: str) -> list[LtiPlatform]:
    with db() as session:
        return list(session.scalars(select(LtiPlatform).where(LtiPlatform.issuer == issuer)))


def confirm_and_register(client: httpx.Client, url: str) -> httpx.Response:
    """Open the registration URL as the LMS does, then press Register."""
    page = client.get(url)
    assert page.status_code == 200, page.text[:800]
    assert 'id="registration_form"' in page.text
    form = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page.text))
    action = re.search(r'<form method="post" action="([^"]+)" id="registration_form"', page.text)
    assert action is not None
    return client.post(f"{url.split('/services/')[0]}{action.group(1)}", data=form)


def test_an_lms_registers_coursehub_and_its_launches_then_work(
    platform, lms, db, make_account, signed_in, database_url
):
    admin = signed_in(make_account(Role.ADMIN))
    shown = admin.get(f"{platform.service_url}/lti/platforms")
    assert f"{platform.service_url}/lti/register" in shown.text

    done = confirm_and_register(admin, initiation(lms, f"{platform.service_url}/lti/register"))
    assert done.status_code == 200, done.text[:800]
    assert "CourseHub is registered" in done.text
    assert "org.imsglobal.lti.close" in done.text

    # What CourseHub told the LMS, with the registration token.
    [exchange] = lms.registrations
    sent = exchange["request"]
    tool = sent[TOOL_CONFIGURATION]
    assert sent["redirect_uris"] == [f"{platform.service_url}/lti/launch"]
    assert sent["initiate_login_uri"] == f"{platform.service_url}/lti/login"
    assert sent["jwks_uri"] == f"{platform.service_url}/lti/jwks"
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    assert {NRPS_SCOPE, AGS_SCORE} <= set(sent["scope"].split())
    assert tool["target_link_uri"] == f"{platform.service_url}/lti/launch"
    assert tool["domain"] in platform.service_url
    assert {m["type"] for m in tool["messages"]} == {
        "LtiResourceLinkRequest",
        "LtiDeepLinkingRequest",
    }

    # Kept as a registered platform, as the admin page would.
    [kept] = registrations_of(db, lms.issuer)
    answer = exchange["answer"]
    assert kept.client_id == answer["client_id"]
    assert kept.deployment_ids == [answer[TOOL_CONFIGURATION]["deployment_id"]]
    assert kept.auth_login_url == f"{lms.url}/auth"
    assert kept.auth_token_url == f"{lms.url}/token"
    assert kept.key_set_url == f"{lms.url}/jwks"

    # The LMS launches a learner into a course named by the link.
    course = make_course(
        database_url, make_account(Role.INSTRUCTOR), title=f"Dyn {secrets.token_hex(3)}", modules={}
    )
    launcher = Launcher(lms, platform.service_url, kept.client_id, kept.deployment_ids[0])
    with httpx.Client(timeout=30) as browser:
        page = launcher.launch(browser, "learner-1", LEARNER, nrps=False, course=course.slug)
    assert page.status_code == 200, page.text[:800]
    assert page.url.path == f"/services/coursehub/courses/{course.slug}"
    with db() as session:
        identity = session.scalars(
            select(LtiIdentity).where(LtiIdentity.platform_id == kept.id)
        ).one()
        assert session.scalar(
            select(Enrollment.id).where(
                Enrollment.account_id == identity.account_id, Enrollment.course_id == course.id
            )
        )

    # Registering the same LMS again updates that registration (people stay linked).
    again = confirm_and_register(admin, initiation(lms, f"{platform.service_url}/lti/register"))
    assert again.status_code == 200 and "The registration is updated" in again.text
    [updated] = registrations_of(db, lms.issuer)
    assert updated.id == kept.id
    assert updated.client_id == lms.registrations[1]["answer"]["client_id"] != kept.client_id
    assert len(updated.deployment_ids) == 2


def test_a_one_time_link_lets_the_lms_window_register_once(
    platform, lms, db, make_account, signed_in
):
    admin = signed_in(make_account(Role.ADMIN))
    page = admin.get(f"{platform.service_url}/lti/platforms")
    made = admin.post(
        f"{platform.service_url}/lti/registration-links", data={"_xsrf": xsrf_from(page)}
    )
    assert made.status_code == 200
    link = re.search(r'<code id="registration_link">([^<]+)</code>', made.text).group(1)

    with httpx.Client(timeout=30, follow_redirects=True) as lms_window:  # no CourseHub sign-in
        done = confirm_and_register(lms_window, initiation(lms, link))
        assert done.status_code == 200 and "CourseHub is registered" in done.text
        assert len(registrations_of(db, lms.issuer)) == 1
        # Spent: the link opens nothing any more.
        reused = lms_window.get(initiation(lms, link))
        assert reused.status_code == 404 and "expired or was used" in reused.text
    # A made-up link opens nothing either.
    with httpx.Client(timeout=30) as stranger:
        guessed = stranger.get(initiation(lms, f"{platform.service_url}/lti/register/{'a' * 32}"))
        assert guessed.status_code == 404


REFUSALS: list[tuple[str, Callable[[StandinPlatform], None], str]] = [
    (
        "issuer-of-another-site",
        lambda lms: lms.openid_overrides.update(issuer="https://lms.elsewhere.example"),
        "must be the same site",
    ),
    (
        "no-registration-endpoint",
        lambda lms: lms.openid_overrides.update(registration_endpoint=""),
        "gives no registration endpoint",
    ),
    (
        "lms-refuses",
        lambda lms: lms.failure.update(
            {
                "/register": (
                    400,
                    '{"error": "invalid_redirect_uri", "error_description": '
                    '"Redirect URIs must use https"}',
                )
            }
        ),
        "the LMS refused the registration (HTTP 400: Redirect URIs must use https)",
    ),
    (
        "wrong-registration-token",
        lambda lms: setattr(lms, "registration_token", "another-token"),
        "the LMS refused the registration (HTTP 401",
    ),
    (
        "no-openid-configuration",
        lambda lms: lms.failure.update({"/.well-known/": (404, "Not Found")}),
        "answered HTTP 404 for its OpenID configuration",
    ),
    (
        "no-deployment-id",
        lambda lms: lms.registration_answer.update({TOOL_CONFIGURATION: {}}),
        "gives no deployment id",
    ),
]


@pytest.mark.parametrize(("case", "change", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_registration_that_cannot_be_trusted_is_refused_with_nothing_registered(
    platform, lms, db, make_account, signed_in, case, change, reason
):
    admin = signed_in(make_account(Role.ADMIN))
    url = initiation(lms, f"{platform.service_url}/lti/register")
    form = {
        "openid_configuration": f"{lms.url}/.well-known/openid-configuration",
        "registration_token": lms.registration_token,
    }
    change(lms)
    page = admin.get(url)
    xsrf = xsrf_from(admin.get(f"{platform.service_url}/lti/platforms"))
    answer = admin.post(f"{platform.service_url}/lti/register", data={**form, "_xsrf": xsrf})
    assert answer.status_code >= 400
    assert reason in _text(answer), _text(answer)[:600]
    if case in ("issuer-of-another-site", "no-registration-endpoint", "no-openid-configuration"):
        # Refused before CourseHub sent the LMS anything, already when the page opened.
        assert page.status_code >= 400 and reason in _text(page)
        assert lms.registrations == []
    assert registrations_of(db, lms.issuer) == []
    assert registrations_of(db, "https://lms.elsewhere.example") == []


def _text(response: httpx.Response) -> str:
    return re.sub(r"\s+", " ", response.text.replace("&#39;", "'").replace("&quot;", '"'))


def test_only_an_administrator_registers_and_several_registrations_are_refused(
    platform, lms, db, make_account, signed_in, database_url
):
    url = initiation(lms, f"{platform.service_url}/lti/register")
    instructor = signed_in(make_account(Role.INSTRUCTOR))
    assert instructor.get(url).status_code == 403
    with httpx.Client(timeout=30) as anonymous:
        assert anonymous.post(
            f"{platform.service_url}/lti/register",
            data={"openid_configuration": f"{lms.url}/.well-known/openid-configuration"},
        ).status_code in (401, 403)
    assert lms.registrations == [] and registrations_of(db, lms.issuer) == []

    # Two registrations of this LMS exist (made on the admin page): CourseHub will not guess
    # which one to update, and asks the LMS for nothing.
    admin = signed_in(make_account(Role.ADMIN))
    headers = {"X-XSRFToken": xsrf_from(admin.get(f"{platform.service_url}/lti/platforms"))}
    for n in (1, 2):
        made = admin.post(
            f"{platform.service_url}/api/lti/platforms",
            json=_form(lms, f"manual-{n}"),
            headers=headers,
        )
        assert made.status_code == 201, made.text
    page = admin.get(url)
    assert "registered 2 times already" in page.text
    xsrf = xsrf_from(page)
    refused = admin.post(
        f"{platform.service_url}/lti/register",
        data={
            "openid_configuration": f"{lms.url}/.well-known/openid-configuration",
            "registration_token": lms.registration_token,
            "_xsrf": xsrf,
        },
    )
    assert refused.status_code == 409 and "registered 2 times already" in _text(refused)
    assert lms.registrations == []
    assert sorted(p.client_id for p in registrations_of(db, lms.issuer)) == ["manual-1", "manual-2"]
    with db() as session:
        assert session.scalar(select(func.count()).select_from(LtiPlatform)) >= 2


def _form(lms: StandinPlatform, client_id: str) -> dict[str, Any]:
    return {
        "name": "Manual",
        "issuer": lms.issuer,
        "client_id": client_id,
        "deployment_ids": ["1"],
        "auth_login_url": f"{lms.url}/auth",
        "auth_token_url": f"{lms.url}/token",
        "key_set_url": f"{lms.url}/jwks",
    }


def test_in_production_every_lms_endpoint_must_be_https():
    configuration = {
        "issuer": "https://lms.example.edu",
        "authorization_endpoint": "https://lms.example.edu/auth",
        "token_endpoint": "http://lms.example.edu/token",
        "jwks_uri": "https://lms.example.edu/jwks",
        "registration_endpoint": "https://lms.example.edu/register",
    }
    url = "https://lms.example.edu/.well-known/openid-configuration"
    with pytest.raises(LtiError, match="token endpoint is not an https address"):
        dynamic_registration.PlatformConfiguration.read(url, configuration, https_only=True)
    # Served over plain http (a machine of one's own), http endpoints are accepted.
    read = dynamic_registration.PlatformConfiguration.read(url, configuration, https_only=False)
    assert read.token_endpoint == "http://lms.example.edu/token"
    with pytest.raises(LtiError, match="not an https address"):
        dynamic_registration.check_address(
            "http://lms.example.edu/.well-known/openid-configuration",
            "OpenID configuration address",
            https_only=True,
        )
