"""LTI Dynamic Registration (IMS "LTI Dynamic Registration" 1.0), the tool's side.

An administrator pastes CourseHub's registration initiation URL into the LMS; the LMS opens
it with ``openid_configuration`` (the address of its OpenID configuration) and, usually, a
``registration_token``. CourseHub reads that configuration (``platform_configuration``: its
issuer must have the configuration address's origin, and in production every endpoint must
be https), sends its own tool configuration (``tool_configuration``) to the platform's
``registration_endpoint`` with the token, and keeps the client id and deployment id the
platform answers with as a registered platform (``complete``), the same row the admin page
makes. A platform whose issuer is registered once already has that registration updated
(its people, contexts and course stay linked); several registrations of one issuer are
refused: the administrator chooses on the admin page.

Only an administrator completes a registration: signed in to CourseHub in the window the LMS
opened, or holding a one-time registration link an administrator made (``make_link``).
Refusals raise ``LtiError`` with a sentence; nothing is registered unless the platform
answered with a client id and a deployment id.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import redis
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.lti import platforms
from coursehub.services.lti.platforms import LtiError, PlatformForm
from coursehub.services.models import LtiPlatform

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
SCOPES = (
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
)
TIMEOUT_SECONDS = 15
MAX_ANSWER_BYTES = 256 * 1024
LINK_SECONDS = 3600
_LINK_KEY = "coursehub:lti:registration-link:"
ENDPOINTS = {
    "authorization_endpoint": "OIDC authorisation endpoint",
    "token_endpoint": "token endpoint",
    "jwks_uri": "JWKS address",
    "registration_endpoint": "registration endpoint",
}


def refusal(reason: str, status: int = 400) -> LtiError:
    return LtiError(f"CourseHub could not register with this LMS: {reason}.", status)


# -- One-time registration links -----------------------------------------------------------


def _link_key(token: str) -> str:
    return _LINK_KEY + hashlib.sha256(token.encode()).hexdigest()


def make_link(client: redis.Redis, admin_id: int) -> str:
    """A one-time registration link's token (kept hashed, for ``LINK_SECONDS``)."""
    token = secrets.token_urlsafe(24)
    client.set(_link_key(token), str(admin_id), ex=LINK_SECONDS)
    return token


def link_admin(client: redis.Redis, token: str, *, use: bool = False) -> int:
    """The administrator who made the link (``use``: and the link is spent)."""
    raw = client.getdel(_link_key(token)) if use else client.get(_link_key(token))
    if raw is None:
        raise LtiError(
            "This registration link has expired or was used already; make a new one on "
            "CourseHub's LMS platforms page.",
            404,
        )
    return int(raw)


# -- The platform's configuration ----------------------------------------------------------


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.netloc or "").lower()


def check_address(url: str, what: str, *, https_only: bool) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise refusal(f"the LMS's {what} ({url[:200]!r}) is not a full http(s) address")
    if https_only and parts.scheme != "https":
        raise refusal(f"the LMS's {what} is not an https address, and CourseHub runs on https")
    return url


@dataclass(frozen=True)
class PlatformConfiguration:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    registration_endpoint: str
    product: str

    @classmethod
    def read(cls, url: str, body: Any, *, https_only: bool) -> PlatformConfiguration:
        """The LMS's OpenID configuration, checked: every endpoint present and an address,
        and its issuer of the configuration address's own origin."""
        if not isinstance(body, dict):
            raise refusal("the LMS's OpenID configuration is not a JSON object")
        issuer = str(body.get("issuer", "") or "")
        check_address(issuer, "issuer", https_only=https_only)
        if _origin(issuer) != _origin(url):
            raise refusal(
                f"the LMS's configuration names the issuer {issuer[:200]} but was read from "
                f"{urlsplit(url).netloc}: they must be the same site"
            )
        values = {}
        for name, what in ENDPOINTS.items():
            value = str(body.get(name, "") or "")
            if not value:
                raise refusal(f"the LMS's OpenID configuration gives no {what} ({name})")
            values[name] = check_address(value, what, https_only=https_only)
        product = body.get(PLATFORM_CONFIGURATION) or {}
        name = str(product.get("product_family_code", "")) if isinstance(product, dict) else ""
        return cls(issuer=issuer, product=name[:100], **values)


def _json(response: httpx.Response, what: str) -> Any:
    if len(response.content) > MAX_ANSWER_BYTES:
        raise refusal(f"the LMS's {what} is larger than {MAX_ANSWER_BYTES // 1024} KiB")
    try:
        return response.json()
    except ValueError:
        raise refusal(f"the LMS's {what} is not JSON") from None


def _platform_said(response: httpx.Response) -> str:
    """The platform's own words about an error, in one sentence."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        words = body.get("error_description") or body.get("error") or body.get("message")
        if words:
            return " ".join(str(words).split())[:300]
    return " ".join(response.text.split())[:300]


async def platform_configuration(
    http: httpx.AsyncClient, url: str, *, https_only: bool
) -> PlatformConfiguration:
    check_address(url, "OpenID configuration address", https_only=https_only)
    try:
        response = await http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError:
        raise refusal(f"the LMS's OpenID configuration at {url[:200]} could not be read") from None
    if response.status_code != 200:
        said = _platform_said(response)
        raise refusal(
            f"the LMS answered HTTP {response.status_code} for its OpenID configuration"
            + (f" ({said})" if said else "")
        )
    return PlatformConfiguration.read(
        url, _json(response, "OpenID configuration"), https_only=https_only
    )


# -- CourseHub's configuration and the exchange --------------------------------------------


@dataclass(frozen=True)
class ToolUrls:
    public_url: str
    login_url: str
    launch_url: str
    jwks_url: str


def tool_configuration(urls: ToolUrls, platform: PlatformConfiguration) -> dict[str, Any]:
    """What CourseHub asks the LMS to register (the spec's client registration request)."""
    del platform  # one configuration fits every LMS for now
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login_url,
        "redirect_uris": [urls.launch_url],
        "client_name": "CourseHub",
        "jwks_uri": urls.jwks_url,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(SCOPES),
        TOOL_CONFIGURATION: {
            "domain": urlsplit(urls.public_url).netloc,
            "description": "Notebook courses: lessons, assignments and quizzes, graded in "
            "CourseHub with scores sent back to the LMS.",
            "target_link_uri": urls.launch_url,
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": [
                {"type": "LtiResourceLinkRequest", "target_link_uri": urls.launch_url},
                {
                    "type": "LtiDeepLinkingRequest",
                    "target_link_uri": urls.launch_url,
                    "label": "CourseHub content",
                },
            ],
        },
    }


@dataclass(frozen=True)
class Registered:
    client_id: str
    deployment_id: str


async def send_registration(
    http: httpx.AsyncClient,
    platform: PlatformConfiguration,
    configuration: dict[str, Any],
    registration_token: str,
) -> Registered:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if registration_token:
        headers["Authorization"] = f"Bearer {registration_token}"
    try:
        response = await http.post(
            platform.registration_endpoint, content=json.dumps(configuration), headers=headers
        )
    except httpx.HTTPError:
        raise refusal("the LMS's registration endpoint could not be reached") from None
    if response.status_code not in (200, 201):
        said = _platform_said(response)
        raise refusal(
            f"the LMS refused the registration (HTTP {response.status_code}"
            + (f": {said}" if said else "")
            + ")"
        )
    body = _json(response, "registration answer")
    if not isinstance(body, dict):
        raise refusal("the LMS's registration answer is not a JSON object")
    client_id = str(body.get("client_id", "") or "").strip()
    tool = body.get(TOOL_CONFIGURATION) or {}
    deployment_id = (
        str(tool.get("deployment_id", "") or "").strip() if isinstance(tool, dict) else ""
    )
    if not client_id or len(client_id) > 500:
        raise refusal("the LMS's registration answer gives CourseHub no client id")
    if not deployment_id:
        raise refusal(
            "the LMS's registration answer gives no deployment id; deploy CourseHub in the LMS "
            "and register it on CourseHub's LMS platforms page with that deployment id"
        )
    return Registered(client_id, deployment_id[:255])


@dataclass(frozen=True)
class Outcome:
    platform: LtiPlatform
    updated: bool


async def keep(
    session: AsyncSession, platform: PlatformConfiguration, registered: Registered
) -> Outcome:
    """The registration kept as a platform: a new one, or the issuer's single existing one
    updated (the caller commits)."""
    found = await platforms.for_issuer(session, platform.issuer)
    if len(found) > 1:
        raise refusal(
            f"{platform.issuer} is registered {len(found)} times already; delete the ones "
            "not in use on CourseHub's LMS platforms page first",
            409,
        )
    if found:
        existing = found[0]
        existing.client_id = registered.client_id
        deployments = list(existing.deployment_ids)
        existing.deployment_ids = [
            *deployments,
            *([registered.deployment_id] if registered.deployment_id not in deployments else []),
        ]
        existing.auth_login_url = platform.authorization_endpoint
        existing.auth_token_url = platform.token_endpoint
        existing.key_set_url = platform.jwks_uri
        await session.flush()
        return Outcome(existing, True)
    form = PlatformForm(
        name=(platform.product or urlsplit(platform.issuer).netloc)[:200],
        issuer=platform.issuer,
        client_id=registered.client_id,
        deployment_ids=[registered.deployment_id],
        auth_login_url=platform.authorization_endpoint,
        auth_token_url=platform.token_endpoint,
        key_set_url=platform.jwks_uri,
        course_slug="",
    )
    return Outcome(await platforms.register(session, form), False)


async def already_registered(session: AsyncSession, issuer: str) -> list[LtiPlatform]:
    return await platforms.for_issuer(session, issuer)


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False)
