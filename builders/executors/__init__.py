"""Build executors: where repo2docker runs (local Docker engine now, Kubernetes later)."""

from builders.executors.base import BuildExecutor, BuildFailed, BuildRequest

__all__ = ["BuildExecutor", "BuildFailed", "BuildRequest"]
