"""What the readers and writers share: turning a file's numbers, tolerances and fill-in
answers into the bank's fields, and the image names a writer gives CourseHub's images."""

from __future__ import annotations

import math
import re
from typing import Any

# Moodle's and GIFT's short answers accept ``*`` as "any text".
_WILDCARD = "*"


def number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def short_answer(value: str, *, case_sensitive: bool) -> dict[str, Any]:
    """An accepted short answer; a Moodle wildcard ``*`` becomes a pattern."""
    parts = [part.replace("\\*", "*") for part in re.split(r"(?<!\\)\*", value.strip())]
    if len(parts) > 1:
        pattern = ".*".join(re.escape(part) for part in parts)
        return {"mode": "regex", "value": pattern if case_sensitive else f"(?i){pattern}"}
    return {"mode": "exact" if case_sensitive else "case_insensitive", "value": parts[0]}


def points_of(raw: str | None, default: float = 1.0) -> float:
    value = number(raw)
    return value if value is not None and value > 0 else default


def tag_from_category(path: str) -> str | None:
    """A Moodle category path (``$course$/top/Week 1``) as a tag (``week-1``)."""
    last = path.strip().rstrip("/").rsplit("/", 1)[-1].strip()
    if not last or last.startswith("$") or last.lower() in ("top", "default"):
        return None
    tag = re.sub(r"[^\w-]+", "-", last.lower()).strip("-")
    return tag[:60] or None


def _wildcard_of(pattern: str) -> str | None:
    """A pattern ``short_answer`` made from a wildcard answer, as that answer again."""
    pattern = pattern.removeprefix("(?i)")
    parts = [re.sub(r"\\(.)", r"\1", part) for part in pattern.split(".*")]
    if len(parts) < 2 or ".*".join(re.escape(part) for part in parts) != pattern:
        return None
    return _WILDCARD.join(parts)


def answer_text_for_export(answer: dict[str, Any], *, wildcards: bool = True) -> str | None:
    """A fill-in accepted answer as another LMS's short answer (None: it cannot be one);
    ``wildcards``: the LMS reads ``*`` as any text (Moodle does, Canvas does not)."""
    if answer["mode"] in ("exact", "case_insensitive"):
        value = str(answer["value"])
        return value.replace(_WILDCARD, "\\*") if wildcards else value
    if answer["mode"] == "regex" and wildcards:
        return _wildcard_of(str(answer["value"]))
    return None


def tolerance(answer: dict[str, Any]) -> float:
    """A numeric answer's tolerance as an absolute one (what Moodle and Canvas keep)."""
    value = float(answer["value"])
    return max(float(answer.get("abs_tol") or 0), float(answer.get("rel_tol") or 0) * abs(value))


def fraction_text(value: float) -> str:
    return f"{value:.5f}".rstrip("0").rstrip(".")
