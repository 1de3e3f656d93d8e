"""CourseHub inside a university's LMS (LTI 1.3): an administrator registers the LMS, the LMS
launches people into a course, and every launch LTI certification would refuse is refused.

The LMS is ``lti1p3platform`` (its registration signs the launches, its OIDC login and launch
message build them), with its JWKS served from a small HTTP server of the test's own; the test
plays the browser between the two, as the LMS's page and its form post would.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jupyterhub.handlers.base import BaseHandler as HubBaseHandler
from lti1p3platform.deep_linking import LtiDeepLinking
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session
from tornado.httputil import HTTPHeaders, HTTPServerRequest

from coursehub.hub.constants import Role
from coursehub.hub.lms_frames import cookies_survive_lms_frames
from coursehub.services.accounts.accounts import hash_password
from coursehub.services.db import make_engine, make_sessionmaker
from coursehub.services.lti import frame_origins, scores
from coursehub.services.models import (
    Account,
    Assignment,
    CourseGrader,
    Enrollment,
    Grade,
    Lesson,
    LessonKind,
    LtiIdentity,
    LtiLineItem,
    LtiPlatform,
    LtiScorePost,
    Module,
    Quiz,
    Submission,
    SubmissionStatus,
)
from coursehub.services.settings import sqlalchemy_url
from coursehub.services.web.base import BaseHandler
from coursehub.services.web.hub_oauth import SharedStateOAuthCallback
from tests.conftest import PASSWORD, account_named
from tests.course_builder import make_course, run_async
from tests.platform import xsrf_from
from tests.quiz_data import essay, true_false
from tests.teaching_client import open_session

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
LEARNER = [f"{MEMBERSHIP}#Learner"]
INSTRUCTOR = [f"{MEMBERSHIP}#Instructor"]
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"


def private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(private: str) -> str:
    key = serialization.load_pem_private_key(private.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


class PeerConfig(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: Any) -> None:
        self.registration_values = kwargs

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        values = self.registration_values
        return (
            Registration()
            .set_iss(values["iss"])
            .set_client_id(values["client_id"])
            .set_deployment_id(values["deployment_id"])
            .set_oidc_login_url(values["oidc_login_url"])
            .set_launch_url(values["launch_url"])
            .set_platform_public_key(values["public_key"])
            .set_platform_private_key(values["private_key"])
        )


class PeerLogin(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class PeerLaunch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return launch_data


class PeerRequest:
    def __init__(self, get_data: dict[str, str]) -> None:
        self.get_data = get_data
        self.form_data: dict[str, str] = {}


class KeySetServer:
    """The LMS's JWKS endpoint (and an authorisation URL nobody follows: the test plays the
    browser and answers the OIDC request itself)."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.fetches = 0
        # For a real browser: the LMS's authorisation endpoint answers with this page.
        self.authorisation_page: Callable[[dict[str, str]], str] | None = None
        self.pages: dict[str, str] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/lineitems":
                    owner.check_bearer(self.headers.get("Authorization", ""))
                    self.answer(
                        owner.line_items, "application/vnd.ims.lis.v2.lineitemcontainer+json"
                    )
                    return
                if url.path in owner.pages:  # the LMS's own pages (a course page's iframe)
                    body = owner.pages[url.path].encode()
                    kind = "text/html; charset=utf-8"
                elif url.path == "/auth" and owner.authorisation_page is not None:
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                    body = owner.authorisation_page(query).encode()
                    kind = "text/html; charset=utf-8"
                else:
                    owner.fetches += 1
                    body = json.dumps(owner.jwks).encode()
                    kind = "application/json"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # the token endpoint and line items (AGS)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                path = urlsplit(self.path).path
                if path == "/token":
                    form = {k: v[0] for k, v in parse_qs(body).items()}
                    self.answer(owner.issue_token(form), "application/json")
                elif path.startswith("/lineitems/") and path.endswith("/scores"):
                    owner.check_bearer(self.headers.get("Authorization", ""))
                    owner.scores.append(
                        {"lineitem": path.removesuffix("/scores"), **json.loads(body)}
                    )
                    self.answer({}, "application/json")
                elif path == "/lineitems":
                    owner.check_bearer(self.headers.get("Authorization", ""))
                    item = json.loads(body)
                    item["id"] = f"{owner.url}/lineitems/{len(owner.line_items) + 1}"
                    owner.line_items.append(item)
                    self.answer(item, "application/vnd.ims.lis.v2.lineitem+json")
                else:
                    self.send_error(404)

            def answer(self, payload: Any, kind: str) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.line_items = []
        self.scores: list[dict[str, Any]] = []
        self.tokens = set()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # Assignment and Grade Services, the platform's side: a token for a client assertion
    # signed with a key CourseHub publishes, and the line items made with it.
    line_items: list[dict[str, Any]]
    tool_jwks_url = ""
    tokens: set[str]

    def issue_token(self, form: dict[str, str]) -> dict[str, Any]:
        assertion = form["client_assertion"]
        key = jwt.PyJWKClient(self.tool_jwks_url).get_signing_key_from_jwt(assertion)
        jwt.decode(assertion, key.key, algorithms=["RS256"], audience=f"{self.url}/token")
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return {"access_token": token, "token_type": "Bearer", "expires_in": 3600}

    def check_bearer(self, header: str) -> None:
        assert header.removeprefix("Bearer ") in self.tokens, "no valid access token"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Lms:
    """One registered LMS: lti1p3platform builds and signs its launches."""

    def __init__(self, keys: KeySetServer, service_url: str, issuer: str) -> None:
        self.keys = keys
        self.issuer = issuer
        self.client_id = f"coursehub-{secrets.token_hex(4)}"
        self.deployment_id = "deployment-1"
        self.private_key = private_pem()
        self.service_url = service_url
        self.config = PeerConfig(
            iss=issuer,
            client_id=self.client_id,
            deployment_id=self.deployment_id,
            oidc_login_url=f"{service_url}/lti/login",
            launch_url=f"{service_url}/lti/launch",
            public_key=public_pem(self.private_key),
            private_key=self.private_key,
        )
        self.registration = self.config.get_registration()
        keys.jwks["keys"].extend(self.registration.get_jwks())

    @property
    def kid(self) -> str:
        return str(self.registration.get_kid())

    def registration_form(self, course_slug: str) -> dict[str, Any]:
        return {
            "name": "Example University Moodle",
            "issuer": self.issuer,
            "client_id": self.client_id,
            "deployment_ids": [self.deployment_id],
            "auth_login_url": f"{self.keys.url}/auth",
            "auth_token_url": f"{self.keys.url}/token",
            "key_set_url": f"{self.keys.url}/jwks",
            "course": course_slug,
        }

    def login_url(self, user_id: str) -> str:
        login = PeerLogin(PeerRequest({}), self.config)
        login.set_lti_message_hint(hint="resource-1")
        return login.initiate_login(user_id)

    def launch_claims(
        self,
        authorisation: dict[str, str],
        user_id: str,
        roles: list[str],
        *,
        ags: bool = False,
        **custom: str,
    ) -> dict[str, Any]:
        """What lti1p3platform puts in a launch for this OIDC authorisation request."""
        launch = PeerLaunch(PeerRequest(authorisation), self.config)
        launch._registration = self.registration
        if ags:
            launch.set_ags(lineitems_url=f"{self.keys.url}/lineitems")
        launch.set_user_data(user_id, roles, full_name=f"Person {user_id}")
        launch.set_resource_link_claim("resource-1", title="Week 1")
        launch.set_launch_context_claim("context-1", context_title="Data Analysis 101")
        if custom:
            launch.set_custom_parameters_claim(custom)
        claims, _ = launch.get_launch_data()
        now = int(time.time())
        return {**claims, "iat": now, "exp": now + 300}

    def sign(self, claims: dict[str, Any], *, kid: str | None = None, key: str | None = None):
        return jwt.encode(
            claims, key or self.private_key, algorithm="RS256", headers={"kid": kid or self.kid}
        )


def authorise(browser: httpx.Client, lms: Lms, user_id: str) -> dict[str, str]:
    """The browser opens the LMS's login initiation on CourseHub, which sends it to the LMS's
    authorisation URL with state and nonce (and gives it the state cookie)."""
    answer = browser.get(lms.login_url(user_id), follow_redirects=False)
    assert answer.status_code == 302, answer.text[:500]
    location = answer.headers["Location"]
    assert location.startswith(f"{lms.keys.url}/auth?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def post_launch(browser: httpx.Client, lms: Lms, authorisation: dict[str, str], token: str):
    return browser.post(
        authorisation["redirect_uri"],
        data={"id_token": token, "state": authorisation["state"]},
        follow_redirects=True,
    )


def launch_as(
    browser: httpx.Client,
    lms: Lms,
    user_id: str,
    roles: list[str],
    *,
    ags: bool = False,
    **custom: str,
) -> httpx.Response:
    authorisation = authorise(browser, lms, user_id)
    claims = lms.launch_claims(authorisation, user_id, roles, ags=ags, **custom)
    return post_launch(browser, lms, authorisation, lms.sign(claims))


@pytest.fixture(scope="module")
def key_server() -> Iterator[KeySetServer]:
    server = KeySetServer()
    yield server
    server.close()


@pytest.fixture
def registered(
    platform, key_server, make_account, signed_in, database_url
) -> Iterator[tuple[Lms, Any, Account]]:
    """An LMS registered by an administrator through the API, linked to a published course."""
    instructor = make_account(Role.INSTRUCTOR)
    course = make_course(database_url, instructor, title=f"Data {secrets.token_hex(3)}", modules={})
    lms = Lms(key_server, platform.service_url, f"https://lms-{secrets.token_hex(3)}.example.edu")
    admin = signed_in(make_account(Role.ADMIN))
    headers = {"X-XSRFToken": xsrf_from(admin.get(f"{platform.service_url}/lti/platforms"))}
    created = admin.post(
        f"{platform.service_url}/api/lti/platforms",
        json=lms.registration_form(course.slug),
        headers=headers,
    )
    assert created.status_code == 201, created.text
    yield lms, course, instructor


@pytest.fixture
def browser_client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as http:
        yield http


def identities(db: Callable[[], Session], lms: Lms) -> list[LtiIdentity]:
    with db() as session:
        return list(
            session.scalars(
                select(LtiIdentity)
                .join(LtiPlatform, LtiPlatform.id == LtiIdentity.platform_id)
                .where(LtiPlatform.issuer == lms.issuer)
            )
        )


def test_a_learner_launched_from_the_lms_is_signed_in_enrolled_and_on_the_course(
    platform, registered, browser_client, db
):
    lms, course, _ = registered
    page = launch_as(browser_client, lms, "student-42", LEARNER)
    assert page.status_code == 200, page.text[:800]
    assert page.url.path == f"/services/coursehub/courses/{course.slug}"
    assert course.title in page.text
    # Signed in to the hub as the new person, and their course pages know them.
    [identity] = identities(db, lms)
    assert identity.subject == "student-42"
    with db() as session:
        account = session.get_one(Account, identity.account_id)
        assert account.name == "Person student-42"
        assert account.password_hash is None
        assert session.scalar(
            select(Enrollment).where(
                Enrollment.account_id == account.id, Enrollment.course_id == course.id
            )
        )
    dashboard = browser_client.get(f"{platform.service_url}/dashboard")
    assert dashboard.status_code == 200 and dashboard.url.path.endswith("/dashboard")
    assert account.username in dashboard.text
    # Launching again (another day, another browser) finds the same person: one link, one
    # account, still one enrolment.
    with httpx.Client(timeout=30) as again:
        assert launch_as(again, lms, "student-42", LEARNER).status_code == 200
    assert [i.account_id for i in identities(db, lms)] == [account.id]
    with db() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(Enrollment)
                .where(Enrollment.account_id == account.id)
            )
            == 1
        )


def test_an_instructor_launch_makes_a_grader_and_opens_the_named_lesson_target(
    platform, registered, browser_client, db
):
    lms, course, _ = registered
    page = launch_as(browser_client, lms, "teacher-7", INSTRUCTOR, assignment="12345")
    # An assignment the course does not have: its assignments page, signed in.
    assert page.url.path == f"/services/coursehub/courses/{course.slug}/assignments"
    [identity] = identities(db, lms)
    with db() as session:
        assert session.scalar(
            select(CourseGrader).where(
                CourseGrader.account_id == identity.account_id,
                CourseGrader.course_id == course.id,
            )
        )
        assert not session.scalar(
            select(Enrollment).where(Enrollment.account_id == identity.account_id)
        )


def test_an_email_the_lms_sends_never_takes_over_an_existing_account(
    platform, registered, browser_client, db, make_account
):
    lms, _, _ = registered
    someone = make_account(Role.STUDENT)
    authorisation = authorise(browser_client, lms, "mallory")
    claims = lms.launch_claims(authorisation, "mallory", LEARNER)
    claims["email"] = someone.email
    page = post_launch(browser_client, lms, authorisation, lms.sign(claims))
    assert page.status_code == 200
    [identity] = identities(db, lms)
    assert identity.account_id != someone.id
    assert account_named(db, someone.email).id == someone.id


REFUSALS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("wrong-iss", lambda c: c.update(iss="https://elsewhere.example"), "no platform"),
    ("wrong-aud", lambda c: c.update(aud="another-tool", azp="another-tool"), "no platform"),
    ("expired", lambda c: c.update(iat=c["iat"] - 3600, exp=c["exp"] - 3600), "expired"),
    ("unknown-deployment", lambda c: c.update({f"{CLAIM}deployment_id": "999"}), "deployment"),
    (
        "wrong-message-type",
        lambda c: c.update({f"{CLAIM}message_type": "LtiFooRequest"}),
        "message type",
    ),
    ("missing-roles", lambda c: c.pop(f"{CLAIM}roles"), "roles"),
    ("wrong-version", lambda c: c.update({f"{CLAIM}version": "1.1"}), "version"),
]


@pytest.mark.parametrize(("case", "change", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_a_launch_certification_would_refuse_is_refused_with_a_page_and_nothing_made(
    platform, registered, browser_client, db, case, change, reason
):
    lms, _, _ = registered
    accounts_before = count_accounts(db)
    authorisation = authorise(browser_client, lms, f"refused-{case}")
    claims = lms.launch_claims(authorisation, f"refused-{case}", LEARNER)
    change(claims)
    page = post_launch(browser_client, lms, authorisation, lms.sign(claims))
    assert_refused(page, reason)
    assert identities(db, lms) == []
    assert count_accounts(db) == accounts_before


def test_tampered_unknown_key_replayed_and_foreign_browser_launches_are_refused(
    platform, registered, browser_client, db
):
    lms, _, _ = registered
    accounts_before = count_accounts(db)
    # A signature that does not match the body (the sub changed after signing).
    authorisation = authorise(browser_client, lms, "tamper")
    token = lms.sign(lms.launch_claims(authorisation, "tamper", LEARNER))
    header, body, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(body))
    claims["sub"] = "someone-else"
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    assert_refused(
        post_launch(browser_client, lms, authorisation, f"{header}.{forged}.{signature}"),
        "signature",
    )
    # Signed by a key the LMS never published: CourseHub reads the JWKS again, then refuses.
    fetches = lms.keys.fetches
    authorisation = authorise(browser_client, lms, "stranger")
    claims = lms.launch_claims(authorisation, "stranger", LEARNER)
    page = post_launch(
        browser_client, lms, authorisation, lms.sign(claims, kid="not-published", key=private_pem())
    )
    assert_refused(page, "kid")
    assert lms.keys.fetches > fetches
    # A launch posted from a browser that did not start it has no state cookie.
    authorisation = authorise(browser_client, lms, "elsewhere")
    token = lms.sign(lms.launch_claims(authorisation, "elsewhere", LEARNER))
    with httpx.Client(timeout=30) as other_browser:
        assert_refused(post_launch(other_browser, lms, authorisation, token), "state")
    assert identities(db, lms) == []
    assert count_accounts(db) == accounts_before
    # The same id_token posted twice: the nonce is used up by the first.
    assert post_launch(browser_client, lms, authorisation, token).status_code == 200
    with httpx.Client(timeout=30) as replaying:
        replaying.cookies.update(browser_client.cookies)
        assert_refused(post_launch(replaying, lms, authorisation, token), "nonce")
    assert len(identities(db, lms)) == 1


FRAMED = {"Sec-Fetch-Dest": "iframe"}


def data_of(page: httpx.Response, name: str) -> str:
    """A ``data-…`` attribute of the page (what its script works with)."""
    found = re.search(rf'data-{name}="([^"]*)"', page.text)
    assert found, page.text[:1500]
    return html.unescape(found.group(1))


def framed_login_with_storage(lms: Lms, user_id: str) -> dict[str, str]:
    """The LMS's login initiation in its iframe, offering its storage frame: the page keeps
    state and nonce there (the browser keeps CourseHub's cookies out, so none are kept here)."""
    with httpx.Client(timeout=30) as frame:
        page = frame.get(f"{lms.login_url(user_id)}&lti_storage_target=lti_storage", headers=FRAMED)
    assert page.status_code == 200, page.text[:800]
    assert data_of(page, "storage-target") == "lti_storage"
    assert data_of(page, "platform-origin") == lms.keys.url  # its OIDC authorisation URL's
    authorisation = {
        k: v[0] for k, v in parse_qs(urlsplit(data_of(page, "auth-url")).query).items()
    }
    assert data_of(page, "state") == authorisation["state"]
    assert data_of(page, "state-key") == f"state_{authorisation['state']}"
    assert data_of(page, "nonce-key") == f"nonce_{authorisation['nonce']}"
    return authorisation


def framed_launch(lms: Lms, authorisation: dict[str, str], token: str) -> httpx.Response:
    """The launch posted into the LMS's iframe, without CourseHub's state cookie."""
    with httpx.Client(timeout=30) as frame:
        return frame.post(
            authorisation["redirect_uri"],
            data={"id_token": token, "state": authorisation["state"]},
            headers=FRAMED,
        )


def test_a_launch_whose_state_the_platform_storage_keeps_continues_in_a_new_window_once(
    platform, registered, db
):
    lms, course, _ = registered
    accounts_before = count_accounts(db)
    storage_url = f"{platform.service_url}/lti/launch/storage"
    # Without a storage target the login page offers no storage (the new window, as before).
    with httpx.Client(timeout=30) as frame:
        plain = frame.get(lms.login_url("no-storage"), headers=FRAMED)
    assert data_of(plain, "storage-target") == ""

    # A state the platform's storage does not give back: refused, nothing made, and the
    # launch waits no longer (a second try with the right state finds nothing).
    authorisation = framed_login_with_storage(lms, "forged")
    token = lms.sign(lms.launch_claims(authorisation, "forged", LEARNER))
    waiting = framed_launch(lms, authorisation, token)
    assert waiting.status_code == 200 and 'id="lti_storage_launch"' in waiting.text
    assert data_of(waiting, "state-key") == f"state_{authorisation['state']}"
    assert data_of(waiting, "nonce-key") == f"nonce_{authorisation['nonce']}"
    nonce = authorisation["nonce"]
    state = authorisation["state"]
    forged = {"state": state, "stored_state": "someone-elses-state", "stored_nonce": nonce}
    assert_refused(httpx.post(storage_url, data=forged), "does not hold its state")
    honest = {"state": state, "stored_state": state, "stored_nonce": nonce}
    assert_refused(httpx.post(storage_url, data=honest), "already completed")
    # A nonce the storage does not hold: refused too.
    authorisation = framed_login_with_storage(lms, "forged")
    token = lms.sign(lms.launch_claims(authorisation, "forged", LEARNER))
    framed_launch(lms, authorisation, token)
    state = authorisation["state"]
    wrong_nonce = {"state": state, "stored_state": state, "stored_nonce": "another"}
    assert_refused(httpx.post(storage_url, data=wrong_nonce), "nonce")
    assert identities(db, lms) == [] and count_accounts(db) == accounts_before

    # The platform's storage gives back this launch's state and nonce: validated in the
    # frame, the learner is made and enrolled, and the frame holds a continuation ticket.
    authorisation = framed_login_with_storage(lms, "stored-7")
    token = lms.sign(lms.launch_claims(authorisation, "stored-7", LEARNER))
    framed_launch(lms, authorisation, token)
    state, nonce = authorisation["state"], authorisation["nonce"]
    honest = {"state": state, "stored_state": state, "stored_nonce": nonce}
    validated = httpx.post(storage_url, data=honest)
    assert validated.status_code == 200, validated.text[:800]
    assert "set-cookie" not in validated.headers
    ticket = validated.json()["ticket"]
    [identity] = identities(db, lms)
    assert identity.subject == "stored-7"
    assert_refused(httpx.post(storage_url, data=honest), "already completed")
    # The same id_token again (with or without storage) finds its nonce used up.
    assert_refused(framed_launch(lms, authorisation, token), "nonce")

    # The new window: CourseHub is first party there; the ticket it is handed (never in an
    # address) signs the learner in to the hub once and opens the course.
    with httpx.Client(timeout=30) as window:
        continue_url = f"{platform.service_url}/lti/continue"
        page = window.get(continue_url)
        assert page.status_code == 200 and 'id="lti_continue_form"' in page.text
        xsrf = xsrf_from(page)
        without_xsrf = window.post(continue_url, data={"ticket": ticket})
        assert without_xsrf.status_code == 403
        made_up = window.post(continue_url, data={"ticket": "made-up", "_xsrf": xsrf})
        assert made_up.status_code == 400 and "Launch again" in made_up.text
        signed = window.post(
            continue_url, data={"ticket": ticket, "_xsrf": xsrf}, follow_redirects=True
        )
        assert signed.status_code == 200, signed.text[:800]
        assert signed.url.path == f"/services/coursehub/courses/{course.slug}"
        with db() as session:
            username = session.get_one(Account, identity.account_id).username
        assert username in window.get(f"{platform.service_url}/dashboard").text
        xsrf = xsrf_from(window.get(continue_url))  # signed in now: the form's token anew
        again = window.post(continue_url, data={"ticket": ticket, "_xsrf": xsrf})
        assert again.status_code == 400
    assert len(identities(db, lms)) == 1 and count_accounts(db) == accounts_before + 1


def count_accounts(db: Callable[[], Session]) -> int:
    with db() as session:
        return int(session.scalar(select(func.count()).select_from(Account)) or 0)


def assert_refused(page: httpx.Response, reason: str) -> None:
    assert 400 <= page.status_code < 500, (page.status_code, page.url, page.text[:500])
    assert "CourseHub could not accept this launch from your LMS" in page.text, page.text[:1500]
    assert reason in page.text, page.text[:1500]


def test_an_administrator_registers_platforms_and_rotates_the_published_keys(
    platform, key_server, make_account, signed_in, client
):
    admin = signed_in(make_account(Role.ADMIN))
    page = admin.get(f"{platform.service_url}/lti/platforms")
    assert page.status_code == 200
    assert f"{platform.url}/services/coursehub/lti/launch" in page.text
    headers = {"X-XSRFToken": xsrf_from(page)}
    lms = Lms(key_server, platform.service_url, f"https://lms-{secrets.token_hex(3)}.example.edu")
    form = lms.registration_form("")
    bad = admin.post(
        f"{platform.service_url}/api/lti/platforms",
        json={**form, "key_set_url": "not a url"},
        headers=headers,
    )
    assert bad.status_code == 400 and bad.json()["field"] == "key_set_url"
    assert (
        admin.post(
            f"{platform.service_url}/api/lti/platforms", json=form, headers=headers
        ).status_code
        == 201
    )
    again = admin.post(f"{platform.service_url}/api/lti/platforms", json=form, headers=headers)
    assert again.status_code == 409
    # The page form registers too, and lists what is registered.
    other = Lms(key_server, platform.service_url, f"https://lms-{secrets.token_hex(3)}.example.edu")
    values = {**other.registration_form(""), "deployment_ids": "a\nb"}
    shown = admin.post(
        f"{platform.service_url}/lti/platforms", data={**values, "_xsrf": headers["X-XSRFToken"]}
    )
    assert (
        shown.status_code == 200 and other.client_id in shown.text and lms.client_id in shown.text
    )
    # Students see none of it.
    student = signed_in(make_account(Role.STUDENT))
    assert student.get(f"{platform.service_url}/api/lti/platforms").status_code == 403
    # CourseHub's JWKS: public keys only; after a rotation the old key is still published.
    before = client.get(f"{platform.service_url}/lti/jwks").json()["keys"]
    assert before and all("d" not in key and key["kty"] == "RSA" for key in before)
    rotated = admin.post(f"{platform.service_url}/api/lti/keys/rotate", headers=headers)
    assert rotated.status_code == 200
    after = {key["kid"] for key in client.get(f"{platform.service_url}/lti/jwks").json()["keys"]}
    assert rotated.json()["kid"] in after and {key["kid"] for key in before} <= after


def test_an_assignment_gets_one_line_item_on_the_lms_across_relaunches_and_lost_replies(
    platform, registered, browser_client, db
):
    lms, course, instructor = registered
    lms.keys.tool_jwks_url = f"{platform.service_url}/lti/jwks"
    with db() as session:
        assignment = Assignment(
            course_id=course.id,
            title="Weather checks",
            source_notebook={},
            student_notebook={},
            source_sha256="0" * 64,
            max_score=7,
            created_by_id=instructor.id,
        )
        session.add(assignment)
        session.commit()
    resource = f"coursehub-assignment-{assignment.id}"

    def on_the_lms() -> list[dict[str, Any]]:
        return [item for item in lms.keys.line_items if item.get("resourceId") == resource]

    page = launch_as(
        browser_client, lms, "teacher-ags", INSTRUCTOR, ags=True, assignment=str(assignment.id)
    )
    assert page.url.path.endswith(f"/courses/{course.slug}/assignments")  # in no lesson
    [item] = on_the_lms()
    assert item["label"] == "Weather checks" and item["scoreMaximum"] == 7
    assert item["tag"] == "coursehub"
    # A learner's launch, then another launch: the line item is CourseHub's already.
    with httpx.Client(timeout=30) as learner:
        launch_as(learner, lms, "learner-ags", LEARNER, ags=True, assignment=str(assignment.id))
    launch_as(
        browser_client, lms, "teacher-ags", INSTRUCTOR, ags=True, assignment=str(assignment.id)
    )
    assert len(on_the_lms()) == 1
    # CourseHub lost its record (a reply that never arrived): the platform's is found again.
    with db() as session:
        session.execute(delete(LtiLineItem).where(LtiLineItem.assignment_id == assignment.id))
        session.commit()
    launch_as(
        browser_client, lms, "teacher-ags", INSTRUCTOR, ags=True, assignment=str(assignment.id)
    )
    assert len(on_the_lms()) == 1
    with db() as session:
        [kept] = session.scalars(
            select(LtiLineItem).where(LtiLineItem.assignment_id == assignment.id)
        ).all()
        assert kept.lineitem_url == item["id"]


async def _sync_now(database_url: str, course_id: int) -> int:
    engine = make_engine(sqlalchemy_url(database_url), pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            queued = await scores.sync_course(session, course_id)
            await session.commit()
            return queued
    finally:
        await engine.dispose()


def sync_now(database_url: str, course_id: int) -> int:
    """What the passback sweep does for a course: how many scores it queued."""
    return run_async(_sync_now(database_url, course_id))


def wait_for_scores(lms: Lms, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 120
    while len(lms.keys.scores) < count and time.monotonic() < deadline:
        time.sleep(0.5)
    return list(lms.keys.scores)


def test_a_released_grade_reaches_the_lms_gradebook_once_per_change(
    platform, registered, browser_client, db, signed_in, database_url
):
    lms, course, instructor = registered
    lms.keys.tool_jwks_url = f"{platform.service_url}/lti/jwks"
    lms.keys.scores.clear()
    with db() as session:
        assignment = Assignment(
            course_id=course.id,
            title="Rainfall",
            source_notebook={},
            student_notebook={},
            source_sha256="0" * 64,
            max_score=7,
            created_by_id=instructor.id,
            released_at=datetime.now(UTC) - timedelta(days=1),
        )
        session.add(assignment)
        session.commit()
    launch_as(browser_client, lms, "learner-pass", LEARNER, ags=True, assignment=str(assignment.id))
    [identity] = [i for i in identities(db, lms) if i.subject == "learner-pass"]
    with db() as session:
        submission = Submission(
            assignment_id=assignment.id,
            account_id=identity.account_id,
            attempt=1,
            sha256="0" * 64,
            notebook=b"{}",
            size=2,
            status=SubmissionStatus.GRADED,
        )
        session.add(submission)
        session.flush()
        grade = Grade(
            submission_id=submission.id,
            outcome="graded",
            cells=[{"grade_id": "rain", "kind": "autograded", "score": 5, "max_points": 7}],
            score=5,
            max_score=7,
            final_score=5,
            needs_manual=False,
        )
        session.add(grade)
        session.commit()
    # Staff send grades now: the job queue posts the score once.
    staff = signed_in(instructor)
    page = staff.get(f"{platform.service_url}/courses/{course.slug}")
    headers = {"X-XSRFToken": xsrf_from(page)}
    passback = f"{platform.service_url}/api/lti/courses/{course.slug}/passback"
    assert staff.post(passback, headers=headers).status_code == 202
    [score] = wait_for_scores(lms, 1)
    assert score["scoreGiven"] == 5 and score["scoreMaximum"] == 7
    assert score["userId"] == "learner-pass" and score["gradingProgress"] == "FullyGraded"
    assert score["lineitem"] == urlsplit(lms.keys.line_items[-1]["id"]).path
    # Nothing changed: nothing more to send.
    assert sync_now(database_url, course.id) == 0
    # A regrade: the new score, once.
    with db() as session:
        regraded = session.get_one(Grade, grade.id)
        regraded.cells = [{"grade_id": "rain", "kind": "autograded", "score": 6, "max_points": 7}]
        regraded.score = regraded.final_score = 6
        session.commit()
    assert sync_now(database_url, course.id) == 1
    assert sync_now(database_url, course.id) == 0
    assert [s["scoreGiven"] for s in wait_for_scores(lms, 2)] == [5, 6]
    # The log staff see; "resend" sends one again.
    log = staff.get(passback).json()["posts"]
    assert [(p["score_given"], p["state"]) for p in log] == [(6, "sent"), (5, "sent")]
    assert (
        staff.post(
            f"{platform.service_url}/api/lti/score-posts/{log[0]['id']}/resend", headers=headers
        ).status_code
        == 202
    )
    assert [s["scoreGiven"] for s in wait_for_scores(lms, 3)] == [5, 6, 6]
    # The same from the staff's page: the log, and Resend on a row.
    page = staff.get(f"{platform.service_url}/lti/courses/{course.slug}/passback")
    assert page.status_code == 200 and "Rainfall" in page.text
    assert page.text.count('class="passback"') == 2
    resent = staff.post(
        f"{platform.service_url}/lti/courses/{course.slug}/passback",
        data={"resend": str(log[1]["id"]), "_xsrf": xsrf_from(page)},
    )
    assert resent.status_code == 200 and "sent again" in resent.text
    assert [s["scoreGiven"] for s in wait_for_scores(lms, 4)] == [5, 6, 6, 5]
    # Every teaching page of the course leads to the log, the Manage page too.
    manage = staff.get(f"{platform.service_url}/teach/courses/{course.id}")
    assert f'href="/services/coursehub/lti/courses/{course.slug}/passback"' in manage.text
    # Students have no passback log.
    student = signed_in(session_account(db, identity.account_id))
    assert student.get(passback).status_code == 404


def session_account(db: Callable[[], Session], account_id: int) -> Account:
    """A person who came in through the LMS, given a password to sign in with here."""
    with db() as session:
        account = session.get_one(Account, account_id)
        account.password_hash = hash_password(PASSWORD)
        if account.email is None:
            account.email = f"{account.username}@lti.example"
        session.commit()
        return account


def test_an_override_and_a_release_reach_the_lms_at_once_without_the_sweep(
    platform, registered, browser_client, db, signed_in
):
    lms, course, instructor = registered
    lms.keys.tool_jwks_url = f"{platform.service_url}/lti/jwks"
    lms.keys.scores.clear()
    with db() as session:
        assignment = Assignment(
            course_id=course.id,
            title="Wind speeds",
            source_notebook={},
            student_notebook={},
            source_sha256="0" * 64,
            max_score=10,
            created_by_id=instructor.id,
            released_at=datetime.now(UTC) - timedelta(days=1),
        )
        session.add(assignment)
        session.commit()
    launch_as(browser_client, lms, "learner-now", LEARNER, ags=True, assignment=str(assignment.id))
    [identity] = [i for i in identities(db, lms) if i.subject == "learner-now"]
    with db() as session:
        submission = Submission(
            assignment_id=assignment.id,
            account_id=identity.account_id,
            attempt=1,
            sha256="0" * 64,
            notebook=b"{}",
            size=2,
            status=SubmissionStatus.GRADED,
        )
        session.add(submission)
        session.flush()
        # The autograder's part is in; the written answer waits for a person.
        session.add(
            Grade(
                submission_id=submission.id,
                outcome="graded",
                cells=[
                    {"grade_id": "wind", "kind": "autograded", "score": 5, "max_points": 7},
                    {"grade_id": "essay", "kind": "manual", "score": None, "max_points": 3},
                ],
                score=5,
                max_score=10,
                final_score=5,
                needs_manual=True,
            )
        )
        session.commit()
    staff = signed_in(instructor)
    headers = {"X-XSRFToken": xsrf_from(staff.get(f"{platform.service_url}/courses/{course.slug}"))}
    api = f"{platform.service_url}/api/courses/{course.slug}/assignments/{assignment.id}"
    overridden = staff.put(
        f"{api}/submissions/{submission.id}/override",
        json={"score": 8, "reason": "The written answer is good."},
        headers=headers,
    )
    assert overridden.status_code == 200, overridden.text
    # Released: the student's grade counts now, and the LMS gets it without any sweep.
    released = staff.post(f"{api}/feedback-release", headers=headers)
    assert released.status_code == 200, released.text
    [score] = wait_for_scores(lms, 1)
    assert (score["scoreGiven"], score["scoreMaximum"], score["userId"]) == (8, 10, "learner-now")
    # A later override of the released grade follows on its own, once.
    staff.put(
        f"{api}/submissions/{submission.id}/override",
        json={"score": 9, "reason": "Re-marked after a question."},
        headers=headers,
    )
    assert [s["scoreGiven"] for s in wait_for_scores(lms, 2)] == [8, 9]
    with db() as session:
        posts = session.scalar(
            select(func.count())
            .select_from(LtiScorePost)
            .join(LtiLineItem, LtiLineItem.id == LtiScorePost.line_item_id)
            .where(LtiLineItem.assignment_id == assignment.id)
        )
    assert posts == 2


def quiz_passbacks(db: Callable[[], Session], attempt_id: int) -> int:
    """How many after-quiz passback jobs were deferred for one attempt."""
    with db() as session:
        return int(
            session.scalar(
                text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :task "
                    "AND args->>'scored_attempt' = :attempt"
                ),
                {"task": scores.AFTER_QUIZ_TASK, "attempt": str(attempt_id)},
            )
            or 0
        )


def test_quiz_scores_reach_the_lms_at_once_on_submit_and_on_each_essay_grading(
    platform, registered, browser_client, db, signed_in
):
    lms, course, instructor = registered
    lms.keys.tool_jwks_url = f"{platform.service_url}/lti/jwks"
    lms.keys.scores.clear()
    teacher = open_session(platform, signed_in, instructor)
    api = f"/api/courses/{course.slug}"

    def published_quiz(title: str, *questions: dict[str, Any]) -> dict[str, Any]:
        made = teacher.call("POST", f"{api}/quizzes", json={"title": title})
        assert made.status_code == 201, made.text
        for question in questions:
            added = teacher.call(
                "POST", f"{api}/quizzes/{made.json()['id']}/slots", json={"question": question}
            )
            assert added.status_code == 201, added.text
        done = teacher.call("PATCH", f"{api}/quizzes/{made.json()['id']}", json={"published": True})
        assert done.status_code == 200, done.text
        return done.json()

    warm_up = published_quiz("Warm-up", true_false("Rivers flow downhill.", True, points=2))
    written = published_quiz(
        "Explain the water cycle",
        true_false("Clouds are water.", True, points=1),
        essay("Explain evaporation in two sentences.", points=3),
    )
    for quiz in (warm_up, written, written):  # a relaunch finds CourseHub's record
        launch_as(browser_client, lms, "learner-quiz", LEARNER, ags=True, quiz=str(quiz["id"]))
    items = {i["resourceId"]: i for i in lms.keys.line_items if i.get("tag") == "coursehub"}
    assert items[f"coursehub-quiz-{written['id']}"]["scoreMaximum"] == 4
    assert [i["resourceId"] for i in lms.keys.line_items].count(
        f"coursehub-quiz-{written['id']}"
    ) == 1
    [identity] = [i for i in identities(db, lms) if i.subject == "learner-quiz"]
    learner = open_session(platform, signed_in, session_account(db, identity.account_id))

    def submitted(quiz: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
        started = learner.call("POST", f"{api}/quizzes/{quiz['id']}/attempts")
        assert started.status_code == 201, started.text
        path = f"{api}/quizzes/{quiz['id']}/attempts/{started.json()['id']}"
        done = learner.call("POST", f"{path}/submit", json={"answers": answers})
        assert done.status_code == 200, done.text
        return {"path": path, **done.json()}

    # Submitting an objective quiz: its score is in the LMS at once, without any sweep.
    first = submitted(warm_up, {"0": True})
    assert first["score"] == 2
    [score] = wait_for_scores(lms, 1)
    assert (score["scoreGiven"], score["scoreMaximum"], score["userId"]) == (2, 2, "learner-quiz")
    assert score["lineitem"] == urlsplit(items[f"coursehub-quiz-{warm_up['id']}"]["id"]).path
    assert quiz_passbacks(db, first["id"]) == 1
    # An essay waits for staff: nothing goes until it is graded.
    second = submitted(written, {"0": True, "1": "Water warms and rises as vapour."})
    assert second["score"] is None
    assert quiz_passbacks(db, second["id"]) == 0
    grade = f"{second['path']}/answers/1/grade"
    graded = teacher.call("PUT", grade, json={"score": 2, "comment": "Say where it goes."})
    assert graded.status_code == 200 and graded.json()["attempt_score"] == 3, graded.text
    assert [s["scoreGiven"] for s in wait_for_scores(lms, 2)] == [2, 3]
    # Graded again (a second look): the new score follows, once.
    regraded = teacher.call("PUT", grade, json={"score": 3, "comment": "Good."})
    assert regraded.status_code == 200, regraded.text
    assert [s["scoreGiven"] for s in wait_for_scores(lms, 3)] == [2, 3, 4]
    assert quiz_passbacks(db, second["id"]) == 2
    time.sleep(2)  # nothing else follows: one score per change
    assert [s["scoreGiven"] for s in lms.keys.scores] == [2, 3, 4]
    with db() as session:
        sent = session.scalars(
            select(LtiScorePost.score_given)
            .join(LtiLineItem, LtiLineItem.id == LtiScorePost.line_item_id)
            .where(LtiLineItem.quiz_id == written["id"])
            .order_by(LtiScorePost.id)
        ).all()
    assert sent == [3, 4]


def deep_link_request(
    browser: httpx.Client, lms: Lms, user_id: str, roles: list[str]
) -> httpx.Response:
    """The LMS's LtiDeepLinkingRequest (lti1p3platform's deep-linking settings claim)."""
    authorisation = authorise(browser, lms, user_id)
    claims = lms.launch_claims(authorisation, user_id, roles, ags=True)
    claims[f"{CLAIM}message_type"] = "LtiDeepLinkingRequest"
    claims.update(
        LtiDeepLinking(f"{lms.keys.url}/deep-link-return").get_lti_deep_linking_launch_claim(
            title="Add CourseHub content", extra_data={"placement": "week-1"}
        )
    )
    return post_launch(browser, lms, authorisation, lms.sign(claims))


def test_an_instructor_picks_coursehub_content_and_the_lms_gets_signed_links_with_line_items(
    platform, registered, browser_client, db
):
    lms, course, instructor = registered
    with db() as session:
        module = Module(course_id=course.id, title="Week 1", position=0)
        session.add(module)
        session.flush()
        lesson = Lesson(module_id=module.id, title="Reading CSV files", kind=LessonKind.TEXT)
        assignment = Assignment(
            course_id=course.id,
            title="Rain gauges",
            source_notebook={},
            student_notebook={},
            source_sha256="0" * 64,
            max_score=6,
            created_by_id=instructor.id,
        )
        quiz = Quiz(course_id=course.id, title="Units quiz", max_score=3, published=True)
        session.add_all([lesson, assignment, quiz])
        session.commit()
    # A learner cannot choose content: refused, nobody made.
    with httpx.Client(timeout=30) as learner:
        assert_refused(deep_link_request(learner, lms, "dl-learner", LEARNER), "instructor")
    assert identities(db, lms) == []
    picker = deep_link_request(browser_client, lms, "dl-teacher", INSTRUCTOR)
    assert picker.status_code == 200 and "/lti/deep-link/" in picker.url.path, (
        picker.url,
        re.sub(r"<[^>]+>", " ", picker.text)[-1500:],
    )
    for title in ("Reading CSV files", "Rain gauges", "Units quiz"):
        assert title in picker.text
    chosen = [f"lesson-{lesson.id}", f"assignment-{assignment.id}", f"quiz-{quiz.id}"]
    answer = browser_client.post(str(picker.url), data={"item": chosen, "_xsrf": xsrf_from(picker)})
    assert answer.status_code == 200, answer.text[:500]
    assert f'action="{lms.keys.url}/deep-link-return"' in answer.text
    [signed] = re.findall(r'name="JWT" value="([^"]+)"', answer.text)
    # The LMS checks the answer against CourseHub's published keys and reads the links.
    lms.registration.set_tool_key_set_url(f"{platform.service_url}/lti/jwks")
    items = lms.config.validate_deeplinking_resp({"JWT": signed})
    body = jwt.decode(signed, options={"verify_signature": False})
    assert body["iss"] == lms.client_id and body["aud"] == [lms.issuer]
    assert body["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == {"placement": "week-1"}
    assert [(i["type"], i["title"], i["url"]) for i in items] == [
        ("ltiResourceLink", title, f"{platform.url}/services/coursehub/lti/launch")
        for title in ("Reading CSV files", "Rain gauges", "Units quiz")
    ]
    assert [i["custom"] for i in items] == [
        {"course": course.slug, "lesson": str(lesson.id)},
        {"course": course.slug, "assignment": str(assignment.id)},
        {"course": course.slug, "quiz": str(quiz.id)},
    ]
    assert "lineItem" not in items[0]
    assert items[1]["lineItem"]["resourceId"] == f"coursehub-assignment-{assignment.id}"
    assert (items[2]["lineItem"]["scoreMaximum"], items[2]["lineItem"]["label"]) == (
        3,
        "Units quiz",
    )
    # The LMS's instructor (a grader here) reads the course's passback log.
    log = browser_client.get(f"{platform.service_url}/lti/courses/{course.slug}/passback")
    assert log.status_code == 200 and "Grades sent to the LMS" in log.text
    # One answer per request: the picker is gone once used.
    again = browser_client.post(str(picker.url), data={"item": chosen, "_xsrf": xsrf_from(picker)})
    assert again.status_code == 404


def test_only_plain_lms_origins_and_launch_pages_are_opened_to_lms_frames():
    assert frame_origins.origin_of("https://Canvas.Example.edu/courses/1") == (
        "https://canvas.example.edu"
    )
    assert frame_origins.origin_of("http://127.0.0.1:8123/auth") == "http://127.0.0.1:8123"
    for bad in (
        "javascript:alert(1)",
        "https://a.example; script-src *",
        "https://user:secret@a.example/",
        "*",
        "ftp://a.example",
        "https://a.example:99999",
        "",
    ):
        assert frame_origins.origin_of(bad) is None, bad
    assert frame_origins.frame_ancestors(["https://b.example", "https://a.example"]) == (
        "'self' https://a.example https://b.example"
    )
    for framed in (
        "/courses/data-101",
        "/courses/data-101/assignments",
        "/courses/data-101/quizzes/4/attempts/9",
        "/learn/data-101/12",
        "/learn/data-101/12/frame",
        "/lti/deep-link/abcdefghijkl",
    ):
        assert frame_origins.is_framed_path(framed), framed
    for kept in ("/dashboard", "/admin/people", "/lti/platforms", "/settings", "/courses"):
        assert not frame_origins.is_framed_path(kept), kept


def test_cookies_set_inside_an_lms_frame_over_https_are_samesite_none_elsewhere_lax():
    """The hub's and the course service's cookies, as the LMS's iframe needs them."""
    cookies_survive_lms_frames()
    cookies_survive_lms_frames()  # once is enough: a second call changes nothing

    def set_by(handler_class: type, destination: str, secure: bool) -> str:
        headers = {"Sec-Fetch-Dest": destination} if destination else {}
        request = HTTPServerRequest(method="GET", uri="/", headers=HTTPHeaders(headers))
        request.connection = None
        handler = object.__new__(handler_class)
        handler.request = request
        options = {"samesite": "Lax", "secure": True} if secure else {"samesite": "Lax"}
        handler_class.set_cookie(handler, "session", "1", path="/", **options)
        return handler._new_cookie["session"].OutputString().lower()

    for handler_class in (HubBaseHandler, BaseHandler, SharedStateOAuthCallback):
        framed = set_by(handler_class, "iframe", True)
        # Partitioned too (CHIPS): kept where unpartitioned third-party cookies are blocked.
        assert framed.startswith("session=1; ") and framed.endswith("; partitioned"), framed
        assert "samesite=none; secure" in framed and "path=/" in framed
        assert framed.count("partitioned") == 1
        for destination in ("document", ""):
            top_level = set_by(handler_class, destination, True)
            assert "samesite=lax" in top_level and "partitioned" not in top_level
        # Over http a browser refuses SameSite=None without Secure: Lax, as before.
        plain = set_by(handler_class, "iframe", False)
        assert plain == "session=1; path=/; samesite=lax", plain
