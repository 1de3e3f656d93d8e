"""A person's JupyterLab opens only for its owner: an administrator opening a student's server
in their browser is told why it does not open, and no sign-in of theirs (no token, no cookie)
is made for that server, so nothing the student installed there can act with the
administrator's CourseHub session. Administrators still manage the server; the student still
opens their own JupyterLab.

Real platform: the hub, its proxy, sandboxed servers; the browser is Debian's Chromium."""

from __future__ import annotations

import pytest

from coursehub.hub.constants import Role
from tests.player_data import sign_in
from tests.test_lab_extension import Hub


def server_sign_in(context, username: str) -> list[dict]:  # type: ignore[no-untyped-def]
    """The sign-in cookie a browser holds for a person's server (the server's own OAuth state
    cookie, set before it asks the hub, holds no session and does not count)."""
    return [
        cookie for cookie in context.cookies() if cookie["name"] == f"jupyterhub-user-{username}"
    ]


def tokens_for_server(hub: Hub, holder: str, owner: str) -> list[dict]:
    """The hub tokens ``holder`` has that were made for ``owner``'s server."""
    tokens = hub.http.get(f"/users/{holder}/tokens").raise_for_status().json()["api_tokens"]
    return [token for token in tokens if owner in (token.get("oauth_client") or "")]


@pytest.mark.browser
def test_an_admin_opening_a_students_server_is_refused_and_carries_no_session_into_it(
    platform, make_account, browser
):
    from playwright.sync_api import expect

    student, admin = make_account(), make_account(Role.ADMIN)
    hub = Hub(platform)
    admin_context = browser.new_context(viewport={"width": 1280, "height": 800})
    admin_context.set_default_timeout(20_000)
    student_context = browser.new_context(viewport={"width": 1280, "height": 800})
    student_context.set_default_timeout(20_000)
    try:
        # The student signs in (the hub knows them from then on) and their server runs.
        own = student_context.new_page()
        sign_in(own, platform, student.email or "")
        hub.start(student.username)

        # The administrator follows a link to the student's JupyterLab.
        page = admin_context.new_page()
        sign_in(page, platform, admin.email or "")
        response = page.goto(f"{platform.url}/user/{student.username}/lab")
        assert response is not None and response.status == 403
        refusal = page.locator("#not_your_server")
        expect(refusal).to_contain_text(f"{student.username}'s server opens only for")
        expect(refusal).to_contain_text("admin panel")
        assert page.locator(".jp-LabShell").count() == 0
        # Nothing of the administrator's reached the server: no cookie, no token for it.
        assert server_sign_in(admin_context, student.username) == []
        assert tokens_for_server(hub, admin.username, student.username) == []

        # Asking the hub's authorization directly (as a page of the server's would) is refused
        # the same way, with the form's POST too.
        client_id = f"jupyterhub-user-{student.username}"
        authorize = page.goto(
            f"{platform.url}/hub/api/oauth2/authorize?client_id={client_id}"
            f"&redirect_uri=/user/{student.username}/oauth_callback&response_type=code"
        )
        assert authorize is not None and authorize.status == 403
        xsrf = next(c["value"] for c in admin_context.cookies() if c["name"] == "_xsrf")
        posted = page.request.post(
            f"{platform.url}/hub/api/oauth2/authorize?client_id={client_id}"
            f"&redirect_uri=/user/{student.username}/oauth_callback&response_type=code",
            form={"_xsrf": xsrf, "scopes": "identify"},
            max_redirects=0,
        )
        assert posted.status == 403
        assert tokens_for_server(hub, admin.username, student.username) == []

        # The administrator still sees the student's server in the admin panel.
        page.goto(f"{platform.url}/hub/admin")
        # (searched for: on the suite's shared platform the list pages through many people)
        page.get_by_placeholder("Search Users").fill(student.username)
        row = page.locator("tr", has=page.get_by_test_id(f"user-name-div-{student.username}"))
        expect(row.get_by_role("button", name="Stop Server")).to_be_visible(timeout=20_000)
        listed = hub.http.get(f"/users/{student.username}").raise_for_status().json()
        assert listed["servers"][""]["ready"] is True

        # The student opens their own JupyterLab as always.
        own.goto(f"{platform.url}/user/{student.username}/lab")
        expect(own.locator(".jp-LabShell")).to_be_visible(timeout=90_000)
        assert server_sign_in(student_context, student.username) != []

        # And the administrator stops it from the admin panel.
        row.get_by_role("button", name="Stop Server").click()
        hub.wait(student.username, lambda server: server is None, 60)
    finally:
        admin_context.close()
        student_context.close()
        hub.stop(student.username)
        hub.http.close()
