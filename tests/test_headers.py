"""Headers and what pages may load: a script-src Content-Security-Policy with a fresh nonce on
every course page and no inline script without it, HSTS over https, metrics only for a
read:metrics token or an administrator, and Markdown images only from CourseHub's uploads."""

from __future__ import annotations

import contextvars
import json
import re
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from tornado import httputil, web

from coursehub.hub.constants import Role
from coursehub.services.content.markdown import to_safe_html
from coursehub.services.web.base import BaseHandler
from tests.teaching_client import hub_token

TEMPLATES = Path(__file__).resolve().parent.parent / "services" / "web" / "templates"
HUB_TEMPLATES = Path(__file__).resolve().parent.parent / "hub" / "templates"


def policy_of(answer: httpx.Response) -> dict[str, str]:
    directives = answer.headers["Content-Security-Policy"].split(";")
    return dict(d.strip().split(" ", 1) for d in directives if d.strip())


def test_course_pages_allow_only_coursehubs_own_scripts_with_a_fresh_nonce(
    platform, make_account, signed_in
):
    student = signed_in(make_account(Role.STUDENT))
    nonces = set()
    for path in ("/courses", "/dashboard", "/notes", "/no/such/page"):
        answer = student.get(f"{platform.service_url}{path}")
        policy = policy_of(answer)
        assert policy["script-src"].startswith("'self' 'nonce-"), policy
        assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'self'"
        nonces.add(policy["script-src"])
        assert "Strict-Transport-Security" not in answer.headers  # served over http here
        # Every script on the page is a file of CourseHub's (or the hub's), none inline.
        for tag in re.findall(r"<script\b[^>]*>", answer.text):
            assert "src=" in tag, tag
    assert len(nonces) == 4, "a new nonce for every answer"


@pytest.mark.parametrize(
    "template", sorted(p.name for p in [*TEMPLATES.glob("*.html"), *HUB_TEMPLATES.glob("*.html")])
)
def test_no_template_has_an_inline_script_or_event_handler(template):
    folder = TEMPLATES if (TEMPLATES / template).exists() else HUB_TEMPLATES
    text = (folder / template).read_text()
    for tag in re.findall(r"<script\b[^>]*>", text):
        assert "src=" in tag or "nonce=" in tag, f"{template}: {tag}"
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", text), f"{template} has an event handler"


def rules_handler(public_url: str) -> BaseHandler:
    class Connection:
        def set_close_callback(self, callback: object) -> None:
            pass

    request = httputil.HTTPServerRequest(
        start_line=httputil.RequestStartLine("GET", "/services/coursehub/courses", "HTTP/1.1"),
        headers=httputil.HTTPHeaders({"Host": "courses.example.org"}),
        connection=Connection(),
    )
    app = web.Application(coursehub=SimpleNamespace(public_url=public_url))
    # in a context of its own: a handler keeps its request id in a context variable
    return contextvars.copy_context().run(BaseHandler, app, request)


def test_hsts_only_when_the_public_url_is_https():
    assert (
        rules_handler("https://courses.example.org")
        ._headers["Strict-Transport-Security"]
        .startswith("max-age=")
    )
    assert "Strict-Transport-Security" not in rules_handler("http://127.0.0.1:8000")._headers


def test_metrics_are_for_a_metrics_token_or_an_administrator(
    platform, make_account, signed_in, client
):
    url = f"{platform.service_url}/metrics"
    anonymous = client.get(url)
    assert anonymous.status_code == 401 and anonymous.json()["status"] == 401
    assert client.get(f"{platform.url}/hub/metrics").status_code in (401, 403)

    student = make_account(Role.STUDENT)
    assert signed_in(student).get(url).status_code == 403
    admin = make_account(Role.ADMIN)
    answer = signed_in(admin).get(url)
    assert answer.status_code == 200 and "coursehub_http_requests_total" in answer.text

    # A Prometheus scraper: an administrator's token limited to read:metrics, as for the hub.
    service_token = json.loads((platform.data_dir / "secrets.json").read_text())["service_token"]
    made = httpx.post(
        f"{platform.url}/hub/api/users/{admin.username}/tokens",
        headers={"Authorization": f"token {service_token}"},
        json={"note": "metrics", "scopes": ["read:metrics"]},
    )
    made.raise_for_status()
    token = made.json()["token"]
    for metrics in (url, f"{platform.url}/hub/metrics"):
        scraped = httpx.get(metrics, headers={"Authorization": f"Bearer {token}"})
        assert scraped.status_code == 200, (metrics, scraped.text[:300])
    # A student's ordinary token does not open the service's metrics.
    token = hub_token(platform, student.username)
    assert httpx.get(url, headers={"Authorization": f"token {token}"}).status_code == 403


def test_markdown_shows_only_coursehubs_own_uploaded_images():
    html = to_safe_html(
        "![pixel](https://tracker.example/p.gif?reader=ada) "
        "![cover](/services/coursehub/media/12) "
        "![sneaky](/services/coursehub/media/12/../../hub/logout) "
        "![relative](media/3)"
    )
    assert 'src="/services/coursehub/media/12"' in html
    assert html.count("src=") == 1, html
    assert "tracker.example" not in html and 'alt="pixel"' in html


def test_signed_in_pages_share_the_theme_toggle_sign_out_and_staff_only_tokens(
    platform, make_account, signed_in
):
    student = signed_in(make_account(Role.STUDENT))
    teacher = signed_in(make_account(Role.INSTRUCTOR))
    for page in (f"{platform.service_url}/courses", f"{platform.url}/hub/home"):
        text = student.get(page).text
        assert 'id="dark-theme-toggle"' in text, page
        assert "Sign out" in text and "Logout" not in text, page
        assert "/hub/token" not in text, f"no API tokens for students on {page}"
        assert "/hub/token" in teacher.get(page).text, f"API tokens for staff on {page}"
    # The course pages' toggle runs the hub's own theme script, served by the hub.
    assert "/hub/static/js/darkmode.js" in student.get(f"{platform.service_url}/courses").text
    assert student.get(f"{platform.url}/hub/static/js/darkmode.js").status_code == 200
    hub_home = student.get(f"{platform.url}/hub/home").text
    assert 'id="notification_bell_link"' in hub_home
    assert 'id="notification_bell"' in student.get(f"{platform.service_url}/courses").text


def test_the_bell_on_the_hub_pages_counts_unread_notifications(
    platform, make_account, signed_in, db
):
    from coursehub.services.models import Notification

    account = make_account(Role.STUDENT)
    student = signed_in(account)
    hub_home = student.get(f"{platform.url}/hub/home").text
    assert "/services/coursehub/static/hub_bell.js" in hub_home
    assert student.get(f"{platform.url}/hub/coursehub/unread").json() == {"unread": 0}
    with db() as session:
        session.add_all(
            Notification(account_id=account.id, kind="announcement", payload={"title": t})
            for t in ("Week 1", "Week 2")
        )
        session.commit()
    assert student.get(f"{platform.url}/hub/coursehub/unread").json() == {"unread": 2}
    # Signed out, nobody's count is told.
    anonymous = httpx.get(f"{platform.url}/hub/coursehub/unread", follow_redirects=False)
    assert anonymous.status_code == 302 and "/hub/login" in anonymous.headers["Location"]
