"""The executor interface: run one repo2docker build, stream its events.

An executor knows nothing about dedupe, queues or registries' existence checks (the
:class:`~builders.manager.BuildManager` does that); it turns one
:class:`BuildRequest` into a built (and, with a registry, pushed) image. A
Kubernetes executor implements the same :meth:`BuildExecutor.run` with a build pod.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from traitlets import Integer
from traitlets.config import LoggingConfigurable

from builders.events import BuildEvent


class BuildFailed(Exception):
    """A build did not produce an image; ``str()`` says why (the build log's last word).

    ``reason`` is the stable code of the ``failed`` event (the launcher's failure reasons):
    ``build_failed`` (the repository's build), ``build_timeout``, ``engine_unavailable``
    (the engine or cluster cannot be reached), ``misconfigured`` (the executor's settings)."""

    def __init__(self, message: str, reason: str = "build_failed") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class BuildRequest:
    """Everything one build needs.

    ``context_dir`` is the local directory that ``fdo.fetch`` materialised: executors
    build exactly it and never fetch anything themselves.
    """

    context_dir: Path
    image: str
    push: bool
    cache_from: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    #: JSON {"registry", "username", "password"} for pushing, or None
    registry_credentials: dict[str, str] | None = None


class BuildExecutor(LoggingConfigurable):
    """Base class of build executors."""

    build_timeout = Integer(
        3600,
        help="""Seconds a build may take before it is killed and reported as failed.""",
    ).tag(config=True)

    @abstractmethod
    def run(self, request: BuildRequest) -> AsyncIterator[BuildEvent]:
        """Build ``request.image``; yield progress events (never BUILT/FAILED).

        Returns normally when the image exists (pushed when ``request.push``);
        raises :class:`BuildFailed` with a readable message otherwise. Cancelling
        the iteration kills the build.
        """

    @abstractmethod
    def dockerfile(self, context_dir: Path) -> str:
        """The Dockerfile repo2docker would generate for ``context_dir`` (no build)."""

    def probe(self) -> str:
        """Why the engine cannot build right now ("" if it can); asked after a failed
        build, to tell a broken repository from an engine that is gone (blocking)."""
        return ""
