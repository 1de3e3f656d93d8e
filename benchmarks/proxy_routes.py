"""Adding and removing a route on the running configurable-http-proxy through its REST API.

The hub starts the proxy with ``CONFIGPROXY_AUTH_TOKEN`` from its environment when that is
set (jupyterhub's ``ConfigurableHTTPProxy.auth_token`` default), so the benchmark passes one
in the platform's environment and shares it with the hub. A route without the ``jupyterhub``
marker in its data is not the hub's, so the hub's periodic route check leaves it alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from benchmarks.wrk import check_loopback


class ProxyRoutes:
    def __init__(self, api_url: str, auth_token: str) -> None:
        check_loopback(api_url)
        self.api_url = api_url.rstrip("/")
        self.headers = {"Authorization": f"token {auth_token}"}

    def _url(self, path: str) -> str:
        return f"{self.api_url}/api/routes/{path.lstrip('/')}"

    def add(self, path: str, target: str) -> None:
        response = httpx.post(
            self._url(path),
            json={"target": target, "coursehub_benchmark": True},
            headers=self.headers,
            timeout=10,
        )
        response.raise_for_status()

    def remove(self, path: str) -> None:
        response = httpx.delete(self._url(path), headers=self.headers, timeout=10)
        if response.status_code != 404:
            response.raise_for_status()

    @contextmanager
    def route(self, path: str, target: str) -> Iterator[None]:
        self.add(path, target)
        try:
            yield
        finally:
            self.remove(path)
