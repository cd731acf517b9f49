"""BuildManager: identifier target -> image, built at most once.

Pipeline for one request (each step a method below):

1. ``waiting``  – the request is accepted;
2. ``fetching`` – ``fdo.fetch`` materialises the target (skipped with ``context_dir``);
3. naming       – content digest of the tree -> image name and tag (pure, ``naming``);
4. lookup       – the image, or the same content under the content alias, exists?
                  -> ``built`` (cached) without building;
5. build        – host lock (one build per image on this host), concurrency slot,
                  executor (repo2docker), push -> ``built`` with the pinned reference.

Requests for the same target share steps 1–5; requests for the same image (different
identifiers, same content) share step 5. Consumers can disconnect at any time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from traitlets import Instance, Integer, Type, Unicode, default
from traitlets.config import LoggingConfigurable

from builders import naming, provenance
from builders.events import BuildEvent, Phase
from builders.executors.base import BuildExecutor, BuildFailed, BuildRequest
from builders.failures import FAILED_STATUS, blame, fetch_reason
from builders.fanout import Broadcast
from builders.hostlock import HostLock
from builders.metrics import IMAGE_REQUESTS
from builders.registry import ImageStore, LocalEngineStore, RegistryError, RegistryStore
from fdo.target import LaunchTarget


class BuildManager(LoggingConfigurable):
    """Turns :class:`~fdo.target.LaunchTarget` objects into images, once per image."""

    registry_url = Unicode(
        "",
        help="""Registry to push to and look images up in, e.g. ``http://127.0.0.1:5000``
        or ``https://registry.example.org``. Empty: no registry, images stay in the
        local Docker engine (one-machine setup).""",
    ).tag(config=True)
    registry_username = Unicode("", help="User name for the registry (basic or token auth).").tag(config=True)
    registry_password = Unicode("", help="Password or token for the registry.").tag(config=True)
    docker_config_path = Unicode(
        "",
        help="""A Docker ``config.json`` to read registry credentials from when
        registry_username is empty (``auths.<host>.auth``).""",
    ).tag(config=True)
    image_prefix = Unicode(
        "nfdi-launcher/",
        help="""Prefix of every image repository (may contain ``/``). Changing it
        invalidates every cached image, like BinderHub's image_prefix.""",
    ).tag(config=True)
    builder_version_salt = Unicode(
        "",
        help="""Extra text mixed into every image tag. Change it to force rebuilds
        (e.g. after changing repo2docker settings). The repo2docker version and the
        image user are always mixed in.""",
    ).tag(config=True)
    max_concurrent_builds = Integer(
        2, help="Builds run at the same time by this process; more requests queue."
    ).tag(config=True)
    state_dir = Unicode(
        help="""Directory for lock files, shared build logs and fetched build contexts.
        Processes sharing it on one host share builds."""
    ).tag(config=True)

    @default("state_dir")
    def _state_dir_default(self) -> str:
        return str(Path(tempfile.gettempdir()) / "nfdi-launcher-builds")

    executor_class = Type(
        "builders.executors.docker.DockerExecutor",
        klass="builders.executors.base.BuildExecutor",
        help="""The build executor (a :class:`~builders.executors.base.BuildExecutor`
        subclass or its import string); default: repo2docker against the local Docker
        engine. It is configured under its own class name, e.g.
        ``c.DockerExecutor.extra_args``.""",
    ).tag(config=True)

    executor = Instance(
        "builders.executors.base.BuildExecutor",
        help="The build executor in use (default: an instance of executor_class).")

    @default("executor")
    def _executor_default(self) -> BuildExecutor:
        executor: BuildExecutor = self.executor_class(parent=self, log=self.log)
        return executor

    fetcher: Callable[[LaunchTarget, Path], Any] | None = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._targets: dict[str, Broadcast] = {}
        self._images: dict[str, Broadcast] = {}
        self._slots = asyncio.Semaphore(self.max_concurrent_builds)
        #: repo2docker processes started by this manager (also counted in ``metrics``)
        self.repo2docker_runs = 0
        self._store: ImageStore | None = None
        self._salt: str | None = None
        #: image -> content digest of its build context (the tag's input), for its labels
        self._content_digests: dict[str, str] = {}

    # -- pure parts ---------------------------------------------------------------
    @property
    def store(self) -> ImageStore:
        if self._store is None:
            if self.registry_url:
                cfg = Path(self.docker_config_path).expanduser() if self.docker_config_path else None
                self._store = RegistryStore(
                    self.registry_url, self.registry_username, self.registry_password, cfg
                )
            else:
                self._store = LocalEngineStore(str(getattr(self.executor, "docker_host", "")))
        return self._store

    def salt(self) -> str:
        if self._salt is None:  # cached: the first call imports repo2docker
            import repo2docker

            user = f"{getattr(self.executor, 'user_name', 'jovyan')}:{getattr(self.executor, 'user_id', 1000)}"
            self._salt = f"r2d={repo2docker.__version__};user={user};{self.builder_version_salt}"
        return self._salt

    def image_name(self, target: LaunchTarget, content_digest: str) -> str:
        """Full image reference (``host/prefix-slug-hash:tag``) for a target's content."""
        repo = naming.repository_name(self.image_prefix, naming.source_slug(target.provider, target.source))
        return naming.image_reference(self.store.host, repo, naming.image_tag(content_digest, self.salt()))

    def alias_name(self, image: str) -> str:
        tag = image.rpartition(":")[2]
        return naming.image_reference(self.store.host, naming.content_alias(self.image_prefix), tag)

    # -- public API -----------------------------------------------------------------
    async def build(
        self, target: LaunchTarget, *, context_dir: Path | None = None
    ) -> AsyncIterator[BuildEvent]:
        """Events of building (or finding) the image of ``target``; ends with BUILT/FAILED.

        ``context_dir``: an already materialised tree to build instead of fetching.
        Concurrent calls for one target or one image share one build and one log;
        stopping the iteration early never stops the build.
        """
        key = f"{target.cache_key}|{context_dir or ''}"
        job = _share(self._targets, key, lambda: self._target_pipeline(target, context_dir))
        async for event in job.subscribe():
            yield event

    async def dockerfile(self, target: LaunchTarget, *, context_dir: Path | None = None) -> str:
        """The Dockerfile repo2docker would generate (dry run: nothing is built)."""
        if context_dir is not None:
            return await asyncio.to_thread(self.executor.dockerfile, context_dir)
        with tempfile.TemporaryDirectory(prefix="fetch-", dir=self._workdir()) as tmp:
            ctx = Path(tmp) / "src"
            await asyncio.to_thread(self._fetch, target, ctx)
            return await asyncio.to_thread(self.executor.dockerfile, ctx)

    async def close(self) -> None:
        """Stop every running build (kills repo2docker); waiting streams get FAILED."""
        jobs = [*self._targets.values(), *self._images.values()]
        for job in jobs:
            job.task.cancel()
        await asyncio.gather(*(job.task for job in jobs), return_exceptions=True)

    # -- pipeline steps ---------------------------------------------------------------
    def _workdir(self) -> Path:
        path = Path(self.state_dir) / "work"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _fetch(self, target: LaunchTarget, dest: Path) -> None:
        if self.fetcher is not None:
            self.fetcher(target, dest)
            return
        # imported late: fdo.fetch pulls in the network stack, dry runs of local dirs do not
        fdo_fetch: Any = importlib.import_module("fdo.fetch")
        fdo_config: Any = importlib.import_module("fdo.config")
        # parent=self: the operator's c.NetConfig.* (rewrites, limits) apply to fetches too
        fdo_fetch.fetch(target, dest, config=fdo_config.NetConfig(parent=self))

    async def _target_pipeline(self, target: LaunchTarget, context_dir: Path | None) -> AsyncIterator[BuildEvent]:
        yield BuildEvent(Phase.WAITING, "Waiting for build to start...")
        tmp: str | None = None
        try:
            if context_dir is None:
                tmp = tempfile.mkdtemp(prefix="fetch-", dir=self._workdir())
                context_dir = Path(tmp) / "src"
                yield BuildEvent(Phase.FETCHING, f"Fetching {target.source} at {target.ref}")
                try:
                    await asyncio.to_thread(self._fetch, target, context_dir)
                except Exception as err:
                    yield self._failed(f"Fetching failed: {err}", fetch_reason(err))
                    return
            digest = await asyncio.to_thread(naming.content_digest, context_dir)
            image = self.image_name(target, digest)
            yield BuildEvent(Phase.FETCHING, f"Content {digest[:19]} -> image {image}")
            ctx = context_dir
            self._content_digests[image] = digest
            job = _share(self._images, image, lambda: self._image_pipeline(image, ctx, target))
            async for event in job.subscribe():
                if event.phase is Phase.BUILT:  # for receipts: which content this image holds
                    build = dict(event.extra.get("build") or {}, content_digest=digest)
                    event = dataclasses.replace(event, extra={**event.extra, "build": build})
                yield event
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)

    async def _lookup(self, image: str) -> BuildEvent | None:
        """BUILT (cached) when ``image`` or its content alias exists already."""
        digest = await asyncio.to_thread(self.store.lookup, image)
        if digest is None:
            alias = self.alias_name(image)
            if await asyncio.to_thread(self.store.lookup, alias) is None:
                return None
            try:
                digest = await asyncio.to_thread(self.store.copy, alias, image)
            except RegistryError as err:  # e.g. no push rights for the copy: build instead
                self.log.warning("cannot reuse %s for %s: %s", alias, image, err)
                return None
            self.log.info("reusing %s for %s (same content)", alias, image)
        IMAGE_REQUESTS.labels(outcome="cached").inc()
        return BuildEvent(Phase.BUILT, "Found built image, launching...",
                          image=self.store.pinned(image, digest), cached=True,
                          extra={"image_digest": digest})

    async def _image_pipeline(self, image: str, ctx: Path, target: LaunchTarget) -> AsyncIterator[BuildEvent]:
        lock = HostLock(Path(self.state_dir), image)
        for _attempt in range(3):  # a follower whose builder crashed takes over
            try:
                found = await self._lookup(image)
            except RegistryError as err:
                yield self._failed(f"Image lookup failed: {err}", err.reason)
                return
            if found is not None:
                yield found
                return
            if lock.try_acquire():
                try:
                    async for event in self._locked_build(image, ctx, target, lock):
                        yield event
                finally:
                    lock.release()
                return
            IMAGE_REQUESTS.labels(outcome="followed").inc()
            yield BuildEvent(Phase.WAITING, "Another process on this host is building this image; following its log")
            async for event in lock.follow():
                yield event
                if event.terminal:
                    return
        yield self._failed("Gave up after the building process died repeatedly", "internal_error")

    def _failed(self, message: str, reason: str) -> BuildEvent:
        """A FAILED event with ``status_code`` (as BinderHub's) and ``reason`` (the
        launcher's failure reasons: whose failure it is)."""
        IMAGE_REQUESTS.labels(outcome="failed").inc()
        return BuildEvent(Phase.FAILED, message,
                          extra={"status_code": FAILED_STATUS.get(reason, 500), "reason": reason})

    async def _locked_build(self, image: str, ctx: Path, target: LaunchTarget, lock: HostLock) -> AsyncIterator[BuildEvent]:
        found = await self._lookup(image)  # built by another process just before we locked
        if found is not None:
            lock.append(found)
            yield found
            return
        async for event in self._run_executor(image, ctx, target):
            lock.append(event)
            yield event

    async def _run_executor(self, image: str, ctx: Path, target: LaunchTarget) -> AsyncIterator[BuildEvent]:
        if self._slots.locked():
            yield BuildEvent(Phase.WAITING, f"Waiting for a free build slot ({self.max_concurrent_builds} builds running)")
        async with self._slots:
            request = BuildRequest(
                context_dir=ctx, image=image, push=bool(self.registry_url),
                cache_from=await asyncio.to_thread(self._cache_from, image),
                labels=await asyncio.to_thread(self._labels, target, ctx, image),
                registry_credentials=self._push_credentials(),
            )
            self.repo2docker_runs += 1
            yield BuildEvent(Phase.BUILDING, f"Building {image}")
            facts = {"repo2docker_version": self.salt().split(";")[0].removeprefix("r2d="),
                     "built_at": _utc_now()}
            try:
                async for event in self.executor.run(request):
                    base = provenance.base_image_from_log(event.message)
                    if base is not None and "base_image" not in facts:
                        facts["base_image"], facts["base_image_digest"] = base
                    yield event
                digest = await asyncio.to_thread(self.store.lookup, image)
                if digest is None:
                    raise BuildFailed(f"repo2docker finished but {image} is not in the image store",
                                      "registry_unavailable" if request.push else "engine_unavailable")
            except BuildFailed as err:
                reason = await asyncio.to_thread(blame, err, self.executor, self.store, request.push)
                yield self._failed(f"Build failed: {err}", reason)
                return
            except RegistryError as err:
                yield self._failed(f"Build failed: {err}", err.reason)
                return
        try:
            await asyncio.to_thread(self.store.copy, image, self.alias_name(image))
        except (RegistryError, OSError) as err:  # the alias only speeds up other identifiers
            self.log.warning("could not publish content alias of %s: %s", image, err)
        IMAGE_REQUESTS.labels(outcome="built").inc()
        if facts.get("base_image") and not facts.get("base_image_digest"):
            facts["base_image_digest"] = await asyncio.to_thread(_engine_digest, facts["base_image"])
        yield BuildEvent(Phase.BUILT, "Built image, launching...", image=self.store.pinned(image, digest),
                         extra={"image_digest": digest, "build": facts})

    def _labels(self, target: LaunchTarget, ctx: Path, image: str) -> dict[str, str]:
        """OCI and provenance labels (:mod:`builders.provenance`); none change the tag."""
        content = self._content_digests.pop(image, "") or naming.content_digest(ctx)
        return provenance.image_labels(target, content, provenance.commit_time(ctx))

    def _push_credentials(self) -> dict[str, str] | None:
        """Credentials for repo2docker's push (configured, or from docker_config_path)."""
        creds = getattr(self.store, "credentials", None)
        if not (self.registry_url and creds):
            return None
        return {"registry": self.store.host, "username": creds[0], "password": creds[1]}

    def _cache_from(self, image: str) -> tuple[str, ...]:
        """Newest local image of the same repository (layer reuse across commits)."""
        repo = image.rpartition(":")[0]
        try:
            import docker

            client = docker.from_env()
            try:
                images = client.images.list(name=repo)
            finally:
                client.close()
        except Exception:  # no engine reachable: build without a cache hint
            return ()
        images.sort(key=lambda i: str(i.attrs.get("Created", "")), reverse=True)
        for img in images:
            tags = [t for t in img.tags if t != image]
            if tags:
                return (tags[0],)
        return ()


def _utc_now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _engine_digest(name: str) -> str:
    """The manifest digest the local engine knows for base image *name* (it has one when
    the image was pushed to or pulled from a registry), else "" (best effort)."""
    try:
        import docker

        client = docker.from_env()
        try:
            attrs = client.images.get(name.removeprefix("docker.io/")).attrs
        finally:
            client.close()
    except Exception:  # no engine, or no such image: the receipt says "not reported"
        return ""
    for entry in attrs.get("RepoDigests") or []:
        _name, _, digest = str(entry).partition("@")
        if digest.startswith("sha256:"):
            return digest
    return ""


def _share(
    jobs: dict[str, Broadcast], key: str, source: Callable[[], AsyncIterator[BuildEvent]]
) -> Broadcast:
    """The running job for ``key``, or a new one from ``source()`` (removed when done)."""
    job = jobs.get(key)
    if job is None or job.done:
        job = Broadcast(source())
        jobs[key] = job

        def forget(_task: object, job: Broadcast = job) -> None:
            if jobs.get(key) is job:  # a newer job for the key may exist already
                del jobs[key]

        job.task.add_done_callback(forget)
    return job
