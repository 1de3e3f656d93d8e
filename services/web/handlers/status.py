"""Operational endpoints: database and Redis health, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import yaml
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import text
from tornado import web

from coursehub.hub.constants import SCOPE_READ, Role
from coursehub.hub.disk_space import disk_status
from coursehub.hub.sandbox import sandbox_status
from coursehub.services import structured_logs
from coursehub.services.certificates.certificate_pdf import PDF_PROBLEM
from coursehub.services.jobs import worker_health
from coursehub.services.lessons.user_servers import HubClient
from coursehub.services.operations import metrics as operations_metrics
from coursehub.services.web.base import BaseHandler

REQUESTS = Counter(
    "coursehub_http_requests_total", "Requests served by the course service", ["method", "status"]
)
LATENCY = Histogram(
    "coursehub_http_request_duration_seconds",
    "Time to serve a request",
    ["method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
METRICS_SCOPE = "read:metrics"
# JSON logs go to a collector, where one line per request (with its id) is what is wanted.
EVERY_REQUEST_LOGGED = structured_logs.log_format() == "json"
OPENAPI_PATH = Path(__file__).parent.parent / "openapi.yaml"


def record_request(handler: web.RequestHandler) -> None:
    """Tornado's ``log_function``: count and time every request, then write the access log."""
    method = handler.request.method or "GET"
    status = handler.get_status()
    seconds = handler.request.request_time()
    REQUESTS.labels(method, str(status)).inc()
    LATENCY.labels(method).observe(seconds)
    # Successful requests are counted above; logging each one costs more than serving it.
    log = web.access_log.debug if status < 400 else web.access_log.warning
    if status >= 500:
        log = web.access_log.error
    if status < 400 and EVERY_REQUEST_LOGGED:
        log = web.access_log.info
    # The summary is method, path and client address; query strings may carry tokens.
    log(
        "%d %s %s (%s) %.1fms",
        status,
        method,
        handler.request.path,
        handler.request.remote_ip,
        1000 * seconds,
    )


class HealthHandler(BaseHandler):
    public = True

    async def get(self) -> None:
        report = {
            "database": await self._database(),
            "redis": await self._redis(),
            "sandbox": await self._sandbox(),
            "disk": disk_status(self.settings_obj.data_dir),
            "workers": await self._workers(),
        }
        if PDF_PROBLEM:  # certificates without Pango; the rest works, so not "degraded"
            report["certificate_pdfs"] = f"off: {PDF_PROBLEM}"
        healthy = all(value == "ok" or value.startswith("off") for value in report.values())
        self.write_json(
            {"status": "ok" if healthy else "degraded", **report}, 200 if healthy else 503
        )

    async def _database(self) -> str:
        try:
            async with self.db(read_only=True) as session:
                await asyncio.wait_for(session.execute(text("SELECT 1")), timeout=3)
        except Exception as error:  # report, don't raise: this is what health is for
            return f"error: {type(error).__name__}"
        return "ok"

    async def _workers(self) -> str:
        """Whether waiting jobs (gradings, emails) have a worker to run them."""
        try:
            async with self.db(read_only=True) as session:
                return await asyncio.wait_for(worker_health.workers_status(session), timeout=3)
        except Exception as error:
            return f"error: {type(error).__name__}"

    async def _redis(self) -> str:
        try:
            await asyncio.wait_for(self.application.settings["redis"].ping(), timeout=3)
        except Exception as error:
            return f"error: {type(error).__name__}"
        return "ok"

    async def _sandbox(self) -> str:
        """Whether the sandbox lesson kernels run in starts: a lesson whose kernel cannot
        start is the first thing a student would meet."""
        return await sandbox_status(
            os.geteuid() == 0, "not running as root, so lesson kernels run without the sandbox"
        )


class MetricsHandler(BaseHandler):
    """Prometheus metrics, for a hub token with ``read:metrics`` (as the hub's own
    ``/hub/metrics`` asks) or an administrator; anyone else gets a 401 or 403."""

    hub_scopes = {METRICS_SCOPE, SCOPE_READ}  # type: ignore[assignment]
    is_api = True  # type: ignore[assignment]  # refusals as JSON: a scraper reads no page

    async def get(self) -> None:
        if METRICS_SCOPE not in (self.current_user or {}).get("scopes", []):
            self.min_role = Role.ADMIN
            async with self.db(read_only=True) as session:
                await self.account(session)
        registry = REGISTRY
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # Several worker processes: add up what every one of them counted.
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest(registry) + await self._platform_metrics())

    async def _platform_metrics(self) -> bytes:
        """The grading queue, kernels, servers and notifications (operations.metrics)."""
        hub = HubClient(self.settings_obj)
        try:
            async with self.db(read_only=True) as session:
                snapshot = await operations_metrics.take_snapshot(
                    session, self.application.settings["redis"], hub, datetime.now(UTC)
                )
        finally:
            hub.close()
        return operations_metrics.exposition(snapshot)


def load_openapi() -> str:
    """The OpenAPI document as JSON, read once at start-up."""
    return json.dumps(yaml.safe_load(OPENAPI_PATH.read_text()))


class OpenAPIHandler(BaseHandler):
    public = True

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(self.application.settings["openapi"])


def default_handlers(prefix: str) -> list[tuple[str, type]]:
    return [
        (f"{prefix}/health", HealthHandler),
        (f"{prefix}/metrics", MetricsHandler),
        (f"{prefix}/api/openapi.json", OpenAPIHandler),
    ]
