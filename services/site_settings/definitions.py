"""Every site setting, declared once: its kind, default, label and how its input is read."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email

from coursehub.services.errors import Refusal

REGISTRATION_CHOICES = {
    "open": "Open: anyone may register",
    "closed": "Closed: nobody registers (administrators add people)",
    "invitation": "Invitation only: people an administrator imported or invited",
    "domains": "Only email addresses of the allowed domains",
}
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _text(key: str, limit: int) -> Callable[[Any], str]:
    def read(raw: Any) -> str:
        value = str(raw if raw is not None else "").strip()
        if len(value) > limit:
            raise Refusal(f"This setting can be at most {limit} characters.", 400, field=key)
        return value

    return read


def _name(raw: Any) -> str:
    value = _text("platform_name", 80)(raw)
    if not value:
        raise Refusal("Give the platform a name.", 400, field="platform_name")
    return value


def _registration(raw: Any) -> str:
    value = str(raw or "").strip()
    if value not in REGISTRATION_CHOICES:
        raise Refusal(
            "Registration must be one of: " + ", ".join(REGISTRATION_CHOICES) + ".",
            400,
            field="registration",
        )
    return value


def _domains(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else re.split(r"[\s,]+", str(raw or ""))
    domains: list[str] = []
    for item in items:
        domain = str(item).strip().lower().lstrip("@")
        if not domain:
            continue
        if not _DOMAIN.match(domain):
            raise Refusal(
                f"{domain!r} is not an email domain (like example.edu).",
                400,
                field="allowed_domains",
            )
        if domain not in domains:
            domains.append(domain)
    return domains


def _positive(key: str, limit: int) -> Callable[[Any], int | None]:
    """A whole number from 1 to ``limit``; empty means the environment's value."""

    def read(raw: Any) -> int | None:
        if raw is None or str(raw).strip() == "":
            return None
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise Refusal("Give a whole number, or leave it empty.", 400, field=key) from None
        if not 1 <= value <= limit:
            raise Refusal(f"Give a number from 1 to {limit}.", 400, field=key)
        return value

    return read


def _flag(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    return str(raw).strip().lower() in ("1", "true", "on", "yes")


def _email(raw: Any) -> str:
    value = str(raw or "").strip()
    if not value:
        return ""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise Refusal(
            f"The support address is not valid: {error}", 400, field="support_email"
        ) from None


@dataclass(frozen=True)
class Definition:
    key: str
    label: str
    help: str
    kind: str  # text, choice, domains, number, flag, email
    default: Any
    read: Callable[[Any], Any]


DEFINITIONS: tuple[Definition, ...] = (
    Definition(
        "platform_name",
        "Platform name",
        "Shown in every page's navigation and title.",
        "text",
        "CourseHub",
        _name,
    ),
    Definition(
        "registration",
        "Registration",
        "Who may create an account.",
        "choice",
        "open",
        _registration,
    ),
    Definition(
        "allowed_domains",
        "Allowed email domains",
        "With registration limited to domains: one per line or separated by commas.",
        "domains",
        [],
        _domains,
    ),
    Definition(
        "max_notebook_mb",
        "Notebook upload limit (MB)",
        "Empty: the environment's COURSEHUB_MAX_NOTEBOOK_MB.",
        "number",
        None,
        _positive("max_notebook_mb", 1000),
    ),
    Definition(
        "max_thumbnail_mb",
        "Thumbnail upload limit (MB)",
        "Empty: the environment's COURSEHUB_MAX_THUMBNAIL_MB.",
        "number",
        None,
        _positive("max_thumbnail_mb", 100),
    ),
    Definition(
        "max_video_mb",
        "Video upload limit (MB)",
        "Empty: the environment's COURSEHUB_MAX_VIDEO_MB.",
        "number",
        None,
        _positive("max_video_mb", 20000),
    ),
    Definition(
        "lesson_kernels_per_person",
        "Lesson kernels per person",
        "Live lesson kernels one person may hold at once. Empty: the environment's.",
        "number",
        None,
        _positive("lesson_kernels_per_person", 50),
    ),
    Definition(
        "server_memory_mb",
        "Notebook server memory (MB)",
        "Default memory limit of a person's notebook server. Empty: the hub's default.",
        "number",
        None,
        _positive("server_memory_mb", 262144),
    ),
    Definition(
        "server_cpus",
        "Notebook server CPUs",
        "Default CPU limit of a person's notebook server. Empty: the hub's default.",
        "number",
        None,
        _positive("server_cpus", 256),
    ),
    Definition(
        "course_approval",
        "New courses need approval",
        "Instructors submit a course for review; an administrator publishes it.",
        "flag",
        False,
        _flag,
    ),
    Definition(
        "support_email", "Support address", "Shown to people who need help.", "email", "", _email
    ),
)
BY_KEY = {definition.key: definition for definition in DEFINITIONS}
