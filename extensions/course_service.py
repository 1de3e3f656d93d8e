"""The course service as a notebook server sees it: where it is, and JSON calls made with the
server's own hub token, so that the service sees the server's owner and applies their role.

The address comes from ``COURSEHUB_SERVICE_URL`` (jupyterhub_config.py passes the service's
internal URL to every server), else from the hub's public URL
(``JUPYTERHUB_PUBLIC_HUB_URL``, set when the hub knows its public URL).

With per-user subdomains the proxy routes by host name, and a server reaching the service
through the proxy from its own network namespace (``127.0.0.1:<port>``) names the platform's
host in each request's ``Host`` header (``COURSEHUB_SERVICE_HOST``, set by CourseSpawner), as
a browser would. Links to CourseHub's pages go to the hub's origin (``JUPYTERHUB_HOST``, set
by JupyterHub when servers have origins of their own), never to the server's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from coursehub.hub.constants import SERVICE_PREFIX

SERVICE_URL_ENV = "COURSEHUB_SERVICE_URL"
SERVICE_HOST_ENV = "COURSEHUB_SERVICE_HOST"
# Publishing a lesson waits for its publish check (a sandboxed run of the notebook, with
# kernel start-up on a busy machine), so a request may take minutes.
REQUEST_TIMEOUT = 300.0


class CourseServiceError(Exception):
    """A call the service refused or could not answer; ``message`` is for the person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def service_url_from(env: Mapping[str, str]) -> str:
    if env.get(SERVICE_URL_ENV):
        return env[SERVICE_URL_ENV].rstrip("/")
    public_hub = env.get("JUPYTERHUB_PUBLIC_HUB_URL", "").rstrip("/")
    if public_hub.endswith("/hub"):
        return public_hub.removesuffix("/hub") + SERVICE_PREFIX
    return ""


def page_url(path: str, env: Mapping[str, str] | None = None) -> str:
    """The address of CourseHub's page at ``path`` (``/services/coursehub/...``) for a browser
    showing this server: on the hub's origin when the server has an origin of its own."""
    env = os.environ if env is None else env
    hub_host = env.get("JUPYTERHUB_HOST", "").rstrip("/")
    return f"{hub_host}{path}" if hub_host.startswith(("http://", "https://")) else path


@dataclass(frozen=True)
class CourseService:
    url: str  # e.g. http://127.0.0.1:10101/services/coursehub, no trailing slash
    token: str = field(repr=False)
    host: str = ""  # the Host header to send, when the URL's own host is not the platform's

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, token: str = "") -> CourseService:
        env = os.environ if env is None else env
        return cls(
            url=service_url_from(env),
            token=env.get("JUPYTERHUB_API_TOKEN") or token,
            host=env.get(SERVICE_HOST_ENV, ""),
        )

    def headers(self, **more: str) -> dict[str, str]:
        """The headers of every call: the server's token, and the platform's host name."""
        headers = {"Authorization": f"token {self.token}", **more}
        if self.host:
            headers["Host"] = self.host
        return headers

    async def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        """``method`` ``<service>/<path>``; the JSON answer, or a ``CourseServiceError``."""
        if not (self.url and self.token):
            raise CourseServiceError(
                503,
                "This Jupyter server was not started by CourseHub, so it cannot reach the "
                "course service. Open JupyterLab from CourseHub's “My notebook server”.",
            )
        try:
            response = await AsyncHTTPClient().fetch(
                f"{self.url}/{path}",
                method=method,
                body=body,
                headers=self.headers(**{"Content-Type": content_type}),
                request_timeout=REQUEST_TIMEOUT,
            )
        except HTTPClientError as error:
            if error.response is None:
                raise _unreachable() from None
            raise _refusal(error.code, error.response.body) from None
        except OSError:
            raise _unreachable() from None
        return json.loads(response.body)


def _unreachable() -> CourseServiceError:
    return CourseServiceError(
        502, "The course service cannot be reached from your notebook server. Try again shortly."
    )


def _refusal(status: int, body: bytes | None) -> CourseServiceError:
    try:
        message = json.loads(body or b"{}").get("error") or ""
    except (ValueError, AttributeError):
        message = ""
    if status == 401:
        # The server's token was not accepted: to the browser this is not "sign in again".
        return CourseServiceError(
            502,
            "The course service did not accept this notebook server's credentials. Stop and "
            "start your server from the hub's home page, then try again.",
        )
    if status >= 500 or not message:
        return CourseServiceError(
            502, f"The course service could not answer (status {status}). Try again shortly."
        )
    return CourseServiceError(status, message)
