"""JSON as CourseHub's API writes it: one encoder for every answer and event.

Date-times are RFC 3339 (``2026-12-07T05:58:34+00:00``), as the OpenAPI document promises;
``str()`` of a datetime has a space instead of the ``T``. Dates are ISO 8601 and anything
else that is not JSON (decimals, UUIDs, paths) is written as its text.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any


def json_default(value: Any) -> Any:
    """``json.dumps``'s ``default``: RFC 3339 for times, text for the rest."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC).isoformat()  # CourseHub keeps times in UTC
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def dumps(payload: Any) -> str:
    return json.dumps(payload, default=json_default)
