"""OIDC third-party login initiation and launch validation with ``pylti1p3``.

Both run in a thread (``asyncio.to_thread``): pylti1p3 is synchronous. What pylti1p3 checks
(state cookie bound to the browser, nonce, registration, signature against the platform's
JWKS, deployment, message type and version, sub and roles) is made exact where the
certification asks more: ``aud`` must name the client id (and ``azp`` must when there are
several audiences), ``exp`` and ``iat`` are required with a minute's leeway, the nonce is
single-use (``RedisLaunchStorage``), and a ``kid`` not in the cached JWKS fetches it again once
(the platform rotated its key) before the launch is refused. pylti1p3 2.0 binds the state to
the browser by a cookie only: where the platform's storage held it instead
(``platform_storage``), that check is the one thing replaced, by the state the LMS's storage
gave back for this browser.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import redis
import requests
from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.oidc_login import OIDCLogin
from pylti1p3.session import SessionService

from coursehub.services.lti.platforms import LtiError
from coursehub.services.lti.pylti1p3_adapters import (
    CollectedCookies,
    CookieToSet,
    DatabaseToolConf,
    LocationRedirect,
    LtiRequest,
    RedisLaunchStorage,
)

LEEWAY_SECONDS = 60
JWKS_CACHE_SECONDS = 3600
JWKS_TIMEOUT_SECONDS = 10
LAUNCH_DATA_SECONDS = 600
# What a platform's login initiation carries that starts the same launch again (in a new window
# when the browser keeps CourseHub's cookies out of the LMS's iframe).
LOGIN_PARAMS = (
    "iss",
    "login_hint",
    "target_link_uri",
    "lti_message_hint",
    "lti_deployment_id",
    "client_id",
)
NEW_WINDOW = "lti1p3_new_window"
STORAGE_TARGET = "lti_storage_target"
LOGIN_KEY = "coursehub:lti:login:"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
RESOURCE_LINK = "LtiResourceLinkRequest"
DEEP_LINKING = "LtiDeepLinkingRequest"
ASK_ADMIN = (
    " Launch again from your course in the LMS; if it keeps happening, ask your LMS "
    "administrator to check CourseHub's registration."
)


def refusal(reason: str, status: int = 400) -> LtiError:
    return LtiError(
        f"CourseHub could not accept this launch from your LMS: {reason}.{ASK_ADMIN}", status
    )


def unverified_claims(id_token: str) -> dict[str, Any]:
    """The token's body before any check: only to find which platform's keys check it."""
    parts = id_token.split(".")
    if len(parts) != 3:
        raise refusal("the id_token is not a signed JWT")
    try:
        body = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        raise refusal("the id_token cannot be read") from None
    if not isinstance(body, dict):
        raise refusal("the id_token cannot be read")
    return body


class StateCookieMissing(LtiError):
    """The launch came back without the state cookie of the browser that started it."""


class CourseHubOIDCLogin(OIDCLogin):  # type: ignore[type-arg]
    def get_redirect(self, url: str) -> LocationRedirect:
        return LocationRedirect(url)


class CourseHubMessageLaunch(MessageLaunch):  # type: ignore[type-arg]
    """pylti1p3's launch with the stricter checks this module's docstring lists."""

    def __init__(
        self,
        request: LtiRequest,
        tool_config: DatabaseToolConf,
        client: redis.Redis,
        state_from_platform: str = "",
    ):
        self.state_from_platform = state_from_platform
        self.cookies = CollectedCookies(request)
        session = SessionService(request)
        super().__init__(request, tool_config, session, self.cookies)
        storage = RedisLaunchStorage(client)
        self.set_launch_data_storage(storage)
        self.set_launch_data_lifetime(LAUNCH_DATA_SECONDS)
        self.client = client
        self._refreshed_keys = False

    def _get_request_param(self, key: str) -> str:
        return self._request.get_param(key)

    def validate_state(self) -> CourseHubMessageLaunch:
        if not self.state_from_platform:
            return super().validate_state()  # type: ignore[no-any-return]
        # The platform's storage kept the state for this browser (no cookie in its iframe).
        state = self._get_request_param("state")
        if not state:
            raise LtiException("Missing state param")
        if not secrets.compare_digest(state, self.state_from_platform):
            raise LtiException("State not in platform storage")
        return self

    def _jwks_key(self, url: str) -> str:
        return f"coursehub:lti:jwks:{hashlib.sha256(url.encode()).hexdigest()}"

    def fetch_public_key(self, key_set_url: str) -> Any:
        if not self._refreshed_keys:
            cached = self.client.get(self._jwks_key(key_set_url))
            if cached is not None:
                return json.loads(cached)
        try:
            response = self._requests_session.get(key_set_url, timeout=JWKS_TIMEOUT_SECONDS)
            response.raise_for_status()
            key_set = response.json()
        except (requests.RequestException, ValueError) as error:
            raise LtiException(f"the platform's JWKS could not be read ({error})") from None
        if not isinstance(key_set, dict) or not isinstance(key_set.get("keys"), list):
            raise LtiException("the platform's JWKS holds no keys")
        self.client.set(self._jwks_key(key_set_url), json.dumps(key_set), ex=JWKS_CACHE_SECONDS)
        return key_set

    def get_public_key(self) -> tuple[str, str]:
        try:
            return super().get_public_key()
        except LtiException as error:
            if "Unable to find public key" not in str(error) or self._refreshed_keys:
                raise
        # The platform may have rotated its key since the JWKS was cached: fetch it once more.
        self._refreshed_keys = True
        self._registration.set_key_set(None)
        return super().get_public_key()

    def validate_jwt_signature(self) -> CourseHubMessageLaunch:
        public_key, algorithm = self.get_public_key()
        if algorithm not in ("RS256", "RS384", "RS512"):
            raise LtiException(f"the id_token is signed with {algorithm}, not RS256")
        client_id = self._registration.get_client_id()
        try:
            claims = jwt.decode(
                self._get_id_token(),
                public_key,
                algorithms=[algorithm],
                audience=client_id,
                issuer=self._registration.get_issuer(),
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
            )
        except jwt.ExpiredSignatureError:
            raise LtiException("the id_token has expired") from None
        except jwt.ImmatureSignatureError:
            raise LtiException("the id_token was issued in the future") from None
        except jwt.InvalidAudienceError:
            raise LtiException("the id_token is meant for another tool (aud)") from None
        except jwt.InvalidIssuerError:
            raise LtiException("the id_token names another issuer") from None
        except jwt.InvalidSignatureError:
            raise LtiException("the id_token's signature does not verify") from None
        except jwt.InvalidTokenError as error:
            raise LtiException(f"the id_token is not valid ({error})") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if (len(audiences) > 1 or "azp" in claims) and claims.get("azp") != client_id:
            raise LtiException("the id_token's authorised party (azp) is not CourseHub")
        return self


@dataclass
class LoginAnswer:
    location: str
    cookies: list[CookieToSet]

    @property
    def state(self) -> str:
        return parse_qs(urlsplit(self.location).query).get("state", [""])[0]


def login_params(request: LtiRequest) -> dict[str, str]:
    """The login initiation's own parameters (what starts the same launch again)."""
    return {name: value for name in LOGIN_PARAMS if (value := request.get_param(name))}


def new_window_url(login_url: str, params: dict[str, str]) -> str:
    """The platform's login initiation again, to be opened in a window of its own."""
    return f"{login_url}?{urlencode({**params, NEW_WINDOW: '1'})}"


def keep_login(
    client: redis.Redis, state: str, params: dict[str, str], storage_target: str = ""
) -> None:
    """Remember a login's parameters (and the platform's storage target, if it named one) by
    its state while its launch may come back."""
    if state:
        kept = {**params, STORAGE_TARGET: storage_target} if storage_target else params
        client.set(f"{LOGIN_KEY}{state}", json.dumps(kept), ex=LAUNCH_DATA_SECONDS)


def storage_target_of(client: redis.Redis, state: str) -> str:
    """The storage target the platform named in the login that issued ``state`` ('' if none)."""
    raw = client.get(f"{LOGIN_KEY}{state}") if state else None
    return str(json.loads(raw).get(STORAGE_TARGET, "")) if raw is not None else ""


def login_of(client: redis.Redis, state: str) -> dict[str, str] | None:
    """The parameters of the login that issued ``state`` (None: unknown or expired)."""
    raw = client.get(f"{LOGIN_KEY}{state}") if state else None
    if raw is None:
        return None
    params = json.loads(raw)
    return {k: str(v) for k, v in params.items() if k in LOGIN_PARAMS}


def start_login(
    request: LtiRequest, tool_config: DatabaseToolConf, client: redis.Redis, launch_url: str
) -> LoginAnswer:
    """The platform's authorisation address to send the browser to, and the state cookie."""
    cookies = CollectedCookies(request)
    login = CourseHubOIDCLogin(
        request, tool_config, SessionService(request), cookies, RedisLaunchStorage(client)
    )
    try:
        location = login.redirect(launch_url)
    except (OIDCException, LtiException) as error:
        raise LtiError(
            f"CourseHub could not start this sign-in from your LMS: {error}. "
            "Ask your LMS administrator to check CourseHub's registration.",
            400,
        ) from None
    return LoginAnswer(location, cookies.to_set)


@dataclass
class ValidLaunch:
    claims: dict[str, Any]
    cookies: list[CookieToSet]

    @property
    def deployment_id(self) -> str:
        return str(self.claims.get(f"{CLAIM}deployment_id", ""))

    @property
    def deep_linking(self) -> bool:
        return self.claims.get(f"{CLAIM}message_type") == DEEP_LINKING

    @property
    def roles(self) -> list[str]:
        return [str(role) for role in self.claims.get(f"{CLAIM}roles", [])]

    @property
    def custom(self) -> dict[str, str]:
        custom = self.claims.get(f"{CLAIM}custom") or {}
        return {str(k): str(v) for k, v in custom.items()} if isinstance(custom, dict) else {}


def validate_launch(
    request: LtiRequest,
    tool_config: DatabaseToolConf,
    client: redis.Redis,
    state_from_platform: str = "",
) -> ValidLaunch:
    """The launch's claims once every check passed; otherwise an ``LtiError`` that says which
    check failed (nothing is kept but the nonce it used up). ``state_from_platform``: the
    state the platform's storage gave back for this browser, checked instead of the cookie."""
    launch = CourseHubMessageLaunch(request, tool_config, client, state_from_platform)
    try:
        claims = dict(launch.get_launch_data())
    except (LtiException, OIDCException) as error:
        reason = refusal(_plain(str(error)), 401)
        if str(error) == "State not found":
            raise StateCookieMissing(reason.message, 401) from None
        raise reason from None
    if claims.get(f"{CLAIM}message_type") not in (RESOURCE_LINK, DEEP_LINKING):
        raise refusal(
            f"CourseHub does not handle {claims.get(f'{CLAIM}message_type')} messages yet"
        )
    return ValidLaunch(claims, launch.cookies.to_set)


_PLAIN = {
    "State not found": "this browser did not start the launch (its state cookie is missing)",
    "Missing state param": "the launch carries no state",
    "State not in platform storage": (
        "this browser did not start the launch (your LMS's storage does not hold its state)"
    ),
    "Invalid Nonce": "the id_token's nonce is unknown or was used already (a replayed launch)",
    '"nonce" is empty': "the id_token has no nonce",
    "Registration not found.": "no platform with this issuer and client id is registered",
    "Client id not registered for this issuer": "the client id is not registered for this issuer",
    "Unable to find deployment": "the deployment id is not registered for this platform",
    "Unable to find public key": "the platform's JWKS has no key with the id_token's kid",
    "Unrecognized message type": "the message type is not an LTI 1.3 message",
    "Invalid message type": "the id_token has no message type",
    "Missing Roles Claim": "the id_token has no roles claim",
    "Must have a user (sub)": "the id_token names no user (sub)",
    "Incorrect version, expected 1.3.0": "the LTI version is not 1.3.0",
    "Missing Resource Link Id": "the launch names no resource link",
    '"iss" is empty': "the id_token names no issuer",
}


def _plain(message: str) -> str:
    return _PLAIN.get(message, message)
