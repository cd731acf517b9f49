"""Benchmark: cached launch through the launcher vs. the hub-only floor; RSS with 500 streams.

Starts everything itself on loopback: the local git server (scenario ``rees-dockerfile``),
a real JupyterHub + CHP + DockerSpawner, the builder (local Docker engine), and the
launcher (in-process for the timing runs; a separate ``nfdi-launcher serve`` process for
the RSS run).

1. ``cached_launch_ratio``: median wall time of ``GET /build/...`` -> ``ready`` for an
   image that exists (cache hit), divided by the median time to start the same image
   through the JupyterHub REST API directly (create user, POST server with the same
   user_options, follow /progress to ready). Runs alternate; N runs each.
2. ``launcher_share_median_ms``: the launcher's own time inside a launch: request ->
   spawn POST, plus hub ready -> our ``ready`` event (the rest is the hub and Docker).
3. ``rss_mb_500_streams``: resident memory of the launcher process holding 500 open
   ``/build/`` event streams parked on a hub that accepts connections and never answers.

Prints progress to stderr and ONE JSON object on the last stdout line.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tornado.httpclient import AsyncHTTPClient, HTTPRequest  # noqa: E402

from builders import BuildManager  # noqa: E402
from fdo.resolve import Resolution  # noqa: E402
from launcher.app import make_app  # noqa: E402
from launcher.config import LauncherConfig  # noqa: E402
from launcher.handoff.base import user_options  # noqa: E402
from launcher.handoff.hubapi import HubApiHandOff  # noqa: E402
from launcher.pipeline import LaunchContext, Pipeline  # noqa: E402
from tests.harness.gitserver import GitServer  # noqa: E402
from tests.harness.hub import free_port, start_hub  # noqa: E402
from tests.launcher._client import read_stream, serving  # noqa: E402

RUNS = int(os.environ.get("BENCH_LAUNCH_RUNS", "7"))
STREAMS = int(os.environ.get("BENCH_LAUNCH_STREAMS", "500"))
#: pre-created temporary users (LauncherConfig.anonymous_user_pool); 0 = create per launch
POOL = int(os.environ.get("BENCH_LAUNCH_POOL", "2"))
PUBLIC = "https://git.example.org/rees-dockerfile"
PREFIX = "local/nfdi-launcher-bench/"
HUB_CONFIG = "c.Spawner.environment = {'JUPYTERHUB_ALLOW_TOKEN_IN_URL': '1'}"


def say(msg: str) -> None:
    print(f"[bench/launch] {msg}", file=sys.stderr, flush=True)


async def hub_api(hub: Any, method: str, path: str, body: Any = None, **kw: Any) -> Any:
    client = AsyncHTTPClient()
    req = HTTPRequest(hub.api_url + path, method=method, headers={"Authorization": f"token {hub.token}"},
                      body=None if body is None and method in ("GET", "DELETE") else json.dumps(body or {}),
                      allow_nonstandard_methods=True, request_timeout=300, **kw)
    return await client.fetch(req, raise_error=False)


async def floor_launch(hub: Any, options: dict[str, Any], i: int) -> float:
    """Start the image through the hub's REST API directly; seconds until ready."""
    user, server = f"floor-{i}-{os.getpid()}", "s"
    start = time.perf_counter()
    await hub_api(hub, "POST", f"/users/{user}")
    r = await hub_api(hub, "POST", f"/users/{user}/servers/{server}", options)
    assert r.code in (201, 202), r.body
    done = asyncio.Event()

    def on_chunk(chunk: bytes) -> None:
        if b'"ready": true' in chunk or b'"ready":true' in chunk:
            done.set()

    fetch = asyncio.ensure_future(hub_api(hub, "GET", f"/users/{user}/servers/{server}/progress",
                                          streaming_callback=on_chunk))
    await asyncio.wait_for(done.wait(), 300)
    elapsed = time.perf_counter() - start
    fetch.cancel()
    await cleanup(hub, user, server)
    return elapsed


async def cleanup(hub: Any, user: str, server: str) -> None:
    await hub_api(hub, "DELETE", f"/users/{user}/servers/{server}", {"remove": True})
    for _ in range(100):
        r = await hub_api(hub, "DELETE", f"/users/{user}")
        if r.code in (204, 404):
            return
        await asyncio.sleep(0.3)


async def timing_runs(hub: Any, builder: BuildManager, spec: str) -> tuple[float, float]:
    config = LauncherConfig(hub_url=hub.url, hub_api_url=hub.api_url, hub_api_token=hub.token,
                            ready_linger=0.0, rate_limit=0, launch_timeout=300, anonymous_user_pool=POOL)
    pipeline = Pipeline(config, Resolution().resolve, builder, HubApiHandOff(config))
    contexts: list[LaunchContext] = []
    pipeline.observers.append(contexts.append)
    ours: list[float] = []
    floor: list[float] = []
    async with serving(make_app(config, pipeline=pipeline)) as url:
        say("warm-up: build the image (or find it) and launch once")
        _c, _h, evs, _n = await read_stream(url + "build/git/" + spec, timeout=600)
        assert evs[-1]["phase"] == "ready", evs[-3:]
        image = evs[-1]["image"]
        await cleanup(hub, evs[-1]["user"], evs[-1]["server_name"])
        options = user_options(contexts[-1].target, image, "local", "default")  # type: ignore[arg-type]
        contexts.clear()
        for i in range(RUNS):
            if i % 2:  # alternate the order: neither side always runs on a just-cleaned hub
                floor.append(await floor_launch(hub, options, i))
            start = time.perf_counter()
            _c, _h, evs, _n = await read_stream(url + "build/git/" + spec, timeout=300)
            ours.append(time.perf_counter() - start)
            assert evs[-1]["phase"] == "ready" and evs[0]["phase"] == "built", evs[:2]
            await cleanup(hub, evs[-1]["user"], evs[-1]["server_name"])
            if not i % 2:
                floor.append(await floor_launch(hub, options, i))
            say(f"run {i + 1}/{RUNS}: launcher {ours[-1]:.3f} s, hub-only {floor[-1]:.3f} s")
    shares = [((c.timings["spawn_request"] - c.timings["request"]) + (c.timings["ready"] - c.timings["hub_ready"])) * 1000
              for c in contexts if {"spawn_request", "hub_ready", "ready"} <= c.timings.keys()]
    say(f"launcher share per run (ms): {[round(s, 1) for s in shares]}")
    return statistics.median(ours) / statistics.median(floor), statistics.median(shares)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def open_stream(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    return reader, writer


async def wait_launching(reader: asyncio.StreamReader) -> None:
    data = b""
    while b"Launching server" not in data:  # emitted before the first hub API call
        chunk = await reader.read(4096)
        if not chunk:
            raise RuntimeError(f"stream closed early: {data[-300:]!r}")
        data += chunk


async def rss_run(git: GitServer, spec: str, workdir: Path) -> float:
    """500 parked streams on a separate launcher process; its VmRSS in MB."""
    parked: list[asyncio.StreamWriter] = []

    async def silent(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        parked.append(w)  # accept, never answer: a hub that hangs

    hub_server = await asyncio.start_server(silent, "127.0.0.1", 0, backlog=1024)
    hub_port = hub_server.sockets[0].getsockname()[1]
    port = free_port()
    cfg = workdir / "nfdi_launcher_config.py"
    cfg.write_text("\n".join([
        f"c.LauncherConfig.hub_url = 'http://127.0.0.1:{hub_port}/'",
        "c.LauncherConfig.hub_api_token = 'bench'",
        "c.LauncherConfig.rate_limit = 0",
        "c.LauncherConfig.hub_request_timeout = 600.0",
        f"c.BuildManager.image_prefix = {PREFIX!r}",
        f"c.BuildManager.state_dir = {str(workdir / 'builds')!r}",
    ]) + "\n")
    env = {**os.environ, "NFDI_LAUNCHER_URL_REWRITES": json.dumps(git.rewrite(PUBLIC, "rees-dockerfile"))}
    proc = subprocess.Popen([str(ROOT / ".venv/bin/nfdi-launcher"), "serve", "--config", str(cfg),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(workdir / "launcher.log", "wb"))
    writers: list[asyncio.StreamWriter] = []
    try:
        for _ in range(200):
            try:
                _r, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        path = "/build/git/" + spec
        reader, writer = await open_stream(port, path)  # first one resolves and finds the image
        writers.append(writer)
        await asyncio.wait_for(wait_launching(reader), 300)
        idle_rss = rss_mb(proc.pid)
        for start in range(1, STREAMS, 50):
            batch = [await open_stream(port, path) for _ in range(min(50, STREAMS - start))]
            writers.extend(w for _r, w in batch)
            await asyncio.wait_for(asyncio.gather(*(wait_launching(r) for r, _w in batch)), 300)
        await asyncio.sleep(1)
        rss = rss_mb(proc.pid)
        say(f"launcher RSS: {idle_rss:.1f} MB with 1 stream, {rss:.1f} MB with {len(writers)} streams "
            f"({len(parked)} hub connections parked)")
        return rss
    finally:
        for w in writers + parked:
            w.close()
        proc.terminate()
        proc.wait(timeout=30)
        hub_server.close()


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-launch-") as tmp:
        work = Path(tmp)
        git = GitServer(work / "git")
        os.environ["NFDI_LAUNCHER_URL_REWRITES"] = json.dumps(git.rewrite(PUBLIC, "rees-dockerfile"))
        spec = f"{quote(PUBLIC, safe='')}/{git.sha('rees-dockerfile', 'refs/tags/v1.1^{}')}"
        hub = start_hub(work / "hub", config=HUB_CONFIG)
        try:
            builder = BuildManager(image_prefix=PREFIX, state_dir=str(work / "builds"))
            ratio, share = await timing_runs(hub, builder, spec)
        finally:
            hub.stop()
        rss = await rss_run(git, spec, work)
        git.close()
    print(json.dumps({"cached_launch_ratio": round(ratio, 3), "launcher_share_median_ms": round(share, 2),
                      "rss_mb_500_streams": round(rss, 1)}))


if __name__ == "__main__":
    asyncio.run(main())
