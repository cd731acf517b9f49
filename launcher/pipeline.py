"""Orchestration of one launch as named steps: resolve -> image -> launch.

Each step is a small async generator over a shared :class:`LaunchContext`; it yields
BinderHub events and raises :class:`PipelineError` with a ``reason``
(:mod:`launcher.failures`: whose failure, which status, what the person reads). The
/build/ handler, the JSON API and the benchmark all drive :meth:`Pipeline.run`, whose last
event is ``ready`` or one ``failed`` event carrying the run's request id; only transient
failures of the launch step are tried again.

Immutable facts are memoised per process so a repeated (cached) launch costs no
network round trip before the spawn request: a spec already pinned to the resolved ref
maps to its :class:`LaunchTarget`, and a target to its image (re-checked in the image
store, which is one local call).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from traitlets import Float, Int
from traitlets.config import LoggingConfigurable

from fdo.errors import ResolveError
from fdo.resolve import ResolutionCache
from fdo.target import LaunchTarget
from launcher import events, failures, metrics
from launcher.config import LauncherConfig
from launcher.events import Event
from launcher.failures import PipelineError
from launcher.failures.classify import from_build_event, from_resolve_error

if TYPE_CHECKING:  # the strategies import this module's types
    from launcher.handoff.base import HandOff

log = logging.getLogger("nfdi_launcher.pipeline")

__all__ = ["Builder", "Event", "ImageLookup", "LaunchContext", "LaunchRequest", "Pipeline",
           "PipelineError", "Resolver"]

#: identifier -> target (:meth:`fdo.resolve.Resolution.resolve`); blocking, run in a thread
Resolver = Callable[[str], LaunchTarget]


@dataclass
class LaunchRequest:
    """What the client asked for, as admitted (:meth:`launcher.admission.Admission.admit`)."""

    provider: str
    spec: str  # as requested, still percent-encoded
    client_ip: str = ""
    launch_host: str = ""  # binder_launch_host
    user: str = ""  # logged-in hub user; "" = anonymous
    system: str = ""
    flavor: str = ""
    hpc: dict[str, str] = field(default_factory=dict)  # project, account on an HPC system
    storage_path: str = ""
    name: str = ""
    build_only: bool = False
    build_token: bool = False  # a valid build token was presented
    origin: str = ""  # the host the launch came through (analytics)
    request_origin: str = ""  # Origin header, else Sec-Fetch-Site
    #: the resolved target when admission resolved it already (launcher.admission)
    target: LaunchTarget | None = None
    #: False when the link named neither system nor flavor (defaults were filled in): then a
    #: server of the same target already running on another resource is opened instead
    resource_given: bool = True

    @property
    def identifier(self) -> str:
        return f"{self.provider}/{self.spec}"

    @property
    def binder_request(self) -> str:
        return f"v2/{self.provider}/{self.spec}"


@dataclass
class LaunchContext:
    """State carried from step to step of one pipeline run."""

    request: LaunchRequest
    target: LaunchTarget | None = None
    image: str = ""
    image_cached: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    #: the image's manifest digest (registry) or id (local engine), when the builder said
    image_digest: str = ""
    #: facts of the image's build from the builder's ``built`` event (content digest, ...)
    build: dict[str, Any] = field(default_factory=dict)
    #: set when a receipt relaunches: {"of": receipt id, "rebuilt", "digest_matches"}
    relaunch: dict[str, Any] | None = None
    #: shown in the failed event's message and written with every log line of a failure
    request_id: str = field(default_factory=failures.new_request_id)


class BuildProgress(Protocol):
    """One event of a build (:class:`builders.BuildEvent`)."""

    def to_json(self) -> dict[str, Any]: ...


class ImageLookup(Protocol):
    """Where built images are found (:class:`builders.ImageStore`)."""

    @property
    def host(self) -> str: ...

    def lookup(self, image: str) -> str | None:
        """The image's digest, or None when it is not there (blocking)."""
        ...


class Builder(Protocol):
    """What the image step needs of a builder (:class:`builders.BuildManager`).

    ``build`` yields progress events ending in one ``built`` (with ``imageName``) or
    ``failed`` event; ``store`` lets the pipeline re-check a memoised image."""

    @property
    def store(self) -> ImageLookup: ...

    def build(self, target: LaunchTarget) -> AsyncIterator[BuildProgress]: ...
MEMO_SECONDS = 600.0
#: a confirmed image is trusted this long; then re-checked in the background ...
IMAGE_RECHECK_SECONDS = 30.0
#: ... and after this long checked again before it is used
IMAGE_TRUST_SECONDS = 600.0


class ImageMemo:
    """Target cache key -> (image, when the image store last confirmed it), least recently
    used entries dropped beyond *max_entries*."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> tuple[str, float] | None:
        item = self._data.get(key)
        if item is not None:
            self._data.move_to_end(key)
        return item

    def confirm(self, key: str, image: str) -> None:
        self._data[key] = (image, time.monotonic())
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def forget(self, key: str) -> None:
        self._data.pop(key, None)


class Pipeline(LoggingConfigurable):
    """resolve -> image -> launch, with the pieces passed in (see :meth:`from_config`)."""

    steps = ("resolve", "image", "launch")

    launch_retries = Int(
        1,
        help="""Additional launch attempts after a transient failure (hub busy or timed
        out, a spawn that timed out); failures that retrying cannot help (a flavor limit,
        a service that is down) are never retried.""",
    ).tag(config=True)

    retry_delay = Float(
        2.0,
        help="""Seconds before the first retry of a launch; doubled for each further one.
        A ``Retry-After`` the hub sends is honoured instead.""",
    ).tag(config=True)

    max_retry_after = Float(
        30.0,
        help="""Longest ``Retry-After`` (seconds) the launch waits for before retrying; a
        longer one ends the launch with the time in ``retry_after``.""",
    ).tag(config=True)

    memo_max_entries = Int(
        4096,
        help="""Pinned targets and known images remembered per process (each; least
        recently used dropped first), so a repeated launch makes no network round trip
        before the spawn request.""",
    ).tag(config=True)

    def __init__(self, launcher: LauncherConfig, resolver: Resolver | None,
                 builder: Builder | None, handoff: HandOff, **kwargs: Any) -> None:
        super().__init__(parent=launcher, **kwargs)
        self.launcher = launcher
        self.resolver = resolver
        self.builder = builder
        self.handoff = handoff
        self._targets = ResolutionCache(self.memo_max_entries)
        self._images = ImageMemo(self.memo_max_entries)
        self._revalidating: set[str] = set()
        #: called with the context of every finished run (benchmarks, audit logs)
        self.observers: list[Callable[[LaunchContext], None]] = []
        #: called with every ``ready`` event before it is sent; return it with fields added
        #: (receipts add their link)
        self.ready_hooks: list[Callable[[LaunchContext, Event], Awaitable[Event]]] = []

    @classmethod
    def from_config(cls, config: LauncherConfig, builder: Builder | None = None,
                    resolver: Resolver | None = None,
                    handoff: HandOff | None = None) -> Pipeline:
        from launcher.handoff import make_handoff

        if resolver is None:
            # one Resolution per process: it holds the cache, and the config file's
            # c.ResolverConfig.* / c.NetConfig.* apply through the shared Config object
            from fdo.resolve import Resolution

            resolver = Resolution(config=config.config).resolve
        if builder is None:
            from builders import BuildManager

            builder = BuildManager(parent=config)
        return cls(config, resolver, builder, handoff or make_handoff(config))

    async def run(self, request: LaunchRequest, ctx: LaunchContext | None = None) -> AsyncIterator[Event]:
        """All events of one launch; the last is ``ready`` or ``failed``.

        *ctx* may come with the target (nothing is resolved) and the image (nothing is
        built or looked up) already set: a relaunch by receipt."""
        ctx = ctx or LaunchContext(request)
        ctx.timings["request"] = asyncio.get_running_loop().time()
        steps = self.steps[:2] if request.build_only else self.steps
        name = steps[0]
        try:
            for name in steps:
                step = getattr(self, name)
                async for ev in step(ctx):
                    if ev.get("phase") == "ready":
                        ctx.timings["ready"] = asyncio.get_running_loop().time()
                        ev = await self._on_ready(ctx, ev)
                    yield ev
            if request.build_only:
                done = "Done! Found built image" if ctx.image_cached else "Done! Image built"
                yield await self._on_ready(ctx, events.event("ready", done, imageName=ctx.image))
        except PipelineError as err:
            failures.log_failure(err, ctx.request_id, request.identifier, name)
            yield failures.failed_event(err, ctx.request_id)
        except Exception:  # a bug must still end the stream with a readable event
            log.exception("request %s: step %s of %s crashed", ctx.request_id, name, request.identifier)
            yield failures.failed_event(failures.fail("internal_error"), ctx.request_id)
        finally:
            for observer in self.observers:
                observer(ctx)

    async def _on_ready(self, ctx: LaunchContext, ev: Event) -> Event:
        for hook in self.ready_hooks:
            ev = await hook(ctx, ev)
        return ev

    # -- step 1 ----------------------------------------------------------------------
    def is_memoised(self, identifier: str) -> bool:
        return self._targets.get(identifier) is not None

    async def resolve_target(self, identifier: str) -> LaunchTarget:
        """The target of *identifier*, memoised when the identifier is already pinned;
        a :class:`PipelineError` with the resolver's message otherwise."""
        memo = self._targets.get(identifier)
        if memo is not None:
            return memo
        if self.resolver is None:
            raise failures.fail("misconfigured", detail="this launcher has no resolver")
        try:
            target = await asyncio.get_running_loop().run_in_executor(None, self.resolver, identifier)
        except ResolveError as err:  # the resolver's message, shown when fit for a person
            raise from_resolve_error(err) from err
        if not target.ambiguous and target.launch_path == f"v2/{identifier}":  # pinned: immutable
            self._targets.put(identifier, target, MEMO_SECONDS)
        return target

    async def resolve(self, ctx: LaunchContext) -> AsyncIterator[Event]:
        if ctx.target is not None:  # given (relaunch by receipt): nothing to resolve
            return
        identifier = ctx.request.identifier
        target = ctx.request.target
        if target is None:
            if not self.is_memoised(identifier):
                yield events.waiting(f"Resolving {identifier} ...")
            target = await self.resolve_target(identifier)
        if target.ambiguous:
            raise failures.fail("ambiguous", choices=[c.to_json() for c in target.choices])
        ctx.target = target
        # also from the memo: the /v2/ page shows the provenance card from this event
        chain = " -> ".join([identifier] + [h.to for h in target.chain])
        yield events.event("waiting", f"Resolved {identifier} to {target.source} at {target.ref} ({chain})",
                           target=target.to_json())

    # -- step 2 ----------------------------------------------------------------------
    async def image(self, ctx: LaunchContext) -> AsyncIterator[Event]:
        assert ctx.target is not None
        # given: nothing to build; a relaunch that rebuilds trusts no memo of the lost image
        if ctx.image or (ctx.relaunch is None and await self._memoised_image(ctx)):
            ctx.image_cached = True
            yield events.built(ctx.image, cached=True)
            return
        if self.builder is None:
            raise failures.fail("misconfigured", detail="this launcher has no builder")
        started = time.monotonic()
        metrics.BUILDS_INPROGRESS.inc()
        try:
            async for ev in self.builder.build(ctx.target):
                data = ev.to_json()
                phase = data.get("phase")
                if phase == "built":
                    ctx.image, ctx.image_cached = str(data["imageName"]), bool(data.get("cached"))
                    ctx.image_digest = str(data.get("image_digest") or "")
                    ctx.build = dict(data.get("build") or {})
                    self._images.confirm(ctx.target.cache_key, ctx.image)
                    yield events.built(ctx.image, ctx.image_cached)
                    break
                if phase == "failed":
                    raise from_build_event(data)
                data.pop("cached", None)
                yield data
            else:
                raise failures.fail("internal_error", detail="the builder ended without an image")
        except PipelineError:
            self._observe_build("failure", started, ctx)
            raise
        finally:
            metrics.BUILDS_INPROGRESS.dec()
        if not ctx.image_cached:
            self._observe_build("success", started, ctx)

    async def _memoised_image(self, ctx: LaunchContext) -> bool:
        """Known image of this target? Fresh: trusted; stale: trusted and re-checked in the
        background (stale-while-revalidate); expired: checked now in the image store."""
        assert ctx.target is not None
        memo = self._images.get(ctx.target.cache_key)
        if memo is None or self.builder is None:
            return False
        store = self.builder.store
        image, confirmed = memo
        age = time.monotonic() - confirmed
        if age >= IMAGE_RECHECK_SECONDS and age < IMAGE_TRUST_SECONDS:
            if image not in self._revalidating:
                self._revalidating.add(image)
                task = asyncio.ensure_future(self._image_present(ctx.target.cache_key, image, store))
                task.add_done_callback(lambda _t: self._revalidating.discard(image))
        elif age >= IMAGE_TRUST_SECONDS and not await self._image_present(ctx.target.cache_key, image, store):
            return False
        ctx.image, ctx.image_cached = image, True
        return True

    async def _image_present(self, key: str, image: str, store: ImageLookup) -> bool:
        try:
            present = await asyncio.to_thread(store.lookup, image)
        except Exception:  # registry trouble: let the builder report it properly
            present = None
        if present is None:
            self._images.forget(key)
            return False
        self._images.confirm(key, image)
        return True

    def _observe_build(self, status: str, started: float, ctx: LaunchContext) -> None:
        metrics.BUILD_TIME.labels(status=status).observe(time.monotonic() - started)
        metrics.BUILD_COUNT.labels(status=status, provider=ctx.request.provider,
                                   repo=ctx.target.source if ctx.target else "").inc()

    # -- step 3 ----------------------------------------------------------------------
    async def launch(self, ctx: LaunchContext) -> AsyncIterator[Event]:
        started = time.monotonic()
        status = "failure"
        attempt = 1
        metrics.LAUNCHES_INPROGRESS.inc()
        try:
            while True:
                try:
                    async for ev in self.handoff.launch(ctx):
                        if ev.get("phase") == "ready":
                            status = "success"
                        yield ev
                    return
                except PipelineError as err:
                    err.attempts = attempt
                    delay = self.retry_wait(err, attempt)
                    if delay is None:
                        raise
                    failures.log_failure(err, ctx.request_id, f"launch attempt {attempt}")
                    yield events.launching(f"Launch attempt {attempt} failed ({err.reason}); "
                                           f"trying again in {delay:.0f} s...")
                    await asyncio.sleep(delay)
                    attempt += 1
        finally:
            metrics.LAUNCHES_INPROGRESS.dec()
            metrics.LAUNCH_TIME.labels(status=status, retries=str(attempt - 1)).observe(
                time.monotonic() - started)
            metrics.LAUNCH_COUNT.labels(status=status, provider=ctx.request.provider,
                                        repo=ctx.target.source if ctx.target else "").inc()

    def retry_wait(self, err: PipelineError, attempt: int) -> float | None:
        """Seconds before the launch's next try, or None (:func:`failures.retry_wait`)."""
        return failures.retry_wait(err, attempt, self.launch_retries, self.retry_delay,
                                   self.max_retry_after)
