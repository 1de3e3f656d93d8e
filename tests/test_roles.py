"""Roles: admins change them from a page or the API, the hub follows, everyone else is refused."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

from coursehub.hub.constants import INSTRUCTORS_GROUP, Role
from coursehub.services.models import Account, AuditEntry
from tests.platform import xsrf_from


def hub_view(platform, username: str) -> dict:
    """What the hub knows of a user, asked with the course service's own token."""
    token = json.loads((platform.data_dir / "secrets.json").read_text())["service_token"]
    response = httpx.get(
        f"{platform.url}/hub/api/users/{username}", headers={"Authorization": f"token {token}"}
    )
    response.raise_for_status()
    return response.json()


def role_of(db, account: Account) -> Role:
    with db() as session:
        return session.get(Account, account.id).role


def api_headers(client: httpx.Client, platform) -> dict[str, str]:
    page = client.get(f"{platform.service_url}/register")
    return {"X-XSRFToken": xsrf_from(page)}


def test_an_admin_promotes_a_student_and_the_hub_follows(platform, make_account, signed_in, db):
    admin, student = make_account(Role.ADMIN), make_account(Role.STUDENT)
    signed_in(student)  # the student has signed in once, so the hub knows them
    http = signed_in(admin)

    response = http.patch(
        f"{platform.service_url}/api/users/{student.username}",
        json={"role": "INSTRUCTOR"},
        headers=api_headers(http, platform),
    )
    assert response.status_code == 200 and response.json()["role"] == "INSTRUCTOR"
    assert INSTRUCTORS_GROUP in hub_view(platform, student.username)["groups"]

    page = http.get(f"{platform.service_url}/admin/users")
    changed = http.post(
        f"{platform.service_url}/admin/users/{student.username}/role",
        data={"_xsrf": xsrf_from(page), "role": "ADMIN"},
    )
    assert changed.status_code == 200 and "is now admin" in changed.text
    assert hub_view(platform, student.username)["admin"] is True
    assert role_of(db, student) is Role.ADMIN

    with db() as session:
        trail = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target_kind == "account", AuditEntry.target_id == str(student.id))
            .order_by(AuditEntry.id)
        ).all()
    assert [(c.action, c.before, c.after) for c in trail] == [
        ("role.change", {"role": "STUDENT"}, {"role": "INSTRUCTOR"}),
        ("role.change", {"role": "INSTRUCTOR"}, {"role": "ADMIN"}),
    ]
    assert {c.actor_id for c in trail} == {admin.id}


def test_a_demoted_admin_loses_hub_admin(platform, make_account, signed_in):
    admin, other = make_account(Role.ADMIN), make_account(Role.ADMIN)
    signed_in(other)
    http = signed_in(admin)
    assert hub_view(platform, other.username)["admin"] is True
    http.patch(
        f"{platform.service_url}/api/users/{other.username}",
        json={"role": "STUDENT"},
        headers=api_headers(http, platform),
    ).raise_for_status()
    view = hub_view(platform, other.username)
    assert view["admin"] is False and INSTRUCTORS_GROUP not in view["groups"]


@pytest.mark.parametrize("role", [Role.STUDENT, Role.INSTRUCTOR])
def test_only_admins_may_change_roles(platform, make_account, signed_in, db, role):
    actor, target = make_account(role), make_account(Role.STUDENT)
    http = signed_in(actor)

    api = http.patch(
        f"{platform.service_url}/api/users/{target.username}",
        json={"role": "ADMIN"},
        headers=api_headers(http, platform),
    )
    assert api.status_code == 403
    assert "administrators" in api.json()["error"]

    page = http.get(f"{platform.service_url}/admin/users")
    assert page.status_code == 403 and "administrators" in page.text
    form = http.get(f"{platform.service_url}/register")
    posted = http.post(
        f"{platform.service_url}/admin/users/{target.username}/role",
        data={"_xsrf": xsrf_from(form), "role": "ADMIN"},
    )
    assert posted.status_code == 403
    assert role_of(db, target) is Role.STUDENT and role_of(db, actor) is role


@pytest.mark.parametrize(
    ("username", "body", "status", "message"),
    [
        pytest.param("{student}", {"role": "KING"}, 400, "is not a role", id="unknown-role"),
        pytest.param(
            "nobody-by-this-name", {"role": "ADMIN"}, 404, "no CourseHub user", id="unknown-user"
        ),
    ],
)
def test_bad_role_changes_are_refused_clearly(
    platform, make_account, signed_in, db, username, body, status, message
):
    admin, student = make_account(Role.ADMIN), make_account()
    http = signed_in(admin)
    response = http.patch(
        f"{platform.service_url}/api/users/{username.replace('{student}', student.username)}",
        json=body,
        headers=api_headers(http, platform),
    )
    assert response.status_code == status and message in response.json()["error"]
    assert role_of(db, student) is Role.STUDENT


def test_anonymous_api_calls_get_401_and_pages_send_visitors_to_sign_in(platform, client):
    api = client.get(f"{platform.service_url}/api/me")
    assert api.status_code == 401 and api.json()["error"] == "Sign in to continue."
    page = client.get(f"{platform.service_url}/dashboard")
    assert page.url.path == "/hub/login"


def test_every_account_sees_its_role_and_the_shared_navigation(platform, make_account, signed_in):
    for role in Role:
        http = signed_in(make_account(role))
        assert http.get(f"{platform.service_url}/api/me").json()["role"] == role.value
        courses = http.get(f"{platform.service_url}/courses")
        hub_home = http.get(f"{platform.url}/hub/home")
        assert courses.status_code == hub_home.status_code == 200
        for page in (courses.text, hub_home.text):
            assert "/services/coursehub/courses" in page and "/hub/home" in page
            assert ("/hub/admin" in page) is (role is Role.ADMIN)


def test_a_hub_token_changes_roles_without_an_xsrf_token(platform, make_account, signed_in, db):
    admin, student = make_account(Role.ADMIN), make_account()
    http = signed_in(admin)
    token = http.post(
        f"{platform.url}/hub/api/users/{admin.username}/tokens",
        json={"note": "role changes from a script"},
        headers={"X-XSRFToken": http.cookies.get("_xsrf", path="/hub/")},
    ).json()["token"]
    script = httpx.Client(headers={"Authorization": f"token {token}"})
    changed = script.patch(
        f"{platform.service_url}/api/users/{student.username}", json={"role": "INSTRUCTOR"}
    )
    assert changed.status_code == 200, changed.text
    assert role_of(db, student) is Role.INSTRUCTOR
    forged = script.patch(
        f"{platform.service_url}/api/users/{student.username}",
        json={"role": "ADMIN"},
        headers={"Authorization": "token not-a-real-token"},
    )
    assert forged.status_code == 401
    assert role_of(db, student) is Role.INSTRUCTOR
