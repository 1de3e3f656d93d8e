"""The rules of ``web.hub_oauth`` on their own: a pending sign-in travels in the OAuth state,
readable by any of the service's processes (they share its API token) and by nobody else,
and only until it expires; a state that was tampered with or is not ours reads as nothing."""

from __future__ import annotations

import json
import secrets
import time

from coursehub.services.web.hub_oauth import SharedStateHubOAuth

SERVICE_API_KEY = secrets.token_hex(16)  # every process of the service has it


def hub_auth(api_key: str = SERVICE_API_KEY) -> SharedStateHubOAuth:
    return SharedStateHubOAuth(api_token=api_key)


def test_another_process_of_the_service_reads_the_pending_sign_in():
    state = hub_auth().generate_state("/services/coursehub/courses", code_verifier="v")
    read = hub_auth()._decode_state(state)
    assert read["next_url"] == "/services/coursehub/courses"
    assert read["code_verifier"] == "v"
    assert read["nonce"]


def test_two_states_for_the_same_page_differ():
    auth = hub_auth()
    assert auth.generate_state("/a") != auth.generate_state("/a")


def test_a_state_made_with_another_token_reads_as_nothing():
    state = hub_auth(secrets.token_hex(16)).generate_state("/a")
    assert hub_auth()._decode_state(state) == {}


def test_a_tampered_or_foreign_state_reads_as_nothing():
    auth = hub_auth()
    state = auth.generate_state("/a")
    tampered = state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB")
    for bad in (tampered, "", "not-a-state", "é"):
        assert auth._decode_state(bad) == {}


def test_a_state_older_than_the_hubs_limit_has_expired():
    auth = hub_auth()
    old = time.time() - auth.oauth_state_max_age - 5
    stale = auth._state_box.encrypt_at_time(json.dumps({"next_url": "/a"}).encode(), int(old))
    assert auth._decode_state(stale.decode()) == {}
    fresh = auth._state_box.encrypt_at_time(json.dumps({"next_url": "/a"}).encode(), int(old) + 60)
    assert auth._decode_state(fresh.decode()) == {"next_url": "/a"}


def test_a_state_that_is_not_an_object_reads_as_nothing():
    auth = hub_auth()
    state = auth._state_box.encrypt(b"[1, 2]").decode()
    assert auth._decode_state(state) == {}


def test_clearing_a_state_keeps_nothing_to_clear():
    auth = hub_auth()
    state = auth.generate_state("/a")
    auth.clear_oauth_state(state)
    assert auth._decode_state(state)["next_url"] == "/a"
