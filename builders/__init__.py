"""builders: LaunchTarget -> container image, built once, found again by content.

Public API (what the launcher uses)::

    from builders import BuildManager, BuildEvent, Phase

    manager = BuildManager(parent=app)          # traitlets Configurable; see its traits
    async for event in manager.build(target):   # target: fdo.target.LaunchTarget
        send_sse(event.to_json())               # BinderHub event dict ("phase", "message", "imageName")
        if event.phase is Phase.BUILT:
            image = event.image                 # "127.0.0.1:5000/nfdi-launcher/gh-...:<tag>@sha256:..."
        # Phase.FAILED: event.message is a readable one-line reason

- ``BuildManager.build(target, *, context_dir=None)`` async iterator of :class:`BuildEvent`,
  ends with exactly one ``BUILT`` or ``FAILED``. Several callers of one target/image
  share one build and one log (late joiners get the log so far); breaking out of the
  loop (client disconnect) never stops the build. Also deduped across processes on
  one host via lock files in ``BuildManager.state_dir``.
- ``BuildManager.image_name(target, content_digest)`` pure name of the image.
- ``BuildManager.dockerfile(target, *, context_dir=None)`` the Dockerfile repo2docker
  would generate (dry run).
- ``BuildManager.repo2docker_runs``: repo2docker processes this manager started;
  :mod:`builders.metrics` counts every request's outcome for Prometheus.
- ``naming.content_digest(path)`` identity of a materialised tree.

Phases (:class:`Phase`): ``waiting``, ``fetching``, ``building``, ``pushing``, ``built``,
``failed``, plus ``unknown`` (non-JSON repo2docker output) and ``""`` (repo2docker
lines without a phase; ``to_json`` then omits ``phase``).
"""

from builders.events import BuildEvent, Phase, parse_repo2docker_line
from builders.executors.base import BuildExecutor, BuildFailed, BuildRequest
from builders.manager import BuildManager
from builders.naming import content_digest
from builders.registry import ImageStore, LocalEngineStore, RegistryError, RegistryStore

__all__ = [
    "BuildEvent",
    "BuildExecutor",
    "BuildFailed",
    "BuildManager",
    "BuildRequest",
    "ImageStore",
    "LocalEngineStore",
    "Phase",
    "RegistryError",
    "RegistryStore",
    "content_digest",
    "parse_repo2docker_line",
]
