"""Prometheus metrics of the builder (in the default registry, so the launcher's
``/metrics`` exposes them next to BinderHub's build and launch metrics).

One counter with a low-cardinality label, pre-created so every outcome shows from the
start: ``built`` (repo2docker ran here and the image exists), ``cached`` (found in the
image store, or under the content alias), ``followed`` (another process on this host
was building it; its log was followed), ``failed`` (fetching, lookup or build failed).
"""

from __future__ import annotations

from prometheus_client import Counter

OUTCOMES = ("built", "cached", "followed", "failed")

IMAGE_REQUESTS = Counter(
    "nfdi_builder_image_requests_total",
    "Image requests handled by this process's builder, by outcome",
    ["outcome"],
)
for _outcome in OUTCOMES:
    IMAGE_REQUESTS.labels(outcome=_outcome)
