"""The filters of the analytics pages: a date range, a module and a group, read from the query and
refused with a sentence when they make no sense."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from coursehub.services.errors import Refusal

DEFAULT_DAYS = 30
LONGEST_RANGE_DAYS = 366 * 3
EARLIEST = date(2000, 1, 1)


@dataclass(frozen=True)
class Period:
    """Whole days from ``since`` to ``until``, both included (UTC days)."""

    since: date
    until: date

    @property
    def days(self) -> list[date]:
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days + 1)]

    def as_query(self) -> dict[str, str]:
        return {"from": self.since.isoformat(), "to": self.until.isoformat()}


def _day(raw: str, name: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise Refusal(
            f"The {name} date {raw[:40]!r} is not a date; write it as YYYY-MM-DD, "
            "for example 2026-09-01.",
            400,
            field=name,
        ) from None


def period_from(raw_from: str | None, raw_to: str | None, today: date) -> Period:
    """The period a page asked for (the last 30 days when it asked for none)."""
    until = _day(raw_to, "to") if raw_to else today
    since = _day(raw_from, "from") if raw_from else until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise Refusal(
            f"The period starts ({since.isoformat()}) after it ends ({until.isoformat()}); "
            "choose a start date before the end date.",
            400,
            field="from",
        )
    if since < EARLIEST or until > today + timedelta(days=1):
        raise Refusal(
            "Choose dates between 2000-01-01 and today: there is nothing to show outside them.",
            400,
            field="to" if until > today else "from",
        )
    if (until - since).days >= LONGEST_RANGE_DAYS:
        raise Refusal(
            "Choose a period of at most three years; shorter periods show the days better.",
            400,
            field="from",
        )
    return Period(since, until)


def module_from(raw: str | None, module_ids: set[int]) -> int | None:
    """The module to show (None: every module); one not in the course is refused."""
    if raw is None or raw.strip() in ("", "all"):
        return None
    if not raw.strip().isdigit() or int(raw) not in module_ids:
        raise Refusal("There is no such module in this course; choose one from the list.", 400)
    return int(raw)


def group_from(raw: str | None, groups: list[str]) -> str | None:
    """The group (section) to count in (None: every student); one not in the course is
    refused."""
    if raw is None or raw.strip() == "":
        return None
    name = " ".join(raw.split())
    if name not in groups:
        raise Refusal(
            "There is no such group in this course; choose one from the list "
            "(groups are set on the course's students page).",
            400,
            field="group",
        )
    return name
