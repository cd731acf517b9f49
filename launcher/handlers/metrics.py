"""``/metrics``: Prometheus text format (BinderHub's metric names)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from launcher import metrics
from launcher.handlers.base import BaseHandler


class MetricsHandler(BaseHandler):
    async def prepare(self) -> None:
        pass  # scraped by Prometheus: no user lookup

    def get(self) -> None:
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest(metrics.registry))


default_handlers = [(r"metrics", MetricsHandler)]
