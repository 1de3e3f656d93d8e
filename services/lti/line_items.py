"""Assignment and Grade Services, line items: the LMS context a launch came from is kept
with the line-items endpoint it named, and each CourseHub assignment and quiz gets one line item
per context, made idempotently: CourseHub's own record first, then the platform's line items
searched by ``resourceId`` (a reply lost after the platform made one), and only then a new
one. The platform is called in a thread (pylti1p3 is synchronous), with CourseHub's signing
key for the service token."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from cryptography.hazmat.primitives import serialization
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.lineitem import LineItem
from pylti1p3.registration import Registration
from pylti1p3.service_connector import ServiceConnector
from requests import RequestException
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.lti import tool_keys
from coursehub.services.lti.launch import ValidLaunch
from coursehub.services.lti.pylti1p3_adapters import DatabaseToolConf, PlatformSnapshot
from coursehub.services.models import (
    Assignment,
    Course,
    LtiContext,
    LtiLineItem,
    LtiPlatform,
    Quiz,
    utcnow,
)

log = logging.getLogger(__name__)

AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
CONTEXT_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/context"
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
TAG = "coursehub"


Gradable = Assignment | Quiz


def kind_of(assessment: Gradable) -> str:
    """``assignment`` or ``quiz``: the gradebook's column kind (``<kind>-<id>``)."""
    return "assignment" if isinstance(assessment, Assignment) else "quiz"


def resource_id(assessment: Gradable) -> str:
    return f"coursehub-{kind_of(assessment)}-{assessment.id}"


def _same(assessment: Gradable) -> Any:
    if isinstance(assessment, Assignment):
        return LtiLineItem.assignment_id == assessment.id
    return LtiLineItem.quiz_id == assessment.id


def line_item_json(assessment: Gradable) -> dict[str, Any]:
    """The AGS line item CourseHub asks for (also in a deep-linking answer)."""
    return {
        "scoreMaximum": assessment.max_score or 1,
        "label": assessment.title,
        "resourceId": resource_id(assessment),
        "tag": TAG,
    }


async def remember_context(
    session: AsyncSession, platform: LtiPlatform, course: Course, launch: ValidLaunch
) -> LtiContext | None:
    """The launch's LMS context, kept (or updated) with its AGS endpoint; None without one."""
    context = launch.claims.get(CONTEXT_CLAIM) or {}
    context_id = str(context.get("id", "")) if isinstance(context, dict) else ""
    if not context_id:
        return None
    ags = launch.claims.get(AGS_CLAIM) or {}
    ags = ags if isinstance(ags, dict) else {}
    values = {
        "course_id": course.id,
        "title": str(context.get("title", ""))[:500],
        "lineitems_url": str(ags["lineitems"])[:2000] if ags.get("lineitems") else None,
        "ags_scopes": [str(scope) for scope in ags.get("scope", []) if isinstance(scope, str)],
        "updated_at": utcnow(),
    }
    row_id = await session.scalar(
        insert(LtiContext)
        .values(platform_id=platform.id, context_id=context_id[:255], **values)
        .on_conflict_do_update(index_elements=["platform_id", "context_id"], set_=values)
        .returning(LtiContext.id)
    )
    return await session.get(LtiContext, row_id, populate_existing=True)


def signing_registration(platform: PlatformSnapshot, signing_key_pem: str) -> Registration:
    """pylti1p3's registration of ``platform`` that signs with CourseHub's key, naming it by
    the kid the JWKS publishes (its thumbprint)."""
    config = DatabaseToolConf([platform], signing_key_pem)
    registration: Registration = config.find_registration_by_params(
        platform.issuer, platform.client_id
    )
    private = serialization.load_pem_private_key(signing_key_pem.encode(), password=None)
    registration.set_tool_public_key(
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return registration


def ags_service(
    platform: PlatformSnapshot, signing_key_pem: str, context: dict[str, Any]
) -> AssignmentsGradesService:
    """pylti1p3's AGS client for ``context`` (scopes, lineitems URL), signing its service
    token requests with CourseHub's key (named by the kid the JWKS publishes)."""
    registration = signing_registration(platform, signing_key_pem)
    return AssignmentsGradesService(
        ServiceConnector(registration),
        {"scope": context["scopes"], "lineitems": context["lineitems_url"]},
    )


def _find_or_create(
    platform: PlatformSnapshot,
    signing_key_pem: str,
    context: dict[str, Any],
    item: dict[str, Any],
) -> str:
    """The platform's line item for ``item`` (found by resourceId, else made): its URL."""
    service = ags_service(platform, signing_key_pem, context)
    found = service.find_or_create_lineitem(LineItem(item), find_by="resource_id")
    line_item_url = found.get_id()
    if not line_item_url:
        raise LtiException("the platform's line item has no id")
    return str(line_item_url)


async def ensure_line_item(
    session: AsyncSession, platform: LtiPlatform, context: LtiContext, assessment: Gradable
) -> LtiLineItem | None:
    """The assignment's or quiz's line item in ``context`` (made on the platform when it has
    none); None when the context allows no line items or the platform could not be reached
    (logged: a later launch tries again). The caller commits."""
    mine = (LtiLineItem.lti_context_id == context.id, _same(assessment))
    known = await session.scalar(select(LtiLineItem).where(*mine))
    if known is not None:
        return known
    if not context.lineitems_url or SCOPE_LINEITEM not in context.ags_scopes:
        return None
    key = await tool_keys.signing_key(session)
    try:
        url = await asyncio.to_thread(
            _find_or_create,
            PlatformSnapshot.of(platform),
            key.private_key_pem,
            {"scopes": list(context.ags_scopes), "lineitems_url": context.lineitems_url},
            line_item_json(assessment),
        )
    except (LtiException, LtiServiceException, RequestException, ValueError) as error:
        log.warning(
            "No line item for %s on %s yet: %s", resource_id(assessment), platform.issuer, error
        )
        return None
    kind = kind_of(assessment)
    await session.execute(
        insert(LtiLineItem)
        .values(lti_context_id=context.id, lineitem_url=url, **{f"{kind}_id": assessment.id})
        .on_conflict_do_nothing(index_elements=["lti_context_id", f"{kind}_id"])
    )
    return await session.scalar(select(LtiLineItem).where(*mine))
