"""Calling the teaching endpoints as people do: a signed-in browser session (cookie + XSRF
header) or a hub API token, as the JupyterLab "Publish to course" extension does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from coursehub.services.models import Account
from tests.platform import xsrf_from


def hub_token(platform, username: str) -> str:  # type: ignore[no-untyped-def]
    """A hub API token of ``username`` (who must have signed in once), made by the service."""
    service_token = json.loads((platform.data_dir / "secrets.json").read_text())["service_token"]
    response = httpx.post(
        f"{platform.url}/hub/api/users/{username}/tokens",
        headers={"Authorization": f"token {service_token}"},
        json={"note": "CourseHub tests"},
    )
    response.raise_for_status()
    return response.json()["token"]


@dataclass
class Session:
    """One person's signed-in client with the XSRF header their pages' script would send."""

    account: Account
    http: httpx.Client
    base: str
    xsrf: str

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-XSRFToken": self.xsrf, **kwargs.pop("headers", {})}
        return self.http.request(method, f"{self.base}{path}", headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(f"{self.base}{path}", **kwargs)

    def form(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        """Post a page's form, with the form's XSRF field, and follow its redirect as a
        browser does (httpx would keep the multipart Content-Type on the GET)."""
        response = self.http.post(
            f"{self.base}{path}",
            data={"_xsrf": self.xsrf, **(data or {})},
            follow_redirects=False,
            **kwargs,
        )
        if response.is_redirect:
            return self.http.get(response.url.join(response.headers["Location"]))
        return response


def open_session(platform, signed_in, account: Account) -> Session:  # type: ignore[no-untyped-def]
    http = signed_in(account)
    page = http.get(f"{platform.service_url}/register")  # any page with a form carries the token
    return Session(account, http, platform.service_url, xsrf_from(page))


def new_course(teacher: Session, title: str, **fields: Any) -> dict[str, Any]:
    response = teacher.call("POST", "/api/teach/courses", json={"title": title, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def new_module(teacher: Session, course_id: int, title: str) -> dict[str, Any]:
    response = teacher.call(
        "POST", f"/api/teach/courses/{course_id}/modules", json={"title": title}
    )
    assert response.status_code == 201, response.text
    return response.json()


def new_lesson(
    teacher: Session, module_id: int, title: str, kind: str = "NOTEBOOK"
) -> dict[str, Any]:
    response = teacher.call(
        "POST", f"/api/teach/modules/{module_id}/lessons", json={"title": title, "kind": kind}
    )
    assert response.status_code == 201, response.text
    return response.json()
