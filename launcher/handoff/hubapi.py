"""``hub-api`` hand-off: start a named server through the JupyterHub REST API.

Steps (each failure is classified by :mod:`launcher.failures.classify`; the hub's own
words go to the log):

1. the user: the logged-in hub user, or a new temporary user in anonymous mode;
2. the server: ``server_name(target, system, flavor)``; ``POST users/<u>/servers/<s>`` with
   user_options starts it — the hub's answer says whether it already runs (then reused) or
   is already starting (then followed);
3. a per-launch token (``POST users/<u>/tokens``, scope ``access:servers!server=<u>/<s>``)
   is minted while the server spawns, after the first progress event — it is the
   ``token`` of the ready event;
4. the hub's ``.../progress`` event stream is relayed as ``launching`` events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse
from tornado.simple_httpclient import SimpleAsyncHTTPClient
from traitlets import Float, Int, Unicode, default
from traitlets.config import LoggingConfigurable

from launcher import events, failures
from launcher.config import LauncherConfig
from launcher.events import Event
from launcher.failures import classify
from launcher.handoff.base import (
    HandOff,
    random_suffix,
    ready_fields,
    server_name,
    temp_user_name,
    user_options,
)
from launcher.handoff.servers import running_same_target, user_launches
from launcher.pipeline import LaunchContext, PipelineError

log = logging.getLogger("nfdi_launcher.handoff")


class HubClient(LoggingConfigurable):
    """Small JupyterHub REST client; answers that may pass (5xx, timeouts) are retried, a
    hub that refuses connections is not (it is down: the operator's to fix)."""

    api_url = Unicode(
        "",
        help="""JupyterHub REST API URL (server side), e.g. ``http://hub:8081/hub/api/``.
        Default: $JUPYTERHUB_API_URL, else ``<LauncherConfig.hub_url>hub/api/``.""",
    ).tag(config=True)

    @default("api_url")
    def _api_url_default(self) -> str:
        return os.environ.get("JUPYTERHUB_API_URL", "")

    api_token = Unicode(
        "",
        help="""JupyterHub API token of the launcher's hub service (scopes: admin:users,
        admin:servers, tokens, read:users); also used to identify users with HubOAuth.
        Default: $JUPYTERHUB_API_TOKEN. Never logged.""",
    ).tag(config=True)

    @default("api_token")
    def _api_token_default(self) -> str:
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    request_timeout = Float(
        10.0,
        help="Seconds to wait for one JupyterHub REST API call (not the whole spawn).",
    ).tag(config=True)

    retries = Int(
        3,
        help="""Retries of one JupyterHub API call answered with 5xx or timed out
        (backoff starts at retry_delay and doubles). A refused connection and 4xx
        answers are not retried; 429 is left to the launch's retry (Retry-After).""",
    ).tag(config=True)

    retry_delay = Float(
        0.5, help="First backoff in seconds between retried JupyterHub API calls."
    ).tag(config=True)

    def __init__(self, hub_url: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: where requests go: api_url, else derived from the public hub URL
        self.url = _slash(self.api_url) if self.api_url else (hub_url + "hub/api/" if hub_url else "")
        self._http: AsyncHTTPClient | None = None

    @property
    def http(self) -> AsyncHTTPClient:
        """Created on first use: in the event loop that makes the calls."""
        if self._http is None:
            self._http = SimpleAsyncHTTPClient(force_instance=True, max_clients=2048)
        return self._http

    def _request(self, method: str, path: str, body: Any = None, timeout: float | None = None,
                 **kwargs: Any) -> HTTPRequest:
        if not self.url:
            raise failures.fail("misconfigured", detail="the launcher has no JupyterHub "
                                "configured (LauncherConfig.hub_url / HubClient.api_url)")
        return HTTPRequest(
            self.url + path.lstrip("/"),
            method=method,
            headers={"Authorization": f"token {self.api_token}", "Content-Type": "application/json"},
            body=None if body is None and method == "GET" else json.dumps(body if body is not None else {}),
            request_timeout=timeout or self.request_timeout,
            connect_timeout=min(5.0, self.request_timeout),
            allow_nonstandard_methods=True,
            **kwargs,
        )

    async def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201, 202, 204),
                   what: str = "", retries: int | None = None) -> HTTPResponse:
        """One API call; transient failures retried; a classified PipelineError otherwise
        (*what* names the call in the log)."""
        delay = self.retry_delay
        what = what or f"{method} {path.split('?')[0]}"
        retries = self.retries if retries is None else retries
        for attempt in range(retries + 1):
            try:
                resp = await self.http.fetch(self._request(method, path, body), raise_error=False)
            except (TimeoutError, OSError, HTTPClientError) as err:
                problem = classify.hub_unreachable(err, self.url)
            else:
                if resp.code in ok:
                    return resp
                if resp.code == 599:
                    problem = classify.hub_unreachable(str(resp.error), self.url)
                else:
                    problem = classify.from_hub_answer(
                        resp.code, _hub_message(resp), what,
                        classify.retry_after_seconds(resp.headers.get("Retry-After")))
                    if resp.code == 429:  # the launch step waits as long as the hub asks
                        raise problem
            if not problem.retryable or attempt >= retries:
                raise problem
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    async def json(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        resp = await self.call(method, path, body, **kw)
        return json.loads(resp.body) if resp.body else None


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _hub_message(resp: HTTPResponse) -> str:
    try:
        return str(json.loads(resp.body or b"{}").get("message", resp.reason))
    except (ValueError, AttributeError):
        return str(resp.reason)


class HubApiHandOff(HandOff):
    """Named servers on a JupyterHub via its REST API (see module docstring)."""

    name = "hub-api"

    launch_timeout = Float(
        600.0,
        help="""Seconds a spawn may take (image pull included) before the launch fails with
        "server did not start within N s". BinderHub uses 600.""",
    ).tag(config=True)

    anonymous_user_pool = Int(
        2,
        help="""Temporary hub users created ahead of time (``anon-<random>``) so an anonymous
        launch does not wait for user creation; 0 creates each user on demand (named after
        the repository, as BinderHub does). Unused pool users are deleted on shutdown.""",
    ).tag(config=True)

    server_token_expires_seconds = Int(
        6 * 3600,
        help="""Lifetime of the per-launch hub token (scope access:servers for the one server)
        returned as ``token`` in the ready event.""",
    ).tag(config=True)

    def __init__(self, launcher: LauncherConfig, **kwargs: Any) -> None:
        super().__init__(launcher, **kwargs)
        self.hub = HubClient(launcher.hub_url, parent=self)
        self._pool: list[str] = []
        self._refilling: asyncio.Task[None] | None = None

    def public_hub_url(self, launch_host: str = "") -> str:
        """Where browsers reach the hub: hub_url, $JUPYTERHUB_PUBLIC_URL, or — when we are
        a hub service behind the same proxy — the origin the request came in on."""
        if self.launcher.hub_url:
            return self.launcher.hub_url
        public = os.environ.get("JUPYTERHUB_PUBLIC_URL", "")
        if public:
            return public if public.endswith("/") else public + "/"
        base = self.launcher.base_url
        if base.startswith("/services/") and launch_host.endswith(base):
            return launch_host[: -len(base)] + "/"
        return self.hub.url.removesuffix("hub/api/")

    async def ensure_user(self, ctx: LaunchContext) -> str:
        if ctx.request.user:
            return ctx.request.user
        if not self.launcher.anonymous:
            raise failures.fail("login_required", detail="anonymous launches are disabled")
        assert ctx.target is not None
        if self._pool:
            name = self._pool.pop()
        else:
            name = temp_user_name(ctx.target)
            await self.hub.call("POST", f"users/{quote(name)}", ok=(201,), what=f"create temporary user {name}")
        self._schedule_refill()
        return name

    def _schedule_refill(self) -> None:
        if self.anonymous_user_pool > 0 and (self._refilling is None or self._refilling.done()):
            self._refilling = asyncio.ensure_future(self._refill())

    async def _refill(self) -> None:
        """Keep ``anonymous_user_pool`` temporary users ready (best effort)."""
        while len(self._pool) < self.anonymous_user_pool:
            name = f"anon-{random_suffix()}"
            try:
                await self.hub.call("POST", f"users/{quote(name)}", ok=(201,), what="create a pooled user",
                                    retries=0)
            except PipelineError as err:
                log.warning("could not pre-create a temporary user: %s", err)
                return
            self._pool.append(name)

    async def close(self) -> None:
        """Delete pooled users that were never used."""
        if self._refilling is not None:
            self._refilling.cancel()
        for name in self._pool:
            try:
                await self.hub.call("DELETE", f"users/{quote(name)}", ok=(204, 404), retries=0)
            except PipelineError:
                pass
        self._pool.clear()

    async def launch(self, ctx: LaunchContext) -> AsyncIterator[Event]:
        assert ctx.target is not None
        req = ctx.request
        yield events.launching("Launching server...")
        user = await self.ensure_user(ctx)
        server = server_name(ctx.target, req.system, req.flavor)
        upath = f"users/{quote(user)}"
        path = ""
        # a link that names no resource opens this target's server wherever it runs
        other = (await self.running_elsewhere(ctx, user)) if req.user and not req.resource_given \
            else None
        if other is not None:
            server, path, running = str(other["name"]), str(other.get("url") or ""), True
        else:
            running = await self.start_server(ctx, user, server)
        if running:
            yield events.launching(f"Reusing running server {server}")
        # Minted once the hub has answered the progress stream's first event: the hub is
        # single-threaded and hashing a token would hold that first event back.
        token_task: asyncio.Future[str] | None = None
        try:
            if not running:
                async for ev in self.follow_progress(user, server):
                    if token_task is None:
                        token_task = asyncio.ensure_future(self.mint_token(user, server))
                    if ev.get("phase") == "ready":
                        path = str(ev.get("url") or "")
                        continue
                    yield ev
            ctx.timings["hub_ready"] = asyncio.get_running_loop().time()
            token = await (token_task or self.mint_token(user, server))
        finally:
            if token_task is not None:
                token_task.cancel()
        if not path:
            model = await self.hub.json("GET", upath, what=f"look up server {user}/{server}")
            path = str(((model or {}).get("servers", {}).get(server) or {}).get("url") or "")
        if not path:
            raise failures.fail("server_failed", detail=f"server {user}/{server} stopped right "
                                "after it started")
        url = self.public_hub_url(req.launch_host).rstrip("/") + path
        ready = ready_fields(ctx, url, token)
        ready.update(user=user, server_name=server, handoff=self.name)
        if other is not None:  # where it really runs
            options = other.get("user_options") or {}
            ready.update(system=options.get("system", ""), flavor=options.get("flavor", ""))
        yield ready

    async def running_elsewhere(self, ctx: LaunchContext, user: str) -> dict[str, Any] | None:
        """*user*'s running server of this target, on whatever system and flavor."""
        assert ctx.target is not None
        return running_same_target(await user_launches(self.hub, user), ctx.target)

    async def start_server(self, ctx: LaunchContext, user: str, server: str) -> bool:
        """Ask the hub to start the server; True if it is already running (then reused).

        No lookup first: the start request itself says whether the server runs (400
        "already running") or is starting (202), which saves a round trip per launch."""
        assert ctx.target is not None
        req = ctx.request
        options = user_options(ctx.target, ctx.image, req.system, req.flavor, req.name,
                               req.storage_path or self.launcher.storage_path, req.hpc)
        ctx.timings["spawn_request"] = asyncio.get_running_loop().time()
        resp = await self.hub.call("POST", f"users/{quote(user)}/servers/{quote(server)}", options,
                                   ok=(201, 202, 400), what=f"start server {user}/{server}")
        if resp.code != 400:
            return False
        message = _hub_message(resp)
        if "is already running" in message:
            return True
        raise classify.from_hub_answer(400, message, f"start server {user}/{server}")

    async def mint_token(self, user: str, server: str) -> str:
        body = {
            "note": "nfdi-launcher launch",
            "expires_in": self.server_token_expires_seconds,
            "scopes": [f"access:servers!server={user}/{server}"],
        }
        data = await self.hub.json("POST", f"users/{quote(user)}/tokens", body, what=f"create a token for {user}")
        return str(data["token"])

    async def follow_progress(self, user: str, server: str) -> AsyncIterator[Event]:
        """Relay ``GET .../servers/<s>/progress`` as launching events until ready/failed."""
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        buffer = bytearray()

        def on_chunk(chunk: bytes) -> None:
            buffer.extend(chunk)
            while b"\n\n" in buffer:
                block, _, rest = bytes(buffer).partition(b"\n\n")
                buffer[:] = rest
                for line in block.decode("utf-8", "replace").splitlines():
                    if line.startswith("data:"):
                        try:
                            queue.put_nowait(json.loads(line[5:]))
                        except ValueError:
                            continue

        request = self.hub._request("GET", f"users/{quote(user)}/servers/{quote(server)}/progress",
                                    timeout=self.launch_timeout, streaming_callback=on_chunk)
        request.headers["Accept"] = "text/event-stream"
        fetch = asyncio.ensure_future(self.hub.http.fetch(request, raise_error=False))
        fetch.add_done_callback(lambda _f: queue.put_nowait(None))
        said: list[str] = []  # the spawner's words, which say why a spawn failed
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                if item.get("failed"):
                    raise classify.from_spawn_failure(said, item)
                if item.get("message"):
                    said.append(str(item["message"]))
                    yield events.launching(classify.progress_text(str(item["message"])))
                if item.get("ready"):
                    yield {"phase": "ready", "url": item.get("url", "")}  # internal: where it runs
                    return
            raise self._progress_ended(fetch, user, server)
        finally:
            fetch.cancel()

    def _progress_ended(self, fetch: asyncio.Future[HTTPResponse], user: str,
                        server: str) -> PipelineError:
        """Why the progress stream ended without ready or failed."""
        try:
            resp = fetch.result()
        except Exception as err:  # the connection broke: the hub went away
            return classify.hub_unreachable(err, self.hub.url)
        if resp.code == 599:
            if "timeout" in str(resp.error).lower():
                return failures.fail("spawn_timeout", detail=f"server {user}/{server} did not "
                                     f"start within {self.launch_timeout:.0f} s ({resp.error})")
            return classify.hub_unreachable(str(resp.error), self.hub.url)
        return classify.from_hub_answer(resp.code, _hub_message(resp),
                                        f"follow the progress of {user}/{server}")

    async def health(self) -> dict[str, Any]:
        try:
            await self.hub.call("GET", "", ok=(200,), what="answer its API root", retries=0)
            ok = True
        except PipelineError as err:
            log.warning("hub health check failed: %s", err)
            ok = False
        return {"service": "JupyterHub API", "ok": ok}


__all__ = ["HubApiHandOff", "HubClient", "HTTPClientError"]
