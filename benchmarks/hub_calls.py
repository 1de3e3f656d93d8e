"""Counting the requests the hub served, to see whether the service asked it about a token.

Two independent counts: the hub's Prometheus histogram ``jupyterhub_request_duration_seconds``
(labelled by handler class; ``GET /hub/api/user`` is ``SelfAPIHandler``) and the hub's access
log lines in the platform log.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

SELF_HANDLER = "jupyterhub.apihandlers.users.SelfAPIHandler"
REQUEST_COUNT = "jupyterhub_request_duration_seconds_count"
# The hub's access log: "... 200 GET /hub/api/user (user@127.0.0.1) 1.23ms".
SELF_LOG_LINE = re.compile(rb" GET /hub/api/user(?:\?\S*)? \(")


def hub_request_counts(hub_url: str, token: str) -> Counter[str]:
    """Requests served so far by the hub, per handler class."""
    response = httpx.get(
        f"{hub_url}/hub/metrics", headers={"Authorization": f"token {token}"}, timeout=10
    )
    response.raise_for_status()
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == REQUEST_COUNT:
                counts[sample.labels.get("handler", "")] += int(sample.value)
    return counts


@dataclass
class HubCallWindow:
    """Hub requests between ``start()`` and ``stop()``, by the metrics and by the log."""

    hub_url: str
    metrics_token: str
    log_path: Path
    _metrics_before: Counter[str] | None = None
    _log_offset: int = 0
    by_handler: Counter[str] | None = None
    self_calls_in_log: int = 0

    def start(self) -> None:
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._metrics_before = hub_request_counts(self.hub_url, self.metrics_token)

    def stop(self) -> None:
        after = hub_request_counts(self.hub_url, self.metrics_token)
        before = self._metrics_before or Counter()
        self.by_handler = Counter({handler: after[handler] - before[handler] for handler in after})
        self.by_handler = +self.by_handler  # drop zeros
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            self.self_calls_in_log = len(SELF_LOG_LINE.findall(log.read()))

    @property
    def self_calls(self) -> int:
        """``GET /hub/api/user`` requests the hub served in the window (from its metrics)."""
        return (self.by_handler or Counter())[SELF_HANDLER]

    @property
    def all_calls(self) -> int:
        """Every request the hub served in the window, less the metrics read that ends it."""
        counts = self.by_handler or Counter()
        return sum(counts.values()) - counts["jupyterhub.handlers.metrics.MetricsHandler"]
