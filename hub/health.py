"""The hub's ``/hub/health``: its own database, the Redis CourseHub uses, and whether the
sandbox people's notebook servers run in can start."""

from __future__ import annotations

import asyncio
import json
import os

import redis.asyncio as redis
from jupyterhub.handlers.base import BaseHandler
from sqlalchemy import text

from coursehub.hub.disk_space import disk_status
from coursehub.hub.sandbox import sandbox_status


class HubHealthHandler(BaseHandler):
    def check_xsrf_cookie(self) -> None:
        """GET and HEAD only; nothing to protect."""

    async def get(self) -> None:
        report = {
            "database": self._database(),
            "redis": await self._redis(),
            "sandbox": await sandbox_status(
                self._sandboxed(), "not running as root or CourseSpawner.sandbox is False"
            ),
            "disk": disk_status(os.environ.get("COURSEHUB_DATA_DIR", ".coursehub")),
        }
        healthy = all(value == "ok" or value.startswith("off") for value in report.values())
        self.set_status(200 if healthy else 503)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"status": "ok" if healthy else "degraded", **report}))

    head = get

    def _sandboxed(self) -> bool:
        """Whether this hub runs servers sandboxed (as root, ``CourseSpawner.sandbox``)."""
        config = self.settings.get("config")
        wanted = config.CourseSpawner.get("sandbox", True) if config is not None else True
        return bool(wanted) and os.geteuid() == 0

    def _database(self) -> str:
        try:
            self.db.execute(text("SELECT 1"))
        except Exception as error:  # report, don't raise: this is what health is for
            self.db.rollback()
            return f"error: {type(error).__name__}"
        return "ok"

    async def _redis(self) -> str:
        url = os.environ.get("REDIS_URL")
        if not url:
            return "error: REDIS_URL is not set"
        client = redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            await asyncio.wait_for(client.ping(), timeout=3)
        except Exception as error:
            return f"error: {type(error).__name__}"
        finally:
            await client.aclose()
        return "ok"


class ServiceStartingHandler(BaseHandler):
    """The course service's ``/health`` while the service is not answering yet (or is being
    restarted): the proxy has no route for it then and sends the request to the hub, which
    redirects it under ``/hub/``. A 503 that says "starting" instead of the hub's 404 page."""

    def check_xsrf_cookie(self) -> None:
        """GET and HEAD only; nothing to protect."""

    async def get(self) -> None:
        self.set_status(503)
        self.set_header("Content-Type", "application/json")
        self.set_header("Retry-After", "5")
        message = "CourseHub's course service is starting; try again in a few seconds."
        self.finish(json.dumps({"status": "starting", "service": message}))

    head = get
