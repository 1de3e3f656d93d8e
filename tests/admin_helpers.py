"""Helpers the admin tests share: saving site settings through the admin page (and putting
them back), reading a page's message."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from coursehub.services.site_settings.site_settings import defaults
from tests.platform import xsrf_from


def settings_form(values: dict[str, Any]) -> dict[str, str]:
    form: dict[str, str] = {}
    for key, value in {**defaults(), **values}.items():
        if isinstance(value, bool):
            if value:
                form[key] = "on"
        elif isinstance(value, list | tuple):
            form[key] = "\n".join(value)
        else:
            form[key] = "" if value is None else str(value)
    return form


def save_settings(http: httpx.Client, service_url: str, **values: Any) -> httpx.Response:
    page = http.get(f"{service_url}/admin/settings")
    return http.post(
        f"{service_url}/admin/settings", data={"_xsrf": xsrf_from(page), **settings_form(values)}
    )


@contextmanager
def site_settings(http: httpx.Client, service_url: str, **values: Any) -> Iterator[httpx.Response]:
    """Settings changed for a test and put back to their defaults afterwards (the platform is
    shared by the other tests of this worker)."""
    try:
        yield save_settings(http, service_url, **values)
    finally:
        restored = save_settings(http, service_url)
        assert restored.status_code == 200, restored.text[:300]


def alert(page: httpx.Response, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</p>', page.text, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""
