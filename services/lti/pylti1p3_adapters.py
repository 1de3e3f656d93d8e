"""The small adapters ``pylti1p3`` needs to run under Tornado: its request, cookie, redirect,
launch-data storage and tool configuration, built from a Tornado request and the registered
platforms. pylti1p3 is synchronous (it fetches JWKS with ``requests``), so ``launch`` runs it
in a thread: these adapters hold plain values and a synchronous Redis client, never the loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import redis
from pylti1p3.cookie import CookieService
from pylti1p3.deployment import Deployment
from pylti1p3.launch_data_storage.base import LaunchDataStorage
from pylti1p3.redirect import Redirect
from pylti1p3.registration import Registration
from pylti1p3.request import Request
from pylti1p3.tool_config.abstract import IssuerToClientRelation, ToolConfAbstract

from coursehub.services.models import LtiPlatform

COOKIE_PREFIX = "lti1p3"


@dataclass(frozen=True)
class PlatformSnapshot:
    """What pylti1p3 needs of a registered platform, read on the loop before the thread."""

    id: int
    issuer: str
    client_id: str
    deployment_ids: tuple[str, ...]
    auth_login_url: str
    auth_token_url: str
    key_set_url: str

    @classmethod
    def of(cls, platform: LtiPlatform) -> PlatformSnapshot:
        return cls(
            id=platform.id,
            issuer=platform.issuer,
            client_id=platform.client_id,
            deployment_ids=tuple(platform.deployment_ids),
            auth_login_url=platform.auth_login_url,
            auth_token_url=platform.auth_token_url,
            key_set_url=platform.key_set_url,
        )


class LtiRequest(Request):
    """A Tornado request's parameters (query and form) and cookies, as plain values."""

    def __init__(self, params: dict[str, str], cookies: dict[str, str], secure: bool) -> None:
        self.params = params
        self.cookies = cookies
        self.secure = secure

    @property
    def session(self) -> None:
        return None

    def is_secure(self) -> bool:
        return self.secure

    def get_param(self, key: str) -> str:
        return self.params.get(key, "")


@dataclass
class CookieToSet:
    name: str
    value: str
    max_age: int | None


class CollectedCookies(CookieService):
    """Reads the request's cookies; the cookies pylti1p3 sets are collected, and the handler
    writes them (SameSite=None; Secure over https, so the LMS's iframe keeps them)."""

    def __init__(self, request: LtiRequest) -> None:
        self.request = request
        self.to_set: list[CookieToSet] = []

    @staticmethod
    def full_name(name: str) -> str:
        return f"{COOKIE_PREFIX}-{name}"

    def get_cookie(self, name: str) -> str | None:
        return self.request.cookies.get(self.full_name(name))

    def set_cookie(self, name: str, value: str | int, exp: int | None = 3600) -> None:
        self.to_set.append(CookieToSet(self.full_name(name), str(value), exp))


class LocationRedirect(Redirect[str]):
    """pylti1p3's redirect as the address to send the browser to."""

    def __init__(self, location: str) -> None:
        self.location = location

    def do_redirect(self) -> str:
        return self.location

    def do_js_redirect(self) -> str:
        return self.location

    def set_redirect_url(self, location: str) -> None:
        self.location = location

    def get_redirect_url(self) -> str:
        return self.location


class RedisLaunchStorage(LaunchDataStorage[Any]):
    """Nonces, state and launch data in Redis, as JSON. A nonce is checked only once: the
    check deletes it (``GETDEL``), so a replayed id_token finds none. No session-id cookie:
    the state cookie binds a launch to its browser."""

    _prefix = "coursehub:lti:"

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def get_session_cookie_name(self) -> str | None:
        return None

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str) -> Any:
        raw = self.client.get(self._prepare_key(key))
        return json.loads(raw) if raw is not None else None

    def set_value(self, key: str, value: Any, exp: int | None = None) -> None:
        self.client.set(self._prepare_key(key), json.dumps(value), ex=exp)

    def check_value(self, key: str) -> bool:
        # pylti1p3 checks only nonces this way: single use.
        return self.client.getdel(self._prepare_key(key)) is not None


@dataclass
class DatabaseToolConf(ToolConfAbstract[LtiRequest]):
    """The registered platforms of one issuer (read before the thread) as pylti1p3's config;
    every issuer may have several client ids."""

    platforms: list[PlatformSnapshot]
    signing_key_pem: str = ""
    issuers_relation_types: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for platform in self.platforms:
            self.issuers_relation_types[platform.issuer] = (
                IssuerToClientRelation.MANY_CLIENTS_IDS_PER_ISSUER
            )

    def platform_for(self, iss: str, client_id: str | None) -> PlatformSnapshot | None:
        mine = [p for p in self.platforms if p.issuer == iss]
        if client_id:
            mine = [p for p in mine if p.client_id == client_id]
        return mine[0] if len(mine) == 1 else None

    def _registration(self, platform: PlatformSnapshot | None) -> Registration | None:
        if platform is None:
            return None
        registration = Registration()
        registration.set_issuer(platform.issuer).set_client_id(platform.client_id)
        registration.set_key_set_url(platform.key_set_url)
        registration.set_auth_login_url(platform.auth_login_url)
        registration.set_auth_token_url(platform.auth_token_url)
        if self.signing_key_pem:
            registration.set_tool_private_key(self.signing_key_pem)
        return registration

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Any:
        return self._registration(self.platform_for(iss, None))

    def find_registration_by_params(
        self, iss: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Any:
        return self._registration(self.platform_for(iss, client_id))

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, "")

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Deployment | None:
        platform = self.platform_for(iss, client_id or None)
        if platform is None or deployment_id not in platform.deployment_ids:
            return None
        return Deployment().set_deployment_id(deployment_id)
