"""Per-user subdomains: each person's notebook server on an origin of its own.

Without them, ``/user/<name>/`` shares the origin of ``/hub/`` and ``/services/coursehub/``,
so JavaScript a person's server serves (an extension they installed) runs with the platform's
cookies of whoever opens it. With ``COURSEHUB_SUBDOMAIN_HOST`` (jupyterhub_config.py sets
JupyterHub's ``subdomain_host`` from it) every server answers at
``<name>.<host>/user/<name>/`` while the hub and the course service stay on ``<host>``:

- ``subdomain_hook``: people get JupyterHub's own (IDNA) subdomains; services keep the hub's
  host, so the course service's pages, its sign-in cookie and its links stay where they were.
- ``keep_session_cookie_on_the_hub_host``: JupyterHub sets its session-id cookie with
  ``Domain=<host>`` when subdomains are on, which sends it to every person's server; here it
  stays host-only like every other cookie of the hub's and the service's. (A server's own
  sign-in cookie is set by the server, host-only, on its own subdomain.)
- ``service_host``: the ``Host`` a server names when it calls the course service through the
  proxy from its own network namespace (the proxy routes by host name).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from jupyterhub.handlers.base import SESSION_COOKIE_NAME, BaseHandler
from jupyterhub.utils import subdomain_hook_idna


def subdomain_hook(name: str, domain: str, kind: str) -> str:
    """The host name of a person's server (``<name>.<domain>``) or of a service (the hub's
    own ``domain``: the course service's pages are the platform's, not a site of their own)."""
    if kind == "service":
        return domain
    return subdomain_hook_idna(name, domain, kind)


def service_host(settings: dict[str, Any]) -> str:
    """``host[:port]`` of the services (the hub's host) when subdomains are on, else ''."""
    subdomain_host = settings.get("subdomain_host") or ""
    if not subdomain_host:
        return ""
    parsed = urlparse(subdomain_host)
    hook = settings.get("subdomain_hook") or subdomain_hook
    host = hook("", settings.get("domain") or parsed.hostname or "", "service")
    return f"{host}:{parsed.port}" if parsed.port else host


def keep_session_cookie_on_the_hub_host() -> None:
    """Make the hub set (and clear) its session-id cookie without ``Domain=``, so that browsers
    never send it to people's servers. Idempotent."""
    if getattr(BaseHandler, "_coursehub_host_only_session", False):
        return
    set_cookie = BaseHandler._set_cookie
    clear_cookie = BaseHandler.clear_cookie

    def _set_cookie(self: BaseHandler, key: str, value: str, encrypted: bool = True, **kw: Any):  # type: ignore[no-untyped-def]
        if key == SESSION_COOKIE_NAME:
            kw.pop("domain", None)
        return set_cookie(self, key, value, encrypted=encrypted, **kw)

    def _clear_cookie(self: BaseHandler, cookie_name: str, **kw: Any):  # type: ignore[no-untyped-def]
        if cookie_name == SESSION_COOKIE_NAME:
            kw.pop("domain", None)
        return clear_cookie(self, cookie_name, **kw)

    BaseHandler._set_cookie = _set_cookie  # type: ignore[method-assign]
    BaseHandler.clear_cookie = _clear_cookie  # type: ignore[method-assign]
    BaseHandler._coursehub_host_only_session = True  # type: ignore[attr-defined]
