"""Prometheus metrics under BinderHub's names (mybinder's Grafana dashboards use them)."""

from __future__ import annotations

import asyncio

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



def _asyncio_tasks() -> float:
    try:  # scraped from the handler, i.e. on the launcher's event loop
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # no running loop in this thread
        return float("nan")


#: with process_open_fds and process_resident_memory_bytes (the default registry's process
#: collector): what the soak bench watches for leaks
ASYNCIO_TASKS = Gauge("nfdi_launcher_asyncio_tasks", "asyncio tasks of the launcher's event loop")
ASYNCIO_TASKS.set_function(_asyncio_tasks)

registry: CollectorRegistry = REGISTRY
