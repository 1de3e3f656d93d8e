"""The whole LTI loop in Chromium, with ``lti1p3platform`` as the LMS: a course page of the LMS
shows CourseHub in its iframe, the learner's launch lands on the assignment inside it, the
learner fetches and submits the notebook with nbgrader's own student commands (what
JupyterLab's Assignment List runs, with their hub token), the worker autogrades it, and the
score arrives in the LMS's gradebook once. And the LMS page of another site, whose iframe the
browser keeps CourseHub's cookies out of (third-party cookies blocked): CourseHub says so and
the launch completes in a new window instead of going round in circles."""

from __future__ import annotations

import html
import json
import secrets
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from coursehub.hub.constants import Role
from coursehub.services.models import (
    Account,
    Enrollment,
    Grade,
    LessonKind,
    LtiIdentity,
    LtiPlatform,
    Submission,
)
from tests import lti_storage_standin as storage
from tests.assignment_data import answered
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.course_builder import LessonPlan, make_course, unique_word
from tests.platform import xsrf_from
from tests.teaching_client import open_session
from tests.test_assignments import Classroom, create
from tests.test_lti import LEARNER, KeySetServer, Lms
from tests.test_nbgrader_exchange import home_of

pytestmark = pytest.mark.browser

FRAME = "coursehub_frame"


@pytest.fixture(scope="module")
def key_server() -> Iterator[KeySetServer]:
    server = KeySetServer()
    yield server
    server.close()


def register(platform, admin, lms: Lms, course_slug: str) -> None:  # type: ignore[no-untyped-def]
    headers = {"X-XSRFToken": xsrf_from(admin.get(f"{platform.service_url}/lti/platforms"))}
    created = admin.post(
        f"{platform.service_url}/api/lti/platforms",
        json=lms.registration_form(course_slug),
        headers=headers,
    )
    assert created.status_code == 201, created.text


def lms_serves_launches(lms: Lms, **custom: str) -> None:
    """The LMS's authorisation endpoint: it checks its own session (the login hint) and posts
    the signed launch back at once, as an LMS's page does."""

    def authorisation_page(query: dict[str, str]) -> str:
        claims = lms.launch_claims(query, query["login_hint"], LEARNER, ags=True, **custom)
        return (
            f'<form method="post" action="{html.escape(query["redirect_uri"])}">'
            f'<input type="hidden" name="id_token" value="{html.escape(lms.sign(claims))}">'
            f'<input type="hidden" name="state" value="{html.escape(query["state"])}">'
            '<button id="go">Continue to CourseHub</button></form>'
            "<script>document.forms[0].submit();</script>"
        )

    lms.keys.authorisation_page = authorisation_page


def lms_course_page(lms: Lms, user_id: str) -> str:
    """The LMS's course page, with CourseHub's link in its iframe."""
    path = f"/course-{secrets.token_hex(3)}"
    lms.keys.pages[path] = (
        "<!DOCTYPE html><html><body><h1>Data Analysis 101</h1>"
        f'<iframe id="{FRAME}" name="{FRAME}" src="{html.escape(lms.login_url(user_id))}"'
        ' style="width: 1200px; height: 700px"></iframe></body></html>'
    )
    return path


def coursehub_frame(page, path_end: str, timeout: float = 60):  # type: ignore[no-untyped-def]
    """The LMS page's iframe once CourseHub's page at ``…path_end`` is in it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = page.frame(name=FRAME)
        if frame is not None and frame.url.split("?")[0].rstrip("/").endswith(path_end):
            frame.wait_for_load_state()
            return frame
        page.wait_for_timeout(250)
    frame = page.frame(name=FRAME)
    raise AssertionError(f"the frame shows {frame.url if frame else None}, not …{path_end}")


def ancestors(answer: httpx.Response) -> list[str]:
    """The sources of an answer's ``frame-ancestors`` ('self' first)."""
    policy = answer.headers["Content-Security-Policy"]
    [directive] = [d.strip() for d in policy.split(";") if "frame-ancestors" in d]
    sources = directive.split()[1:]
    assert sources[0] == "'self'" and "*" not in sources, policy
    return sources


def graded(db, account_id: int) -> list[float]:  # type: ignore[no-untyped-def]
    """The final scores of the person's graded submissions."""
    with db() as session:
        return [
            float(score)
            for score in session.scalars(
                select(Grade.final_score)
                .join(Submission, Submission.id == Grade.submission_id)
                .where(Submission.account_id == account_id, Grade.final_score.is_not(None))
            )
        ]


@pytest.fixture
def lti_classroom(platform, signed_in, make_account, database_url) -> Classroom:
    """A course with an assignment lesson and a released assignment, without students: the
    LMS's launches bring them."""
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(
        database_url,
        instructor,
        title=f"Framed {unique_word()}",
        modules={"Week 1": [LessonPlan("Homework", kind=LessonKind.ASSIGNMENT)]},
    )
    teacher = open_session(platform, signed_in, instructor)
    return Classroom(course, teacher, teacher, instructor)


def test_a_learner_launched_in_the_lms_iframe_submits_and_the_score_reaches_the_lms_once(
    platform, key_server, lti_classroom, make_account, signed_in, db, page, tmp_path
):
    course = lti_classroom.course
    assignment = create(lti_classroom)
    lms = Lms(key_server, platform.service_url, f"https://lms-{secrets.token_hex(3)}.example.edu")
    key_server.tool_jwks_url = f"{platform.service_url}/lti/jwks"
    register(platform, signed_in(make_account(Role.ADMIN)), lms, course.slug)
    lms_serves_launches(lms, assignment=str(assignment["id"]))
    before = len(key_server.scores)

    # The LMS's course page (another origin: the LMS's) shows the launch in its iframe.
    learner_id = f"framed-{secrets.token_hex(3)}"
    page.goto(f"{key_server.url}{lms_course_page(lms, learner_id)}")
    # The assignment's lesson in the player, inside the LMS's iframe, signed in.
    frame = coursehub_frame(page, f"/learn/{course.slug}/{course.lesson_ids[0]}")
    shown_text = frame.inner_text("body")
    assert "Homework" in shown_text and learner_id in shown_text, shown_text  # signed in
    # The pages the launch leads to name the LMS among their frame ancestors; others do not.
    shown = httpx.get(frame.url, follow_redirects=False)
    with db() as session:
        identity = session.scalar(
            select(LtiIdentity)
            .join(LtiPlatform, LtiPlatform.id == LtiIdentity.platform_id)
            .where(LtiPlatform.issuer == lms.issuer, LtiIdentity.subject == learner_id)
        )
        assert identity is not None
        assert session.scalar(
            select(Enrollment).where(
                Enrollment.account_id == identity.account_id, Enrollment.course_id == course.id
            )
        )
        username = session.get_one(Account, identity.account_id).username
    assert shown.status_code in (200, 302)
    assert key_server.url in ancestors(shown)
    assert key_server.url in ancestors(httpx.get(f"{platform.service_url}/courses/{course.slug}"))
    # Pages no launch leads to keep CourseHub's own frame-ancestors.
    assert ancestors(httpx.get(f"{platform.service_url}/dashboard")) == ["'self'"]

    # The learner fetches and submits with nbgrader, as JupyterLab's Assignment List does.
    name = f"adding-numbers-{assignment['id']}"
    home = home_of(platform, username, tmp_path / "learner")
    fetched = home.nbgrader("fetch_assignment", name, "--course", course.slug)
    assert fetched.returncode == 0, fetched.stderr
    notebook = home.path / course.slug / name / "adding-numbers.ipynb"
    notebook.write_bytes(answered(json.loads(notebook.read_text())))
    sent = home.nbgrader("submit", name, "--course", course.slug)
    assert sent.returncode == 0, sent.stderr

    # Autograded by the worker; the LMS's gradebook gets the score, once, without a sweep.
    line_item = f"coursehub-assignment-{assignment['id']}"
    assert [i["resourceId"] for i in key_server.line_items].count(line_item) == 1
    deadline = time.monotonic() + 360
    while time.monotonic() < deadline and not graded(db, identity.account_id):
        time.sleep(2)
    assert graded(db, identity.account_id) == [2], "the submission was not autograded in time"
    deadline = time.monotonic() + 120
    while len(key_server.scores) <= before and time.monotonic() < deadline:
        time.sleep(1)
    scores = [s for s in key_server.scores[before:] if s["userId"] == learner_id]
    assert [(s["scoreGiven"], s["scoreMaximum"]) for s in scores] == [(2, 2)], scores
    assert scores[0]["gradingProgress"] == "FullyGraded"
    time.sleep(3)
    assert len([s for s in key_server.scores if s["userId"] == learner_id]) == 1
    with db() as session:
        [attempt] = session.scalars(
            select(Submission).where(Submission.account_id == identity.account_id)
        ).all()
        assert attempt.assignment_id == assignment["id"]


def test_with_third_party_cookies_blocked_the_launch_opens_in_a_new_window(
    platform, key_server, browser, make_account, signed_in, database_url, db
):
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, instructor, title=f"Windowed {unique_word()}", modules={})
    # An LMS of another site than CourseHub's (localhost, not 127.0.0.1): its iframe is third
    # party, and this Chromium blocks third-party cookies besides.
    lms_site = key_server.url.replace("127.0.0.1", "localhost")
    lms = Lms(key_server, platform.service_url, lms_site)
    register(platform, signed_in(make_account(Role.ADMIN)), lms, course.slug)
    lms_serves_launches(lms)
    blocking = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[*CHROMIUM_ARGS, "--test-third-party-cookie-phaseout"],
    )
    try:
        context = blocking.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(20_000)
        page = context.new_page()
        learner_id = f"windowed-{secrets.token_hex(3)}"
        page.goto(f"{lms_site}{lms_course_page(lms, learner_id)}")
        frame = coursehub_frame(page, "/lti/login")
        offer = frame.locator("#lti_open_new_window")
        offer.wait_for(state="visible")
        assert "keeps CourseHub's cookies out" in frame.content()
        with db() as session:  # nobody was signed in or made by the frame
            assert not session.scalar(select(LtiIdentity).where(LtiIdentity.subject == learner_id))
        with context.expect_page() as opened:
            offer.click()
        window = opened.value
        window.wait_for_url(f"**/services/coursehub/courses/{course.slug}", timeout=60_000)
        assert course.title in window.content()
        assert frame.locator("#lti_opened").is_visible()
        with db() as session:
            identity = session.scalar(select(LtiIdentity).where(LtiIdentity.subject == learner_id))
            assert identity is not None
            assert session.scalar(
                select(Enrollment).where(
                    Enrollment.account_id == identity.account_id,
                    Enrollment.course_id == course.id,
                )
            )
        context.close()
    finally:
        blocking.close()


def blocking_chromium(browser):  # type: ignore[no-untyped-def]
    """A Chromium that blocks third-party cookies (Chromium's phase-out switch)."""
    return browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[*CHROMIUM_ARGS, "--test-third-party-cookie-phaseout"],
    )


def lms_with_storage(platform, key_server, make_account, signed_in, course_slug: str):  # type: ignore[no-untyped-def]
    """An LMS whose pages (and OIDC authorisation URL) are on another site than CourseHub's
    (localhost, not 127.0.0.1), which offers its storage frame to the tools it launches."""
    lms_site = key_server.url.replace("127.0.0.1", "localhost")
    lms = Lms(key_server, platform.service_url, f"{key_server.url}/lms-{secrets.token_hex(3)}")
    form = {**lms.registration_form(course_slug), "auth_login_url": f"{lms_site}/auth"}
    admin = signed_in(make_account(Role.ADMIN))
    headers = {"X-XSRFToken": xsrf_from(admin.get(f"{platform.service_url}/lti/platforms"))}
    created = admin.post(f"{platform.service_url}/api/lti/platforms", json=form, headers=headers)
    assert created.status_code == 201, created.text
    key_server.pages[storage.STORAGE_PATH] = storage.STORAGE_PAGE
    return lms, lms_site


def authorisations_counted(lms: Lms) -> list[str]:
    """The LMS answers its authorisation requests (as ``lms_serves_launches``); the list
    grows by one login hint for each launch the LMS makes."""
    lms_serves_launches(lms)
    answer = lms.keys.authorisation_page
    assert answer is not None
    made: list[str] = []

    def counted(query: dict[str, str]) -> str:
        made.append(query["login_hint"])
        return answer(query)

    lms.keys.authorisation_page = counted
    return made


def test_with_cookies_blocked_the_lms_storage_keeps_the_state_and_a_new_window_signs_in(
    platform, key_server, browser, make_account, signed_in, database_url, db
):
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, instructor, title=f"Stored {unique_word()}", modules={})
    lms, lms_site = lms_with_storage(platform, key_server, make_account, signed_in, course.slug)
    launches = authorisations_counted(lms)
    learner_id = f"stored-{secrets.token_hex(3)}"
    path = f"/course-{secrets.token_hex(3)}"
    login = f"{lms.login_url(learner_id)}&lti_storage_target={storage.STORAGE_FRAME}"
    key_server.pages[path] = storage.course_page(FRAME, login)
    blocking = blocking_chromium(browser)
    try:
        context = blocking.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.goto(f"{lms_site}{path}")
        # The launch came back into the frame without CourseHub's cookie; the LMS's storage
        # gave its state and nonce back, and CourseHub validated it there.
        frame = coursehub_frame(page, "/lti/launch")
        offer = frame.locator("#lti_continue")
        offer.wait_for(state="visible")
        assert not frame.locator("#lti_storage_refused").is_visible()
        assert not frame.locator("#lti_storage_foreign").is_visible()
        asked = page.frame(name=storage.STORAGE_FRAME).evaluate("window.storageLog")
        coursehub = platform.service_url.rsplit("/services/", 1)[0]
        assert [(a["subject"], a["origin"]) for a in asked] == [
            ("lti.put_data", coursehub),
            ("lti.put_data", coursehub),
            ("lti.get_data", coursehub),
            ("lti.get_data", coursehub),
        ], asked
        with db() as session:
            identity = session.scalar(select(LtiIdentity).where(LtiIdentity.subject == learner_id))
            assert identity is not None
            assert session.scalar(
                select(Enrollment).where(
                    Enrollment.account_id == identity.account_id,
                    Enrollment.course_id == course.id,
                )
            )
        # The new window is handed the ticket by the frame and signs the learner in to the
        # hub: the course opens without a second launch from the LMS.
        with context.expect_page() as opened:
            offer.click()
        window = opened.value
        window.wait_for_url(f"**/services/coursehub/courses/{course.slug}", timeout=60_000)
        assert course.title in window.content()
        assert frame.locator("#lti_opened").is_visible()
        assert launches == [learner_id]
        with db() as session:
            username = session.get_one(Account, identity.account_id).username
        dashboard = window.goto(f"{platform.service_url}/dashboard")
        assert dashboard is not None and username in window.content()
        context.close()
    finally:
        blocking.close()


def test_a_state_forged_by_another_site_for_the_lms_storage_is_refused(
    platform, key_server, browser, make_account, signed_in, database_url, db
):
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, instructor, title=f"Forged {unique_word()}", modules={})
    lms, _ = lms_with_storage(platform, key_server, make_account, signed_in, course.slug)
    authorisations_counted(lms)
    # Someone starts a launch of their own (not in anyone's browser) and has its id_token.
    intruder = f"intruder-{secrets.token_hex(3)}"
    login = f"{lms.login_url(intruder)}&lti_storage_target={storage.STORAGE_FRAME}"
    started = httpx.get(login, follow_redirects=False)
    assert started.status_code == 302, started.text[:500]
    query = {k: v[0] for k, v in parse_qs(urlsplit(started.headers["Location"]).query).items()}
    token = lms.sign(lms.launch_claims(query, intruder, LEARNER))
    # Their page (not the LMS's OIDC origin) posts it into a learner's browser's frame and
    # answers for the LMS's storage with the launch's state and nonce.
    path = f"/free-{secrets.token_hex(3)}"
    key_server.pages[path] = storage.forging_page(
        FRAME, query["redirect_uri"], token, query["state"], query["nonce"]
    )
    blocking = blocking_chromium(browser)
    try:
        context = blocking.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.goto(f"{key_server.url}{path}")
        frame = coursehub_frame(page, "/lti/launch")
        frame.locator("#lti_storage_foreign").wait_for(state="visible")
        frame.locator("#lti_storage_refused").wait_for(state="visible")
        assert page.evaluate("window.forgedSent") > 0
        assert not frame.locator("#lti_continue_offer").is_visible()
        with db() as session:  # nobody was made or signed in
            assert not session.scalar(select(LtiIdentity).where(LtiIdentity.subject == intruder))
        context.close()
    finally:
        blocking.close()
