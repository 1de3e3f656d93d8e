"""A small LMS for the LTI tests of roster sync and Dynamic Registration: a real HTTP server
speaking the platform's side of the specs CourseHub talks to, where ``lti1p3platform`` (which
builds and signs the launches) has no server of its own.

- ``/jwks``: the platform's public keys; ``/auth``: its OIDC authorisation URL (the test
  plays the browser and answers it itself).
- ``/token``: OAuth 2 client credentials with a JWT client assertion, verified against the
  tool's published JWKS; the access token remembers the scopes it was granted.
- ``/nrps/<context>/members``: a Names and Role Provisioning Services membership container,
  ``page_size`` members a page with ``Link: <...>; rel="next"``; a bearer token with the NRPS
  scope is required.
- ``/.well-known/openid-configuration`` and ``/register``: LTI Dynamic Registration's
  platform configuration and registration endpoint (which checks the registration token and
  keeps the tool's configuration, answering with a client id).

``failure`` makes the next answers of one endpoint an HTTP error, to test refusals.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
LEARNER = [f"{MEMBERSHIP}#Learner"]
INSTRUCTOR = [f"{MEMBERSHIP}#Instructor"]
TEACHING_ASSISTANT = [f"{MEMBERSHIP}/Instructor#TeachingAssistant"]
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
NRPS_MEDIA = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"


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


def member(user_id: str, roles: list[str], status: str = "Active") -> dict[str, Any]:
    return {
        "user_id": user_id,
        "name": f"Person {user_id}",
        "given_name": "Person",
        "family_name": user_id,
        "email": f"{user_id}@lms.example.edu",
        "roles": roles,
        "status": status,
    }


class StandinPlatform:
    """The LMS's HTTP side. ``issuer`` is its own address unless given."""

    def __init__(self, issuer: str | None = None) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.tool_jwks_url = ""
        self.tokens: dict[str, set[str]] = {}
        self.token_requests: list[dict[str, str]] = []
        self.rosters: dict[str, list[dict[str, Any]]] = {}
        self.page_size = 2
        self.pages_read: list[str] = []
        self.failure: dict[str, tuple[int, str]] = {}
        # Dynamic registration
        self.registration_token = ""
        self.registrations: list[dict[str, Any]] = []
        self.openid_overrides: dict[str, Any] = {}
        self.registration_answer: dict[str, Any] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if owner.fail(self, url.path):
                    return
                if url.path == "/jwks":
                    self.answer(owner.jwks)
                elif url.path == "/.well-known/openid-configuration":
                    self.answer(owner.openid_configuration())
                elif url.path.startswith("/nrps/") and url.path.endswith("/members"):
                    if not owner.granted(self.headers.get("Authorization", ""), NRPS_SCOPE):
                        self.answer({"error": "invalid_token"}, status=401)
                        return
                    context = url.path.removeprefix("/nrps/").removesuffix("/members")
                    owner.pages_read.append(self.path)
                    self.members_page(context, int(query.get("Page", "1")))
                else:
                    self.answer({"error": "not found"}, status=404)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                path = urlsplit(self.path).path
                if owner.fail(self, path):
                    return
                if path == "/token":
                    form = {k: v[0] for k, v in parse_qs(body).items()}
                    answer, status = owner.issue_token(form)
                    self.answer(answer, status=status)
                elif path == "/register":
                    answer, status = owner.register(self.headers.get("Authorization", ""), body)
                    self.answer(answer, status=status)
                else:
                    self.answer({"error": "not found"}, status=404)

            def members_page(self, context: str, page: int) -> None:
                everyone = owner.rosters.get(context, [])
                start = (page - 1) * owner.page_size
                shown = everyone[start : start + owner.page_size]
                headers = {}
                if start + owner.page_size < len(everyone):
                    # Capitals in the address: a tool must follow it as written.
                    headers["Link"] = (
                        f'<{owner.url}/nrps/{context}/members?Page={page + 1}>; rel="next"'
                    )
                container = {
                    "id": f"{owner.url}/nrps/{context}/members",
                    "context": {"id": context, "title": "Data Analysis 101"},
                    "members": shown,
                }
                self.answer(container, kind=NRPS_MEDIA, headers=headers)

            def answer(
                self,
                payload: Any,
                *,
                status: int = 200,
                kind: str = "application/json",
                headers: dict[str, str] | None = None,
            ) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = issuer or self.url
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fail(self, handler: BaseHTTPRequestHandler, path: str) -> bool:
        for prefix, (status, text) in self.failure.items():
            if path.startswith(prefix):
                data = text.encode()
                handler.send_response(status)
                handler.send_header("Content-Type", "text/plain")
                handler.send_header("Content-Length", str(len(data)))
                handler.end_headers()
                handler.wfile.write(data)
                return True
        return False

    # -- OAuth 2 client credentials (the token endpoint) ----------------------------------

    def issue_token(self, form: dict[str, str]) -> tuple[dict[str, Any], int]:
        self.token_requests.append(form)
        try:
            assertion = form["client_assertion"]
            key = jwt.PyJWKClient(self.tool_jwks_url).get_signing_key_from_jwt(assertion)
            jwt.decode(assertion, key.key, algorithms=["RS256"], audience=f"{self.url}/token")
        except (KeyError, jwt.PyJWTError) as error:
            return {"error": "invalid_client", "error_description": str(error)}, 401
        token = secrets.token_urlsafe(16)
        self.tokens[token] = set(form.get("scope", "").split())
        return {"access_token": token, "token_type": "Bearer", "expires_in": 3600}, 200

    def granted(self, header: str, scope: str) -> bool:
        return scope in self.tokens.get(header.removeprefix("Bearer "), set())

    def memberships_url(self, context: str) -> str:
        return f"{self.url}/nrps/{context}/members"

    # -- LTI Dynamic Registration ---------------------------------------------------------

    def openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.url}/auth",
            "token_endpoint": f"{self.url}/token",
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "jwks_uri": f"{self.url}/jwks",
            "registration_endpoint": f"{self.url}/register",
            "scopes_supported": ["openid", NRPS_SCOPE],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                "product_family_code": "standin",
                "version": "1.0",
                "messages_supported": [
                    {"type": "LtiResourceLinkRequest"},
                    {"type": "LtiDeepLinkingRequest"},
                ],
            },
            **self.openid_overrides,
        }

    def register(self, authorization: str, body: str) -> tuple[dict[str, Any], int]:
        if self.registration_token and authorization != f"Bearer {self.registration_token}":
            return {"error": "invalid_token"}, 401
        try:
            configuration = json.loads(body)
        except ValueError:
            return {"error": "invalid_client_metadata"}, 400
        client_id = f"standin-{secrets.token_hex(4)}"
        tool = dict(configuration.get(TOOL_CONFIGURATION, {}))
        tool["deployment_id"] = f"deployment-{len(self.registrations) + 1}"
        answer = {**configuration, "client_id": client_id, TOOL_CONFIGURATION: tool}
        answer.update(self.registration_answer)
        self.registrations.append({"request": configuration, "answer": answer})
        return answer, 200

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- Launches, built and signed by lti1p3platform ------------------------------------------


class _PeerConfig(LTI1P3PlatformConfAbstract):
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


class _PeerLogin(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str) -> str:
        return url


class _PeerLaunch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return launch_data


class _PeerRequest:
    def __init__(self, get_data: dict[str, str]) -> None:
        self.get_data = get_data
        self.form_data: dict[str, str] = {}


class Launcher:
    """The LMS's launches into CourseHub for one registration (client id, deployment)."""

    def __init__(
        self, lms: StandinPlatform, service_url: str, client_id: str, deployment_id: str
    ) -> None:
        self.lms = lms
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.private_key = private_pem()
        self.config = _PeerConfig(
            iss=lms.issuer,
            client_id=client_id,
            deployment_id=deployment_id,
            oidc_login_url=f"{service_url}/lti/login",
            launch_url=f"{service_url}/lti/launch",
            public_key=public_pem(self.private_key),
            private_key=self.private_key,
        )
        self.registration = self.config.get_registration()
        lms.jwks["keys"].extend(self.registration.get_jwks())

    def registration_form(self, course_slug: str) -> dict[str, Any]:
        return {
            "name": "Stand-in LMS",
            "issuer": self.lms.issuer,
            "client_id": self.client_id,
            "deployment_ids": [self.deployment_id],
            "auth_login_url": f"{self.lms.url}/auth",
            "auth_token_url": f"{self.lms.url}/token",
            "key_set_url": f"{self.lms.url}/jwks",
            "course": course_slug,
        }

    def launch(
        self,
        browser: httpx.Client,
        user_id: str,
        roles: list[str],
        *,
        context: str = "context-1",
        nrps: bool = True,
        **custom: str,
    ) -> httpx.Response:
        """The browser opens CourseHub's login initiation, is sent to the LMS's
        authorisation URL, and posts the signed launch back (as the LMS's page would)."""
        login = _PeerLogin(_PeerRequest({}), self.config)
        login.set_lti_message_hint(hint="resource-1")
        answer = browser.get(login.initiate_login(user_id), follow_redirects=False)
        assert answer.status_code == 302, answer.text[:500]
        authorisation = {
            k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()
        }
        launch = _PeerLaunch(_PeerRequest(authorisation), self.config)
        launch._registration = self.registration
        if nrps:
            launch.set_nrps(context_memberships_url=self.lms.memberships_url(context))
        launch.set_user_data(user_id, roles, full_name=f"Person {user_id}")
        launch.set_resource_link_claim("resource-1", title="Week 1")
        launch.set_launch_context_claim(context, context_title="Data Analysis 101")
        if custom:
            launch.set_custom_parameters_claim(custom)
        claims, _ = launch.get_launch_data()
        now = int(time.time())
        token = jwt.encode(
            {**claims, "iat": now, "exp": now + 300},
            self.private_key,
            algorithm="RS256",
            headers={"kid": str(self.registration.get_kid())},
        )
        return browser.post(
            authorisation["redirect_uri"],
            data={"id_token": token, "state": authorisation["state"]},
            follow_redirects=True,
        )
