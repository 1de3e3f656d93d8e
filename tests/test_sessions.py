"""Sessions: a changed or reset password ends every other session and revokes the person's
tokens, one account is throttled however it is named, a planted session id does not survive
signing in, cookies are SameSite=Lax, and a signed-out visitor's cookies stay few."""

from __future__ import annotations

import time

import httpx

from coursehub.services.web.hub_oauth import SharedStateHubOAuth, cookie_options
from tests.conftest import PASSWORD
from tests.platform import sign_in, xsrf_from
from tests.teaching_client import hub_token
from tests.test_accounts import ask_for_reset, wait_for_reset_link

NEW_PASSWORD = "an entirely new passphrase"
# How long a course-service process may trust a sign-in it checked with the hub (hub_oauth).
SERVICE_TRUST_SECONDS = 30


def hub_token_works(platform, token: str) -> bool:
    answer = httpx.get(f"{platform.url}/hub/api/user", headers={"Authorization": f"token {token}"})
    return answer.status_code == 200


def hub_session_works(platform, http: httpx.Client) -> bool:
    answer = http.get(f"{platform.url}/hub/home", follow_redirects=False)
    return answer.status_code == 200


def service_session_ends(platform, http: httpx.Client) -> bool:
    """Whether the course pages stop taking this client's sign-in, within the service's trust."""
    deadline = time.monotonic() + SERVICE_TRUST_SECONDS + 10
    while time.monotonic() < deadline:
        if http.get(f"{platform.service_url}/api/me").status_code in (401, 403):
            return True
        time.sleep(2)
    return False


def test_changing_the_password_ends_every_other_session_and_keeps_this_one(
    platform, make_account, signed_in
):
    account = make_account()
    elsewhere = signed_in(account)  # a second browser, say one left signed in at a library
    token = hub_token(platform, account.username)
    assert hub_session_works(platform, elsewhere) and hub_token_works(platform, token)
    assert elsewhere.get(f"{platform.service_url}/api/me").status_code == 200

    here = signed_in(account)
    form = here.get(f"{platform.service_url}/account/password")
    assert form.status_code == 200 and "At least 10 characters" in form.text
    changed = here.post(
        f"{platform.service_url}/account/password",
        data={"_xsrf": xsrf_from(form), "current_password": PASSWORD, "password": NEW_PASSWORD},
    )
    # This browser is signed in again at once, with a fresh session.
    assert changed.status_code == 200 and changed.url.path.endswith("/dashboard")
    assert here.get(f"{platform.service_url}/api/me").json()["username"] == account.username
    assert hub_session_works(platform, here)

    assert not hub_token_works(platform, token), "the person's API token is revoked"
    assert not hub_session_works(platform, elsewhere), "the other browser's hub sign-in ended"
    assert service_session_ends(platform, elsewhere), "the other browser's course pages ended"

    with httpx.Client(follow_redirects=True, timeout=30) as fresh:
        assert sign_in(fresh, platform.url, account.email, PASSWORD).status_code == 403
        assert sign_in(fresh, platform.url, account.email, NEW_PASSWORD).status_code == 200


def test_a_wrong_current_password_changes_nothing_and_ends_nothing(
    platform, make_account, signed_in
):
    account = make_account()
    here = signed_in(account)
    token = hub_token(platform, account.username)
    form = here.get(f"{platform.service_url}/account/password")
    refused = here.post(
        f"{platform.service_url}/account/password",
        data={"_xsrf": xsrf_from(form), "current_password": "a guess", "password": NEW_PASSWORD},
    )
    assert refused.status_code == 400 and "not your current password" in refused.text
    assert hub_token_works(platform, token)
    assert hub_session_works(platform, here)


def test_a_password_reset_ends_every_session_and_revokes_tokens(
    platform, client, make_account, signed_in
):
    account = make_account()
    elsewhere = signed_in(account)
    token = hub_token(platform, account.username)

    ask_for_reset(client, platform, account.email)
    link = wait_for_reset_link(platform, account.email)
    form = client.get(link)
    reset = client.post(link, data={"_xsrf": xsrf_from(form), "password": NEW_PASSWORD})
    assert reset.status_code == 200 and reset.url.path.endswith("/dashboard")
    assert client.get(f"{platform.service_url}/api/me").json()["username"] == account.username

    assert not hub_token_works(platform, token)
    assert not hub_session_works(platform, elsewhere)
    assert service_session_ends(platform, elsewhere)


def test_the_sign_in_throttle_counts_one_account_however_it_is_named(
    platform, client, make_account
):
    account = make_account()
    for login in (account.email, account.username, account.email, account.username):
        assert sign_in(client, platform.url, login, "guessing").status_code == 403
    # The fifth failure, under either name, locks the account under both.
    assert sign_in(client, platform.url, account.username.upper(), "guess").status_code == 403
    for login in (account.email, account.username):
        locked = sign_in(client, platform.url, login, PASSWORD)
        assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text


def test_a_session_id_planted_before_sign_in_is_replaced(platform, make_account):
    account = make_account()
    planted = "0123456789abcdef0123456789abcdef"
    with httpx.Client(follow_redirects=True, timeout=30) as http:
        http.cookies.set("jupyterhub-session-id", planted, domain="127.0.0.1", path="/")
        assert sign_in(http, platform.url, account.email, PASSWORD).status_code == 200
        session_ids = [c.value for c in http.cookies.jar if c.name == "jupyterhub-session-id"]
    assert session_ids and planted not in session_ids


def test_every_cookie_set_while_signing_in_is_samesite_lax(platform, make_account):
    account = make_account()
    set_cookies: list[str] = []

    def collect(response: httpx.Response) -> None:
        set_cookies.extend(response.headers.get_list("set-cookie"))

    with httpx.Client(
        follow_redirects=True, timeout=30, event_hooks={"response": [collect]}
    ) as http:
        assert sign_in(http, platform.url, account.email, PASSWORD).status_code == 200
        form = http.get(f"{platform.service_url}/register")
        assert form.status_code == 200
    names = set()
    for header in set_cookies:
        lowered = header.lower()
        if header.split(";")[0].endswith('=""') or "max-age=0" in lowered:
            continue  # a cookie being cleared
        names.add(header.split("=", 1)[0])
        assert "samesite=lax" in lowered, header
        assert "httponly" in lowered or header.startswith("_xsrf="), header
    # The hub's sign-in and session, the course service's sign-in and both XSRF cookies.
    assert {
        "jupyterhub-hub-login",
        "jupyterhub-session-id",
        "_xsrf",
        "service-coursehub",
        "service-coursehub-oauth-state",
    } <= names


def test_cookies_are_secure_when_the_public_url_is_https():
    assert cookie_options("https://courses.example.org") == {"samesite": "Lax", "secure": True}
    assert cookie_options("http://127.0.0.1:8000") == {"samesite": "Lax"}


def test_signed_out_page_views_never_pile_up_oauth_state_cookies(platform, make_account):
    with httpx.Client(follow_redirects=False, timeout=30) as http:
        for _ in range(30):
            answer = http.get(f"{platform.service_url}/dashboard")
            assert answer.status_code == 302
        states = [c.name for c in http.cookies.jar if "oauth-state" in c.name]
        assert 1 <= len(states) <= 3, states
        header = "; ".join(f"{c.name}={c.value}" for c in http.cookies.jar)
        assert len(header) < 2048, "a visitor's cookies stay small"
        # And the visitor can still sign in and open the course pages.
        account = make_account()
        http.follow_redirects = True
        assert sign_in(http, platform.url, account.email, PASSWORD).status_code == 200
        assert http.get(f"{platform.service_url}/courses").status_code == 200


def test_a_process_forgets_the_sign_ins_of_a_person_whose_sessions_ended():
    auth = SharedStateHubOAuth(api_token="a service token")
    assert auth.cache_max_age == SERVICE_TRUST_SECONDS
    auth.cache["token:1"] = {"name": "ada", "kind": "user"}
    auth.cache["token:2"] = {"name": "grace", "kind": "user"}
    auth.forget_user("ada")
    assert auth.cache.get("token:1") is None
    assert auth.cache.get("token:2") == {"name": "grace", "kind": "user"}
