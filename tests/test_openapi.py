"""The OpenAPI document (``services/web/openapi.yaml``) and the mounted routes agree: every
JSON route and method the service mounts is described, and everything described is mounted.

Read from the handler modules the service mounts (``lms.handler_modules``), so a new route
without its description, or a description left behind by a removed route, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from tornado import web

from coursehub.services import lms

DOCUMENT = Path(lms.__file__).parent / "web" / "openapi.yaml"
METHODS = ("get", "post", "put", "patch", "delete")
_LITERALS = re.compile(r"^[A-Za-z0-9_.-]+(\|[A-Za-z0-9_.-]+)*$")


def templates(pattern: str) -> list[str]:
    """A route's regex as path templates with ``{}`` for each parameter
    (``/api/courses/([a-z0-9-]+)/(enroll|unenroll)`` is two templates)."""
    pattern = pattern.removesuffix("/?").removesuffix("$")
    found = [""]
    depth, group, index = 0, "", 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and depth == 0:
            found = [f + pattern[index + 1] for f in found]
            index += 2
            continue
        if char == "\\":
            group += pattern[index : index + 2]
            index += 2
            continue
        if char == "(":
            depth += 1
            if depth == 1:
                index += 1
                continue
        elif char == ")":
            depth -= 1
            if depth == 0:
                words = group.split("|") if _LITERALS.match(group) else ["{}"]
                found = [f + word for f in found for word in words]
                group = ""
                index += 1
                continue
        if depth:
            group += char
        else:
            found = [f + char for f in found]
        index += 1
    return [path or "/" for path in found]


def mounted() -> set[tuple[str, str]]:
    routes = set()
    for module in lms.handler_modules():
        for pattern, handler, *_ in module.default_handlers(""):
            methods = [
                m for m in METHODS if getattr(handler, m) is not getattr(web.RequestHandler, m)
            ]
            routes.update((path, method) for path in templates(pattern) for method in methods)
    return routes


def described() -> set[tuple[str, str]]:
    document = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    return {
        (re.sub(r"\{[^}]+\}", "{}", path), method)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }


def test_every_mounted_json_route_and_method_is_described():
    json_routes = {(path, method) for path, method in mounted() if path.startswith("/api/")}
    assert sorted(json_routes - described()) == []


def test_everything_described_is_mounted():
    assert sorted(described() - mounted()) == []


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"/api/courses/([^/]+)/gradebook\.csv", ["/api/courses/{}/gradebook.csv"]),
        (
            r"/api/courses/([a-z0-9-]{0,119})/(enroll|unenroll)",
            [
                "/api/courses/{}/enroll",
                "/api/courses/{}/unenroll",
            ],
        ),
        (r"/learn/([\w-]+)/(\d+)/?", ["/learn/{}/{}"]),
        (r"/teach/?", ["/teach"]),
        (r"/?", ["/"]),
    ],
)
def test_templates(pattern, expected):
    assert templates(pattern) == expected
