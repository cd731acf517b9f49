"""Prometheus metrics under BinderHub's names (mybinder's Grafana dashboards use them)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

BUILD_TIME = Histogram(
    "binderhub_build_time_seconds",
    "Histogram of build times",
    ["status"],
    buckets=[60, 120, 300, 600, 1800, 3600, 7200, float("inf")],
)
LAUNCH_TIME = Histogram(
    "binderhub_launch_time_seconds",
    "Histogram of launch times",
    ["status", "retries"],
    buckets=[2, 5, 10, 20, 30, 60, 120, 300, 600, float("inf")],
)
BUILD_COUNT = Counter("binderhub_build_count", "Counter of builds by repo", ["status", "provider", "repo"])
LAUNCH_COUNT = Counter("binderhub_launch_count", "Counter of launches by repo", ["status", "provider", "repo"])
BUILDS_INPROGRESS = Gauge("binderhub_inprogress_builds", "Builds currently in progress")
LAUNCHES_INPROGRESS = Gauge("binderhub_inprogress_launches", "Launches currently in progress")

registry: CollectorRegistry = REGISTRY
