"""Per-user subdomains (``COURSEHUB_SUBDOMAIN_HOST``): each person's JupyterLab on an origin of
its own, ``<name>.localhost``, while the hub and the course service stay on ``localhost``.

A student opens a lesson in JupyterLab and works there as before (the lesson's copy, the
bell, links back to CourseHub); an administrator who opens the student's server is refused,
and the student's origin gets none of the administrator's platform cookies, so nothing the
student installed there can act as the administrator. No platform cookie is shared with
subdomains (no ``Domain=``).

One CourseHub of this module's own, started with subdomains; the browser is Debian's Chromium,
which resolves every ``*.localhost`` name to loopback.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from coursehub.extensions.course_service import CourseService, page_url
from coursehub.extensions.exchange.service_calls import ServiceCalls
from coursehub.hub.constants import Role
from coursehub.hub.subdomains import service_host, subdomain_hook
from tests.conftest import ADMIN_EMAIL, PASSWORD
from tests.platform import Platform, platform_env
from tests.player_data import sign_in
from tests.test_lab_extension import Hub, add_account, add_course, enroll
from tests.test_lab_notifications import notify


@pytest.fixture(scope="module")
def subdomains(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str
) -> Iterator[Platform]:
    data_dir = tmp_path_factory.mktemp("coursehub-subdomains")
    env = platform_env(data_dir, database_url, redis_url, COURSEHUB_ADMIN_EMAIL=ADMIN_EMAIL)
    port = env["COURSEHUB_BIND_URL"].rsplit(":", 1)[1]
    # As README says for one machine: the proxy routes by host name, so everything, the
    # proxy's address included, is named localhost.
    for variable in ("COURSEHUB_SUBDOMAIN_HOST", "COURSEHUB_PUBLIC_URL", "COURSEHUB_BIND_URL"):
        env[variable] = f"http://localhost:{port}"
    running = Platform(url=f"http://localhost:{port}", data_dir=data_dir, env=env)
    running.start(timeout=180)  # a loaded CI machine starts the service slowly
    yield running
    running.stop()


# What a script on the page learns from the hub about who is signed in: their name, the
# status of a refusal, or "blocked" when the browser does not let the page read the answer.
WHO_AM_I = """async (url) => {
  try {
    const answer = await fetch(url, {credentials: 'include'});
    return answer.ok ? (await answer.json()).name : answer.status;
  } catch (error) {
    return 'blocked';
  }
}"""


def origin_of(platform: Platform, name: str) -> str:
    return platform.url.replace("://localhost", f"://{name}.localhost")


def set_cookie_headers(response: httpx.Response) -> list[str]:
    return [
        header
        for answer in (*response.history, response)
        for header in answer.headers.get_list("set-cookie")
    ]


@pytest.mark.parametrize(
    ("name", "kind", "host"),
    [
        ("ada", "user", "ada.courses.example.org"),
        ("zoë", "user", "xn--zo-ija.courses.example.org"),
        ("coursehub", "service", "courses.example.org"),
        ("coursehub-lessons", "service", "courses.example.org"),
    ],
    ids=["a-person", "a-person-named-in-unicode", "the-course-service", "the-lesson-server"],
)
def test_people_get_subdomains_and_services_stay_on_the_hubs_host(name, kind, host):
    assert subdomain_hook(name, "courses.example.org", kind) == host


@pytest.mark.parametrize(
    ("settings", "host", "page"),
    [
        ({}, "", "/services/coursehub/notifications"),
        (
            {"subdomain_host": "https://courses.example.org", "domain": "courses.example.org"},
            "courses.example.org",
            "https://courses.example.org/services/coursehub/notifications",
        ),
        (
            {"subdomain_host": "http://localhost:8000", "domain": "localhost"},
            "localhost:8000",
            "http://localhost:8000/services/coursehub/notifications",
        ),
    ],
    ids=["one-origin", "subdomains", "subdomains-on-localhost"],
)
def test_a_server_names_the_platforms_host_and_links_to_the_hubs_origin(settings, host, page):
    """What CourseSpawner tells a server (the Host its calls to the service name) and what the
    server extension makes of it, with JupyterHub's JUPYTERHUB_HOST (the hub's origin)."""
    assert service_host(settings) == host
    server_env = {
        "COURSEHUB_SERVICE_URL": "http://127.0.0.1:18000/services/coursehub",
        "JUPYTERHUB_API_TOKEN": "the-servers-token",
        "COURSEHUB_SERVICE_HOST": host,
        "JUPYTERHUB_HOST": settings.get("subdomain_host", ""),
    }
    service = CourseService.from_env(server_env)
    expected = {"Authorization": "token the-servers-token", **({"Host": host} if host else {})}
    assert service.headers() == expected
    assert page_url("/services/coursehub/notifications", server_env) == page


class EchoHost(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"host": self.headers["Host"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


def test_nbgraders_exchange_calls_name_the_platforms_host():
    """nbgrader's exchange calls the service on its own (blocking) path; its requests name the
    platform's host like the server extension's."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHost)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {
            "COURSEHUB_SERVICE_URL": f"http://127.0.0.1:{server.server_port}/services/coursehub",
            "JUPYTERHUB_API_TOKEN": "the-servers-token",
        }
        plain = ServiceCalls.from_env(env).json("GET", "api/me")
        assert plain == {"host": f"127.0.0.1:{server.server_port}"}
        named = ServiceCalls.from_env({**env, "COURSEHUB_SERVICE_HOST": "localhost:8000"})
        assert named.json("GET", "api/me") == {"host": "localhost:8000"}
    finally:
        server.shutdown()
        server.server_close()


def test_signing_in_sets_no_cookie_that_people_s_servers_would_receive(subdomains, db):
    person = add_account(db, Role.STUDENT, "cookies")
    with httpx.Client(follow_redirects=True, timeout=60) as browser:
        page = browser.get(f"{subdomains.url}/hub/login")
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
        assert xsrf
        signed_in = browser.post(
            f"{subdomains.url}/hub/login",
            data={"username": person.email, "password": PASSWORD, "_xsrf": xsrf.group(1)},
        )
        assert signed_in.status_code == 200, signed_in.text[:300]
        assert "/services/coursehub/" in str(signed_in.url)
        cookies = set_cookie_headers(page) + set_cookie_headers(signed_in)
    names = {header.split("=", 1)[0] for header in cookies}
    # The hub's sign-in and session id and the course service's sign-in are all set, and all
    # host-only: the browser sends them to localhost alone, never to <name>.localhost.
    assert {"jupyterhub-hub-login", "jupyterhub-session-id"} <= names, names
    assert any(name.startswith("service-coursehub") for name in names), names
    assert not [header for header in cookies if "domain=" in header.lower()], cookies


@pytest.mark.browser
def test_a_students_jupyterlab_has_its_own_origin_and_an_admin_gets_nothing_of_theirs_there(
    subdomains, db, redis_url, browser
):
    from playwright.sync_api import expect

    teacher = add_account(db, Role.INSTRUCTOR, "sub-teacher")
    student = add_account(db, Role.STUDENT, "sub-student")
    admin = add_account(db, Role.ADMIN, "sub-admin")
    course = add_course(db, teacher, "Optics on subdomains")
    enroll(db, student, course)
    own_origin = origin_of(subdomains, student.username)
    lab_root = f"{own_origin}/user/{student.username}"
    hub = Hub(subdomains)
    student_context = browser.new_context(viewport={"width": 1280, "height": 800})
    admin_context = browser.new_context(viewport={"width": 1280, "height": 800})
    for context in (student_context, admin_context):
        context.set_default_timeout(20_000)
    try:
        # The student opens the lesson in JupyterLab from CourseHub: the server starts and
        # JupyterLab loads on the student's own subdomain, with the lesson's copy open.
        own = student_context.new_page()
        sign_in(own, subdomains, student.email or "")
        own.goto(f"{subdomains.service_url}/lab/open/{course.lesson_id}", timeout=180_000)
        own.wait_for_url(
            f"{lab_root}/lab/tree/courses/{course.slug}/lists-loops.ipynb", timeout=120_000
        )
        expect(own.locator(".jp-Notebook").first).to_contain_text("Lists and loops", timeout=90_000)
        # (the lesson's notebook names no kernel: JupyterLab asks, the student takes Python)
        choose = own.locator(".jp-Dialog", has_text="Select Kernel")
        choose.get_by_role("button", name="Select").click(timeout=60_000)
        expect(choose).to_have_count(0)
        assert hub.server(student.username)["url"].startswith(f"{lab_root}/")

        # The bell works from there (the server reaches the service through the proxy by the
        # platform's host name), and its links lead back to CourseHub's own origin.
        bell = own.locator("#coursehub-notification-bell")
        expect(bell).to_be_visible(timeout=60_000)
        expect(bell).to_have_attribute("data-unread", "0")
        notify(db, redis_url, student, "Your lens diagram has feedback.")
        expect(own.get_by_text("Your lens diagram has feedback.")).to_be_visible(timeout=20_000)
        expect(bell).to_have_attribute("data-unread", "1")
        bell.click()
        link = own.locator(".jp-Dialog a", has_text="Your lens diagram has feedback.")
        assert link.get_attribute("href") == (
            f"{subdomains.url}/services/coursehub/courses/physics/assignments"
        )
        # An address of the server on the platform's host leads to the server's subdomain.
        own.goto(f"{subdomains.url}/user/{student.username}/api")
        assert own.url.split("?")[0] == f"{lab_root}/api"
        # The server's sign-in cookie is the server's own, on its subdomain.
        server_cookies = student_context.cookies(f"{lab_root}/")
        assert {c["name"] for c in server_cookies} >= {f"jupyterhub-user-{student.username}"}
        assert all(c["domain"] == f"{student.username}.localhost" for c in server_cookies)

        # The administrator, signed in to CourseHub, follows a link to the student's server:
        # the hub refuses to sign them in to it.
        page = admin_context.new_page()
        sign_in(page, subdomains, admin.email or "")
        refused = page.goto(f"{lab_root}/lab")
        assert refused is not None and refused.status == 403
        expect(page.locator("#not_your_server")).to_contain_text(
            f"{student.username}'s server opens only for"
        )
        platform_cookies = [c for c in admin_context.cookies() if c["domain"] == "localhost"]
        names = {c["name"] for c in platform_cookies}
        assert {"jupyterhub-hub-login", "jupyterhub-session-id"} <= names, names

        # A page the student's server serves without sign-in (what an extension of theirs
        # could run in) sees none of the administrator's cookies, and the hub, asked from
        # there, does not know the administrator.
        page.goto(f"{lab_root}/api")
        assert page.evaluate("document.cookie") == ""
        # (the server's own OAuth-state cookie, set by the server before it asked the hub,
        # holds no session and is all there is)
        sent_there = admin_context.cookies(f"{lab_root}/")
        assert {c["name"] for c in sent_there} <= {
            f"jupyterhub-user-{student.username}-oauth-state"
        }, sent_there
        assert all(c["domain"] == f"{student.username}.localhost" for c in sent_there)
        # (a same-origin path the hub sends on to its own host, and the hub's host itself:
        # either the browser refuses the cross-origin answer or the hub finds no sign-in)
        for url in ("/hub/api/user", f"{subdomains.url}/hub/api/user"):
            answer = page.evaluate(WHO_AM_I, url)
            assert answer in ("blocked", 401, 403), (url, answer)
        assert hub.http.get(f"/users/{admin.username}").json()["servers"] == {}
    finally:
        student_context.close()
        admin_context.close()
        if hub.server(student.username):
            hub.stop(student.username)
        hub.http.close()
