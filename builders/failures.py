"""Why a build failed, as the stable ``reason`` of its ``failed`` event.

The codes are the launcher's failure reasons (``launcher/failures/reasons.py``; this
package may not import the launcher): whose failure it is decides what the person is told
and whether trying again can help. A failed repo2docker run is the repository's fault only
when the engine and the registry are still there (:func:`blame`).
"""

from __future__ import annotations

import logging

from builders.executors.base import BuildExecutor, BuildFailed
from builders.registry import ImageStore, RegistryError
from fdo import errors as fdo_errors

log = logging.getLogger("nfdi_launcher.builders")

#: status codes of the ``failed`` events, by reason (the launcher's, kept equal by
#: tests/launcher/failures/test_reasons.py)
FAILED_STATUS = {"build_failed": 422, "build_timeout": 422, "fetch_failed": 422,
                 "resolve_refused": 403, "not_found": 404, "upstream_unavailable": 502,
                 "engine_unavailable": 503, "registry_unavailable": 503, "misconfigured": 503,
                 "internal_error": 500}

_FETCH_REASONS = ((fdo_errors.RefusedTarget, "resolve_refused"), (fdo_errors.NotFound, "not_found"),
                  (fdo_errors.UpstreamError, "upstream_unavailable"),
                  (fdo_errors.ResolveError, "fetch_failed"))


def fetch_reason(err: BaseException) -> str:
    """A failed fetch: fdo's error class; anything else is a defect."""
    return next((r for cls, r in _FETCH_REASONS if isinstance(err, cls)), "internal_error")


def blame(failed: BuildFailed, executor: BuildExecutor, store: ImageStore, push: bool) -> str:
    """The reason of a failed build: one that failed because the engine or the registry
    went away is theirs, not the repository's (blocking: asks both)."""
    if failed.reason != "build_failed":
        return failed.reason
    problem = executor.probe()
    if problem:
        log.warning("build failed and the engine cannot be reached: %s", problem)
        return "engine_unavailable"
    if push:
        try:
            store.ping()
        except RegistryError as err:
            log.warning("build failed and the registry cannot be reached: %s", err)
            return "registry_unavailable"
    return "build_failed"
