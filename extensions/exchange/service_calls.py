"""Blocking calls to the course service for nbgrader's exchange (nbgrader runs its exchange
synchronously), with the notebook server's hub token; errors become ``ExchangeError`` with a
sentence for the student."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nbgrader.exchange.abc.exchange import ExchangeError

from coursehub.extensions.course_service import SERVICE_HOST_ENV, service_url_from

TIMEOUT_S = 60


@dataclass(frozen=True)
class ServiceCalls:
    url: str
    token: str = field(repr=False)
    host: str = ""  # the platform's host name, when the proxy routes by it (subdomains)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServiceCalls:
        env = os.environ if env is None else env
        calls = cls(
            url=service_url_from(env),
            token=env.get("JUPYTERHUB_API_TOKEN", ""),
            host=env.get(SERVICE_HOST_ENV, ""),
        )
        if not (calls.url and calls.token):
            raise ExchangeError(
                "This Jupyter server was not started by CourseHub, so it cannot reach your "
                "courses. Open JupyterLab from CourseHub's “My notebook server”."
            )
        return calls

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        request = urllib.request.Request(  # noqa: S310 - the URL is CourseHub's own service
            f"{self.url}/{path}",
            data=body,
            method=method,
            headers={"Authorization": f"token {self.token}", **(headers or {})},
        )
        if self.host:
            request.add_header("Host", self.host)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:  # noqa: S310
                return answer.read()
        except urllib.error.HTTPError as error:
            raise ExchangeError(_message(error.read(), error.code)) from None
        except OSError as error:
            raise ExchangeError(
                f"CourseHub's course service cannot be reached ({error}). Try again in a moment."
            ) from None

    def json(self, method: str, path: str, body: bytes | None = None, **headers: str) -> Any:
        return json.loads(self.request(method, path, body, headers) or b"null")

    @staticmethod
    def quote(part: str) -> str:
        return urllib.parse.quote(part, safe="")


def _message(body: bytes, status: int) -> str:
    try:
        message = json.loads(body).get("error")
    except (ValueError, AttributeError):
        message = None
    return str(message or f"CourseHub refused the request ({status}).")
