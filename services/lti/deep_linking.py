"""Deep Linking (LtiDeepLinkingRequest): an instructor in the LMS picks CourseHub content and
it goes back as LTI resource links. A validated request is kept in Redis under a single-use
picker token (30 minutes) bound to the person it signed in; the picker lists the course's
lessons, assignments and quizzes; the chosen ones go back to the platform's return URL as an
``LtiDeepLinkingResponse`` signed with CourseHub's key by pylti1p3's message builder, each a
resource link whose custom parameters name its CourseHub target, gradable ones with a line
item (found again by ``resourceId`` when it is launched)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import redis
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coursehub.services.lti.line_items import line_item_json, signing_registration
from coursehub.services.lti.platforms import LtiError
from coursehub.services.lti.pylti1p3_adapters import PlatformSnapshot
from coursehub.services.models import Assignment, Course, Lesson, Module, Quiz

SETTINGS_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
PICKER_SECONDS = 1800
_KEY = "coursehub:lti:deep-link:"
KINDS = ("lesson", "assignment", "quiz")


@dataclass(frozen=True)
class PickerRequest:
    """What a deep-linking request left for its picker."""

    platform_id: int
    deployment_id: str
    account_id: int
    course_id: int
    settings: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


def settings_of(claims: dict[str, Any]) -> dict[str, Any]:
    """The request's deep-linking settings; a request without a return URL is refused."""
    settings = claims.get(SETTINGS_CLAIM)
    if not isinstance(settings, dict) or not str(settings.get("deep_link_return_url", "")):
        raise LtiError(
            "CourseHub could not accept this content selection from your LMS: it names no "
            "address to return the choice to (deep_link_return_url). Ask your LMS "
            "administrator to check CourseHub's registration.",
            400,
        )
    return settings


def keep(client: redis.Redis, request: PickerRequest) -> str:
    token = secrets.token_urlsafe(24)
    client.set(f"{_KEY}{token}", request.to_json(), ex=PICKER_SECONDS)
    return token


def find(client: redis.Redis, token: str, *, use: bool = False) -> PickerRequest:
    """The request behind a picker token (``use``: and forget it: one answer per request)."""
    key = f"{_KEY}{token}"
    raw = client.getdel(key) if use else client.get(key)
    if raw is None:
        raise LtiError(
            "This content selection has expired or was answered already; start it again "
            "from your LMS.",
            404,
        )
    return PickerRequest(**json.loads(raw))


@dataclass(frozen=True)
class Choice:
    kind: str  # lesson, assignment or quiz
    id: int
    title: str
    gradable: bool
    item: Assignment | Quiz | None

    @property
    def value(self) -> str:
        return f"{self.kind}-{self.id}"


async def choices(session: AsyncSession, course: Course) -> list[Choice]:
    """The course's lessons (syllabus order), assignments and quizzes."""
    lessons = await session.execute(
        select(Lesson.id, Lesson.title)
        .join(Module, Module.id == Lesson.module_id)
        .where(Module.course_id == course.id)
        .order_by(Module.position, Module.id, Lesson.position, Lesson.id)
    )
    found = [Choice("lesson", row.id, row.title, False, None) for row in lessons]
    for assignment in await session.scalars(
        select(Assignment).where(Assignment.course_id == course.id).order_by(Assignment.id)
    ):
        found.append(Choice("assignment", assignment.id, assignment.title, True, assignment))
    for quiz in await session.scalars(
        select(Quiz).where(Quiz.course_id == course.id).order_by(Quiz.id)
    ):
        found.append(Choice("quiz", quiz.id, quiz.title, True, quiz))
    return found


def resources(chosen: list[Choice], course: Course, launch_url: str) -> list[DeepLinkResource]:
    """Resource links to CourseHub's launch URL, naming their targets; gradable ones with
    their line item."""
    links = []
    for choice in chosen:
        link = (
            DeepLinkResource()
            .set_url(launch_url)
            .set_title(choice.title)
            .set_custom_params({"course": course.slug, choice.kind: str(choice.id)})
        )
        if choice.item is not None:
            link.set_lineitem(LineItem(line_item_json(choice.item)))  # type: ignore[arg-type]
        links.append(link)
    return links


def response_jwt(
    platform: PlatformSnapshot,
    signing_key_pem: str,
    request: PickerRequest,
    links: list[DeepLinkResource],
) -> str:
    """The signed LtiDeepLinkingResponse (pylti1p3 builds it; its ``data`` echoed back)."""
    registration = signing_registration(platform, signing_key_pem)
    deep_link = DeepLink(registration, request.deployment_id, request.settings)  # type: ignore[arg-type]
    return deep_link.get_response_jwt(links)
