"""The platforms (LMSs) administrators register: issuer, client id, deployment ids and the
platform's endpoints (OIDC authorisation, token, JWKS), and the course their launches open
when a launch names none. Functions leave committing to the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.errors import Refusal
from coursehub.services.models import Course, LtiPlatform

URL_FIELDS = {
    "auth_login_url": "OIDC authorisation URL",
    "auth_token_url": "access token URL",
    "key_set_url": "JWKS URL",
}


class LtiError(Refusal):
    """An LTI registration or launch CourseHub will not accept."""


@dataclass(frozen=True)
class PlatformForm:
    name: str
    issuer: str
    client_id: str
    deployment_ids: list[str]
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    course_slug: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> PlatformForm:
        deployments = body.get("deployment_ids", [])
        if isinstance(deployments, str):
            deployments = deployments.replace(",", "\n").splitlines()
        if not isinstance(deployments, list):
            raise LtiError("deployment_ids must be a list of strings.", field="deployment_ids")
        return cls(
            name=str(body.get("name", "")).strip(),
            issuer=str(body.get("issuer", "")).strip(),
            client_id=str(body.get("client_id", "")).strip(),
            deployment_ids=[str(d).strip() for d in deployments if str(d).strip()],
            auth_login_url=str(body.get("auth_login_url", "")).strip(),
            auth_token_url=str(body.get("auth_token_url", "")).strip(),
            key_set_url=str(body.get("key_set_url", "")).strip(),
            course_slug=str(body.get("course", "") or "").strip(),
        )


def _check_url(value: str, field: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(value) > 2000:
        raise LtiError(
            f"The {URL_FIELDS.get(field, field)} must be a full http(s) address, as the "
            "platform's tool registration page shows it.",
            field=field,
        )


async def register(session: AsyncSession, form: PlatformForm) -> LtiPlatform:
    """A new platform; every value is checked first, and an issuer + client id that is
    registered already is refused (409)."""
    if not form.issuer or len(form.issuer) > 500:
        raise LtiError(
            "Enter the platform's issuer (its iss), at most 500 characters.", field="issuer"
        )
    if not form.client_id or len(form.client_id) > 500:
        raise LtiError(
            "Enter the client id the platform gave CourseHub, at most 500 characters.",
            field="client_id",
        )
    if not form.deployment_ids:
        raise LtiError(
            "Enter at least one deployment id (the platform shows it once the tool is deployed).",
            field="deployment_ids",
        )
    for field in URL_FIELDS:
        _check_url(getattr(form, field), field)
    course_id = None
    if form.course_slug:
        course = await session.scalar(select(Course).where(Course.slug == form.course_slug))
        if course is None:
            raise LtiError(
                f"There is no course at the address {form.course_slug!r}.", field="course"
            )
        course_id = course.id
    taken = await session.scalar(
        select(LtiPlatform.id).where(
            LtiPlatform.issuer == form.issuer, LtiPlatform.client_id == form.client_id
        )
    )
    if taken is not None:
        raise LtiError(
            "This issuer and client id are registered already; delete that registration first.",
            409,
            field="client_id",
        )
    platform = LtiPlatform(
        name=form.name[:200] or form.issuer[:200],
        issuer=form.issuer,
        client_id=form.client_id,
        deployment_ids=form.deployment_ids,
        auth_login_url=form.auth_login_url,
        auth_token_url=form.auth_token_url,
        key_set_url=form.key_set_url,
        course_id=course_id,
    )
    session.add(platform)
    await session.flush()
    return platform


async def all_platforms(session: AsyncSession) -> list[LtiPlatform]:
    return list(await session.scalars(select(LtiPlatform).order_by(LtiPlatform.id)))


async def for_issuer(session: AsyncSession, issuer: str) -> list[LtiPlatform]:
    return list(
        await session.scalars(
            select(LtiPlatform).where(LtiPlatform.issuer == issuer).order_by(LtiPlatform.id)
        )
    )


def platform_json(platform: LtiPlatform) -> dict[str, Any]:
    return {
        "id": platform.id,
        "name": platform.name,
        "issuer": platform.issuer,
        "client_id": platform.client_id,
        "deployment_ids": list(platform.deployment_ids),
        "auth_login_url": platform.auth_login_url,
        "auth_token_url": platform.auth_token_url,
        "key_set_url": platform.key_set_url,
        "course_id": platform.course_id,
        "created_at": platform.created_at,
    }
